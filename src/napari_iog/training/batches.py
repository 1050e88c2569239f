"""Training batches: which objects each step sees, and who cuts them (this process or workers).

The object order is a pure function of ``(seed, epoch)`` and each sample's augmentation a pure
function of ``(seed, epoch, step, slot)``, so a run draws the same batches whether they are cut in
the training process (``workers=0``) or ahead of time in worker processes (``workers > 0``, a
``torch.utils.data.DataLoader``), and a resumed run continues with the batches it would have had.

Cutting an augmented sample costs about 10 ms at 192 px and 50 ms at 512 px on one core
(``docs/finetuning.md``): on a CPU that is a small share of a step, on a GPU it is the bottleneck,
which is what the workers are for.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..data.augment import AugmentConfig

if TYPE_CHECKING:
    import torch

    from ..data.datasets import ObjectDataset


def epoch_order(seed: int, epoch: int, n_objects: int, n_samples: int) -> np.ndarray:
    """Object indices (int64 ``[>= n_samples]``) of one epoch: whole shuffled passes over the
    ``n_objects`` objects, so every object is seen about equally often."""
    rng = np.random.default_rng([seed, epoch, 1])
    passes = -(-n_samples // n_objects) + 1
    return np.concatenate([rng.permutation(n_objects) for _ in range(passes)])


def batch_keys(
    seed: int,
    n_objects: int,
    batch: int,
    steps_per_epoch: int,
    epoch0: int,
    epochs: int,
    rank: int = 0,
    world: int = 1,
) -> Iterator[list[tuple[int, int, int, int]]]:
    """Keys ``(object, epoch, step, slot)`` of every batch of process ``rank`` of ``world``
    (``training.distributed``) from epoch ``epoch0`` on, in order. Each step takes ``world x
    batch`` consecutive entries of the epoch's order; process ``rank`` gets the ``rank``-th
    ``batch`` of them (slots ``rank * batch ...``), so no two processes cut the same sample and
    one process (``world == 1``) gets what it always did."""
    for epoch in range(epoch0, epochs):
        order = epoch_order(seed, epoch, n_objects, steps_per_epoch * batch * world)
        for s in range(steps_per_epoch):
            base = (s * world + rank) * batch
            yield [(int(order[base + j]), epoch, s, rank * batch + j) for j in range(batch)]


class SampleJobs:
    """Map-style dataset: ``jobs[(object, epoch, step, slot)]`` -> the augmented
    :class:`~napari_iog.data.datasets.Sample` of that object (picklable, for worker processes)."""

    def __init__(
        self, train: ObjectDataset, augment: AugmentConfig, box_jitter: float, seed: int
    ) -> None:
        self.train, self.augment, self.box_jitter, self.seed = train, augment, box_jitter, seed

    def __getitem__(self, key):
        obj, epoch, step, slot = key
        rng = np.random.default_rng([self.seed, epoch, step, slot, 2])
        return self.train.sample(obj, rng, self.augment, self.box_jitter)


SPAWN_COPIES_BYTES = 2 << 30  # spawned workers hold a copy of the planes each: 2 GiB in all


def auto_workers(
    workers: int | None, device: torch.device | str, copy_bytes: int = 0, procs: int = 1
) -> int:
    """``workers`` as given, or for ``None``: 0 on a CPU (workers would take the cores the step
    needs), ``min(8, cores / procs - 1)`` on CUDA (``procs``: training processes on this node,
    torchrun's ``LOCAL_WORLD_SIZE``). ``copy_bytes``: what each worker must copy (the training
    planes, for spawned workers; 0 for forked ones, which share them): automatic workers stop at
    ``SPAWN_COPIES_BYTES`` of copies in all (at least 1 worker)."""
    if workers is not None:
        return max(0, int(workers))
    if getattr(device, "type", str(device)) != "cuda":
        return 0
    n = max(0, min(8, (os.cpu_count() or 1) // max(1, procs) - 1))
    if copy_bytes > 0 and n > 0:
        n = max(1, min(n, SPAWN_COPIES_BYTES // copy_bytes))
    return n


def planes_nbytes(train: ObjectDataset) -> int:
    """Bytes of an ObjectDataset's planes (network RGB + labels): what a spawned worker copies."""
    return int(sum(a.nbytes for a in train.rgb) + sum(a.nbytes for a in train.labels))


def worker_start_method() -> str | None:
    """How worker processes start: the platform default (fork on Linux) from the main thread;
    ``"spawn"`` from any other thread (the napari widget trains in a thread worker, and forking
    a process that runs other threads, Qt's among them, can deadlock the child)."""
    import threading

    return None if threading.current_thread() is threading.main_thread() else "spawn"


def training_batches(
    jobs: SampleJobs,
    keys: Iterator[list],
    workers: int,
    pin_memory: bool = False,
    start_method: str | None = None,
) -> Iterator:
    """Collated batches (``datasets.collate``) for ``keys``, cut here or by ``workers`` processes
    that stay ahead of the training step (started by ``start_method``: None = the platform
    default, see :func:`worker_start_method`). Stop iterating (or drop the iterator) to stop
    them."""
    from ..data.datasets import collate

    if workers <= 0:
        return (collate([jobs[k] for k in ks]) for ks in keys)
    from torch.utils.data import DataLoader

    loader = DataLoader(
        jobs,
        batch_sampler=keys,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        multiprocessing_context=start_method,
    )
    return _worker_errors_explained(iter(loader), workers)


def _worker_errors_explained(batches: Iterator, workers: int) -> Iterator:
    """``batches``, with a dead worker process (out of shared memory, killed) reported as a
    TrainingError that says what to do; errors raised inside ``sample`` pass unchanged."""
    from .config import TrainingError

    try:
        yield from batches
    except RuntimeError as e:
        if "DataLoader worker" not in str(e):
            raise
        raise TrainingError(
            f"A sample worker process failed ({e}). Train with fewer workers (--workers, now "
            f"{workers}; 0 cuts the samples in the training process) or raise the shared-memory "
            "limit (/dev/shm)."
        ) from None
