"""Fault suite, labels across files (issue 22): several classes with ``--label-value``, a
``--label-value`` that masks or instance images would ignore or misread, and a set of label
files that mixes instance images and class maps - each refused with the files and flags named."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from napari_iog.cli import build_parser, main
from napari_iog.data.files import (
    DataError,
    as_instances,
    check_label_set,
    label_kind,
    load_pairs,
)

tifffile = pytest.importorskip("tifffile")


def _classes(codes=(2, 5), n=12, seed=0) -> np.ndarray:
    """A class map: ``n`` 8x8 squares, the codes in turn (each code many regions)."""
    rng = np.random.default_rng(seed)
    lab = np.zeros((120, 120), np.uint8)
    for k in range(n):
        r, c = rng.integers(0, 110, 2)
        lab[r : r + 8, c : c + 8] = codes[k % len(codes)]
    return lab


def _instances(n=12) -> np.ndarray:
    """An instance image: ``n`` separate squares with ids 1..n."""
    lab = np.zeros((120, 120), np.uint8)
    for k in range(n):
        r, c = divmod(k, 6)
        lab[4 + 20 * r : 16 + 20 * r, 4 + 20 * c : 16 + 20 * c] = k + 1
    return lab


def _mask255() -> np.ndarray:
    m = np.zeros((120, 120), np.uint8)
    m[10:30, 10:30] = m[50:70, 60:90] = 255
    return m


def test_several_classes_become_separate_objects():
    lab = np.zeros((40, 40), np.uint8)
    lab[2:10, 2:10] = 2
    lab[2:10, 10:18] = 5  # touches the class-2 square: still two objects
    lab[20:30, 20:30] = 2
    lab[30:35, 2:8] = 7  # not asked for
    out = as_instances(lab, value=(2, 5))
    assert out.dtype == np.int32 and len(np.unique(out[out > 0])) == 3
    assert out[5, 5] != out[5, 12] and out[32, 4] == 0
    assert np.array_equal(as_instances(lab, value=[5, 2, 5]) > 0, np.isin(lab, (2, 5)))
    assert as_instances(lab, value=2).max() == 2


@pytest.mark.parametrize(
    "argv, expected",
    [(["2"], (2,)), (["2", "5"], (2, 5)), (["2,5"], (2, 5)), (["2,5", "7", "2"], (2, 5, 7)),
     (["0"], (0,))],
)  # fmt: skip
def test_label_value_takes_several_classes_on_the_command_line(argv, expected):
    from napari_iog.cli import label_values

    args = build_parser().parse_args(
        ["calibrate", "--weights", "w", "--images", "i", "--labels", "l", "--out", "o.pt",
         "--label-value", *argv]
    )  # fmt: skip
    assert label_values(args) == expected


@pytest.mark.parametrize("bad", ["x", "2,x", "-1", "1.5", ","])
def test_bad_label_values_are_usage_errors(bad, capsys):
    rc = main(["calibrate", "--weights", "w", "--images", "i", "--labels", "l", "--out", "o.pt",
               "--label-value", bad])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "--label-value" in err and "Traceback" not in err


@pytest.mark.parametrize("value", [1, (1, 2), 255])
def test_label_value_with_a_1bit_mask_is_refused_not_ignored(value):
    mask = np.zeros((30, 30), bool)
    mask[3:9, 3:9] = True
    with pytest.raises(DataError, match="1-bit"):
        as_instances(mask, value=value)
    assert as_instances(mask).max() == 1  # without the value it reads fine


@pytest.mark.parametrize(
    "mode, value, match",
    [("instances", 2, "--label-mode instances"), ("binary", 2, "--label-mode binary"),
     ("classes", None, "needs --label-value"), ("nonsense", None, "Unknown label mode")],
)  # fmt: skip
def test_modes_that_cannot_take_a_value_are_refused(mode, value, match):
    with pytest.raises(DataError, match=match):
        as_instances(_classes(), mode, value)


@pytest.mark.parametrize(
    "make, kind",
    [(_classes, "classes"), (_instances, "instances"), (_mask255, "mask"),
     (lambda: (_mask255() > 0).astype(np.uint8), "binary"), (lambda: _mask255() > 0, "1-bit"),
     (lambda: np.zeros((9, 9), np.uint16), "empty"), (lambda: _classes((3,), n=1), "unclear")],
)  # fmt: skip
def test_label_kinds(make, kind):
    assert label_kind(make()) == kind


def test_label_value_with_instance_ids_is_refused_and_classes_mode_forces_it():
    with pytest.raises(DataError, match="instance ids.*--label-mode classes"):
        as_instances(_instances(), value=2)
    assert as_instances(_instances(), "classes", value=(2, 3)).max() == 2


def _write(folder, names_arrays):
    folder.mkdir(exist_ok=True)
    for name, arr in names_arrays:
        tifffile.imwrite(folder / name, arr)
    return folder


@pytest.fixture
def data(tmp_path):
    """img/ with 4 planes; labels: inst/ (2 instance images), cls/ (2 class maps), mixed/ (one
    of each), masks/ (0/255), onebit/ (bool)."""
    img = _write(tmp_path / "img", [(f"{i}.tif", np.full((120, 120), 9 * i, np.uint8))
                                    for i in range(2)])  # fmt: skip
    _write(tmp_path / "inst", [("0.tif", _instances()), ("1.tif", _instances(9))])
    _write(tmp_path / "cls", [("0.tif", _classes()), ("1.tif", _classes(seed=1))])
    _write(tmp_path / "mixed", [("a_inst.tif", _instances()), ("b_cls.tif", _classes())])
    _write(tmp_path / "masks", [("0.tif", _mask255()), ("1.tif", _mask255())])
    _write(tmp_path / "onebit", [("0.tif", _mask255() > 0), ("1.tif", _mask255() > 0)])
    return tmp_path, img


@pytest.mark.parametrize("value", [None, 2, (2, 5)])
def test_mixed_instance_and_class_files_are_refused_naming_them(data, value):
    root, img = data
    with pytest.raises(DataError) as err:
        load_pairs(img, root / "mixed", value=value)
    msg = str(err.value)
    assert "mix kinds" in msg and "a_inst.tif" in msg and "b_cls.tif" in msg
    assert "--label-mode instances" in msg and "--label-value" in msg


@pytest.mark.parametrize(
    "folder, value, match",
    [("inst", 2, "instance images"), ("inst", (2, 5), "instance images"),
     ("masks", 2, "on/off masks"), ("onebit", 2, "1-bit masks"), ("onebit", (1, 255), "1-bit"),
     ("cls", 9, "no label file has pixels"), ("cls", (2, 9), "--label-value 9")],
)  # fmt: skip
def test_a_label_value_the_files_would_ignore_or_misread_is_refused(data, folder, value, match):
    root, img = data
    with pytest.raises(DataError, match=match) as err:
        load_pairs(img, root / folder, value=value)
    assert "0.tif" in str(err.value)  # the files are named


@pytest.mark.parametrize(
    "folder, mode, value, n",
    [("cls", "auto", 2, 12), ("cls", "auto", (2, 5), None), ("cls", "classes", "2,5", None),
     ("inst", "auto", None, 21), ("inst", "instances", None, 21), ("masks", "auto", 255, 4),
     ("masks", "auto", None, 4), ("onebit", "auto", None, 4), ("mixed", "instances", None, None)],
)  # fmt: skip
def test_sets_of_one_kind_still_read(data, folder, mode, value, n):
    root, img = data
    if value == "2,5":
        value = (2, 5)
    _, labels = load_pairs(img, root / folder, mode=mode, value=value)
    total = sum(int(lab.max()) for lab in labels)
    assert total > 0 and (n is None or total == n)


def test_check_label_set_names_a_bad_plane(data):
    with pytest.raises(DataError, match="bad.tif: .*fractional"):
        check_label_set([("bad.tif", np.array([[0.0, 0.5], [1.0, 2.0]]))])


def _hashes(root):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.tif")}


@pytest.mark.parametrize(
    "labels, extra, match",
    [("mixed", [], "mix kinds"), ("mixed", ["--label-value", "2", "5"], "mix kinds"),
     ("inst", ["--label-value", "2,5"], "instance images"),
     ("onebit", ["--label-value", "1"], "1-bit"),
     ("cls", ["--label-mode", "instances", "--label-value", "2"], "--label-mode instances")],
)  # fmt: skip
def test_finetune_refuses_label_sets_before_work(data, tmp_path, labels, extra, match, capsys):
    root, img = data
    before = _hashes(root)
    out = tmp_path / "out.pt"
    rc = main(["finetune", "--images", str(img), "--labels", str(root / labels), "--weights",
               "none", "--profile", "iog-tiny", "--out", str(out), *extra])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and match in err and "Traceback" not in err
    assert not out.exists() and _hashes(root) == before
