"""Keyboard shortcuts of the annotator: one table, bound with ``overwrite=True`` on the viewer
AND on the prompt layers (layer keymaps win over the viewer's), shown in the button texts.

None of these keys is a napari default (checked against ``napari.utils.shortcuts``): napari uses
the plain letters C, S, T, P, R and X for its own tools, so every action here is a Shift-chord
except the polarity toggle on ``N`` and napari's own Labels undo/redo (Ctrl+Z, Ctrl+Shift+Z),
which are re-bound on the prompt layers so that they undo commits while clicking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import napari
    from napari.layers import Layer

# action -> (key, label shown in the UI and help)
SHORTCUTS: dict[str, tuple[str, str]] = {
    "segment": ("Shift-S", "Segment now (box without inside click, or re-run)"),
    "commit": ("Shift-C", "Commit the preview into the Labels layer"),
    "clear": ("Shift-X", "Clear the current object (drop its clicks and preview)"),
    "toggle": ("N", "Toggle correction clicks positive / negative"),
    "undo_click": ("Shift-Z", "Undo the last click (no re-run)"),
    "redo_click": ("Shift-Y", "Redo the click"),
    "edit": ("Shift-E", "Edit the label under the last click / the chosen id"),
    "propagate": ("Shift-T", "Propagate the committed object through the stack"),
    # napari's own Labels undo keys, also bound on the prompt layers and the viewer so they work
    # while the IOG points layer is active; they call the target Labels layer's undo/redo.
    "undo_commit": ("Control-Z", "Undo the last commit (napari Labels history)"),
    "redo_commit": ("Control-Shift-Z", "Redo the commit"),
}


def key_text(action: str) -> str:
    """``"Shift+C"`` style text of an action's key, for button labels."""
    return SHORTCUTS[action][0].replace("Control", "Ctrl").replace("-", "+")


def button_text(title: str, action: str) -> str:
    return f"{title} [{key_text(action)}]"


def help_rows() -> list[tuple[str, str]]:
    """(key, what it does) rows for the help panel and the docs table."""
    return [(key_text(a), text) for a, (_, text) in SHORTCUTS.items()]


def help_html() -> str:
    """Help panel text: the interaction in three lines and the shortcut table."""
    rows = "".join(f"<tr><td><b>{k}</b></td><td>{t}</td></tr>" for k, t in help_rows())
    return (
        "<p><b>1.</b> Click two opposite corners of the object (or draw a rectangle in "
        "<i>IOG box</i>), <b>2.</b> click inside it: the preview appears. <b>3.</b> Correct with "
        "clicks (green = add, red = remove; toggle with N), then commit.</p>"
        f"<table>{rows}</table>"
    )


def bind_all(
    viewer: napari.Viewer, layers: Iterable[Layer], handlers: Mapping[str, Callable[[], object]]
) -> None:
    """Bind every action in ``handlers`` (action -> callable without args) on the viewer and
    on each of ``layers`` with ``overwrite=True`` (re-opening the widget never raises)."""
    for action, fn in handlers.items():
        key = SHORTCUTS[action][0]

        def cb(_target, fn=fn):
            fn()

        viewer.bind_key(key, cb, overwrite=True)
        for layer in layers:
            layer.bind_key(key, cb, overwrite=True)
