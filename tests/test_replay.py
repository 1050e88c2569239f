"""Core replay (napari-free): prompts from provenance or from the mask, clicks replayed."""

from __future__ import annotations

import numpy as np

from napari_iog.inference.classical import BoxFillPredictor, RandomWalkerPredictor
from napari_iog.replay import MASK_MARGIN, plan_replay, replay, run_prompt, stored_prompt
from napari_iog.structures import BBox, Click, Prompt


def _labels():
    lab = np.zeros((2, 60, 60), np.uint16)
    lab[0, 10:20, 10:25] = 3
    lab[1, 30:50, 5:15] = 4
    lab[1, 5:9, 40:44] = 9  # semantic class: never replayed
    return lab


def test_plan_uses_stored_prompt_or_seeds_from_the_mask():
    lab = _labels()
    p3 = Prompt(BBox(9, 9, 20, 26), Click(15, 17, True), (Click(12, 12, False),))
    recs = [
        {"value": 3, "slice": [0], "prompt": p3.to_dict(), "semantic": False},
        {"value": 4, "slice": [0], "prompt": p3.to_dict(), "semantic": False},  # other slice
        {"value": 9, "slice": [1], "prompt": None, "semantic": True},
    ]
    items = plan_replay(lab, recs)
    assert [(i.value, i.leading, i.source) for i in items] == [
        (3, (0,), "provenance"),
        (4, (1,), "mask"),
    ]
    assert items[0].prompt == p3
    b = items[1].prompt.box
    assert (b.row0, b.col0, b.row1, b.col1) == (
        30 - MASK_MARGIN,
        0,
        49 + MASK_MARGIN,
        14 + MASK_MARGIN,
    )


def test_stored_prompt_is_dropped_when_the_object_moved():
    mask = np.zeros((40, 40), bool)
    mask[25:35, 25:35] = True
    p = Prompt(BBox(0, 0, 10, 10), Click(5, 5, True))
    recs = [{"value": 1, "slice": [], "prompt": p.to_dict()}]
    assert stored_prompt(recs, 1, (), mask) is None


def test_replay_runs_clicks_and_reports_iou():
    rng = np.random.default_rng(0)
    img = (rng.integers(0, 20, (60, 60)) + 180).astype(np.uint8)
    img[10:30, 10:30] -= 150
    lab = np.zeros((60, 60), np.uint8)
    lab[10:30, 10:30] = 1
    prompt = Prompt(BBox(8, 8, 31, 31), Click(20, 20, True), (Click(12, 27, False),))
    recs = [{"value": 1, "slice": [], "prompt": prompt.to_dict()}]
    items = plan_replay(lab, recs)
    rw = RandomWalkerPredictor()
    (rep,) = list(replay(rw, lambda lead: img, lab, items))
    direct = RandomWalkerPredictor()
    direct.set_image(img)
    np.testing.assert_array_equal(rep.result.mask, run_prompt(direct, prompt).mask)
    assert not rep.result.full_mask()[12, 27]  # the negative click was replayed
    assert rep.iou_before > 0.8
    (box,) = list(replay(BoxFillPredictor(), lambda lead: img, lab, items))
    assert box.result.area == 24 * 24 and box.iou_before == 400 / 576
