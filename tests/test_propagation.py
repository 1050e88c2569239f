"""Slice propagation generator: limits, IoU stop, cancel, bad settings (fake predictor)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_iog.propagation import (
    PropagationConfig,
    PropagationError,
    mask_result_from_full,
    propagate,
    window_iou,
)
from tests._fake_predictor import FakePredictor


def _stack(n=7, shift=1, vanish_at=None, jump_at=None):
    """A disc drifting ``shift`` px per slice; gone at ``vanish_at``; jumps at ``jump_at``."""
    rr, cc = np.mgrid[:64, :64]
    out = np.zeros((n, 64, 64), np.uint8)
    for z in range(n):
        if z == vanish_at:
            continue
        c = 20 + shift * z + (7 if jump_at is not None and z >= jump_at else 0)
        out[z] = ((rr - 30) ** 2 + (cc - c) ** 2 <= 81) * 200
    return out


def _run(stack, start, cfg, cancel=None):
    start_res = mask_result_from_full(stack[start] > 0)
    return list(
        propagate(
            FakePredictor(), lambda i: stack[i], len(stack), start, start_res, cfg, cancel=cancel
        )
    )


def test_propagates_both_ways_within_limits():
    stack = _stack()
    steps = _run(stack, 3, PropagationConfig(z_min=1, z_max=5))
    assert [s.index for s in steps] == [4, 5, 2, 1]
    assert all(s.accepted for s in steps)
    for s in steps:
        truth = stack[s.index] > 0
        assert (s.result.full_mask() == truth).all()
        assert s.iou > 0.8
    assert steps[-1].done == steps[-1].total == 4


def test_stops_when_object_vanishes_or_jumps():
    steps = _run(_stack(vanish_at=5), 3, PropagationConfig(direction="forward"))
    assert [(s.index, s.accepted) for s in steps] == [(4, True), (5, False)]
    assert "smaller" in steps[-1].reason
    steps = _run(_stack(jump_at=2), 3, PropagationConfig(direction="backward", margin=20))
    assert steps[-1].index == 1 and not steps[-1].accepted and "IoU" in steps[-1].reason
    # no limit on IoU: the jump is followed
    steps = _run(
        _stack(jump_at=2), 3, PropagationConfig(direction="backward", iou_threshold=0.0, margin=20)
    )
    assert [s.accepted for s in steps] == [True, True, True]


def test_cancel_stops_immediately():
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    steps = _run(_stack(), 3, PropagationConfig(), cancel=cancel)
    assert len(steps) == 2


def test_bad_settings_and_start():
    stack = _stack()
    with pytest.raises(PropagationError, match="limits"):
        _run(stack, 3, PropagationConfig(z_min=4))
    with pytest.raises(PropagationError, match="direction"):
        PropagationConfig(direction="up")
    with pytest.raises(PropagationError, match="iou_threshold"):
        PropagationConfig(iou_threshold=2)
    with pytest.raises(ValueError):
        mask_result_from_full(np.zeros((5, 5), bool))


def test_window_iou_matches_full_iou():
    a = np.zeros((50, 50), bool)
    b = np.zeros((50, 50), bool)
    a[5:20, 5:20] = True
    b[10:30, 12:25] = True
    ra, rb = mask_result_from_full(a), mask_result_from_full(b)
    full = (a & b).sum() / (a | b).sum()
    assert window_iou(ra, rb) == pytest.approx(full)


class _UnsureWhenFaint(FakePredictor):
    """A box-prompted network never returns nothing: here it segments the box even where the
    object is gone, but with low probability there (as IOG does where the object has ended)."""

    propagation_confidence = 0.88

    def _segment(self, prompt):
        res = super()._segment(prompt)
        if res.area:
            return res
        from dataclasses import replace

        mask = np.zeros(res.mask.shape, bool)
        mask[2:-2, 2:-2] = True
        return replace(res, mask=mask, prob=np.where(mask, 0.6, 0.0).astype(np.float32))


def test_propagation_stops_where_the_network_is_unsure_the_object_ended():
    stack = _stack(n=7)
    stack[5:] = 0  # the object ends after slice 4
    start_res = mask_result_from_full(stack[2] > 0)
    steps = list(propagate(_UnsureWhenFaint(), lambda i: stack[i], 7, 2, start_res,
                           PropagationConfig(iou_threshold=0.0, direction="forward"),
                           contrast=True))  # fmt: skip
    assert [(s.index, s.accepted) for s in steps] == [(3, True), (4, True), (5, False)]
    assert "confidence 0.60 < 0.88" in steps[-1].reason
    assert steps[0].stats["confidence"] > 0.88 and "contrast" in steps[0].stats
    off = list(propagate(_UnsureWhenFaint(), lambda i: stack[i], 7, 2, start_res,
                         PropagationConfig(iou_threshold=0.0, direction="forward",
                                           min_confidence=0.0)))  # fmt: skip
    assert [s.index for s in off if s.accepted] == [3, 4, 5, 6]  # the old behaviour: runs on
    assert all("contrast" not in s.stats for s in off)  # no pass over the planes unless asked
