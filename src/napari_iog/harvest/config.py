"""Settings of a harvest run (frozen) and the fingerprint that decides what a re-run may reuse."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path


class HarvestConfigError(ValueError):
    """A harvest setting that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class HarvestConfig:
    """How boxes become masks.

    - ``weights``: checkpoint path or weights name (``models.checkpoint.load_model`` source). On a
      remote dask cluster the path must be readable by every worker.
    - ``batch_size``: object crops per network call. ``device``: ``"auto"``, ``"cpu"``, ``"cuda"``.
    - ``amp``: mixed precision on CUDA (ignored on CPU).
    - ``two_stage``: the paper's 2-stage harvesting. Pass 1 uses the box and the simulator's default
      inside click; pass 2 re-runs with the inside click moved to the deepest point (distance-
      transform maximum) of the pass-1 mask inside the box.
    - ``write_labels``: also write one ``uint32`` label TIFF per image (value = annotation id).
    - ``torch_threads``: intra-op threads per worker (``None`` = leave torch's default).
    - ``threshold``: cut the masks at this probability instead of the weights' own (``None``).
    """

    weights: str
    batch_size: int = 8
    device: str = "auto"
    amp: bool = True
    two_stage: bool = False
    write_labels: bool = False
    torch_threads: int | None = None
    threshold: float | None = None

    def __post_init__(self):
        if not str(self.weights):
            raise HarvestConfigError("Give the model weights (--weights PATH or a weights name).")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise HarvestConfigError(
                f"batch_size must be an integer >= 1, got {self.batch_size!r}."
            )
        if self.torch_threads is not None and self.torch_threads < 1:
            raise HarvestConfigError(f"torch_threads must be >= 1, got {self.torch_threads!r}.")
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise HarvestConfigError(f"threshold must be between 0 and 1, got {self.threshold!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


def weights_identity(weights: str) -> str:
    """sha256 of the weights file (so renaming or moving it keeps results valid), or the name."""
    path = Path(weights).expanduser()
    if not path.is_file():
        return f"name:{weights}"
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def run_fingerprint(config: HarvestConfig, weights_id: str) -> str:
    """Settings that change the masks (weights, two-stage, a threshold override). Batch size, device, AMP, threads and label output do not
    enter it (a re-run with another batch size or on a GPU may reuse finished images)."""
    payload = {"weights": weights_id, "two_stage": config.two_stage, "version": 1}
    if config.threshold is not None:  # absent = the weights' own (earlier runs resume as before)
        payload["threshold"] = float(config.threshold)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
