"""Write a trained starter into the package: float16 tensors, the model card in ``meta["card"]``
(training data relative to the data root, domain, input expectations, measured scores, hashes,
the commands that re-create it), and a quick check subset whose score the tests reproduce.

    python benchmarks/starter_pack.py em checkpoints/starter-em.pt
    python benchmarks/starter_eval.py em iog-em --results benchmarks/results/starter.json
    python benchmarks/starter_pack.py em checkpoints/starter-em.pt --scores benchmarks/results/starter.json

(The scores are measured on the packed float16 weights, then written into their card; packing
again is deterministic, so the tensors the scores belong to do not change.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sstem_fewshot import data_root  # noqa: E402

from napari_iog.evaluation.starter_check import CHECK, quick_check  # noqa: E402, F401

INPUT = {
    "em": "one grey channel (uint8 or uint16; normalised by the layer's contrast limits), EM or "
    "other grey microscopy at roughly 2-10 nm/px; objects 8-400 px across (mitochondria, cell "
    "profiles, organelles); any orientation",
    "aerial": "RGB (or panchromatic, replicated to 3 channels) orthophotos at roughly 0.1-0.5 "
    "m/px; objects 8-400 px across (buildings, roofs, vehicles); top-down, any orientation",
}
LICENCE = (
    "Weights trained by the napari-iog developers from random initialisation on research "
    "datasets (see training.sources; their licences allow research use). Distributed with "
    "napari-iog under its BSD-3-Clause licence; no pretrained third-party weights are included."
)


def card_scores(results: dict) -> dict:
    """``{test set: {IOG summary..., "baselines": {name: summary}}}`` from starter_eval's JSON."""
    out = {}
    for test, rows in results["tests"].items():
        out[test] = dict(rows["iog"], baselines={k: v for k, v in rows.items() if k != "iog"})
    return out


def half(name: str, t):
    """float16 for the weights; BatchNorm statistics stay float32 (a first-layer running_var can
    exceed float16's 65504 and would turn into inf); integer buffers unchanged."""
    import torch

    if not t.is_floating_point() or name.endswith(("running_mean", "running_var")):
        return t
    out = t.to(torch.float16)
    if not torch.isfinite(out).all():
        raise SystemExit(f"{name} does not fit float16 (max |value| {t.abs().max():.3g}).")
    return out


def pack(domain: str, trained: Path, out: Path, scores: dict | None, command: str) -> Path:
    """Write the float16 starter ``out`` from the float32 checkpoint ``trained``."""
    import torch

    from napari_iog.models.checkpoint import FORMAT, FORMAT_VERSION, write_payload
    from napari_iog.models.starters import STARTERS, starter_for
    from napari_iog.models.weights import sha256_of

    name = starter_for(domain)
    src = torch.load(trained, map_location="cpu", weights_only=True)
    if src.get("format") != FORMAT:
        raise SystemExit(f"{trained} is not a napari-iog checkpoint.")
    meta = dict(src["meta"])
    sd = {k: half(k, v) for k, v in src["state_dict"].items()}
    training = {k: meta.get(k) for k in ("sources", "profile", "epochs", "steps", "train_seconds",
                                         "train_cpu_seconds", "device", "precision", "kept",
                                         "n_train_objects", "n_val_objects", "metrics")}  # fmt: skip
    training["command"] = meta.get("command")
    training["finetune_config"] = meta.get("finetune_config")
    card = {
        "name": name,
        "domain": domain,
        "description": STARTERS[name].description,
        "input": INPUT[domain],
        "training": training,
        "scores": scores or {},
        "protocol": "box (2 clicks) + inside click = 3 clicks, then simulated corrective clicks; "
        "mIoU@3 and mIoU after 3 corrections; objects >= 50 px; threshold 0.5",
        "trained_checkpoint_sha256": sha256_of(trained),
        "pack_command": command,
        "licence": LICENCE,
    }
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": src["model_config"],
        "preprocess": src["preprocess"],
        "meta": {
            "created": meta.get("created"),
            "napari_iog_version": meta.get("napari_iog_version"),
            "torch_version": meta.get("torch_version"),
            "domain": domain,
            "data": f"starter {name}: " + ", ".join(s["name"] for s in training["sources"] or []),
            "card": card,
        },
        "state_dict": sd,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    write_payload(out, payload)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("domain", choices=sorted(INPUT))
    ap.add_argument("trained", help="the float32 checkpoint of benchmarks/starter_train.py")
    ap.add_argument("--scores", default=None, help="starter_eval.py's results JSON")
    ap.add_argument("--out", default=None, help="default: the package's starters folder")
    args = ap.parse_args(argv)

    from napari_iog.models.checkpoint import read_header
    from napari_iog.models.starters import STARTER_DIR, STARTERS, starter_for
    from napari_iog.models.weights import sha256_of

    root = data_root("sstem-drosophila-vnc")
    if root is None:
        return 2
    name = starter_for(args.domain)
    out = Path(args.out) if args.out else STARTER_DIR / STARTERS[name].filename
    if out.resolve() == Path(args.trained).resolve():
        raise SystemExit(
            "--out must not be the trained checkpoint (an output never overwrites its input)."
        )
    scores = None
    if args.scores:
        results = json.loads(Path(args.scores).read_text())
        if args.domain not in results:
            raise SystemExit(
                f"{args.scores} has no {args.domain!r} entry: run starter_eval.py first."
            )
        scores = card_scores(results[args.domain])
        scores_command = results[args.domain]["command"]
    command = "python benchmarks/starter_pack.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    pack(args.domain, Path(args.trained), out, scores, command)
    head = read_header(out)
    card = head["meta"]["card"]
    card["check"] = quick_check(args.domain, out, root.parent)
    if scores:
        card["eval_command"] = scores_command
    head["meta"]["card"] = card
    _rewrite_meta(out, head["meta"])
    print(f"wrote {out}: {out.stat().st_size / 1e6:.2f} MB, sha256 {sha256_of(out)[:16]}..., "
          f"check {card['check']}")  # fmt: skip
    return 0


def _rewrite_meta(path: Path, meta: dict) -> None:
    import torch

    from napari_iog.models.checkpoint import write_payload

    obj = torch.load(path, map_location="cpu", weights_only=True)
    obj["meta"] = meta
    write_payload(path, obj)


if __name__ == "__main__":
    sys.exit(main())
