"""The click simulator (data/prompts.py): boxes, inside clicks and corrective clicks where expected."""

from __future__ import annotations

import numpy as np
import pytest

from napari_iog.data.prompts import (
    box_from_mask,
    error_regions,
    inside_click,
    jitter_box,
    next_click,
    simulate_prompt,
)
from napari_iog.structures import BBox, PromptError


def _disk(shape, center, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= r * r


def test_box_and_inside_click_of_a_disk():
    m = _disk((64, 80), (30, 40), 10)
    assert box_from_mask(m) == BBox(20, 30, 40, 50)
    c = inside_click(m)
    assert (c.row, c.col, c.positive) == (30.0, 40.0, True)


def test_inside_click_of_an_L_shape_is_inside_the_thick_arm():
    m = np.zeros((60, 60), bool)
    m[5:55, 5:15] = True  # thin vertical arm (10 px)
    m[35:55, 5:55] = True  # thick horizontal arm (20 px)
    c = inside_click(m)
    assert m[int(c.row), int(c.col)]
    assert 35 <= c.row < 55  # the deepest point lies in the 20 px thick arm, not the 10 px one


def test_inside_click_restricted_to_a_box():
    m = _disk((64, 64), (32, 32), 20)
    c = inside_click(m, BBox(12, 12, 30, 30))
    assert 12 <= c.row <= 30 and 12 <= c.col <= 30 and m[int(c.row), int(c.col)]
    with pytest.raises(PromptError, match="No object pixel"):
        inside_click(m, BBox(0, 0, 5, 5))


def test_empty_mask_is_a_clear_error():
    with pytest.raises(PromptError, match="empty"):
        simulate_prompt(np.zeros((10, 10), bool))
    with pytest.raises(PromptError, match="2D"):
        box_from_mask(np.zeros((2, 3, 4)))


def test_simulate_prompt_without_jitter_is_deterministic_and_tight():
    m = _disk((50, 50), (25, 20), 8)
    p = simulate_prompt(m)
    assert p.box == box_from_mask(m)
    assert p.inside is not None and m[int(p.inside.row), int(p.inside.col)]
    assert p.clicks == ()


def test_jitter_box_moves_edges_within_limits():
    box = BBox(20, 20, 59, 79)  # 40 x 60
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(50):
        b = jitter_box(box, rng, frac=0.1, max_px=5, image_shape=(100, 100))
        assert abs(b.row0 - 20) <= 4 and abs(b.row1 - 59) <= 4  # 0.1 * 40
        assert abs(b.col0 - 20) <= 5 and abs(b.col1 - 79) <= 5  # capped at max_px
        assert b.row0 <= b.row1 and b.col0 <= b.col1
        seen.add(b.as_tuple())
    assert len(seen) > 10
    assert jitter_box(box, rng, frac=0.0) == box


def test_next_click_is_positive_at_the_centre_of_missed_foreground():
    gt = _disk((64, 64), (30, 34), 12)
    c = next_click(np.zeros_like(gt), gt)
    assert c.positive and (c.row, c.col) == (30.0, 34.0)


def test_next_click_is_negative_in_a_false_positive_blob():
    gt = _disk((64, 64), (20, 20), 6)
    pred = gt | _disk((64, 64), (45, 45), 10)  # a big false positive elsewhere
    c = next_click(pred, gt)
    assert not c.positive and (c.row, c.col) == (45.0, 45.0)


def test_next_click_picks_the_largest_error_region():
    gt = np.zeros((80, 80), bool)
    gt[10:20, 10:20] = True  # missed, 100 px
    gt[40:70, 40:70] = True  # missed, 900 px -> the click goes here
    pred = np.zeros_like(gt)
    pred[5:8, 60:79] = True  # small false positive
    c = next_click(pred, gt)
    assert c.positive and 40 <= c.row < 70 and 40 <= c.col < 70
    assert abs(c.row - 54.5) <= 1 and abs(c.col - 54.5) <= 1


def test_next_click_none_when_perfect_and_void_is_ignored():
    gt = _disk((40, 40), (20, 20), 8)
    assert next_click(gt, gt) is None
    void = np.zeros_like(gt)
    void[:, :] = True
    assert next_click(np.zeros_like(gt), gt, void) is None
    fn, fp = error_regions(np.zeros_like(gt), gt)
    assert fn.sum() == gt.sum() and fp.sum() == 0


def test_error_region_at_the_array_border_is_clicked_inside():
    gt = np.zeros((30, 30), bool)
    gt[:, :10] = True  # missed strip along the left border
    c = next_click(np.zeros_like(gt), gt)
    assert c.positive and 0 < c.col < 9  # the border counts as boundary: not col 0


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(PromptError, match="shape"):
        next_click(np.zeros((5, 5)), np.zeros((6, 6)))
