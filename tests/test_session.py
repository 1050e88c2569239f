"""InteractionSession: predict vs refine planning, undo/redo without re-running, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from napari_iog.inference.guidance import inside_point_from_mask as inside_point
from napari_iog.inference.session import (
    InteractionSession,
    SessionError,
    prompt_from_mask,
)
from napari_iog.structures import BBox, Click, Prompt, PromptError
from tests._fake_predictor import FakePredictor


def _disc_image(h=64, w=64, centre=(30, 30), radius=10):
    rr, cc = np.mgrid[:h, :w]
    return ((rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2).astype(np.uint8) * 200


def _session():
    pred = FakePredictor()
    s = InteractionSession(pred)
    s.set_image(_disc_image(), key=("img", 0))
    return s, pred


def test_predict_then_refine_reuses_the_object():
    s, pred = _session()
    p = Prompt(BBox(18, 18, 42, 42), Click(30, 30))
    r = s.run(p)
    assert r.area > 250 and pred.calls == {"set_image": 1, "predict": 1, "refine": 0}
    p2 = p.with_clicks([Click(30, 30, False)])
    assert s.plan(p2) == "refine"
    r2 = s.run(p2)
    assert pred.calls["refine"] == 1 and pred.calls["predict"] == 1
    assert r2.area == r.area - 9
    # a new box is a new object: full predict
    p3 = Prompt(BBox(10, 10, 50, 50), Click(30, 30))
    assert s.plan(p3) == "predict"
    # same prompt again: nothing runs
    assert s.plan(p2) == "none"
    assert s.run(p2) is r2 and pred.calls["refine"] == 1


def test_undo_redo_restore_results_without_running():
    s, pred = _session()
    p = Prompt(BBox(18, 18, 42, 42), Click(30, 30))
    r1 = s.run(p)
    r2 = s.run(p.with_clicks([Click(30, 30, False)]))
    n = dict(pred.calls)
    assert s.undo().result is r1 and s.result is r1
    assert s.redo().result is r2
    assert s.undo() is not None and s.undo() is None and s.result is None
    assert not s.can_undo and s.can_redo
    assert pred.calls == n
    # a new interaction after undo drops the redo tail
    s.redo()
    s.run(p.with_clicks([Click(31, 31, True)]))
    assert not s.can_redo and len(s.history) == 2


def test_new_image_key_resets_and_reencodes():
    s, pred = _session()
    s.run(Prompt(BBox(18, 18, 42, 42), Click(30, 30)))
    s.set_image(_disc_image(centre=(20, 20)), key=("img", 1))
    assert s.result is None and s.history == []
    s.run(Prompt(BBox(8, 8, 32, 32), Click(20, 20)))
    assert pred.calls["set_image"] == 2


def test_clear_errors_for_bad_input():
    s = InteractionSession(None)
    s.set_image(np.zeros((8, 8)), key=0)
    with pytest.raises(SessionError, match="No model"):
        s.compute(Prompt(BBox(1, 1, 5, 5)))
    s = InteractionSession(FakePredictor())
    with pytest.raises(SessionError, match="No image"):
        s.compute(Prompt(BBox(1, 1, 5, 5)))
    with pytest.raises(SessionError, match="2D plane"):
        s.set_image(np.zeros((3, 8, 8, 2)), key=0)
    s.set_image(np.zeros((8, 8)), key=0)
    with pytest.raises(PromptError, match="outside"):
        s.compute(Prompt(BBox(20, 20, 30, 30)))
    assert issubclass(SessionError, ValueError)


def test_seed_from_existing_mask():
    mask = _disc_image() > 0
    p = prompt_from_mask(mask, margin=3)
    assert p.box == BBox(17, 17, 43, 43)
    assert inside_point(mask) == (30, 30)
    assert prompt_from_mask(mask[:25, :25], margin=100).box == BBox(0, 0, 24, 24)
    with pytest.raises(PromptError):
        prompt_from_mask(np.zeros((5, 5), bool))


class GradedPredictor(FakePredictor):
    """FakePredictor with graded probabilities (the image blurred, scaled to 0..1) cut at a
    settable ``mask_threshold`` through the real post-processing, clipped to the box."""

    def __init__(self, threshold=0.5):
        super().__init__()
        self.mask_threshold = threshold

    def _segment(self, prompt: Prompt):
        from scipy import ndimage

        from napari_iog.inference.postprocess import finalize_mask

        h, w = self.image.shape
        prob = ndimage.gaussian_filter(self.image / max(self.image.max(), 1e-6), 3.0)
        seeds = [(c.row, c.col) for c in (prompt.inside, *prompt.clicks) if c.positive]
        return finalize_mask(prob, (0, 0), (h, w), prompt, self.mask_threshold, False, seeds)


def test_set_threshold_recuts_every_step_without_running_the_model():
    pred = GradedPredictor()
    s = InteractionSession(pred)
    s.set_image(_disc_image(), key=("img", 0))
    p = Prompt(BBox(18, 18, 42, 42), Click(30, 30))
    r1 = s.run(p)
    r2 = s.run(p.with_clicks([Click(30, 20, True)]))
    calls = dict(pred.calls)
    assert s.threshold == 0.5
    cur = s.set_threshold(0.3)
    assert pred.mask_threshold == 0.3 and pred.calls == calls  # nothing ran again
    assert cur is s.result and cur.threshold == 0.3 and cur.area > r2.area
    assert s.history[0].result.area > r1.area
    fresh = GradedPredictor(0.3)  # the same as predicting at 0.3 from the start
    fresh.set_image(_disc_image())
    assert np.array_equal(s.history[0].result.mask, fresh.predict(p).mask)
    assert s.undo().result.threshold == 0.3
    # a result computed at the old threshold (a worker that was running) is re-cut on push
    stale = GradedPredictor(0.5)
    stale.set_image(_disc_image())
    s.push(p, stale.predict(p))
    assert s.result.threshold == 0.3 and np.array_equal(s.result.mask, s.history[0].result.mask)
    assert s.set_threshold(0.3) is s.result  # unchanged: the same objects
    with pytest.raises(SessionError, match="model"):
        InteractionSession(FakePredictor()).set_threshold(0.4)  # no threshold to set


def test_predictor_thresholds_are_settable_and_checked():
    from napari_iog.inference import BoxFillPredictor, RandomWalkerPredictor

    rw = RandomWalkerPredictor()
    assert rw.mask_threshold == 0.2  # the walker's own default
    rw.mask_threshold = 0.35
    assert rw.threshold == 0.35
    box = BoxFillPredictor()
    box.mask_threshold = 0.4
    assert box.preprocess.threshold == 0.4
    for p in (rw, box):
        with pytest.raises(ValueError, match=r"\(0, 1\)"):
            p.mask_threshold = 1.0
