"""Released IOG weights and the local cache (with the user's own checkpoints); weights names.

- Cache folder: ``$NAPARI_IOG_CACHE`` or ``pooch.os_cache("napari-iog")``; registry files sit at
  its top level, fine-tuned napari-iog checkpoints in its ``checkpoints/`` subfolder.
- ``fetch(name)`` downloads with pooch (sha256-checked where the hash is known); without network
  it raises ``WeightsUnavailableError`` saying how to download in a browser and import the file.
- ``import_weights(path, name)`` verifies size and sha256 (where known) and copies the file into
  the cache atomically; for entries without a published hash the computed sha256 is recorded in
  ``index.json`` and checked from then on (``verify``).

The official files are © their authors (Zhang et al., CVPR 2020), released with the IOG code for
research use; napari-iog does not redistribute them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from napari_iog.fileio import atomic_write
from napari_iog.models.checkpoint_file import read_header, read_state_dict
from napari_iog.models.download import DownloadError, DownloadHashError, download
from napari_iog.models.starters import STARTERS, starter_path
from napari_iog.models.statedict import CheckpointError, detect_profile

_DRIVE = "https://drive.google.com/uc?export=download&id={}"
_LICENCE = (
    "Official IOG weights (Zhang et al., CVPR 2020), published with the IOG code for research use; "
    "not redistributed by napari-iog."
)
INDEX_FILE = "index.json"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


class WeightsError(CheckpointError):
    """A weights file that cannot be fetched, imported or verified; the message says what to do."""


class WeightsUnavailableError(WeightsError):
    """The weights are not in the cache and could not be downloaded."""


class WeightsHashError(WeightsError):
    """A file's size or sha256 differs from the registry's (corrupt or a different file)."""


@dataclass(frozen=True)
class WeightsEntry:
    """One released weights file. ``size`` (bytes) and ``sha256`` are None where unknown."""

    name: str
    url: str
    filename: str
    size: int | None
    sha256: str | None
    profile: str
    description: str
    licence: str = _LICENCE


# name, Google Drive file id, size (bytes), sha256, profile, description (reference §8)
_RELEASES = (
    ("IOG_PASCAL_SBD", "1Lm1hhMhhjjnNwO4Pf7SC6tXLayH2iH0l", 209_133_432,
     "f94ced1516f1d7587fcdbfc6b64c3908ca1e8bc706211f7996a784f71abf6313", "iog-resnet101",
     "Paper model, ResNet-101, trained on PASCAL VOC train + SBD (93.2 mIoU at 3 clicks)."),
    ("IOG_PASCAL", "1GLZIQlQ-3KUWaGTQ1g_InVcqesGfGcpW", None, None, "iog-resnet101",
     "ResNet-101 trained on PASCAL VOC train only."),
    ("IOG_PASCAL_SBD_REFINEMENT", "1VdOFUZZbtbYt9aIMugKhMKDA6EuqKG30", None, None,
     "iog-resnet101-refine", "ResNet-101 with the refinement (extra clicks) branch, VOC + SBD."),
)  # fmt: skip
REGISTRY: dict[str, WeightsEntry] = {
    n: WeightsEntry(n, _DRIVE.format(i), f"{n}.pth", size, sha, prof, desc)
    for n, i, size, sha, prof, desc in _RELEASES
}


def cache_dir() -> Path:
    """The weights cache folder (``$NAPARI_IOG_CACHE`` or the OS cache ``napari-iog``)."""
    env = os.environ.get("NAPARI_IOG_CACHE")
    if env:
        return Path(os.path.expanduser(env))
    import pooch

    return Path(pooch.os_cache("napari-iog"))


def get_entry(name: str) -> WeightsEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise WeightsError(
            f"Unknown weights {name!r}; known: {', '.join(REGISTRY)} (see `napari-iog weights list`)."
        ) from None


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _index() -> dict:
    try:
        return json.loads((cache_dir() / INDEX_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _record(name: str, sha: str, size: int, source: str) -> None:
    index = _index()
    index[name] = {"sha256": sha, "size": size, "source": source}
    text = json.dumps(index, indent=2, sort_keys=True).encode()
    atomic_write(cache_dir() / INDEX_FILE, lambda fh: fh.write(text))


def _how_to_import(entry: WeightsEntry) -> str:
    return (
        f"Download {entry.filename} in a browser (on any machine with network) from "
        f"{entry.url}, copy it here and run `napari-iog weights import PATH --name {entry.name}`."
    )


def _check(entry: WeightsEntry, path: Path, what: str, recorded: bool = True) -> str:
    """Check ``path`` against the entry's size and sha256 (published, or recorded if ``recorded``);
    returns its sha256."""
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        raise WeightsHashError(
            f"{what} is {size:,} bytes but {entry.name} is {entry.size:,} bytes: it is incomplete or "
            f"another file. {_how_to_import(entry)}"
        )
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise WeightsHashError(
            f"{what} is a web page, not weights (Google Drive asked for a confirmation). "
            f"{_how_to_import(entry)}"
        )
    sha = sha256_of(path)
    expected = entry.sha256 or (_index().get(entry.name, {}).get("sha256") if recorded else None)
    if expected is not None and sha != expected:
        raise WeightsHashError(
            f"{what} has sha256 {sha[:12]}..., expected {expected[:12]}... for {entry.name}: the file is "
            f"corrupt or different. {_how_to_import(entry)}"
        )
    return sha


def fetch(name: str, progress: bool = True) -> Path:
    """Path of registry weights ``name`` in the cache, downloading (pooch) if absent or corrupt."""
    entry = get_entry(name)
    target = cache_dir() / entry.filename
    if target.is_file():
        try:
            _check(entry, target, f"The cached {target}")
            return target
        except WeightsHashError:
            target.unlink()  # corrupt: download again
    try:
        got = download(entry.url, cache_dir(), entry.filename, entry.sha256, progress)
    except DownloadHashError as exc:
        raise WeightsHashError(
            f"The download of {entry.name} failed its sha256 check ({exc}). {_how_to_import(entry)}"
        ) from None
    except DownloadError as exc:
        raise WeightsUnavailableError(
            f"Could not download {entry.name}: {exc}. {_how_to_import(entry)}"
        ) from None
    try:
        sha = _check(entry, got, f"The download of {entry.name}")
    except WeightsHashError:
        got.unlink(missing_ok=True)
        raise
    if entry.sha256 is None and entry.name not in _index():
        _record(entry.name, sha, got.stat().st_size, entry.url)
    return got


def import_weights(path: str | Path, name: str | None = None) -> Path:
    """Copy a downloaded weights file into the cache after checking it; returns the cached path.

    ``name``: a registry name (default: the entry whose filename equals ``path``'s), or any other
    name for a napari-iog checkpoint, which goes to ``checkpoints/<name>.pt``."""
    path = Path(os.path.expanduser(str(path)))
    if not path.is_file():
        raise WeightsError(f"{str(path)!r} is not a file; give the path of the downloaded .pth.")
    if name is None:
        matches = [e.name for e in REGISTRY.values() if e.filename == path.name]
        if not matches:
            raise WeightsError(
                f"Cannot tell which weights {path.name!r} is; add --name (one of {', '.join(REGISTRY)}, "
                "or a new name for your own napari-iog checkpoint)."
            )
        name = matches[0]
    if name not in REGISTRY:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise WeightsError(f"Name {name!r}: use letters, digits, '.', '_' or '-' only.")
        read_header(path)  # our format only (raises otherwise)
        target = cache_dir() / CHECKPOINT_DIR / f"{name}.pt"
    else:
        entry = REGISTRY[name]
        sha = _check(entry, path, repr(str(path)), recorded=False)
        if entry.sha256 is None:  # no hash to trust: check at least the architecture
            detect_profile(read_state_dict(path, mmap=True), [entry.profile])
        target = cache_dir() / entry.filename
    with open(path, "rb") as src:
        atomic_write(target, lambda fh: shutil.copyfileobj(src, fh, 1 << 20))
    if name in REGISTRY and REGISTRY[name].sha256 is None:
        _record(name, sha, target.stat().st_size, str(path))
    return target


def verify_release(name: str) -> dict:
    """Check the cached file of released weights ``name`` against its published (or first
    recorded) size and sha256: ``{"name", "path", "size", "sha256", "status"}``, status ``"ok"``
    or ``"recorded"`` (no hash was known: this one is kept). ``models.registry.verify`` checks
    any weights name."""
    entry = get_entry(name)
    path = cache_dir() / entry.filename
    if not path.is_file():
        raise WeightsUnavailableError(
            f"{name} is not in the cache ({path}). {_how_to_import(entry)}"
        )
    known = entry.sha256 or _index().get(name, {}).get("sha256")
    sha = _check(entry, path, f"The cached {path}")
    if known is None:
        _record(name, sha, path.stat().st_size, str(path))
    status = "ok" if known else "recorded"
    return {
        "name": name,
        "path": str(path),
        "size": path.stat().st_size,
        "sha256": sha,
        "status": status,
    }


def user_checkpoints() -> dict[str, Path]:
    """``{name: path}`` of napari-iog checkpoints in the cache's ``checkpoints/`` folder."""
    folder = cache_dir() / CHECKPOINT_DIR
    if not folder.is_dir():
        return {}
    return {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.suffix in CHECKPOINT_SUFFIXES and p.is_file()
    }


def resolve_source(source: str | Path) -> Path:
    """The file of weights ``source``: an existing path, else a shipped starter's, a released
    weights name's (downloaded if absent: :func:`fetch`) or a cached user checkpoint's."""
    path = Path(os.path.expanduser(str(source)))
    if path.exists():
        return path
    if os.sep in str(source) or path.suffix in (".pt", ".pth", ".ckpt", ".tar"):
        read_header(path)  # raises "does not exist" with advice
    if str(source) in STARTERS:
        return starter_path(str(source))
    if str(source) in REGISTRY:
        return fetch(str(source))
    user = user_checkpoints()
    if str(source) in user:
        return user[str(source)]
    known = ", ".join(list(STARTERS) + list(REGISTRY) + list(user))
    raise CheckpointError(
        f"{str(source)!r} is neither an existing file nor a known weights name ({known}). "
        "Check the path, or see `napari-iog weights list`."
    )


def install_checkpoint(ckpt: str | Path) -> Path:
    """Copy checkpoint ``ckpt`` into the weights cache as ``<its stem>`` (atomic, format-checked:
    :func:`import_weights`), where ``--weights NAME`` and the annotator find it; returns the
    cached path."""
    return import_weights(ckpt, Path(ckpt).stem)
