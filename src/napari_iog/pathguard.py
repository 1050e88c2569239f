"""One input/output path guard for every command: an output is never an input, has the suffix the
command writes, and lands in an existing, writable folder - checked before any work starts:
``check_output(args.out, expand_inputs([args.image, args.weights]), suffixes=(".tif",))``.

Inputs are compared by their resolved path (symlinks followed) and, for files that exist, by
device and inode (hard links). Folder inputs stand for the files inside them that have one of
``suffixes`` (not recursive: what the readers list); glob patterns for their matches. Torch-,
napari- and Qt-free; every refusal is a :class:`PathGuardError` whose message says what to give.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

PathLike = str | os.PathLike


class PathGuardError(ValueError):
    """An output path that would overwrite an input, or that cannot be written; says what to do."""


def _resolve(path: PathLike) -> Path:
    return Path(path).expanduser().resolve()


def expand_inputs(
    sources: Iterable[PathLike | None] | PathLike | None,
    suffixes: Sequence[str] | None = None,
) -> list[Path]:
    """Resolved paths of the input files named by ``sources`` (files, folders, glob patterns;
    ``None`` entries and names that do not exist are left out - e.g. a weights registry name).

    A folder stands for its files (not recursive) whose suffix is in ``suffixes`` (all files when
    ``None``); a glob pattern for its matches, filtered the same way."""
    if sources is None:
        return []
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    keep = None if suffixes is None else {s.lower() for s in suffixes}
    out: list[Path] = []
    for src in sources:
        if src is None:
            continue
        p = Path(src).expanduser()
        if p.is_dir():
            found = [f for f in p.iterdir() if f.is_file()]
        elif p.exists():
            out.append(_resolve(p))
            continue
        elif any(ch in str(src) for ch in "*?["):
            found = [Path(f) for f in glob.glob(str(p)) if Path(f).is_file()]
        else:
            continue
        out.extend(_resolve(f) for f in found if keep is None or f.suffix.lower() in keep)
    return out


def overwritten_inputs(
    outputs: Iterable[PathLike], inputs: Iterable[PathLike]
) -> list[tuple[Path, Path]]:
    """``(output, input)`` for every output path that is one of the input files (same resolved
    path, or same device and inode: hard links); empty when none is. No other check."""
    by_path: dict[Path, Path] = {}
    by_inode: dict[tuple[int, int], Path] = {}
    for inp in inputs:
        r = _resolve(inp)
        by_path[r] = r
        if r.exists():
            by_inode[(r.stat().st_dev, r.stat().st_ino)] = r
    pairs = []
    for out in outputs:
        r = _resolve(out)
        same = by_path.get(r)
        if same is None and r.exists():
            same = by_inode.get((r.stat().st_dev, r.stat().st_ino))
        if same is not None:
            pairs.append((Path(out), same))
    return pairs


def _check_folder(folder: Path, flag: str) -> None:
    if not folder.exists():
        raise PathGuardError(f"{flag}: folder {str(folder)!r} does not exist; create it first.")
    if not folder.is_dir():
        raise PathGuardError(f"{flag}: {str(folder)!r} is not a folder; give a path in a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PathGuardError(
            f"{flag}: folder {str(folder)!r} is not writable; choose a folder you can write to."
        )


def check_output(
    out: PathLike,
    inputs: Iterable[PathLike] = (),
    *,
    suffixes: Sequence[str] = (),
    flag: str = "--out",
) -> Path:
    """Check an output *file* path before any work; returns it (as given, as a ``Path``).

    Refused with :class:`PathGuardError`: a suffix not in ``suffixes`` (any when empty), an
    existing folder, a parent folder that is missing or not writable, and a path that is one of
    ``inputs`` (resolved input files, e.g. from :func:`expand_inputs`)."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise PathGuardError(f"{flag} {str(out)!r} is a folder; give a file name in it.")
    if suffixes and path.suffix.lower() not in {s.lower() for s in suffixes}:
        names = ", ".join(suffixes[:-1]) + (" or " if len(suffixes) > 1 else "") + suffixes[-1]
        raise PathGuardError(f"{flag} {str(out)!r}: use a {names} file name.")
    _check_folder(path.parent, flag)
    for _, same in overwritten_inputs([path], inputs):
        raise PathGuardError(
            f"{flag} {str(out)!r} is the input file {str(same)!r}; it must differ from the "
            "inputs, which are never overwritten. Give a new file name."
        )
    return path


def check_output_dir(
    folder: PathLike,
    inputs: Iterable[PathLike] = (),
    *,
    names: Sequence[str] = (),
    flag: str = "--report",
) -> Path:
    """Check an output *folder* (created later if missing) that will hold the files ``names``.

    Refused: an existing file at ``folder``, no writable existing ancestor, and a file of
    ``names`` inside it that is one of ``inputs`` or an existing folder. Returns the folder."""
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        raise PathGuardError(f"{flag} {str(folder)!r} is a file; give a folder for the results.")
    anchor = path.resolve()
    while not anchor.exists():
        anchor = anchor.parent
    _check_folder(anchor, flag)
    for name in names:
        if (path / name).is_dir():
            raise PathGuardError(
                f"{flag}: {str(path / name)!r} is a folder; remove it or choose another {flag}."
            )
    for target, same in overwritten_inputs([path / n for n in names], inputs):
        raise PathGuardError(
            f"{flag} {str(folder)!r} would overwrite the input file {str(same)!r} (as "
            f"{target.name}); choose another folder."
        )
    return path
