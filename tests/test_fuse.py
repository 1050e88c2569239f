"""BatchNorm folding for inference keeps the network's numerics and leaves the original intact."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from napari_iog.models import build_model  # noqa: E402
from napari_iog.models.fuse import fuse_conv_bn, optimize_for_inference  # noqa: E402
from tests._shared import boundary_net  # noqa: E402


def _model(name):
    torch.manual_seed(0)
    if name == "tiny-refine-boundary":  # our stride-2 boundary head on top
        model = boundary_net()
        torch.nn.init.normal_(model.boundary_head.delta.weight, std=0.5)  # not the identity
    else:
        model = build_model(name)
    with torch.no_grad():  # non-trivial BN so a wrong fold shows
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


@pytest.mark.parametrize("name", ["iog-tiny", "iog-tiny-refine", "tiny-refine-boundary"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_matches_within_1e4(name, channels_last):
    model = _model(name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = optimize_for_inference(model, channels_last=channels_last)
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert n_bn == 4  # only the 1-channel BNs after the side-output resize stay
    x = torch.rand(2, 5, 64, 64, generator=torch.Generator().manual_seed(1)) * 255
    with torch.inference_mode():
        a = model(x)
        b = fast(x)
        feats_a, feats_b = model.encode(x), fast.encode(x)
    torch.testing.assert_close(b.fine, a.fine, atol=1e-4, rtol=0)
    for ca, cb in zip(a.coarse, b.coarse):
        torch.testing.assert_close(cb, ca, atol=1e-4, rtol=0)
    assert a.fine.abs().max() > 0.1  # not a trivially zero output
    if model.is_refinement:  # the refine path (decode on cached features) too
        clicks = torch.rand(2, 2, 64, 64) * 255
        with torch.inference_mode():
            da = model.decode(feats_a, clicks, out_size=(64, 64)).fine
            db = fast.decode(feats_b, clicks, out_size=(64, 64)).fine
        torch.testing.assert_close(db, da, atol=1e-4, rtol=0)
    for k, v in model.state_dict().items():  # the original is untouched
        assert torch.equal(v, before[k]), k


def test_fused_copy_cannot_be_saved(tmp_path):
    from napari_iog.config import PreprocessConfig
    from napari_iog.models.checkpoint import CheckpointError, save_checkpoint

    fast = optimize_for_inference(_model("iog-tiny"))
    with pytest.raises(CheckpointError, match="Save the original"):
        save_checkpoint(tmp_path / "f.pt", fast, PreprocessConfig(crop_size=64))


def test_fuse_needs_eval_mode():
    with pytest.raises(ValueError, match="eval"):
        fuse_conv_bn(build_model("iog-tiny").train())


def test_latency_benchmark_smoke(tmp_path):
    """benchmarks/latency.py measures a tiny profile and rewrites only its table in the doc."""
    import importlib

    bench = importlib.import_module("benchmarks.latency")
    rows = bench.measure("iog-tiny-refine", ["eager", "fused", "fused_cl"], "cpu", repeats=1)
    assert [r["variant"] for r in rows] == ["eager", "fused", "fused_cl"]
    for r in rows:
        assert r["first_pass_s"] > 0 and r["refine_s"] > 0 and r["gflops"] > r["gflops_decode"] > 0
        assert r["max_abs_diff"] < 1e-4 and r["mask_iou_vs_eager"] > 0.99
    doc = tmp_path / "latency.md"
    doc.write_text(f"intro\n{bench.START}\nold\n{bench.END}\noutro\n")
    info = dict(
        device="cpu", cpu="x", cores=2, threads=1, torch="t", load=0.0, load_end=0.0, repeats=1
    )
    bench.write_doc(doc, bench.markdown(rows, info))
    text = doc.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| iog-tiny-refine | fused_cl |" in text
