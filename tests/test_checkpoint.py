"""Checkpoints: our self-describing format, official plain state dicts, and every failure mode."""

from __future__ import annotations

import json
import os

import pytest

torch = pytest.importorskip("torch")

from napari_iog.config import PreprocessConfig  # noqa: E402
from napari_iog.models import build_model, get_profile  # noqa: E402
from napari_iog.models.checkpoint import (  # noqa: E402
    FORMAT_VERSION,
    CheckpointError,
    describe_mismatch,
    detect_profile,
    load_model,
    load_official_state_dict,
    read_header,
    save_checkpoint,
)
from tests._shared import boundary_net, shared_dir  # noqa: E402

PARITY = shared_dir() / "reference" / "iog-parity"


def _tiny(name="iog-tiny", seed=0):
    torch.manual_seed(seed)
    model = build_model(name)
    with torch.no_grad():  # non-trivial BN statistics, so a wrong load would show
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _x(size=64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 5, size, size, generator=g) * 255


def test_roundtrip_same_outputs_and_meta(tmp_path):
    model = _tiny("iog-tiny-refine")
    pre = PreprocessConfig(crop_size=64, relax=8, sigma=6.0, pad_pixel=4, threshold=0.4)
    path = save_checkpoint(
        tmp_path / "sub" / "m.pt", model, pre, {"data": "sstem 00-04", "epochs": 3}
    )
    assert path.is_file()
    assert not [p for p in path.parent.iterdir() if p.name != "m.pt"], "temp file left behind"
    raw = torch.load(path, weights_only=True)  # the contract: safe loading works
    assert raw["format"] == "napari-iog" and raw["format_version"] == FORMAT_VERSION
    assert set(raw) == {
        "format",
        "format_version",
        "content_sha256",
        "model_config",
        "preprocess",
        "meta",
        "state_dict",
    }

    loaded = load_model(path)
    assert not loaded.model.training
    assert loaded.preprocess == pre
    assert loaded.model.config == model.config and loaded.profile == "iog-tiny-refine"
    assert loaded.meta["data"] == "sstem 00-04" and loaded.meta["epochs"] == 3
    assert {"created", "napari_iog_version", "torch_version"} <= set(loaded.meta)
    x = _x()
    with torch.no_grad():
        a, b = model(x).fine, loaded.model(x).fine
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert read_header(path)["meta"]["epochs"] == 3


def test_boundary_head_config_and_weights_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = boundary_net().eval()
    torch.nn.init.normal_(model.boundary_head.delta.weight)  # not the zero init
    path = save_checkpoint(tmp_path / "b.pt", model, PreprocessConfig(crop_size=64), {})
    loaded = load_model(path)
    assert loaded.model.config.boundary_channels == 4 and loaded.profile is None
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x).fine, model(x).fine, rtol=0, atol=0)


def test_meta_must_be_jsonable(tmp_path):
    with pytest.raises(CheckpointError, match="JSON"):
        save_checkpoint(tmp_path / "m.pt", _tiny(), PreprocessConfig(crop_size=64), {"x": object()})
    assert not list(tmp_path.iterdir())


def test_official_plain_state_dict_detected(tmp_path):
    for name in ("iog-tiny", "iog-tiny-refine"):
        model = _tiny(name)
        p = tmp_path / f"{name}.pth"
        torch.save(model.state_dict(), p)
        loaded = load_model(p)
        assert loaded.profile == name
        assert loaded.preprocess == get_profile(name)[1]
        with torch.no_grad():
            torch.testing.assert_close(model(_x()).fine, loaded.model(_x()).fine)


def test_dataparallel_prefix_and_old_torch_without_num_batches_tracked(tmp_path):
    model = _tiny()
    sd = {f"module.{k}": v for k, v in model.state_dict().items() if "num_batches_tracked" not in k}
    torch.save(sd, tmp_path / "old.pth")
    loaded = load_official_state_dict(tmp_path / "old.pth")
    assert loaded.profile == "iog-tiny"


@pytest.mark.skipif(not PARITY.is_dir(), reason="shared/reference/iog-parity is absent")
@pytest.mark.parametrize(
    "keys,profile",
    [("keys_main.json", "iog-resnet101"), ("keys_refinement.json", "iog-resnet101-refine")],
)
def test_official_key_lists_detect_the_paper_profiles(keys, profile):
    """The official files' keys/shapes (from the parity fixture) map to our profiles, no 200 MB needed."""
    spec = json.loads((PARITY / keys).read_text())["keys"]
    sd = {k: torch.empty(shape, device="meta") for k, shape, _ in spec}
    assert detect_profile(sd) == profile


def test_wrong_architecture_lists_differences(tmp_path):
    sd = _tiny().state_dict()
    sd.pop("psp4.bottleneck.0.weight")
    sd["extra.weight"] = torch.zeros(3)
    first = next(k for k in sd if k.endswith("conv1.weight"))
    sd[first] = torch.zeros(1, 2, 3, 3)
    torch.save(sd, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError) as err:
        load_model(tmp_path / "odd.pth")
    msg = str(err.value)
    assert "iog-tiny" in msg and "missing keys (psp4.bottleneck.0.weight)" in msg
    assert "unexpected keys (extra.weight)" in msg and "shape mismatches" in msg


def test_our_checkpoint_of_other_architecture_is_refused(tmp_path):
    """A checkpoint whose state_dict does not fit its own config (hand-edited / mixed up)."""
    path = save_checkpoint(tmp_path / "m.pt", _tiny(), PreprocessConfig(crop_size=64))
    ckpt = torch.load(path, weights_only=True)
    ckpt["state_dict"] = _tiny("iog-tiny-refine").state_dict()
    ckpt.pop("content_sha256")  # hand-edited: the hash was dropped too
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=r"unexpected keys \(iog_points\.") as err:
        load_model(path)
    assert "and " in str(err.value) and "more" in str(err.value)  # long lists are truncated


def test_describe_mismatch_truncates():
    n, text = describe_mismatch({f"k{i}": (1,) for i in range(9)}, {})
    assert n == 9 and "9 missing keys" in text and "and 4 more" in text


def test_missing_truncated_garbage_and_unsafe_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nope.pt")
    good = save_checkpoint(tmp_path / "m.pt", _tiny(), PreprocessConfig(crop_size=64))
    data = good.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt.*weights fetch"):
        load_model(tmp_path / "cut.pt")
    (tmp_path / "junk.pth").write_bytes(os.urandom(1000))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_model(tmp_path / "junk.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_model(tmp_path / "empty.pth")
    torch.save({"a": [1, 2]}, tmp_path / "notsd.pth")
    with pytest.raises(CheckpointError, match="not a state_dict"):
        load_model(tmp_path / "notsd.pth")
    torch.save(_tiny(), tmp_path / "pickled_module.pth")  # whole module: unsafe to unpickle
    with pytest.raises(CheckpointError, match="weights_only"):
        load_model(tmp_path / "pickled_module.pth")


def test_newer_format_and_unknown_name(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _tiny(), PreprocessConfig(crop_size=64))
    ckpt = torch.load(path, weights_only=True)
    ckpt["format_version"] = FORMAT_VERSION + 1
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="Upgrade napari-iog"):
        load_model(path)
    with pytest.raises(CheckpointError, match="neither an existing file nor a known weights name"):
        load_model("IOG_NO_SUCH_THING")


def test_bad_device(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _tiny(), PreprocessConfig(crop_size=64))
    with pytest.raises(CheckpointError, match="device"):
        load_model(path, device="gpu7")
    if not torch.cuda.is_available():
        with pytest.raises(CheckpointError, match="no CUDA"):
            load_model(path, device="cuda")
