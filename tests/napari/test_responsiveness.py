"""The GUI thread keeps ticking while the model runs in a worker (longest event-loop stall)."""

from __future__ import annotations

import numpy as np

from napari_iog._napari.stall import StallMeter
from tests.napari.conftest import click, wait_result


def test_event_loop_keeps_ticking_during_prediction(annotator, qtbot):
    viewer, w = annotator
    ctl = w.ctl
    slow_predict = ctl.session.predictor.predict

    def predict(prompt):  # a prediction that takes 0.5 s of (GIL-free) waiting
        import time

        time.sleep(0.5)
        return slow_predict(prompt)

    ctl.session.predictor.predict = predict
    with StallMeter(5) as meter:
        for rc in ((20, 20), (60, 60), (40, 40)):
            click(ctl, 0, *rc)
        res = wait_result(qtbot, ctl)
    assert res.area > 0
    assert meter.ticks > 50  # the timer kept firing during the 0.5 s prediction
    print(f"longest event-loop stall during prediction: {meter.max_gap_ms:.1f} ms")
    assert meter.max_gap_ms < 250, meter.max_gap_ms
    assert np.isfinite(meter.max_gap_ms)
