"""Fault suite, training and checkpoints (issue 22): a diverged fine-tuning run never saves its
model as "done" and keeps the previous checkpoint; unsafe or crafted checkpoints are refused with
a message that says so."""

from __future__ import annotations

import hashlib

import pytest

torch = pytest.importorskip("torch")

from napari_iog.data.datasets import ObjectDataset  # noqa: E402
from napari_iog.data.synthetic import blobs  # noqa: E402
from napari_iog.models import build_model, get_profile  # noqa: E402
from napari_iog.models.checkpoint import save_checkpoint  # noqa: E402
from napari_iog.training import FinetuneConfig, TrainingError, run_finetune  # noqa: E402

TINY = "iog-tiny-refine"
PRE = get_profile(TINY)[1]


@pytest.fixture(scope="module")
def data():
    ims, labs = zip(*[blobs((96, 96), 3, seed=s) for s in range(2)])
    return ObjectDataset(list(ims), list(labs), PRE, min_area=20).split(0.3, seed=0)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
@pytest.mark.parametrize("with_val", [True, False])
@pytest.mark.parametrize("keep_start", [True, False])
def test_a_diverged_run_is_an_error_and_the_previous_checkpoint_stays(
    tmp_path, data, optimizer, with_val, keep_start
):
    """lr 1e30 with one step per epoch: the step's loss is finite, the new weights are ~1e30
    and predict NaN; the run must fail (lower the lr) and leave ``out`` byte-identical."""
    train, val = data
    out = tmp_path / "model.pt"
    save_checkpoint(out, build_model(TINY, seed=1), PRE, {"previous": True})
    before = _sha(out)
    cfg = FinetuneConfig(epochs=2, samples_per_epoch=2, batch_size=2, num_threads=1,
                         val_max_objects=2, device="cpu", lr=1e30, optimizer=optimizer,
                         keep_start=keep_start)  # fmt: skip
    with pytest.raises(TrainingError, match="diverged in epoch 1.*Lower the learning rate"):
        run_finetune(build_model(TINY, seed=0), PRE, train, val if with_val else None, cfg, out)
    assert _sha(out) == before
    assert not (tmp_path / "model.pt.state.pt").exists()


def test_a_sane_run_still_saves(tmp_path, data):
    train, val = data
    cfg = FinetuneConfig(epochs=1, samples_per_epoch=2, batch_size=2, num_threads=1,
                         val_max_objects=2, device="cpu", keep_start=False)  # fmt: skip
    s = run_finetune(build_model(TINY, seed=0), PRE, train, val, cfg, tmp_path / "m.pt")
    assert s.stopped == "done" and s.checkpoint is not None and s.checkpoint.exists()


class _RunsCode:
    """Unpickling this calls ``os.getcwd`` (harmless): a stand-in for a code-executing pickle."""

    def __reduce__(self):
        import os

        return (os.getcwd, ())


def _unsafe_files(root):
    import pickle

    payload = {"state_dict": {}, "x": _RunsCode()}
    (root / "raw_p2.pt").write_bytes(pickle.dumps(payload, protocol=2))
    torch.save(payload, root / "zip.pt")
    torch.save(payload, root / "legacy.pt", _use_new_zipfile_serialization=False)
    return ["raw_p2.pt", "zip.pt", "legacy.pt"]


@pytest.mark.parametrize("name", ["raw_p2.pt", "zip.pt", "legacy.pt"])
def test_a_code_executing_pickle_is_refused_as_unsafe(tmp_path, name):
    from napari_iog.models.checkpoint import CheckpointError, load_model

    _unsafe_files(tmp_path)
    with pytest.raises(CheckpointError, match="Refused.*unsafe") as err:
        load_model(tmp_path / name)
    assert "truncated or corrupt" not in str(err.value)


@pytest.mark.parametrize("crop", [100000, 4112])
def test_a_crafted_huge_crop_size_is_refused(tmp_path, crop, capsys):
    from napari_iog.cli import main
    from napari_iog.models.checkpoint import CheckpointError, load_model

    path = save_checkpoint(tmp_path / "m.pt", build_model(TINY, seed=0), PRE)
    ckpt = torch.load(path, weights_only=True)
    ckpt["preprocess"]["crop_size"] = crop
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=f"crop_size {crop} is too large.*at most 4096"):
        load_model(path)
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "im.tif", blobs((64, 64), 1, seed=0)[0])
    rc = main(["predict", "--weights", str(path), "--image", str(tmp_path / "im.tif"),
               "--box", "10", "10", "40", "40", "--out", str(tmp_path / "o.tif")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "too large" in err and "Traceback" not in err
    assert not (tmp_path / "o.tif").exists()


def test_unsafe_pickle_in_the_cli(tmp_path, capsys):
    from napari_iog.cli import main

    _unsafe_files(tmp_path)
    for name in ("raw_p2.pt", "zip.pt"):
        rc = main(["weights", "import", str(tmp_path / name), "--name", "evil"])
        err = capsys.readouterr().err
        assert rc == 2 and "unsafe" in err and "Traceback" not in err, err
