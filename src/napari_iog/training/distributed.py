"""Data-parallel fine-tuning under ``torchrun`` (``torch.distributed``), and its no-op twin.

``torchrun --nproc-per-node N -m napari_iog.cli finetune ...`` starts N processes with ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` set; :func:`from_env` reads them (a plain run is one process,
``world == 1``, and every method here is then a no-op). With ``world > 1``:

- the process group is NCCL on CUDA (process ``LOCAL_RANK`` takes GPU ``LOCAL_RANK``), gloo on
  the CPU; the model is wrapped in ``DistributedDataParallel`` for the training step;
- each step's batch is per process: process ``rank`` cuts its own share of the epoch's seeded
  object order (``training.batches.batch_keys``: the global batch is ``world x batch_size``);
- BatchNorm stays as it is (per-process batch statistics, no SyncBatchNorm: the batches of 8 are
  large enough and SyncBatchNorm would add a collective per layer); DDP broadcasts rank 0's
  running statistics before every step, and :meth:`Dist.sync_buffers` again at every epoch
  end, so all processes hold identical weights and statistics;
- rank 0 alone validates, checkpoints, calibrates, writes the resume state and reports; the
  budget, ``cancel`` and early-stop decisions are taken on rank 0 and broadcast each step, so
  every process stops at the same step; the others wait at the broadcasts.

``NAPARI_IOG_DEBUG_STATE_HASH`` (tests only): a folder; each process writes the sha256 of its
final ``state_dict`` to ``rank<r>.sha256`` there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .config import TrainingError

if TYPE_CHECKING:
    import torch

HASH_DIR_ENV = "NAPARI_IOG_DEBUG_STATE_HASH"
CONTINUE, STOP_TIMEOUT, STOP_CANCELLED, STOP_EARLY, FAILED = 0, 1, 2, 3, 4
STOP_NAMES = {STOP_TIMEOUT: "timeout", STOP_CANCELLED: "cancelled", STOP_EARLY: "early_stop"}


@dataclass(frozen=True)
class Dist:
    """This process's place in the run: ``rank`` of ``world`` processes (``local_rank`` of
    ``local_world`` on its node); ``world == 1`` for a plain run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1  # processes on this node (torchrun's LOCAL_WORLD_SIZE)

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that validates, writes files and reports."""
        return self.rank == 0

    # ---------------------------------------------------------------------- set-up
    def device(self, name: str) -> torch.device:
        """The torch device of this process: ``name`` resolved (``napari_iog.devices``), with
        CUDA meaning GPU ``local_rank`` under torchrun."""
        import torch

        from ..devices import resolve_device

        dev = resolve_device(name)
        if self.active and dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", self.local_rank)
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        return dev

    def init(self, device: torch.device) -> None:
        """Join the process group (NCCL on CUDA, gloo otherwise) if not done yet."""
        if not self.active:
            return
        import torch.distributed as td

        if not td.is_initialized():
            td.init_process_group("nccl" if device.type == "cuda" else "gloo")

    def wrap(self, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """``module`` in ``DistributedDataParallel`` (unchanged for one process)."""
        if not self.active:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        # some parameters (the refinement-click branch) are unused in a plain 3-click step
        return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)

    # ---------------------------------------------------------------------- collectives
    def broadcast(self, values: list[float], device: torch.device) -> list[float]:
        """Rank 0's ``values`` on every process."""
        if not self.active:
            return list(values)
        import torch
        import torch.distributed as td

        t = torch.tensor(values, dtype=torch.float64, device=_comm_device(device))
        td.broadcast(t, src=0)
        return [float(v) for v in t.tolist()]

    def mean(self, value: float, device: torch.device) -> float:
        """The mean of ``value`` over the processes."""
        if not self.active:
            return value
        import torch
        import torch.distributed as td

        t = torch.tensor([value], dtype=torch.float64, device=_comm_device(device))
        td.all_reduce(t)
        return float(t.item()) / self.world

    def decide(self, code: int, device: torch.device) -> int:
        """Rank 0's decision ``code`` (CONTINUE, STOP_*, FAILED) on every process; a FAILED
        from rank 0 raises here on the others (rank 0 raises its own error)."""
        got = int(self.broadcast([float(code)], device)[0])
        if got == FAILED and not self.is_main:
            raise TrainingError("Rank 0 stopped the run with an error (see its output).")
        return got

    def sync_buffers(self, device: torch.device, *modules: torch.nn.Module | None) -> None:
        """Broadcast rank 0's buffers (BatchNorm statistics) of ``modules`` (None skipped)."""
        if not self.active:
            return
        import torch.distributed as td

        for m in modules:
            if m is None:
                continue
            for b in m.buffers():
                tmp = b.detach().to(_comm_device(device))
                td.broadcast(tmp, src=0)
                b.data.copy_(tmp.to(b.device))

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as td

            td.barrier()

    def shutdown(self) -> None:
        """Leave the process group (after the last collective)."""
        if self.active:
            import torch.distributed as td

            if td.is_initialized():
                td.destroy_process_group()


def from_env(environ: Mapping[str, str] | None = None) -> Dist:
    """The :class:`Dist` of this process from torchrun's ``RANK`` / ``WORLD_SIZE`` /
    ``LOCAL_RANK`` (one process when they are absent); TrainingError for inconsistent values."""
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
        local_world = int(env.get("LOCAL_WORLD_SIZE", str(world)))
    except ValueError:
        raise TrainingError(
            "RANK / WORLD_SIZE / LOCAL_RANK are not integers; start the run with torchrun."
        ) from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise TrainingError(f"Bad torchrun environment: RANK {rank}, WORLD_SIZE {world}.")
    return Dist(rank, world, local, max(1, local_world))


def _comm_device(device):
    """Where collective tensors live: the GPU for NCCL, the CPU for gloo."""
    return device if getattr(device, "type", "cpu") == "cuda" else "cpu"


def state_hash(module: torch.nn.Module) -> str:
    """sha256 of ``module``'s state_dict (names, dtypes and values, on the CPU)."""
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        t = v.detach().cpu().contiguous()
        h.update(str(t.dtype).encode())
        h.update((t.float() if t.is_floating_point() else t).numpy().tobytes())
    return h.hexdigest()


def write_debug_hash(dist: Dist, module: torch.nn.Module) -> None:
    """Tests: write :func:`state_hash` of ``module`` to ``$NAPARI_IOG_DEBUG_STATE_HASH``."""
    folder = os.environ.get(HASH_DIR_ENV)
    if folder:
        Path(folder, f"rank{dist.rank}.sha256").write_text(state_hash(module) + "\n")
