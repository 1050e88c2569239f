"""``napari-iog weights list|fetch NAME|import PATH [--name NAME]|verify NAME``."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "weights",
        help="list, download, import or verify model weights",
        description="Manage released IOG weights and your checkpoints in the local cache "
        "($NAPARI_IOG_CACHE or the OS cache folder).",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="known weights and cached checkpoints").set_defaults(func=_list)
    f = sub.add_parser("fetch", help="download weights into the cache")
    f.add_argument("name")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    f.set_defaults(func=_fetch)
    i = sub.add_parser("import", help="copy a downloaded file into the cache (checks its hash)")
    i.add_argument("path")
    i.add_argument("--name", default=None, help="registry name, or a new name for your checkpoint")
    i.set_defaults(func=_import)
    v = sub.add_parser("verify", help="check a cached file's size and sha256")
    v.add_argument("name")
    v.set_defaults(func=_verify)


def _size(n) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


def _list(args) -> int:
    from napari_iog.models.registry import list_weights
    from napari_iog.models.weights import cache_dir

    rows = list_weights()
    print(f"cache: {cache_dir()}")
    w = max(len(r.name) for r in rows)
    for r in rows:
        state = "cached" if r.cached else "-"
        print(f"{r.name:<{w}}  {r.kind:<10}  {r.profile or '?':<22}  {state:<6}  {_size(r.size):>9}  {r.path}")  # fmt: skip
    return 0


def _fetch(args) -> int:
    from napari_iog.models.weights import fetch

    print(fetch(args.name, progress=not args.no_progress))
    return 0


def _import(args) -> int:
    from napari_iog.models.weights import import_weights

    print(f"imported to {import_weights(args.path, args.name)}")
    return 0


def _verify(args) -> int:
    from napari_iog.models.registry import verify

    info = verify(args.name)
    extra = f" sha256 {info['sha256']}" if "sha256" in info else ""
    note = " (no published hash: recorded for later checks)" if info["status"] == "recorded" else ""
    print(f"{info['name']}: {info['status']}{note}, {_size(info['size'])}{extra}, {info['path']}")
    return 0
