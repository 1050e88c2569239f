"""Fault suite, Python API (issue 22): bad inputs give a clear error or the right result, never a
silent wrong one. The CLI half (exit codes, untouched inputs) is ``test_faults_cli.py``."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from napari_iog.data.files import DataError, as_instances, is_antialiased_mask, load_pairs
from napari_iog.inference.image import NetworkImage
from napari_iog.inference.postprocess import NonFiniteOutputError, check_finite_prob
from napari_iog.pathguard import PathGuardError, check_output, check_output_dir, expand_inputs
from napari_iog.structures import BBox, Click, Prompt
from tests._shared import require_shared

torch = pytest.importorskip("torch")
tifffile = pytest.importorskip("tifffile")

BOX = Prompt(BBox(20, 20, 44, 44))


def _net(profile: str, fill: float):
    from napari_iog.models import build_model

    net = build_model(profile, seed=0).eval()
    with torch.no_grad():
        next(p for n, p in net.named_parameters() if "weight" in n).fill_(fill)
    return net


def _pre():
    from napari_iog.models import get_profile

    return get_profile("iog-tiny")[1]  # 64 px crops: fast


CALLS = [(p, float("nan"), c) for p in ("iog-tiny-refine", "iog-tiny")
         for c in ("predict", "refine", "predict_batch", "tta")]  # fmt: skip


@pytest.mark.parametrize(
    "profile, fill, call",
    CALLS + [("iog-tiny-refine", float("inf"), "predict"), ("iog-tiny", float("-inf"), "refine")],
)
def test_broken_weights_raise_instead_of_an_empty_mask(profile, fill, call):
    from napari_iog.inference import IOGPredictor

    broken = call != "refine"  # refine: weights break after predict (e.g. a diverging run)
    net = _net(profile, fill if broken else 0.01)
    pred = IOGPredictor(net, _pre(), device="cpu", tta=call == "tta", optimize=False)
    pred.set_image(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    with pytest.raises(NonFiniteOutputError, match="weights are broken") as err:
        if call == "predict_batch":
            pred.predict_batch([BOX, BOX], batch_size=2)
        elif call == "refine":
            pred.predict(BOX)
            with torch.no_grad():
                for p in net.Fine_net.parameters():
                    p.fill_(fill)
            pred.refine([Click(30, 30, False)])
        else:
            pred.predict(BOX)
    assert isinstance(err.value, ValueError) and "--lr" in str(err.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_finite_check_of_any_probability_window(bad):
    prob = np.full((8, 8), 0.7, np.float32)
    prob[3, 3] = bad
    with pytest.raises(NonFiniteOutputError, match="1 of 64 pixels"):
        check_finite_prob(prob)
    check_finite_prob(np.full((8, 8), 0.7, np.float32))  # finite: no error


def _extreme(kind: str) -> np.ndarray:
    r = np.random.default_rng(0).random((48, 64))
    return {
        "1e300": r * 1e300,
        "1e-300": r * 1e-300,
        "+-1e300": (r - 0.5) * 2e300,
        "near max": np.where(r > 0.5, 1.0, -1.0) * r * 1.79e308,
        "offset 1e300": 1e300 + r * 1e290,
        "float32 3e38": (r * 3e38).astype(np.float32),
        "float32 1e-38": (r * 1e-38).astype(np.float32),
        "subnormal": r * 5e-320,
    }[kind]


@pytest.mark.parametrize(
    "kind",
    ["1e300", "1e-300", "+-1e300", "near max", "offset 1e300", "float32 3e38", "float32 1e-38",
     "subnormal"],
)  # fmt: skip
def test_extreme_float_images_convert_without_nan(kind):
    img = _extreme(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow/invalid warnings either
        out = NetworkImage(img).full()
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert out.min() == 0 and out.max() == 255 and 60 < out.mean() < 200  # the contrast survives


def test_extreme_float_image_still_gives_a_mask():
    from napari_iog.inference import IOGPredictor
    from tests._shared import constant_net

    pred = IOGPredictor(constant_net("iog-tiny-refine", 0.9), _pre(), device="cpu")
    pred.set_image(_extreme("1e300"))
    assert pred.predict(BOX).area > 0


def _objects(n_ids, dtype, base):
    lab = np.zeros((40, 40), dtype)
    for k in range(n_ids):
        lab[2 + 12 * k : 10 + 12 * k, 5:15] = base + k
    return lab


@pytest.mark.parametrize(
    "dtype, base, mode",
    [(np.int64, 2**32, "instances"), (np.int64, 2**32, "auto"), (np.int64, 2**31, "instances"),
     (np.uint32, 2**31, "instances"), (np.uint32, 2**32 - 3, "auto"), (np.uint64, 2**63, "instances"),
     (np.uint64, 2**40, "auto"), (np.float64, 2.0**40, "instances"), (np.int64, 1, "instances")],
)  # fmt: skip
def test_large_label_ids_stay_separate_objects(dtype, base, mode):
    lab = _objects(3, dtype, base)
    lab[2:10, 20:30] = base  # the first id again (one object in two parts is fine)
    out = as_instances(lab, mode)
    assert out.dtype == np.int32 and out.min() == 0
    assert len(np.unique(out[out > 0])) == 3  # three objects, none merged, no wrap to negative
    assert out[5, 7] == out[5, 25] != out[17, 7]


@pytest.mark.parametrize(
    "lab, match",
    [(np.array([[0, -1], [2, 3]], np.int64), "negative"),
     (np.array([[0, np.nan], [2, 3]]), "NaN"), (np.array([[0, 0.5], [2, 3]]), "fractional")],
)  # fmt: skip
def test_bad_label_values_are_refused_clearly(lab, match):
    with pytest.raises(DataError, match=match):
        as_instances(lab)


def _antialiased(seed: int) -> tuple[np.ndarray, int]:
    from scipy import ndimage

    from napari_iog.data.synthetic import blobs

    _, lab = blobs((96, 96), 4, seed=seed)
    soft = ndimage.gaussian_filter((lab > 0).astype(float) * 255, 0.7)
    return np.clip(np.round(soft), 0, 255).astype(np.uint8), int(lab.max())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_antialiased_masks_are_thresholded_at_127(seed):
    mask, n = _antialiased(seed)
    assert len(np.unique(mask)) > 3 and is_antialiased_mask(mask)
    out = as_instances(mask, "auto")
    assert out.max() == n and np.array_equal(out > 0, mask > 127)


@pytest.mark.parametrize("name", ["00", "04", "10"])
def test_sstem_mitochondria_pngs_in_auto_mode(name):
    from scipy import ndimage
    from skimage.io import imread

    png = require_shared("data", "sstem-drosophila-vnc", "mitochondria", f"{name}.png")
    m = imread(png)
    out = as_instances(m, "auto")
    assert out.max() == ndimage.label(m > 127)[1] > 10  # every mitochondrion, not "id 255"


def _semantic() -> np.ndarray:
    rng = np.random.default_rng(0)
    lab = np.zeros((120, 120), np.uint8)
    for k in range(12):
        r, c = rng.integers(0, 110, 2)
        lab[r : r + 8, c : c + 8] = (32, 64, 96)[k % 3]
    return lab


def test_semantic_maps_in_auto_mode_name_the_flag():
    with pytest.raises(DataError, match="--label-value") as err:
        as_instances(_semantic(), "auto")
    assert "--label-mode instances" in str(err.value)
    assert as_instances(_semantic(), value=64).max() >= 3  # the named flag works
    labels = require_shared("data", "sstem-drosophila-vnc", "labels")
    with pytest.raises(DataError, match="semantic class map"):
        load_pairs(labels / "labels00000000.png", labels / "labels00000000.png")


@pytest.mark.parametrize("n_ids", [2, 5, 40])
def test_instance_images_are_not_mistaken_for_masks_or_classes(n_ids):
    lab = np.zeros((200, 200), np.uint8)
    for k in range(n_ids):
        r, c = divmod(k, 7)
        lab[4 + 28 * r : 20 + 28 * r, 4 + 28 * c : 20 + 28 * c] = 255 - k
    out = as_instances(lab, "auto")
    assert len(np.unique(out[out > 0])) == n_ids


@pytest.fixture
def files(tmp_path):
    (tmp_path / "imgs").mkdir()
    for name in ("a.tif", "b.png", "notes.txt"):
        (tmp_path / "imgs" / name).write_bytes(b"x")
    (tmp_path / "w.pt").write_bytes(b"w")
    return tmp_path


@pytest.mark.parametrize(
    "out, sources, match",
    [("imgs/a.tif", ["imgs"], "input file"), ("imgs/b.png", ["imgs/*.png"], "input file"),
     ("w.pt", ["w.pt"], "must differ"), ("link.pt", ["w.pt"], "input file"),
     ("hard.pt", ["w.pt"], "input file"), ("imgs", [], "is a folder"),
     ("missing/x.pt", [], "does not exist"), ("w.pt/x.pt", [], "not a folder"),
     ("x.txt", [], "use a .pt"), ("imgs/./../w.pt", ["w.pt"], "input file")],
)  # fmt: skip
def test_path_guard_refuses(files, out, sources, match):
    (files / "link.pt").symlink_to(files / "w.pt")
    os.link(files / "w.pt", files / "hard.pt")
    inputs = expand_inputs([files / s for s in sources], suffixes=(".tif", ".png", ".pt"))
    with pytest.raises(PathGuardError, match=match):
        check_output(files / out, inputs, suffixes=(".pt", ".tif", ".png"))


def test_path_guard_accepts_new_names_and_non_inputs_in_input_folders(files):
    inputs = expand_inputs([files / "imgs", "a-registry-name", None], suffixes=(".tif", ".png"))
    assert sorted(p.name for p in inputs) == ["a.tif", "b.png"]
    assert check_output(files / "imgs" / "notes.txt", inputs).name == "notes.txt"
    assert check_output(files / "new.tif", inputs, suffixes=(".tif",)).name == "new.tif"


@pytest.mark.parametrize(
    "report, names, match",
    [("w.pt", (), "is a file"), ("imgs", ("a.tif",), "overwrite the input"),
     ("rep", ("imgs",), None), ("new/deeper", ("report.json",), None)],
)  # fmt: skip
def test_report_folder_guard(files, report, names, match):
    inputs = expand_inputs([files / "imgs"], suffixes=(".tif",))
    if match is None:
        assert check_output_dir(files / report, inputs, names=names) == files / report
    else:
        with pytest.raises(PathGuardError, match=match):
            check_output_dir(files / report, inputs, names=names)


@pytest.mark.parametrize(
    "env, platform, ok",
    [({}, "linux", False), ({"DISPLAY": ":0"}, "linux", True),
     ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
     ({"QT_QPA_PLATFORM": "offscreen"}, "linux", True), ({"QT_QPA_PLATFORM": "xcb"}, "linux", False),
     ({}, "darwin", True), ({}, "win32", True)],
)  # fmt: skip
def test_demo_knows_when_there_is_no_display(env, platform, ok):
    from napari_iog.cli.demo import display_problem

    problem = display_problem(env, platform)
    assert (problem is None) == ok
    if not ok:
        assert "xvfb-run -a napari-iog demo" in problem
