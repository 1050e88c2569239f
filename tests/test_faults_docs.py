"""Fault suite, docs (issue 22, "found by a fresh clone"): every command the docs tell a new
user to type works as written."""

from __future__ import annotations

import re

from tests._shared import REPO


def _read(name: str) -> str:
    return (REPO / name).read_text(encoding="utf-8")


def test_readme_installs_every_system_package_that_ci_installs():
    ci = re.search(r'APT_PKGS="([^"]+)"', _read(".ci/run")).group(1).split()
    quick = _read("README.md").split("## Quick start", 1)[1].split("```", 2)[1]
    missing = [p for p in ci if p not in quick.split()]
    assert not missing, f"README's test command lacks {missing} (see .ci/run)"


def test_annotating_installs_from_the_repository():
    text = _read("docs/annotating.md")
    assert 'pip install "napari-iog[qt]"' not in text and 'pip install -e ".[qt]"' in text


def test_calibrate_example_uses_weights_a_documented_command_provides():
    example = _read("docs/cli.md").split("## `calibrate`", 1)[1].split("## ", 1)[0]
    weights = re.search(r"napari-iog calibrate --weights (\S+) \\", example).group(1)
    from napari_iog.models.starters import STARTERS

    assert weights in STARTERS, f"{weights} is made by no documented command"


def test_weights_import_of_a_checkpoint_shows_name():
    for doc in ("docs/finetuning.md", "docs/cli.md", "README.md"):
        for arg, name in re.findall(r"napari-iog weights import (\S+)(\s+--name)?", _read(doc)):
            if arg == "FILE" or arg.endswith(".pt"):  # a checkpoint: the name cannot be guessed
                assert name, f"{doc}: `weights import {arg}` needs --name for a checkpoint"
