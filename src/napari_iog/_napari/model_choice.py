"""Which predictor the annotator uses: IOG weights (registry names, local files, our fine-tuned
checkpoints) or the classical random-walker fallback that works with no weights at all.

Loading runs in a worker (see ``workers.py``); this module only lists choices and builds the
predictor. torch is imported lazily (inside :func:`load_predictor`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from napari_iog.inference import IOGPredictor, RandomWalkerPredictor
    from napari_iog.inference.interface import PromptPredictor

CLASSICAL = "classical"
DEVICES = ("auto", "cuda", "mps", "cpu")


@dataclass(frozen=True)
class WeightsChoice:
    """One entry of the weights picker. ``source`` goes to ``load_model``; ``ready`` = on disk."""

    label: str
    source: str
    ready: bool
    hint: str = ""


def classical_choice() -> WeightsChoice:
    return WeightsChoice(
        "Classical: random walker (no IOG weights)",
        CLASSICAL,
        True,
        "Not IOG: a scikit-image random walker seeded by the box and clicks. Use it to "
        "bootstrap the first objects, then fine-tune IOG on them.",
    )


def weight_choices() -> list[WeightsChoice]:
    """IOG weights known on this machine (cached first), then the classical fallback."""
    out = []
    try:
        from napari_iog.models.registry import list_weights

        rows = list_weights()
    except Exception as err:  # noqa: BLE001 - a broken registry must not break the widget
        rows = []
        out.append(WeightsChoice(f"(weights registry unavailable: {err})", "", False))
    from napari_iog.models.starters import STARTERS

    order = {"starter": 0, "checkpoint": 1, "registry": 2}
    for w in sorted(rows, key=lambda w: (not w.cached, order.get(w.kind, 3))):
        tag = {"checkpoint": "fine-tuned"}.get(w.kind, "cached" if w.cached else "not downloaded")
        hint = w.description or ""
        if w.kind == "starter":  # "EM starter, mIoU@3 0.91 on <test set>"
            tag = f"{STARTERS[w.name].domain.upper()} starter"
            if not w.cached:
                tag += ", missing"
                hint = f"{w.name} is missing from this installation: reinstall napari-iog."
            elif "; " in hint:
                tag += ", " + hint.rsplit("; ", 1)[1]
        elif not w.cached:
            hint = (
                f"{w.name} is not on this machine. Run `napari-iog weights fetch {w.name}` "
                "(online), or `napari-iog weights import FILE` for a file you copied; or use "
                "'Local file...' or the classical predictor."
            )
        out.append(WeightsChoice(f"IOG: {w.name} ({tag})", w.name, bool(w.cached), hint))
    out.append(classical_choice())
    return out


def best_available(
    domain: str | None = None, choices: Sequence[WeightsChoice] | None = None
) -> WeightsChoice:
    """The choice to preselect: the shipped starter of ``domain`` ("em" / "aerial", see
    ``models.starters.image_domain``) when present, else the first ready IOG weights, else the
    classical predictor. ``choices``: a :func:`weight_choices` list already built."""
    from napari_iog.models.starters import starter_for

    choices = weight_choices() if choices is None else choices
    ready = [c for c in choices if c.ready and c.source and c.source != CLASSICAL]
    if domain is not None:
        want = starter_for(domain)
        ready = sorted(ready, key=lambda c: c.source != want)
    return ready[0] if ready else classical_choice()


def load_predictor(
    source: str, device: str = "auto", tta: bool = False
) -> tuple[IOGPredictor | RandomWalkerPredictor, str]:
    """Build the predictor for ``source`` (registry name, checkpoint path, or ``CLASSICAL``);
    ``tta``: IOG averages the 4 mirror images of each crop (4x compute, ignored by the classical
    predictor).

    Returns ``(predictor, description)``. Raises ``ValueError`` subclasses (``CheckpointError``,
    ``WeightsError``) whose messages say how to get the weights.
    """
    if device not in DEVICES:
        raise ValueError(f"Unknown device {device!r}; choose one of {DEVICES}.")
    if source == CLASSICAL:
        from napari_iog.inference import RandomWalkerPredictor

        return RandomWalkerPredictor(), "classical random walker (not IOG)"
    if not source:
        raise ValueError(
            "No weights chosen: pick IOG weights, 'Local file...' or the classical predictor."
        )
    from napari_iog.inference import IOGPredictor

    pred = IOGPredictor.from_weights(source, device=device, tta=tta)
    extra = " with mirror averaging" if tta else ""
    return pred, f"IOG {source} on {getattr(pred, 'device', device)}{extra}"


def predictor_description(predictor: PromptPredictor) -> str:
    """Short human label of a predictor object for provenance records."""
    name = type(predictor).__name__
    model = getattr(predictor, "model", None)
    cfg = getattr(model, "config", None)
    return f"{name}({getattr(cfg, 'backbone', '')})" if cfg is not None else name
