"""Counted nouns for messages: ``count(1, "object")`` -> ``"1 object"``, never "1 objects"."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``"{n} {noun}"`` with the noun in the plural unless ``n == 1`` (``plural``: an irregular
    plural; default ``noun + "s"``, or ``+ "es"`` after s/x/ch/sh)."""
    if n == 1:
        return f"{n} {noun}"
    if plural is None:
        plural = noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{n} {plural}"
