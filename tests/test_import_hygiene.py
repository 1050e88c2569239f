"""The core never imports napari, Qt or magicgui; `import napari_iog` does not import torch (DESIGN §1)."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "napari_iog",
    "napari_iog.structures",
    "napari_iog.config",
    "napari_iog.models",
    "napari_iog.models.checkpoint",
    "napari_iog.models.weights",
    "napari_iog.inference",
    "napari_iog.cli",
    "napari_iog.harvest",
    "napari_iog.cli.harvest",
    "napari_iog.data",
    "napari_iog.training",
    "napari_iog.evaluation",
    "napari_iog.propagation",
]


def _loaded_after(modules: list[str]) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    try:\n        importlib.import_module(m)\n"
        "    except ModuleNotFoundError as e:\n"
        "        if not e.name.startswith('napari_iog'): raise\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {line.split(".")[0] for line in out.stdout.split()}


def test_core_is_napari_and_qt_free():
    loaded = _loaded_after(CORE)
    assert "torch" in loaded  # the probe really imported the model code
    assert not loaded & {
        "napari",
        "qtpy",
        "PyQt5",
        "PyQt6",
        "PySide2",
        "PySide6",
        "magicgui",
        "vispy",
    }


def test_package_import_is_light():
    loaded = _loaded_after(["napari_iog"])
    assert not loaded & {"torch", "napari", "qtpy", "PyQt6", "magicgui"}
