"""Command-line options generated from a config dataclass (``FinetuneConfig``): one option per
field, named after it (or its ``metadata["flag"]``), typed from its annotation, with the field's
default and ``metadata["help"]``; a nested dataclass field (``augment``) adds its own fields.

:func:`add_config_options` fills a parser, :func:`config_from_args` builds the dataclass back
from the parsed arguments, so the defaults and help texts live only in the dataclass.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing
from collections.abc import Collection
from typing import Any, TypeVar

SEP = "__"  # dest of a nested field: "augment__rotate"

_Config = TypeVar("_Config")


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _dest(f: dataclasses.Field, prefix: str) -> str:
    """Where the value lands in the namespace: the flag's name (``--minutes`` -> ``minutes``)."""
    return prefix + _flag(f)[2:].replace("-", "_")


def _nested(cls, f: dataclasses.Field):
    """The dataclass type of field ``f`` of ``cls``, or None."""
    hint = typing.get_type_hints(cls).get(f.name)
    return hint if dataclasses.is_dataclass(hint) else None


def _scalar(annotation: str):
    """``int`` / ``float`` / ``str`` / ``bool`` of an annotation text such as ``"int | None"``."""
    for name, typ in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if re.search(rf"\b{name}\b", annotation):
            return typ
    return str


def _fields(cls, skip):
    return [f for f in dataclasses.fields(cls) if f.name not in skip and f.metadata.get("help")]


def add_config_options(
    parser: argparse.ArgumentParser,
    cls: type,
    base: object | None = None,
    skip: Collection[str] = (),
    prefix: str = "",
    group: argparse._ArgumentGroup | None = None,
) -> None:
    """Add an option for every field of dataclass ``cls`` (not in ``skip``), default from
    ``base`` (an instance; default ``cls()``), help from the field's metadata."""
    base = cls() if base is None else base
    target = group or parser.add_argument_group(f"{cls.__name__} options")
    for f in _fields(cls, skip):
        default = getattr(base, f.name)
        sub = _nested(cls, f)
        if sub is not None:
            add_config_options(parser, sub, default, skip, f"{prefix}{f.name}{SEP}", target)
            continue
        # nested fields keep their own names (--rotate, --vflip...): they do not collide here
        kw = dict(
            dest=_dest(f, prefix), default=default, help=f.metadata["help"].replace("%", "%%")
        )
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
        if "metavar" in f.metadata:
            kw["metavar"] = f.metadata["metavar"]
        typ = _scalar(str(f.type))
        if isinstance(default, tuple):
            kw.update(type=float, nargs=len(default), metavar=("LO", "HI"))
        elif typ is bool:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = typ
            if "choices" not in kw:
                kw.setdefault("metavar", _flag(f)[2:].replace("-", "_").upper())
        if default is not None:
            kw["help"] += f" (default: {_show(default)})"
        target.add_argument(_flag(f), **kw)


def _show(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_from_args(
    cls: type[_Config],
    args: argparse.Namespace,
    base: _Config | None = None,
    skip: Collection[str] = (),
    prefix: str = "",
    **override: Any,
) -> _Config:
    """``cls`` with every generated option's value from ``args`` (fields in ``skip`` keep
    ``base``'s value, default ``cls()``), then ``override`` applied."""
    base = cls() if base is None else base
    values = {}
    for f in _fields(cls, skip):
        sub = _nested(cls, f)
        if sub is not None:
            values[f.name] = config_from_args(sub, args, getattr(base, f.name), skip,
                                              f"{prefix}{f.name}{SEP}")  # fmt: skip
        elif hasattr(args, _dest(f, prefix)):
            value = getattr(args, _dest(f, prefix))
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(base, **{**values, **override})
