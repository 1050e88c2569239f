"""Data-parallel fine-tuning: ``torchrun --nproc-per-node 2 -m napari_iog.cli finetune`` on the
CPU (gloo) trains, both processes end with identical weights (each writes the hash of its
state_dict: ``NAPARI_IOG_DEBUG_STATE_HASH``), rank 0 alone reports and writes exactly one
checkpoint, and the run resumes from its ``.state.pt``; plus the torchrun environment rules."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
tifffile = pytest.importorskip("tifffile")

from napari_iog.training.config import TrainingError  # noqa: E402
from napari_iog.training.distributed import HASH_DIR_ENV, Dist, from_env, state_hash  # noqa: E402
from tests.test_faults_runs import _data  # noqa: E402  (two tiny blob image/label pairs)


def _torchrun(root, out, hashes, *extra):
    """2 CPU processes of ``napari-iog finetune`` under torchrun; ``(rc, stdout + stderr)``."""
    hashes.mkdir(exist_ok=True)
    for f in hashes.glob("*"):
        f.unlink()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "napari_iog.cli", "finetune", "--images", str(root / "img"), "--labels",
           str(root / "lab"), "--weights", "none", "--profile", "iog-tiny-refine",
           "--samples-per-epoch", "8", "--batch-size", "2", "--device", "cpu", "--threads", "1",
           "--min-area", "20", "--keep", "last", "--no-keep-start", "--no-calibrate-threshold",
           "--no-progress", "--out", str(out), *extra]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", **{HASH_DIR_ENV: str(hashes)})
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
def test_two_cpu_processes_train_one_model_and_resume(tmp_path):
    from napari_iog.models.checkpoint import load_model

    _data(tmp_path)
    (tmp_path / "out").mkdir()
    out, hashes = tmp_path / "out" / "ddp.pt", tmp_path / "hashes"
    rc, log = _torchrun(tmp_path, out, hashes, "--epochs", "2")
    assert rc == 0, log
    # 8 samples per epoch / (2 processes x batch 2) = 2 steps per epoch
    assert log.count("epoch 1: train loss") == 1 and log.count("epoch 2: train loss") == 1, log
    assert "done: 4 steps" in log and log.count("done:") == 1  # rank 0 alone reports
    rank0, rank1 = ((hashes / f"rank{r}.sha256").read_text() for r in (0, 1))
    assert rank0 == rank1  # identical weights and BatchNorm statistics in both processes
    loaded = load_model(out)
    assert state_hash(loaded.model) + "\n" == rank0  # the checkpoint holds them
    assert loaded.meta["processes"] == 2 and loaded.meta["steps"] == 4
    assert sorted(p.name for p in out.parent.iterdir()) == ["ddp.pt", "ddp.pt.state.pt"]
    rc, log = _torchrun(tmp_path, out, hashes, "--epochs", "3", "--resume", f"{out}.state.pt")
    assert rc == 0, log
    assert "done: 6 steps" in log and log.count("epoch 3: train loss") == 1, log
    assert (hashes / "rank0.sha256").read_text() == (hashes / "rank1.sha256").read_text()
    assert load_model(out).meta["steps"] == 6
    assert sorted(p.name for p in out.parent.iterdir()) == ["ddp.pt", "ddp.pt.state.pt"]


def test_torchrun_environment():
    assert from_env({}) == Dist(0, 1, 0, 1) and not from_env({}).active
    d = from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    assert (d.rank, d.world, d.local_rank, d.local_world) == (3, 4, 1, 2)
    assert d.active and not d.is_main
    for bad in ({"RANK": "4", "WORLD_SIZE": "4"}, {"WORLD_SIZE": "two"}):
        with pytest.raises(TrainingError, match="torchrun|RANK"):
            from_env(bad)
    one = Dist()  # one process: every collective is the identity
    assert one.broadcast([1.0, 0.5], "cpu") == [1.0, 0.5] and one.mean(2.5, "cpu") == 2.5


def test_processes_cut_disjoint_shares_of_each_step():
    """2 processes with batch 2 cut, step by step, exactly the samples (object, epoch, step,
    slot: hence the augmentation too) that one process with batch 4 would."""
    from napari_iog.training.batches import batch_keys

    single = list(batch_keys(0, 7, 4, 3, 0, 2))
    shares = [list(batch_keys(0, 7, 2, 3, 0, 2, rank=r, world=2)) for r in (0, 1)]
    assert len(single) == len(shares[0]) == len(shares[1]) == 6
    for s in range(6):
        assert shares[0][s] + shares[1][s] == single[s]
        assert not set(shares[0][s]) & set(shares[1][s])


def test_automatic_workers_share_the_node_between_processes(monkeypatch):
    from napari_iog.training import batches

    monkeypatch.setattr(batches.os, "cpu_count", lambda: 16)
    cuda = torch.device("cuda")
    assert batches.auto_workers(None, cuda) == 8  # one process: min(8, 16 - 1)
    assert batches.auto_workers(None, cuda, procs=4) == 3  # 4 processes: 16 / 4 - 1 each
    assert batches.auto_workers(2, cuda, procs=4) == 2  # as asked
