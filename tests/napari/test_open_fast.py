"""Opening the annotator does not block the GUI on torch: the weights list (which imports torch
to read checkpoint headers) is read once, in a worker, after the widget is up; a Load asked
meanwhile waits for it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import napari
    from qtpy.QtWidgets import QApplication
    from napari_iog._napari import model_choice as M

    calls = []
    listing = M.weight_choices
    M.weight_choices = lambda: (calls.append(1), listing())[1]
    viewer = napari.Viewer(show=False)
    viewer.add_image(np.zeros((64, 64, 3), np.uint8), name="tile", rgb=True)
    from napari_iog._napari.widget import AnnotatorWidget

    w = AnnotatorWidget(viewer, autoload=False)
    print("torch after construction:", "torch" in sys.modules, flush=True)
    end = time.time() + 60
    while not w.model.ready and time.time() < end:
        QApplication.processEvents()
        time.sleep(0.01)
    print("ready:", w.model.ready, "calls:", len(calls), "picked:", w.weights.currentData())
    viewer.close()
    """
)


def test_constructing_the_annotator_does_not_import_torch():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=240
    )
    assert "torch after construction: False" in out.stdout, out.stdout + out.stderr[-3000:]
    # the list came once, from the worker, and the starter of the image's domain is picked
    assert "ready: True calls: 1 picked: iog-aerial" in out.stdout, out.stdout + out.stderr[-3000:]


def test_a_load_asked_before_the_list_arrives_runs_after_it(make_napari_viewer, qtbot):
    from napari_iog._napari.widget import AnnotatorWidget

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((64, 64), np.uint8), name="em")
    w = AnnotatorWidget(viewer, autoload=False)
    assert not w.model.ready and w.weights.currentData() == ""
    w.model.choose("classical")
    w.model.user_chose = True
    w.load_model()  # before the list: remembered, not lost
    assert "Looking for weights" in w.status.text()
    qtbot.waitUntil(lambda: w.model.ready, timeout=60000)
    qtbot.waitUntil(lambda: w.ctl.session.predictor is not None, timeout=30000)
    assert w.weights.currentData() == "classical"
    assert w.model_info.text().count("(not IOG)") == 1  # item 15: said once
