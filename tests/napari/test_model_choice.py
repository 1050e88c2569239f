"""Weights picker: classical fallback always offered and labelled; absent weights explain how to
get them; bad device names are refused."""

from __future__ import annotations

import pytest

from napari_iog._napari import model_choice as M


def test_choices_offer_classical_and_explain_missing_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("NAPARI_IOG_CACHE", str(tmp_path))
    choices = M.weight_choices()
    assert choices[-1].source == M.CLASSICAL and "not IOG" in choices[-1].hint.replace(
        "Not IOG", "not IOG"
    )
    missing = [c for c in choices if c.source and not c.ready]
    assert missing and all("napari-iog weights fetch" in c.hint for c in missing)
    assert M.best_available().source == M.CLASSICAL  # empty cache: the classical predictor


def test_load_predictor_classical_and_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("NAPARI_IOG_CACHE", str(tmp_path))
    pred, desc = M.load_predictor(M.CLASSICAL, "auto")
    assert hasattr(pred, "predict") and "not IOG" in desc
    with pytest.raises(ValueError, match="device"):
        M.load_predictor(M.CLASSICAL, "tpu")
    with pytest.raises(ValueError, match="No weights chosen"):
        M.load_predictor("", "cpu")
    with pytest.raises(ValueError) as err:  # a registry name that is not downloaded
        M.load_predictor("IOG_PASCAL_SBD", "cpu")
    assert "fetch" in str(err.value) or "import" in str(err.value)
