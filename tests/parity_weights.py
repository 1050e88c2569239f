"""The deterministic 'formula weights' of the parity fixture (reference/iog-parity/README.md).

Numpy only, no RNG: for the k-th key in plain sorted order, ``v = sin(x*0.7071067811865476 +
(k+1)*1.618033988749895)`` with ``x = arange(n)``, mapped per tensor kind, computed in float64 and
cast to float32 once.
"""

from __future__ import annotations

import numpy as np
import torch


def formula_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    sd = model.state_dict()
    out = {}
    for k, key in enumerate(sorted(sd.keys())):
        t = sd[key]
        shape = tuple(t.shape)
        n = int(np.prod(shape)) if shape else 1
        if not t.is_floating_point():
            out[key] = torch.zeros_like(t)
            continue
        v = np.sin(
            np.arange(n, dtype=np.float64) * 0.7071067811865476 + (k + 1) * 1.618033988749895
        )
        if key.endswith("running_mean"):
            a = 0.1 * v
        elif key.endswith("running_var"):
            a = 1.0 + 0.5 * np.abs(v)
        elif len(shape) >= 2:
            a = 2.0 * v * np.sqrt(1.0 / (n / shape[0]))
        elif key.endswith("weight"):
            a = 1.0 + 0.1 * v
        elif key.endswith("bias"):
            a = 0.1 * v
        else:
            raise AssertionError(f"unexpected tensor kind {key}")
        out[key] = torch.from_numpy(a.astype(np.float32).reshape(shape))
    return out
