"""The quick check of a shipped starter: a few real objects, 3 clicks, the mIoU its model card
records (``meta["card"]["check"]``). ``benchmarks/starter_pack.py`` writes the number into the
card; ``tests/test_starters.py`` reproduces it from the installed weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHECK = {  # the quick-check subset of each domain (data under the shared data root)
    "em": "ssTEM mitochondria slice 10",
    "aerial": "aerial-fair area 3, first 2 images",
}


def check_planes(domain: str, data: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(images, labels)`` of the quick-check subset of ``domain`` (``"em"`` or ``"aerial"``)
    under the data root ``data``: planes ``[H, W]`` / ``[H, W, 3]`` and int instance labels."""
    from napari_iog.data.layouts import load_aerial_fair, load_sstem

    if domain == "em":
        return load_sstem(Path(data) / "sstem-drosophila-vnc", [10])
    ims, labs = load_aerial_fair(Path(data) / "aerial-fair", [3])
    return ims[:2], labs[:2]


def quick_check(domain: str, weights: str | Path, data: Path) -> dict:
    """``{"test", "n_objects", "miou_at_3"}`` of ``weights`` (a name or a path) on the check
    subset of ``domain`` (3 clicks, no corrective click; CPU)."""
    from napari_iog.evaluation.protocol import EvalConfig, run_evaluation
    from napari_iog.inference import IOGPredictor

    ims, labs = check_planes(domain, data)
    pred = IOGPredictor.from_weights(weights, device="cpu")
    s = run_evaluation(pred, ims, labs, EvalConfig(max_clicks=0), name="check").summary()
    return {
        "test": CHECK[domain],
        "n_objects": s["n_objects"],
        "miou_at_3": round(s["miou_at_3"], 4),
    }
