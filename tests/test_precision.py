"""Training precision: which autocast dtype each device gets, float32 loss reduction, and a
bfloat16 CPU fine-tune (autocast really on, float32 checkpoint, default layout restored)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_iog.data.datasets import ObjectDataset  # noqa: E402
from napari_iog.data.synthetic import blobs  # noqa: E402
from napari_iog.models import build_model, get_profile  # noqa: E402
from napari_iog.models.checkpoint import load_model  # noqa: E402
from napari_iog.training import (  # noqa: E402
    AugmentConfig,
    FinetuneConfig,
    precision,
    run_finetune,
)
from napari_iog.training.losses import bce, soft_iou  # noqa: E402

TINY = "iog-tiny-refine"
PRE = get_profile(TINY)[1]


def test_autocast_dtype_per_device(monkeypatch):
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # Ampere and newer
    assert precision.autocast_dtype(cuda, True) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # older GPUs
    assert precision.autocast_dtype(cuda, True) is torch.float16
    assert precision.autocast_dtype(cuda, False) is None
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert precision.autocast_dtype(cpu, True) is torch.bfloat16
    assert precision.autocast_dtype(cpu, False) is None
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert precision.autocast_dtype(cpu, True) is None  # emulated bf16 would be slower
    assert precision.precision_name(None) == "float32"
    assert precision.precision_name(torch.bfloat16) == "bfloat16"


def test_losses_reduce_in_float32():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 64, 64, generator=g) * 3
    target = (torch.rand(2, 1, 64, 64, generator=g) > 0.5).float()
    low = logits.to(torch.bfloat16)
    for fn in (bce, soft_iou):
        out = fn(low, target)
        assert out.dtype == torch.float32
        # only the bf16 rounding of the logits differs (bf16 sums over 8k px would be ~1e-2 off)
        assert out.item() == pytest.approx(fn(low.float(), target).item(), rel=1e-6)
        assert out.item() == pytest.approx(fn(logits, target).item(), rel=5e-3)


def test_bfloat16_finetune_on_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_IOG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)  # any CPU can emulate
    ims, labs = zip(*[blobs((96, 96), 3, seed=s) for s in range(2)])
    train, val = ObjectDataset(list(ims), list(labs), PRE, min_area=20).split(0.3, seed=0)
    torch.manual_seed(0)
    model = build_model(TINY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seen = []
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    hook = conv.register_forward_hook(lambda m, i, o: seen.append((o.dtype, m.training)))
    cfg = FinetuneConfig(
        epochs=1, samples_per_epoch=6, batch_size=2, num_threads=1, val_max_objects=4,
        device="cpu", amp=True, lr=1e-3, augment=AugmentConfig(),  # the API defaults it was written for
    )  # fmt: skip
    summary = run_finetune(model, PRE, train, val, cfg, out=tmp_path / "bf16.pt")
    hook.remove()
    assert summary.steps_done == 3 and np.isfinite(summary.history[0]["loss"])
    train_dtypes = {d for d, training in seen if training}
    assert train_dtypes == {torch.bfloat16}  # training forward passes ran under autocast
    assert {d for d, training in seen if not training} == {
        torch.float32
    }  # validation stays float32
    loaded = load_model(summary.checkpoint)
    assert loaded.meta["precision"] == "bfloat16"
    params = dict(loaded.model.named_parameters())
    assert all(p.dtype == torch.float32 for p in params.values())
    assert any(not torch.equal(before[k], v) for k, v in loaded.model.state_dict().items())
    # training ran channels-last; the caller gets the default layout back
    assert all(p.is_contiguous() for p in model.parameters())

    cfg32 = FinetuneConfig(**{**cfg.to_dict(), "amp": False})
    s32 = run_finetune(build_model(TINY), PRE, train, val, cfg32, out=tmp_path / "f32.pt")
    assert load_model(s32.checkpoint).meta["precision"] == "float32"
