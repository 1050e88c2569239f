"""Training precision and memory layout: which autocast dtype a device gets, channels-last.

Mixed precision (``FinetuneConfig.amp``) means bfloat16 autocast on CUDA GPUs that support it
(Ampere and newer) and on CPUs that compute bfloat16 natively (AVX512-BF16 or AMX); no scaling is
needed: bfloat16 has float32's exponent range. Older GPUs get float16 autocast + gradient scaling.
Other CPUs stay in float32, where emulated bfloat16 would be slower. Master weights and the
optimizer state stay float32 either way; checkpoints are float32.

Convolutions run in channels-last (NHWC) layout while training: oneDNN and cuDNN are faster with
it (measured in ``docs/finetuning.md``); the model is put back in the default layout afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def cpu_has_native_bf16() -> bool:
    """True when this CPU has AVX512-BF16 or AMX tiles (what makes bfloat16 autocast fast)."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """``torch.bfloat16`` (CUDA with bf16, CPU with native bf16), ``torch.float16`` (older
    CUDA GPUs) or None (float32)."""
    import torch

    if not amp:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def precision_name(dtype: torch.dtype | None) -> str:
    """The dtype's name for logs and provenance: float16, bfloat16 or float32 (None)."""
    return "float32" if dtype is None else str(dtype).replace("torch.", "")


def set_layout(last: bool, *modules: torch.nn.Module | None) -> None:
    """Put ``modules`` (None skipped) in channels-last (``last``) or the default layout."""
    import torch

    fmt = torch.channels_last if last else torch.contiguous_format
    for m in modules:
        if m is not None:
            m.to(memory_format=fmt)
