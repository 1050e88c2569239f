"""Optional dependencies sit behind pip extras; a feature that needs a missing one says which
extra to install (simulated here by hiding the installed package)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from napari_iog.extras import MissingExtraError, require


def test_missing_pycocotools_names_the_harvest_extra(monkeypatch):
    from napari_iog.harvest import rle

    for name in [m for m in sys.modules if m == "pycocotools" or m.startswith("pycocotools.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pycocotools", None)  # "not installed"
    with pytest.raises(MissingExtraError, match=r"pip install 'napari-iog\[harvest\]'") as err:
        rle.encode(np.ones((4, 4), bool))
    assert isinstance(err.value, ImportError) and isinstance(err.value, ValueError)
    assert "pycocotools" in str(err.value)


def test_cli_evaluate_without_matplotlib_is_one_clear_line(monkeypatch, tmp_path, capsys):
    from napari_iog.cli import main

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    rc = main(["evaluate", "--images", str(tmp_path), "--labels", str(tmp_path), "--report",
               str(tmp_path / "rep")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "napari-iog[eval]" in err and "matplotlib" in err
    assert not (tmp_path / "rep").exists()  # checked before any work


def test_other_import_errors_are_not_disguised(monkeypatch):
    monkeypatch.setitem(sys.modules, "no_such_pkg_for_napari_iog", None)
    with pytest.raises(ImportError) as err:
        require("no_such_pkg_for_napari_iog", "a test")
    assert not isinstance(err.value, MissingExtraError)
