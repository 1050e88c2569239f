"""Weights picker: classical fallback always offered and labelled; absent weights explain how to
get them; bad device names are refused."""

from __future__ import annotations

import numpy as np
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
    assert M.best_available().source == "iog-em"  # empty cache: the shipped starters
    assert M.best_available("aerial").source == "iog-aerial"
    from napari_iog.models import starters

    monkeypatch.setattr(starters, "STARTER_DIR", tmp_path / "broken-install")
    assert M.best_available().source == M.CLASSICAL  # nothing at all: the classical predictor
    missing_starters = [c for c in M.weight_choices() if c.source in starters.STARTERS]
    assert all(not c.ready and "reinstall" in c.hint for c in missing_starters)


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


def test_mirror_averaging_checkbox_reloads_the_model_with_tta(make_napari_viewer, qtbot, tmp_path):
    torch = pytest.importorskip("torch")
    from napari_iog._napari.widget import AnnotatorWidget
    from napari_iog.models import build_model, get_profile
    from napari_iog.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    mc, pre = get_profile("iog-tiny-refine")
    path = save_checkpoint(tmp_path / "tiny.pt", build_model(mc), pre)
    pred, desc = M.load_predictor(str(path), "cpu", tta=True)
    assert pred.tta and "mirror averaging" in desc
    assert M.load_predictor(M.CLASSICAL, "cpu", tta=True)[0].name.startswith("random walker")

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((48, 48), np.uint8), name="img")
    w = AnnotatorWidget(viewer, autoload=False)
    panel = w.model
    panel.weights.addItem("local", str(path))
    panel._choices.append(M.WeightsChoice("local", str(path), True, ""))
    panel.weights.setCurrentIndex(panel.weights.count() - 1)
    panel.device.setCurrentText("cpu")
    panel.load_model()
    qtbot.waitUntil(lambda: getattr(w.ctl.session.predictor, "tta", None) is False, timeout=20000)
    assert panel.threshold.value() == 0.5 and panel.threshold.isEnabled()
    panel.threshold.setValue(0.35)  # the user's threshold survives the reload below
    panel.tta.setChecked(True)  # toggling reloads the IOG weights with mirror averaging
    qtbot.waitUntil(lambda: getattr(w.ctl.session.predictor, "tta", None) is True, timeout=20000)
    assert w.ctl.session.predictor.mask_threshold == 0.35 and panel.threshold.value() == 0.35
    panel.load_model()  # an explicit Load gives the weights' own threshold again
    qtbot.waitUntil(lambda: w.ctl.session.predictor.mask_threshold == 0.5, timeout=20000)
    assert panel.threshold.value() == 0.5
