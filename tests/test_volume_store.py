"""Volumes on disk (napari-free): OME-Zarr / zarr opened lazily as levels, a chunked zarr labels
store that writes only the chunks an edit touches, the read-only case, and lazy crops."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from napari_iog.volumes import (
    LabelStoreError,
    ReadOnlyStoreError,
    VolumeError,
    open_labels,
    open_volume,
)
from tests._volume_data import write_ome_zarr


@pytest.fixture
def omz(tmp_path):
    return write_ome_zarr(tmp_path / "em.ome.zarr")


def test_open_ome_zarr_levels_are_lazy(omz):
    import dask.array as da

    v = open_volume(omz)
    assert v.ome and v.shape == (8, 512, 512) and v.chunks == (1, 128, 128)
    assert [lv.shape for lv in v.levels] == [(8, 512, 512), (8, 256, 256), (8, 128, 128)]
    assert v.factors[2] == (1.0, 4.0, 4.0)
    assert all(isinstance(lv, da.Array) for lv in v.levels)
    assert v.axes == ("z", "y", "x") and v.labels == ()


def test_plain_zarr_array_and_bad_paths(tmp_path, omz):
    v = open_volume(omz / "s1")  # a plain zarr array inside the OME-Zarr
    assert v.shape == (8, 256, 256) and not v.ome and len(v.levels) == 1
    with pytest.raises(VolumeError, match="does not exist"):
        open_volume(tmp_path / "missing.zarr")
    with pytest.raises(VolumeError, match="is a file"):
        open_volume(omz / "zarr.json")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(VolumeError, match="not a zarr store"):
        open_volume(tmp_path / "empty.zarr")


def test_labels_store_writes_only_touched_chunks(omz):
    v = open_volume(omz)
    store = open_labels(v)
    assert store.path == omz / "labels" / "iog" and store.chunks == (1, 128, 128)
    assert store.stored_chunks() == [] and store.dtype == np.uint16
    # an object on slice 3 spanning rows 120..140, cols 250..260: chunk rows 0-1, chunk col 1-2
    rr, cc = np.mgrid[120:141, 250:261]
    index = (np.full(rr.size, 3), rr.ravel(), cc.ravel())
    store[index] = 5
    assert store.stored_chunks() == [(3, 0, 1), (3, 0, 2), (3, 1, 1), (3, 1, 2)]
    assert store.max_id == 5
    np.testing.assert_array_equal(store[index], np.full(rr.size, 5))
    assert int(store[3].sum()) == 5 * rr.size and not store[2].any()
    # undo-like write back of zeros removes the chunks again (nothing but background)
    store[index] = np.zeros(rr.size)
    assert store.stored_chunks() == []
    # reopened: OME-Zarr labels metadata written by ome-zarr; existing ids found
    store[index] = 9
    again = open_volume(omz)
    assert again.labels == ("iog",)
    reopened = open_labels(again, create=False)
    assert reopened.max_id == 9 and int(reopened[3][130, 255]) == 9


def test_whole_volume_read_is_refused_when_huge(omz, monkeypatch):
    from napari_iog.volumes import labels_store

    store = open_labels(open_volume(omz))
    assert np.asarray(store).shape == (8, 512, 512)
    monkeypatch.setattr(labels_store, "WHOLE_READ_LIMIT", 1000)
    with pytest.raises(LabelStoreError, match="Refusing to load the whole"):
        np.asarray(store)


def read_only(monkeypatch, folder):
    """Make ``folder`` (and what is inside) look read-only (tests may run as root, for whom
    chmod does not stop writes)."""
    from napari_iog.volumes import labels_open, source

    real = source.writable

    def fake(path):
        p = os.path.abspath(path)
        return not p.startswith(os.path.abspath(folder)) and real(path)

    monkeypatch.setattr(labels_open, "writable", fake)


def test_read_only_store_says_where_to_save(omz, tmp_path, monkeypatch):
    read_only(monkeypatch, omz)
    v = open_volume(omz)
    with pytest.raises(ReadOnlyStoreError, match="read-only") as info:
        open_labels(v)
    assert "elsewhere" in str(info.value) and info.value.suggested.suffix == ".zarr"
    assert not (omz / "labels").exists()
    store = open_labels(v, path=tmp_path / "mine.zarr")  # the user's choice
    store[(np.array([0]), np.array([1]), np.array([2]))] = 4
    assert store.stored_chunks() == [(0, 0, 0)]
    assert store.provenance == tmp_path / "mine.iog.json"


def test_existing_labels_in_a_read_only_store_open_read_only(omz, monkeypatch):
    open_labels(open_volume(omz))[(np.array([1]), np.array([1]), np.array([1]))] = 3
    read_only(monkeypatch, omz)
    store = open_labels(open_volume(omz), create=False)
    assert store.read_only and int(store[1][1, 1]) == 3
    with pytest.raises(LabelStoreError, match="read-only"):
        store[(np.array([1]), np.array([1]), np.array([2]))] = 3


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_chmod_read_only_folder(omz):
    mode = omz.stat().st_mode
    os.chmod(omz, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        with pytest.raises(ReadOnlyStoreError):
            open_labels(open_volume(omz))
    finally:
        os.chmod(omz, mode)


def test_labels_of_another_shape_are_refused(omz, tmp_path):
    import zarr

    zarr.create_array(
        str(tmp_path / "other.zarr"), shape=(2, 8, 8), dtype=np.uint32, chunks=(1, 8, 8)
    )
    with pytest.raises(LabelStoreError, match="shape"):
        open_labels(open_volume(omz), path=tmp_path / "other.zarr")


def test_network_image_reads_only_the_crop_of_a_lazy_plane(omz):
    """The predictor's image wrapper keeps a dask plane lazy: a crop reads only its chunks."""
    from napari_iog.inference.image import NetworkImage

    v = open_volume(omz)
    touched = []
    plane = v.levels[0][4]
    counted = plane.map_blocks(
        lambda b, block_info=None: touched.append(block_info[0]["chunk-location"]) or b,
        dtype=plane.dtype,
    )
    img = NetworkImage(counted, contrast_limits=(0, 255))
    out = img.gather(np.arange(130, 200), np.arange(10, 60))
    assert out.shape == (70, 50, 3)
    assert sorted(set(touched)) == [(1, 0)]  # one 128x128 chunk of 16
    ref = np.asarray(v.levels[0][4, 130:200, 10:60], dtype=np.float32)
    np.testing.assert_allclose(out[..., 0], ref)


def test_displayed_plane_is_cached_and_written_through(omz):
    """napari re-reads the whole displayed plane after every edit: it comes from memory, and
    stays equal to the store on disk after writes."""
    store = open_labels(open_volume(omz))
    store[3, 0:10, 0:10]
    assert store.cache.cached((3,)) is None  # a window read does not load its whole plane
    calls = []
    real = store.array

    class Counting:
        def __getattr__(self, name):
            return getattr(real, name)

        def __getitem__(self, key):
            calls.append(key)
            return real[key]

        def __setitem__(self, key, value):
            real[key] = value

    store[(np.array([2, 2]), np.array([5, 300]), np.array([5, 300]))] = 1  # 2 chunks stored
    store.cache.clear()
    store.array = Counting()
    first = store[(slice(2, 3), slice(None), slice(None))]
    assert first.shape == (1, 512, 512) and len(calls) == 2  # only the stored chunks are read
    assert first[0, 5, 5] == 1 and first[0, 300, 300] == 1 and int(first.sum()) == 2
    store[2]
    store[2, 10:20, 30:40]
    assert len(calls) == 2  # served from the cached plane
    rr, cc = np.mgrid[10:20, 30:45]
    store[(np.full(rr.size, 2), rr.ravel(), cc.ravel())] = 6
    assert int((store[2] == 6).sum()) == rr.size
    np.testing.assert_array_equal(store[2], np.asarray(real[2]))  # cache == disk
    assert (store[(np.full(3, 2), np.array([10, 11, 19]), np.array([30, 31, 44]))] == 6).all()


def test_plain_zarr_labels_go_beside_it(tmp_path):
    import zarr

    arr = zarr.create_array(
        str(tmp_path / "raw.zarr"), shape=(3, 64, 80), chunks=(1, 32, 32), dtype=np.uint16
    )
    arr[:] = 7
    v = open_volume(tmp_path / "raw.zarr")
    store = open_labels(v)
    assert store.path == tmp_path / "raw.iog-labels.zarr" and store.chunks == (1, 32, 32)
    store[(np.array([2]), np.array([40]), np.array([70]))] = 2
    again = open_labels(open_volume(tmp_path / "raw.zarr"), create=False)
    assert again.max_id == 2 and again.stored_chunks() == [(2, 1, 2)]


def test_ome_zarr_v04_zarr2_labels(tmp_path):
    """NGFF 0.4 (zarr 2) images get zarr-2 labels in the same format (ome-zarr writes them)."""
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image

    root = zarr.open_group(str(tmp_path / "v04.zarr"), mode="w", zarr_format=2)
    img = np.arange(4 * 64 * 64, dtype=np.uint16).reshape(4, 64, 64)
    write_image(img, root, scale_factors=[2], axes="zyx", fmt=FormatV04(),
                storage_options={"chunks": (1, 32, 32)})  # fmt: skip
    v = open_volume(tmp_path / "v04.zarr")
    assert v.ome and v.ome_version == "0.4" and len(v.levels) == 2
    store = open_labels(v)
    assert store.array.metadata.zarr_format == 2
    store[(np.array([1]), np.array([40]), np.array([5]))] = 3
    assert store.stored_chunks() == [(1, 1, 0)]
    again = open_volume(tmp_path / "v04.zarr")
    assert again.labels == ("iog",) and open_labels(again, create=False).max_id == 3
