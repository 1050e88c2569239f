"""The napari-iog CLI end to end on a real ssTEM slice, with a tiny random-init checkpoint."""

from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pytest

from napari_iog.cli import SUBCOMMANDS, build_parser, main
from tests._shared import require_shared

torch = pytest.importorskip("torch")
tifffile = pytest.importorskip("tifffile")


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    from napari_iog.models import build_model, get_profile
    from napari_iog.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    return save_checkpoint(path, build_model("iog-tiny-refine"), get_profile("iog-tiny")[1])


@pytest.fixture(scope="module")
def sstem():
    """Raw ssTEM slice 10 and the box (R0, C0, R1, C1) of its largest mitochondrion."""
    from scipy import ndimage
    from skimage.io import imread

    root = require_shared("data", "sstem-drosophila-vnc")
    raw = root / "raw" / "10.tif"
    m = imread(root / "mitochondria" / "10.png")
    lab, n = ndimage.label(m > (0 if m.max() <= 1 else 127))
    big = 1 + int(np.argmax(ndimage.sum(np.ones_like(lab), lab, range(1, n + 1))))
    sl = ndimage.find_objects((lab == big).astype(np.int32))[0]
    return raw, (sl[0].start, sl[1].start, sl[0].stop - 1, sl[1].stop - 1)


def _predict_args(image, box, weights, out, *extra):
    return ["predict", "--image", str(image), "--box", *map(str, box), "--weights", str(weights),
            "--device", "cpu", "--out", str(out), *extra]  # fmt: skip


def test_subcommands_all_register():
    parser = build_parser()
    for name in SUBCOMMANDS:
        assert hasattr(importlib.import_module(f"napari_iog.cli.{name}"), "register")
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert set(SUBCOMMANDS) <= set(choices)


def test_predict_real_slice(sstem, tiny_ckpt, tmp_path, capsys):
    raw, box = sstem
    out = tmp_path / "mask.tif"
    r, c = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    args = _predict_args(raw, box, tiny_ckpt, out, "--inside", str(r), str(c))
    args += ["--click", str(box[0] + 1), str(box[1] + 1), "-", "--click", str(r), str(c), "+"]
    assert main(args) == 0
    mask = tifffile.imread(out)
    assert mask.shape == (1024, 1024) and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 255}
    text = capsys.readouterr().out
    assert "area" in text and "predict" in text
    area = int(text.split("area ")[1].split(" px")[0])
    assert area == int((mask == 255).sum())
    assert not [p for p in tmp_path.iterdir() if p.name != "mask.tif"], "temp file left behind"


def test_predict_stack_slice_and_values_1(sstem, tiny_ckpt, tmp_path, capsys):
    raw, box = sstem
    plane = tifffile.imread(raw)
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.stack([plane[::-1], plane]))
    out = tmp_path / "m.png"
    assert main(_predict_args(stack, box, tiny_ckpt, out)) == 2
    assert "--slice Z (0..1)" in capsys.readouterr().err
    assert main(_predict_args(stack, box, tiny_ckpt, out, "--slice", "1", "--values", "1")) == 0
    from skimage.io import imread

    mask = imread(out)
    assert mask.shape == (1024, 1024) and set(np.unique(mask)) <= {0, 1}


@pytest.mark.parametrize(
    "change,expect",
    [
        (dict(box=(500, 500, 400, 400)), "inverted"),
        (dict(box=(5000, 5000, 5100, 5100)), "outside"),
        (dict(image="nope.tif"), "does not exist"),
        (dict(weights="nope.pt"), "does not exist"),
        (dict(weights="NO_SUCH_WEIGHTS"), "napari-iog weights list"),
        (dict(extra=("--click", "10", "10", "maybe")), "SIGN must be + or -"),
        (dict(extra=("--slice", "3")), "single plane"),
        (dict(out="mask.jpg"), ".tif, .tiff or .png"),
    ],
)
def test_predict_bad_inputs(sstem, tiny_ckpt, tmp_path, capsys, change, expect):
    raw, box = sstem
    image = tmp_path / change["image"] if "image" in change else raw
    weights = change.get("weights", tiny_ckpt)
    weights = (
        tmp_path / weights if str(weights).endswith(".pt") and weights != tiny_ckpt else weights
    )
    out = tmp_path / change.get("out", "m.tif")
    code = main(
        _predict_args(image, change.get("box", box), weights, out, *change.get("extra", ()))
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("napari-iog: error: ") and expect in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_debug_shows_traceback(tmp_path, tiny_ckpt, capsys):
    args = _predict_args(tmp_path / "none.tif", (1, 1, 9, 9), tiny_ckpt, tmp_path / "m.tif")
    assert main([*args, "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_usage_errors_return_2(capsys):
    assert main(["predict", "--box", "1", "2"]) == 2
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert "predict" in capsys.readouterr().out


def test_weights_commands(tiny_ckpt, tmp_path, capsys):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert (
        "IOG_PASCAL_SBD " in out and "IOG_PASCAL_SBD_REFINEMENT" in out and "iog-resnet101" in out
    )
    assert main(["weights", "import", str(tiny_ckpt), "--name", "my-mito"]) == 0
    assert (tmp_path / "cache" / "checkpoints" / "my-mito.pt").is_file()
    capsys.readouterr()
    assert main(["weights", "list"]) == 0 and "my-mito" in capsys.readouterr().out
    assert main(["weights", "verify", "my-mito"]) == 0 and "ok" in capsys.readouterr().out
    assert main(["weights", "verify", "IOG_PASCAL_SBD"]) == 2
    assert "napari-iog weights import PATH --name IOG_PASCAL_SBD" in capsys.readouterr().err
    assert main(["weights", "fetch", "NOPE"]) == 2
    assert "Unknown weights" in capsys.readouterr().err


def test_python_m_entry_point():
    res = subprocess.run(
        [sys.executable, "-m", "napari_iog.cli", "weights", "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0 and "verify" in res.stdout


def test_predict_threshold_option(sstem, tmp_path, capsys):
    """``--threshold`` overrides the weights' own: a network that outputs probability 0.42
    everywhere finds nothing at its 0.5 (an error, no file: issue 22) and the whole window at
    0.3; out of (0, 1) is a usage error before anything loads."""
    from napari_iog.models import get_profile
    from napari_iog.models.checkpoint import save_checkpoint
    from tests._shared import constant_net

    net = constant_net("iog-tiny-refine", 0.42)
    ckpt = save_checkpoint(tmp_path / "const.pt", net, get_profile("iog-tiny")[1])
    raw, box = sstem
    assert main(_predict_args(raw, box, ckpt, tmp_path / "m0.tif")) == 2
    assert "found nothing in this box" in capsys.readouterr().err
    assert not (tmp_path / "m0.tif").exists()
    out = tmp_path / "m1.tif"
    assert main(_predict_args(raw, box, ckpt, out, "--threshold", "0.3")) == 0
    capsys.readouterr()
    assert int((tifffile.imread(out) == 255).sum()) > (box[2] - box[0]) * (box[3] - box[1])
    assert main(_predict_args(raw, box, ckpt, tmp_path / "x.tif", "--threshold", "1.5")) == 2
    assert "between 0 and 1" in capsys.readouterr().err
