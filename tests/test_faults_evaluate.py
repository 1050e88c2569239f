"""Fault suite, evaluate (issue 22): each method's results are on disk as soon as it finishes
(a later crash or Ctrl-C keeps them), every method shows its own progress, and GrabCut's cost is
bounded on large boxes (the window is downscaled before ``cv2.grabCut``)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from napari_iog.cli import main
from tests._shared import constant_net

torch = pytest.importorskip("torch")
imsave = pytest.importorskip("skimage.io").imsave


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from napari_iog.data.synthetic import blobs
    from napari_iog.models import get_profile
    from napari_iog.models.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("faults_eval")
    (root / "img").mkdir()
    (root / "lab").mkdir()
    im, lab = blobs((96, 96), 3, seed=0)
    imsave(root / "img" / "0.png", im, check_contrast=False)
    imsave(root / "lab" / "0.png", lab.astype(np.uint8), check_contrast=False)
    save_checkpoint(
        root / "hi.pt", constant_net("iog-tiny-refine", 0.9), get_profile("iog-tiny")[1]
    )
    return root


class _Breaks:
    """A baseline that fails on its first object (``exc``: what it raises)."""

    supports_refinement = False

    def __init__(self, exc: BaseException):
        self.exc = exc

    def set_image(self, image) -> None:
        pass

    def predict(self, prompt):
        raise self.exc


def _evaluate(ws, tmp_path, monkeypatch, baselines: dict, *extra):
    from napari_iog.evaluation import runner

    monkeypatch.setattr(runner, "baseline_predictors", lambda pre, names: dict(baselines))
    args = ["evaluate", "--weights", str(ws / "hi.pt"), "--images", str(ws / "img"), "--labels",
            str(ws / "lab"), "--device", "cpu", "--max-clicks", "1", "--min-area", "20",
            "--report", str(tmp_path / "rep"), *extra]  # fmt: skip
    return main(args)


@pytest.mark.parametrize(
    "exc, rc_want", [(KeyboardInterrupt(), 130), (ValueError("the baseline broke"), 2)]
)
def test_a_later_failure_keeps_the_finished_methods(
    ws, tmp_path, monkeypatch, capsys, exc, rc_want
):
    from napari_iog.inference import BoxFillPredictor

    rc = _evaluate(
        ws, tmp_path, monkeypatch, {"box fill": BoxFillPredictor(), "broken": _Breaks(exc)}
    )
    err = capsys.readouterr().err
    assert rc == rc_want and "Traceback" not in err
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert set(rep["methods"]) == {"IOG", "box fill"} and rep["methods_pending"] == ["broken"]
    rows = (tmp_path / "rep" / "per_object.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * rep["methods"]["IOG"]["n_objects"]
    assert (tmp_path / "rep" / "iou_vs_clicks.png").exists()


@pytest.mark.parametrize("progress", [True, False])
def test_every_method_shows_its_progress(ws, tmp_path, monkeypatch, capsys, progress):
    from napari_iog.inference import BoxFillPredictor

    extra = () if progress else ("--no-progress",)
    assert _evaluate(ws, tmp_path, monkeypatch, {"box fill": BoxFillPredictor()}, *extra) == 0
    text = "".join(capsys.readouterr())
    assert "method [1/2] IOG" in text and "method [2/2] box fill" in text
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["methods_pending"] == [] and set(rep["methods"]) == {"IOG", "box fill"}


def _disk_image(n: int, radius: int):
    yy, xx = np.mgrid[:n, :n]
    disk = (yy - n // 2) ** 2 + (xx - n // 2) ** 2 <= radius**2
    rng = np.random.default_rng(0)
    img = np.where(disk, 190, 60) + rng.integers(-20, 20, (n, n))
    return np.clip(img, 0, 255).astype(np.uint8), disk


@pytest.mark.parametrize("n, radius", [(1500, 600), (400, 60)])
def test_grabcut_cost_is_bounded_on_large_boxes(monkeypatch, n, radius):
    cv2 = pytest.importorskip("cv2")
    from napari_iog.config import PreprocessConfig
    from napari_iog.data.prompts import simulate_prompt
    from napari_iog.evaluation.grabcut import GrabCutPredictor
    from napari_iog.evaluation.metrics import iou
    from napari_iog.structures import Click

    shapes, real = [], cv2.grabCut
    monkeypatch.setattr(
        cv2, "grabCut", lambda img, *a: (shapes.append(img.shape), real(img, *a))[1]
    )
    img, disk = _disk_image(n, radius)
    gc = GrabCutPredictor(PreprocessConfig())
    gc.set_image(img)
    prompt = simulate_prompt(disk)
    t0 = time.perf_counter()
    res = gc.predict(prompt)
    seconds = time.perf_counter() - t0
    assert max(shapes[0][:2]) <= 256 and seconds < 20
    assert iou(res.full_mask(), disk) > 0.9
    r, c = n // 2, n // 2 - radius + 2  # a positive click holds at full resolution
    res = gc.refine([Click(r, c, True)])
    assert res.full_mask()[r, c]
