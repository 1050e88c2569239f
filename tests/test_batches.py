"""Training batches: the object order, and the same batches cut here or by worker processes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_iog.data.augment import AugmentConfig  # noqa: E402
from napari_iog.data.datasets import ObjectDataset  # noqa: E402
from napari_iog.data.synthetic import blobs  # noqa: E402
from napari_iog.models import build_model, get_profile  # noqa: E402
from napari_iog.models.checkpoint import load_model  # noqa: E402
from napari_iog.training import FinetuneConfig, TrainingError, finetune  # noqa: E402
from napari_iog.training.batches import (  # noqa: E402
    SampleJobs,
    auto_workers,
    batch_keys,
    epoch_order,
    planes_nbytes,
    training_batches,
)

TINY = "iog-tiny-refine"
PRE = get_profile(TINY)[1]


@pytest.fixture(scope="module")
def train():
    ims, labs = zip(*[blobs((96, 96), 3, seed=s) for s in range(2)])
    return ObjectDataset(list(ims), list(labs), PRE, min_area=20)


def _same_batches(a, b) -> bool:
    """Equal length, and every tensor of every batch equal."""
    return len(a) == len(b) and all(
        torch.equal(u, v) for x, y in zip(a, b) for u, v in zip(x, y, strict=True)
    )


def test_epoch_order_is_whole_passes_and_seeded():
    order = epoch_order(3, 0, 5, 12)
    assert len(order) >= 12
    for p in range(len(order) // 5):  # each block of 5 is a permutation of the objects
        assert sorted(order[5 * p : 5 * p + 5]) == list(range(5))
    assert np.array_equal(order, epoch_order(3, 0, 5, 12))
    assert not np.array_equal(order, epoch_order(3, 1, 5, 12))
    assert not np.array_equal(order, epoch_order(4, 0, 5, 12))


def test_batch_keys_start_at_the_resumed_epoch():
    keys = list(batch_keys(0, 5, 2, 3, epoch0=1, epochs=3))
    assert len(keys) == 6 and all(len(k) == 2 for k in keys)
    assert [k[0][1:3] for k in keys] == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    assert keys[:3] == list(batch_keys(0, 5, 2, 3, epoch0=0, epochs=3))[3:6]


def test_workers_cut_the_same_batches(train):
    aug = AugmentConfig(vflip=True, rotate=20.0, intensity=0.1)
    jobs = SampleJobs(train, aug, box_jitter=0.05, seed=7)

    def run(workers):
        keys = batch_keys(7, len(train), 2, 3, 0, 2)
        return list(training_batches(jobs, keys, workers))

    here, pooled = run(0), run(2)
    assert planes_nbytes(train) == sum(a.nbytes for a in train.rgb + train.labels) > 0
    assert len(here) == len(pooled) == 6
    assert _same_batches(here, pooled)
    assert not torch.equal(here[0][0], here[1][0])  # different samples per step


def test_auto_workers(monkeypatch):
    import os

    assert auto_workers(3, torch.device("cpu")) == 3
    assert auto_workers(None, torch.device("cpu")) == 0  # workers would take the step's cores
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert auto_workers(None, torch.device("cuda")) == 8
    gib = 1 << 30  # spawned workers copy the planes: at most 2 GiB of copies, at least 1 worker
    assert auto_workers(None, torch.device("cuda"), copy_bytes=gib // 2) == 4
    assert auto_workers(None, torch.device("cuda"), copy_bytes=5 * gib) == 1
    assert auto_workers(3, torch.device("cuda"), copy_bytes=5 * gib) == 3  # as asked
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert auto_workers(None, torch.device("cuda")) == 1


def test_finetune_with_workers_matches_in_process(train, tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_IOG_CACHE", str(tmp_path / "cache"))
    """The same seeded run, samples cut in 2 worker processes or in the training process."""
    tr, val = train.split(0.3, seed=0)
    fast = dict(epochs=2, samples_per_epoch=4, batch_size=2, num_threads=1, val_max_objects=4)

    def losses(workers, out):
        cfg = FinetuneConfig(**fast, device="cpu", seed=1, workers=workers)
        model = build_model(TINY, seed=0)
        return [e.loss for e in finetune(model, PRE, tr, val, cfg, out) if e.kind == "step"]

    a, b = losses(0, tmp_path / "a.pt"), losses(2, tmp_path / "b.pt")
    assert len(a) == 4 and np.allclose(a, b, rtol=1e-5)
    assert load_model(tmp_path / "b.pt").meta["sample_workers"] == 2  # provenance


def test_negative_workers_is_a_clear_error():
    with pytest.raises(TrainingError, match="workers must be >= 0"):
        FinetuneConfig(workers=-1)


class _DyingJobs(SampleJobs):
    """Kills the worker process cutting its first sample (as the system does when out of memory)."""

    def __getitem__(self, key):
        import os
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def test_a_dead_worker_becomes_advice(train):
    """A worker killed by the system (e.g. out of shared memory) -> lower --workers."""
    jobs = _DyingJobs(train, AugmentConfig.off(), 0.0, 0)
    batches = training_batches(jobs, batch_keys(0, len(train), 2, 2, 0, 1), workers=1)
    with pytest.raises(TrainingError, match="--workers, now 1"):
        next(batches)


def test_workers_started_from_a_thread_are_spawned(train):
    """The napari widget trains in a thread: its workers are spawned, not forked, and cut the
    same batches."""
    import threading

    from napari_iog.training.batches import worker_start_method

    assert worker_start_method() is None  # main thread: the platform default
    jobs = SampleJobs(train, AugmentConfig(rotate=20.0), box_jitter=0.05, seed=3)
    got = {}

    def run():
        got["method"] = method = worker_start_method()
        keys = batch_keys(3, len(train), 2, 2, 0, 1)
        got["batches"] = list(training_batches(jobs, keys, 1, start_method=method))

    t = threading.Thread(target=run)
    t.start()
    t.join(120)
    here = list(training_batches(jobs, batch_keys(3, len(train), 2, 2, 0, 1), 0))
    assert got["method"] == "spawn" and len(got["batches"]) == len(here) == 2
    assert _same_batches(here, got["batches"])
