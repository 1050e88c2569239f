"""Weights registry and cache: fetch from a local file:// mirror, hashes, import, verify, list.

Never touches the network: URLs are file:// paths in tmp_path or a closed local port.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

from napari_iog.config import PreprocessConfig  # noqa: E402
from napari_iog.models import build_model  # noqa: E402
from napari_iog.models import weights as W  # noqa: E402
from napari_iog.models.checkpoint import CheckpointError, load_model, save_checkpoint  # noqa: E402
from napari_iog.models.registry import list_weights, verify  # noqa: E402


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("NAPARI_IOG_CACHE", str(d))
    return d


@pytest.fixture()
def release(tmp_path):
    """A tiny plain state dict standing in for an official release file."""
    torch.manual_seed(0)
    src = tmp_path / "mirror" / "IOG_TINY.pth"
    src.parent.mkdir()
    torch.save(build_model("iog-tiny").state_dict(), src)
    return src


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entry(monkeypatch, src, **kw):
    """Register ``IOG_TEST`` pointing at ``src`` (file:// URL) with the right size and hash."""
    entry = W.WeightsEntry(
        "IOG_TEST", src.as_uri(), "IOG_TEST.pth", src.stat().st_size, _sha(src), "iog-tiny", "test"
    )
    entry = replace(entry, **kw)
    monkeypatch.setitem(W.REGISTRY, "IOG_TEST", entry)
    return entry


def test_registry_entries():
    sbd = W.REGISTRY["IOG_PASCAL_SBD"]
    assert sbd.size == 209_133_432 and sbd.sha256.startswith("f94ced15") and len(sbd.sha256) == 64
    assert sbd.url.endswith("id=1Lm1hhMhhjjnNwO4Pf7SC6tXLayH2iH0l")
    assert W.REGISTRY["IOG_PASCAL_SBD_REFINEMENT"].profile == "iog-resnet101-refine"
    assert W.REGISTRY["IOG_PASCAL"].url.endswith("1GLZIQlQ-3KUWaGTQ1g_InVcqesGfGcpW")


def test_cache_dir_from_env(cache):
    assert W.cache_dir() == cache


def test_fetch_from_file_url_then_load(cache, release, monkeypatch):
    _entry(monkeypatch, release)
    path = W.fetch("IOG_TEST", progress=False)
    assert path == cache / "IOG_TEST.pth" and _sha(path) == _sha(release)
    release.unlink()  # now served from the cache
    assert W.fetch("IOG_TEST", progress=False) == path
    loaded = load_model("IOG_TEST")
    assert loaded.profile == "iog-tiny" and not loaded.model.training
    rows = {r.name: r for r in list_weights()}
    assert rows["IOG_TEST"].cached and rows["IOG_TEST"].path == path
    assert not rows["IOG_PASCAL_SBD"].cached and rows["IOG_PASCAL_SBD"].size == 209_133_432


def test_fetch_wrong_hash_is_an_error_and_leaves_nothing(cache, release, monkeypatch):
    _entry(monkeypatch, release, sha256="0" * 64, size=None)
    with pytest.raises(
        W.WeightsHashError, match="sha256.*napari-iog weights import PATH --name IOG_TEST"
    ):
        W.fetch("IOG_TEST", progress=False)
    assert not (cache / "IOG_TEST.pth").exists()


def test_offline_gives_import_instruction(cache, monkeypatch, release):
    url = "http://127.0.0.1:9/IOG_TEST.pth"  # closed local port: fails at once, no network
    _entry(monkeypatch, release, url=url)
    with pytest.raises(W.WeightsUnavailableError) as err:
        W.fetch("IOG_TEST", progress=False)
    msg = str(err.value)
    assert "napari-iog weights import PATH --name IOG_TEST" in msg and url in msg
    assert isinstance(err.value, ValueError)
    with pytest.raises(W.WeightsUnavailableError):  # load_model by name goes the same way
        load_model("IOG_TEST")


def test_corrupt_cached_file_is_fetched_again(cache, release, monkeypatch):
    _entry(monkeypatch, release)
    cache.mkdir()
    (cache / "IOG_TEST.pth").write_bytes(b"garbage")
    assert _sha(W.fetch("IOG_TEST", progress=False)) == _sha(release)


def test_drive_web_page_is_detected(cache, tmp_path, monkeypatch):
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><html>Google Drive can't scan this file for viruses</html>")
    _entry(monkeypatch, page, sha256=None, size=None)
    with pytest.raises(W.WeightsHashError, match="web page"):
        W.fetch("IOG_TEST", progress=False)


def test_import_good_and_bad_hash(cache, release, tmp_path, monkeypatch):
    _entry(monkeypatch, release)
    bad = tmp_path / "IOG_TEST.pth"
    bad.write_bytes(release.read_bytes()[:-1] + b"x")  # same size, different content
    with pytest.raises(W.WeightsHashError, match="sha256"):
        W.import_weights(bad, "IOG_TEST")
    assert not (cache / "IOG_TEST.pth").exists()
    short = tmp_path / "short.pth"
    short.write_bytes(release.read_bytes()[:100])
    with pytest.raises(W.WeightsHashError, match="bytes"):
        W.import_weights(short, "IOG_TEST")
    target = W.import_weights(release, "IOG_TEST")
    assert target == cache / "IOG_TEST.pth" and _sha(target) == _sha(release)
    assert verify("IOG_TEST")["status"] == "ok"
    target.write_bytes(b"x" * release.stat().st_size)  # damaged in the cache afterwards
    with pytest.raises(W.WeightsHashError):
        verify("IOG_TEST")


def test_import_unknown_hash_records_it(cache, release, monkeypatch):
    _entry(monkeypatch, release, sha256=None, size=None)
    with pytest.raises(W.WeightsError, match="--name"):
        W.import_weights(release)  # file name does not tell which entry it is
    W.import_weights(release, "IOG_TEST")
    index = json.loads((cache / W.INDEX_FILE).read_text())
    assert index["IOG_TEST"]["sha256"] == _sha(release)
    assert verify("IOG_TEST")["status"] == "ok"
    (cache / "IOG_TEST.pth").write_bytes(b"y" * 10)
    with pytest.raises(W.WeightsHashError, match="expected"):
        verify("IOG_TEST")


def test_import_unknown_hash_checks_architecture(cache, tmp_path, monkeypatch):
    other = tmp_path / "IOG_TEST.pth"
    torch.save(build_model("iog-tiny-refine").state_dict(), other)
    _entry(monkeypatch, other, sha256=None, size=None)
    with pytest.raises(CheckpointError, match="unexpected keys"):
        W.import_weights(other)
    assert not (cache / "IOG_TEST.pth").exists()


def test_user_checkpoint_import_list_load(cache, tmp_path):
    ck = save_checkpoint(
        tmp_path / "mine.pt",
        build_model("iog-tiny"),
        PreprocessConfig(crop_size=64),
        {"data": "sstem"},
    )
    target = W.import_weights(ck, "mito-finetuned")
    assert target == cache / "checkpoints" / "mito-finetuned.pt"
    row = next(r for r in list_weights() if r.name == "mito-finetuned")
    assert row.kind == "checkpoint" and row.profile == "iog-tiny" and row.description == "sstem"
    assert load_model("mito-finetuned").meta["data"] == "sstem"
    assert verify("mito-finetuned")["status"] == "ok"
    from napari_iog.models.registry import resolve_profile

    mc, pre = resolve_profile("cpu-light")
    light = save_checkpoint(tmp_path / "l.pt", build_model(mc), pre)
    W.import_weights(light, "light-finetuned")
    row = next(r for r in list_weights() if r.name == "light-finetuned")
    assert row.profile == "cpu-light"  # the few-shot preset, not "custom (resnet18)"
    plain = tmp_path / "plain.pth"
    torch.save(build_model("iog-tiny").state_dict(), plain)
    with pytest.raises(CheckpointError, match="not a napari-iog checkpoint"):
        W.import_weights(plain, "my-plain")


def test_bad_names_and_paths(cache, tmp_path):
    with pytest.raises(W.WeightsError, match="Unknown weights"):
        W.fetch("NOPE")
    with pytest.raises(W.WeightsUnavailableError, match="not in the cache"):
        verify("IOG_PASCAL_SBD")
    with pytest.raises(W.WeightsError, match="not a file"):
        W.import_weights(tmp_path / "missing.pth", "IOG_PASCAL_SBD")
