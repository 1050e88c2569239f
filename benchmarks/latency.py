"""Latency, FLOPs and memory of the IOG profiles (random-init weights: speed does not depend on them).

Each profile runs in a fresh subprocess; its *variants* of the inference path are timed
round-robin (variant A, B, C, A, B, C, ...) so that CPU contention hits them alike:

- ``first_pass_s`` (and ``_min_s``): ``encode`` + ``decode(out_size=crop)`` on one crop
  ``[1, 5, S, S]`` (what ``IOGPredictor.predict`` runs), median (min) of ``--repeats`` after a
  warm-up;
- ``refine_s``: ``decode`` only on cached features with new click maps (refinement profiles; a
  plain profile re-runs the whole net on a click, so its ratio is 1 by construction). All variants
  but ``eager`` run the predictor's decode: fine output only (no coarse side heads) and CoarseNet's
  click-independent laterals cached with the encoder features;
- ``gflops`` / ``gflops_decode``: ``torch.utils.flop_counter.FlopCounterMode`` over one first
  pass / one decode (counted on the meta device); ``flop_ratio`` = decode / first pass;
- ``peak_mem_mb``: peak RSS of the process after the plain path ran (CPU; includes Python and
  torch, ~0.3 GB) or ``torch.cuda.max_memory_allocated`` (CUDA);
- ``first_pass_cpu_s`` / ``refine_cpu_s``: median process CPU time per pass (all threads). On a
  shared machine it is far less affected by other jobs than wall time; with ``--threads 1`` it
  approximates the single-thread latency of an idle machine;
- ``max_abs_diff``: largest |logit difference| of the variant against ``eager`` on the same input.

Variants: ``eager`` (eval + ``torch.no_grad``), ``inference`` (``torch.inference_mode``),
``fused`` (inference mode + BatchNorm folded into convs, ``models.fuse``), ``fused_cl`` (fused +
channels-last memory format), ``bf16`` (CPU: fused + bfloat16 autocast; fast on CPUs with AMX /
AVX512-BF16 but NOT numerics-preserving, see ``max_abs_diff`` / ``mask_iou_vs_eager``), ``amp``
(CUDA only: fused + fp16 autocast).

    nice python benchmarks/latency.py --repeats 3            # CPU, all profiles
    python benchmarks/latency.py --device cuda --variants eager,fused,amp

Writes ``benchmarks/results/latency.json`` and the table between the marker comments of
``docs/latency.md`` (``--no-write`` to skip).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing
PROFILES = ["iog-resnet101", "iog-resnet101-refine", "iog-resnet50", "iog-resnet50-refine",
            "iog-resnet18", "iog-resnet18-refine"]  # fmt: skip
VARIANTS = ["eager", "inference", "fused", "fused_cl", "bf16", "amp"]
START, END = "<!-- latency-table:start -->", "<!-- latency-table:end -->"


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def count_flops(profile: str) -> tuple[int, int]:
    """FLOPs of ``encode`` and of ``decode`` on one crop, counted on the meta device (no compute)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from napari_iog.models import build_model, get_profile

    mcfg, pcfg = get_profile(profile)
    s = pcfg.crop_size
    with torch.device("meta"):
        model = build_model(mcfg).eval()
        x, clicks = torch.empty(1, 5, s, s), torch.empty(1, 2, s, s)
        with FlopCounterMode(display=False) as fc:
            feats = model.encode(x)
        enc = fc.get_total_flops()
        with FlopCounterMode(display=False) as fc:
            model.decode(feats, clicks if mcfg.refinement else None, out_size=(s, s))
    return enc, fc.get_total_flops()


class _Path:
    """One variant of the inference path: model, inputs and the context it runs in."""

    def __init__(self, name, base, x, clicks, refine, size):
        import torch

        from napari_iog.models.fuse import optimize_for_inference

        self.name, self.refine, self.size = name, refine, size
        cl = name == "fused_cl"
        self.model = (
            base if name in ("eager", "inference") else optimize_for_inference(base, True, cl)
        )
        fmt = torch.channels_last if cl else torch.contiguous_format
        self.x, self.clicks = x.contiguous(memory_format=fmt), clicks.contiguous(memory_format=fmt)
        self.feats = None
        self.times: dict[str, list[float]] = {"first": [], "refine": []}
        self.cpu: dict[str, list[float]] = {"first": [], "refine": []}

    def _ctx(self):
        import torch

        grad = torch.no_grad() if self.name == "eager" else torch.inference_mode()
        if self.name == "bf16":
            return grad, torch.autocast("cpu", torch.bfloat16)
        return grad, torch.autocast("cuda", torch.float16, enabled=self.name == "amp")

    def _decode(self, clicks):
        # Every variant but "eager" runs the predictor's path: fine output only, and (refinement
        # nets) CoarseNet's click-independent laterals cached with the encoder features.
        kw = {} if self.name == "eager" else {"laterals": self.lat, "side_outputs": False}
        return self.model.decode(self.feats, clicks, out_size=(self.size,) * 2, **kw).fine

    def first(self):
        grad, amp = self._ctx()
        with grad, amp:
            self.feats = self.model.encode(self.x)
            cached = self.refine and self.name != "eager"
            self.lat = self.model.lateral_features(self.feats) if cached else None
            return self._decode(self.clicks if self.refine else None).float()

    def again(self):
        grad, amp = self._ctx()
        with grad, amp:
            return self._decode(self.clicks)

    def timed(self, key, device):
        fn = self.first if key == "first" else self.again
        t, c = time.perf_counter(), time.process_time()
        fn()
        _sync(device)
        self.times[key].append(time.perf_counter() - t)
        self.cpu[key].append(time.process_time() - c)


def measure(profile: str, variants, device_name: str, repeats: int, seed: int = 0) -> list[dict]:
    """All variants of one profile in this process, timed round-robin (fair under CPU
    contention) -> one result dict per variant (see module doc)."""
    import torch

    from napari_iog.models import build_model, get_profile

    device = torch.device(device_name)
    if "amp" in variants and device.type != "cuda":
        raise SystemExit("variant amp needs --device cuda")
    torch.manual_seed(seed)
    mcfg, pcfg = get_profile(profile)
    base = build_model(mcfg).eval().to(device)
    s, refine = pcfg.crop_size, mcfg.refinement
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(1, 5, s, s, generator=g) * 255).to(device)
    clicks = (torch.rand(1, 2, s, s, generator=g) * 255).to(device)
    plain = _Path("eager", base, x, clicks, refine, s)
    ref = plain.first()  # also the warm-up; peak memory is that of the plain path
    if refine:
        plain.again()
    _sync(device)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    paths = [plain if v == "eager" else _Path(v, base, x, clicks, refine, s) for v in variants]
    outs = {p.name: p.first() for p in paths}  # also the warm-up
    diffs = {k: float((o - ref).abs().max()) for k, o in outs.items()}
    ious = {k: float(((o > 0) & (ref > 0)).sum() / ((o > 0) | (ref > 0)).sum().clamp(min=1))
            for k, o in outs.items()}  # fmt: skip
    for p in paths:
        if refine:
            p.again()
    for _ in range(repeats):
        for p in paths:
            p.timed("first", device)
            if refine:
                p.timed("refine", device)
    enc, dec = count_flops(profile)
    rows = []
    for p in paths:
        first, again = p.times["first"], p.times["refine"]
        med = statistics.median(first)
        rmed = statistics.median(again) if again else None
        rows.append({
            "profile": profile, "variant": p.name,
            "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
            "crop": s, "params": sum(t.numel() for t in base.parameters()),
            "gflops": round((enc + dec) / 1e9, 2), "gflops_decode": round(dec / 1e9, 2),
            "first_pass_s": round(med, 4), "first_pass_min_s": round(min(first), 4),
            "first_pass_cpu_s": round(statistics.median(p.cpu["first"]), 4),
            "refine_cpu_s": round(statistics.median(p.cpu["refine"]), 4) if again else None,
            "refine_s": None if rmed is None else round(rmed, 4),
            "refine_min_s": round(min(again), 4) if again else None,
            "ratio": None if rmed is None else round(rmed / med, 3),
            "flop_ratio": round(dec / (enc + dec), 3) if refine else None,
            "peak_mem_mb": round(peak, 1), "max_abs_diff": diffs[p.name],
            "mask_iou_vs_eager": round(ious[p.name], 4),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "repeats": repeats,
        })  # fmt: skip
    return rows


def _run_child(profile, variants, args) -> list[dict]:
    cmd = [sys.executable, __file__, "--child", profile, "--variants", ",".join(variants),
           "--device", args.device, "--repeats", str(args.repeats), "--threads", str(args.threads)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if res.returncode:
        raise RuntimeError(f"{profile} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def markdown(rows: list[dict], info: dict) -> str:
    head = ("| profile | variant | crop | params (M) | GFLOPs (decode) | first pass s: wall (min) / CPU "
            "| refine s: wall (min) / CPU | refine / first: wall, CPU, FLOPs | peak mem (MB) "
            "| max abs diff (mask IoU) |\n|---|---|---|---|---|---|---|---|---|---|\n")  # fmt: skip
    lines = []
    for r in rows:
        cpu_ratio = r["refine_cpu_s"] and r["refine_cpu_s"] / r["first_pass_cpu_s"]
        lines.append(
            f"| {r['profile']} | {r['variant']} | {r['crop']} | {r['params'] / 1e6:.1f} | "
            f"{r['gflops']:.1f} ({r['gflops_decode']:.1f}) | {r['first_pass_s']:.3f} "
            f"({r['first_pass_min_s']:.3f}) / {r['first_pass_cpu_s']:.3f} | "
            f"{_fmt(r['refine_s'], '.3f')} ({_fmt(r['refine_min_s'], '.3f')}) / "
            f"{_fmt(r['refine_cpu_s'], '.3f')} | {_fmt(r['ratio'], '.2f')}, {_fmt(cpu_ratio, '.2f')}, "
            f"{_fmt(r['flop_ratio'], '.2f')} | {r['peak_mem_mb']:.0f} | {r['max_abs_diff']:.1e} "
            f"({r['mask_iou_vs_eager']:.3f}) |"
        )
    where = (f"{info['device']} ({info['cpu']}, {info['cores']} cores), {info['threads']} torch "
             f"threads, torch {info['torch']}; load average {info['load']:.1f} at start, "
             f"{info['load_end']:.1f} at the end")  # fmt: skip
    return (head + "\n".join(lines) + f"\n\nMeasured on {where}: wall median (min) and CPU-time "
            f"median of {info['repeats']} runs after a warm-up.\n")  # fmt: skip


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_doc(path: Path, table: str) -> None:
    """Put ``table`` between the marker comments of ``path`` (other text is kept)."""
    text = path.read_text() if path.exists() else f"# Latency\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _write(path, f"{head}{START}\n{table}{END}{rest.split(END, 1)[1]}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profiles", default=",".join(PROFILES))
    p.add_argument("--variants", default=None, help="default: all that fit the device")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per profile")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "latency.json"))
    p.add_argument("--md", default=str(ROOT / "docs" / "latency.md"))
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--child", metavar="PROFILE", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    default = "eager,inference,fused,fused_cl," + ("amp" if "cuda" in args.device else "bf16")
    variants = (args.variants or default).split(",")
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        p.error(f"unknown variants {bad}; choose from {VARIANTS}")
    if args.child:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(measure(args.child, variants, args.device, args.repeats)))
        return 0
    info = {"load": os.getloadavg()[0], "cpu": _cpu_name(),
            "cores": os.cpu_count(), "repeats": args.repeats, "command": " ".join(sys.argv)}  # fmt: skip
    rows = []
    for profile in args.profiles.split(","):
        for r in _run_child(profile, variants, args):
            rows.append(r)
            print(f"{profile:22s} {r['variant']:9s} first {r['first_pass_s']:.3f} s  refine "
                  f"{_fmt(r['refine_s'], '.3f')} s  peak {r['peak_mem_mb']:.0f} MB  "
                  f"diff {r['max_abs_diff']:.1e}", flush=True)  # fmt: skip
    info.update(device=rows[0]["device"], threads=rows[0]["threads"], torch=rows[0]["torch"])
    info["load_end"] = os.getloadavg()[0]
    table = markdown(rows, info)
    print(table)
    if not args.no_write:
        _write(Path(args.json), json.dumps({"info": info, "results": rows}, indent=2) + "\n")
        write_doc(Path(args.md), table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
