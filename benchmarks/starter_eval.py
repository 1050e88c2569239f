"""Measure a starter model (or any weights) on the test splits of its domain, with no fine-tuning:
IOG and the random walker / box fill baselines under the simulated-click protocol (box + inside
click = 3 clicks, then up to ``--max-clicks`` corrective clicks).

    python benchmarks/starter_eval.py em checkpoints/starter-em.pt
    python benchmarks/starter_eval.py aerial iog-aerial --results benchmarks/results/starter.json

Test sets (never trained on): em: ssTEM mitochondria slices 10-19, ISBI 2012 sections 20-29;
aerial: aerial-fair areas 3+4, SpaceNet right half (cols >= 450), ISPRS buildings and cars
(cross-sensor: Potsdam RGB, Vaihingen IRRG). Prints a table; ``--results PATH`` merges this
domain's numbers into that JSON (other domains' entries are kept), never by default.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sstem_fewshot import data_root  # noqa: E402


def _sstem(data: Path):
    from napari_iog.data.layouts import load_sstem

    return load_sstem(data / "sstem-drosophila-vnc", range(10, 20))


def _isbi(data: Path):
    from napari_iog.data.layouts import load_isbi2012

    return load_isbi2012(data / "isbi2012", range(20, 30))


def _fair(data: Path):
    from napari_iog.data.files import load_pairs

    ims, labs = [], []
    for area in (3, 4):
        root = data / "aerial-fair" / f"area{area}"
        i, lab = load_pairs(root / "images", root / "instances", mode="instances")
        ims += [im[..., :3] for im in i]
        labs += lab
    return ims, labs


def _spacenet_right(data: Path):
    from aerial_fewshot import spacenet_halves

    _, (im, lab) = spacenet_halves(data / "aerial-spacenet")
    return [im], [lab]


def _isprs(value: int):
    def load(data: Path):
        from napari_iog.data.layouts import load_isprs

        names = ("potsdam_2_10_0_0_512_512", "vaihingen_area1_0_0_512_512")
        pairs = [load_isprs(data / "aerial-isprs", n, value=value) for n in names]
        return [i for i, _ in pairs], [lab for _, lab in pairs]

    return load


# domain -> [(test set, loader, min_area)]
TESTS = {
    "em": [
        ("ssTEM mitochondria 10-19", _sstem, 50),
        ("ISBI 2012 profiles 20-29", _isbi, 50),
    ],
    "aerial": [
        ("aerial-fair areas 3+4", _fair, 50),
        ("SpaceNet right half", _spacenet_right, 50),
        ("ISPRS buildings", _isprs(2), 50),
        ("ISPRS cars", _isprs(5), 50),
    ],
}
SUMMARY_KEYS = ("n_objects", "miou_at_3", "miou_after_3_corrections", "noc85", "noc90")


def evaluate(domain: str, weights: str, baselines, max_clicks: int, limit: int | None = None,
             log=print) -> dict:  # fmt: skip
    """``{test set: {"iog": summary, "<baseline>": summary, ...}}`` (summary keys: SUMMARY_KEYS
    and seconds); ``limit``: at most this many planes per test set (quick checks)."""
    from dataclasses import replace

    from harness import baseline_predictors, evaluate_all

    from napari_iog.evaluation.protocol import EvalConfig
    from napari_iog.inference import IOGPredictor

    root = data_root("sstem-drosophila-vnc")
    if root is None:
        raise SystemExit(2)
    iog = IOGPredictor.from_weights(weights, device="cpu")
    base = baseline_predictors(replace(iog.preprocess, clip_to_box=False), tuple(baselines))
    out = {}
    for name, load, min_area in TESTS[domain]:
        ims, labs = load(root.parent)
        ims, labs = ims[:limit], labs[:limit]
        cfg = EvalConfig(max_clicks=max_clicks, min_area=min_area, stop_iou=0.97)
        res = evaluate_all({"iog": iog, **base}, ims, labs, cfg, log=lambda m: None)
        out[name] = {r.name: _keep(r.summary()) for r in res}
        row = out[name]
        log(f"{name}: n={row['iog']['n_objects']}  " + "  ".join(
            f"{k} {v['miou_at_3']:.3f}/{v['miou_after_3_corrections']:.3f}" for k, v in row.items()
        ))  # fmt: skip
    return out


def _keep(s: dict) -> dict:
    return {
        k: (round(s[k], 4) if isinstance(s[k], float) else s[k]) for k in (*SUMMARY_KEYS, "seconds")
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("domain", choices=sorted(TESTS))
    ap.add_argument("weights", help="checkpoint path or weights name (iog-em, iog-aerial, ...)")
    ap.add_argument("--max-clicks", type=int, default=6,
                    help="corrective clicks after box + inside click (6: NoC is capped at 9)")  # fmt: skip
    ap.add_argument("--baselines", default="random walker,box fill", help="or 'none'")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=None, help="at most N planes per test set")
    ap.add_argument("--results", default=None, help="merge the numbers into this JSON")
    args = ap.parse_args(argv)

    import torch
    from harness import command_line, merge_results, parse_baselines

    torch.set_num_threads(args.threads)
    t0, c0 = time.perf_counter(), time.process_time()
    scores = evaluate(args.domain, args.weights, parse_baselines(args.baselines), args.max_clicks,
                      args.limit)  # fmt: skip
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"evaluated in {wall:.0f} s wall, {cpu:.0f} s CPU ({args.threads} thread(s))")
    if args.results:
        entry = {
            "weights": Path(args.weights).name,
            "command": command_line(__file__, argv),
            "max_corrective_clicks": args.max_clicks,
            "stop_iou": 0.97,
            "eval_seconds": {"wall": round(wall), "cpu": round(cpu)},
            "tests": scores,
        }
        print(f"wrote {merge_results(args.results, (args.domain,), entry)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
