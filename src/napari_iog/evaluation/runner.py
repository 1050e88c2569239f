"""The one evaluation loop over several methods (IOG and the baselines) with a progress callback.

``napari-iog evaluate`` and the benchmark harness (``benchmarks/harness.py``) are thin adapters:
they build the ``{name: predictor}`` dict, call :func:`evaluate_methods` and turn its
:class:`MethodEvent` s into a progress bar, log lines or a report written after every method.
The per-object protocol is :mod:`napari_iog.evaluation.protocol`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..config import PreprocessConfig
from ..inference.interface import PromptPredictor
from .protocol import EvalConfig, EvalEvent, EvalResult, evaluate

BASELINES = ("box fill", "random walker", "grabcut")


def parse_baselines(text: str) -> list[str]:
    """``"box fill, random walker"`` -> ``["box fill", "random walker"]`` (a ``--baselines``
    option); ``"none"`` -> ``[]``. ValueError names the choices for anything else."""
    if text.strip().lower() == "none":
        return []
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BASELINES))
    if unknown:
        raise ValueError(f"Unknown baselines {unknown}; use {','.join(BASELINES)!r} or 'none'.")
    return names


def baseline_predictors(
    preprocess: PreprocessConfig, names: Sequence[str] = BASELINES
) -> dict[str, PromptPredictor]:
    """``{name: predictor}`` for the classical baselines that are available here (GrabCut only
    when OpenCV is installed: the ``eval`` extra)."""
    from ..inference import BoxFillPredictor, RandomWalkerPredictor
    from .grabcut import GrabCutPredictor, grabcut_available

    out: dict[str, PromptPredictor] = {}
    for n in names:
        if n == "box fill":
            out[n] = BoxFillPredictor(preprocess)
        elif n == "random walker":
            out[n] = RandomWalkerPredictor(preprocess)
        elif n == "grabcut" and grabcut_available():
            out[n] = GrabCutPredictor(preprocess)
    return out


@dataclass(frozen=True)
class MethodEvent:
    """What :func:`evaluate_methods` reports: ``kind`` is ``"start"`` (a method begins),
    ``"object"`` (one object done: ``event``) or ``"done"`` (a method finished: ``result``).
    ``index`` counts methods from 1 to ``n_methods``."""

    kind: str
    method: str
    index: int
    n_methods: int
    event: EvalEvent | None = None
    result: EvalResult | None = None


def evaluate_methods(
    predictors: Mapping[str, PromptPredictor],
    images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    cfg: EvalConfig,
    progress: Callable[[MethodEvent], None] | None = None,
) -> list[EvalResult]:
    """Run the simulated-click protocol for every ``{name: predictor}``, in order, on the same
    boxes and clicks; returns the ``EvalResult`` list. ``images``: planes ``[H, W]`` or
    ``[H, W, C]``; ``labels``: int instance planes ``[H, W]`` (0 = background). ``progress`` gets
    every :class:`MethodEvent`; an exception (or Ctrl-C) inside a method propagates after the
    earlier methods' ``"done"`` events, so a caller can keep what finished."""
    results: list[EvalResult] = []
    n = len(predictors)
    for i, (name, pred) in enumerate(predictors.items(), start=1):
        if progress is not None:
            progress(MethodEvent("start", name, i, n))
        res = EvalResult(name)
        for ev in evaluate(pred, images, labels, cfg, name, res):
            if progress is not None:
                progress(MethodEvent("object", name, i, n, event=ev))
        results.append(res)
        if progress is not None:
            progress(MethodEvent("done", name, i, n, result=res))
    return results
