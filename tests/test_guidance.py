"""Guidance heatmaps: unit behaviour and parity with the official IOG fixture."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_iog.inference.guidance import (
    add_click,
    gaussian_map,
    inside_point_from_mask,
    iog_guidance,
    outside_points,
)
from napari_iog.inference.transforms import make_network_input
from napari_iog.structures import BBox, Click, Prompt

from ._shared import require_shared


# ------------------------------------------------------------------------------ unit tests
def test_gaussian_is_fwhm_and_pixelwise_max():
    g = gaussian_map((40, 50), [(10, 20), (30, 5)], sigma=10)
    assert g.shape == (40, 50) and g.dtype == np.float64
    assert g[10, 20] == 1.0 and g[30, 5] == 1.0
    assert g[10, 25] == pytest.approx(0.5)  # r = sigma / 2 -> half maximum
    assert g[15, 20] == pytest.approx(0.5)
    single = gaussian_map((40, 50), [(10, 20)], sigma=10)
    other = gaussian_map((40, 50), [(30, 5)], sigma=10)
    np.testing.assert_array_equal(g, np.maximum(single, other))
    assert not gaussian_map((4, 5), np.zeros((0, 2)), 10).any()


@pytest.mark.parametrize(
    "points, sigma",
    [([(1, 2, 3)], 10), ([(np.nan, 1)], 10), ([(1, 1)], 0), ([(1, 1)], -3)],
)
def test_gaussian_bad_input(points, sigma):
    with pytest.raises(ValueError):
        gaussian_map((8, 8), points, sigma)


def test_inside_point_rectangle_and_border_padding():
    m = np.zeros((21, 31), bool)
    m[5:16, 10:21] = True  # 11 x 11 square, centre (10, 15)
    assert inside_point_from_mask(m) == (10, 15)
    # a mask touching the image border: padding makes the border count as boundary
    full = np.ones((9, 9), bool)
    assert inside_point_from_mask(full) == (4, 4)
    # ties: first maximum in raster order (2 x 2 block -> top-left)
    t = np.zeros((6, 6), bool)
    t[2:4, 2:4] = True
    assert inside_point_from_mask(t) == (2, 2)
    # float masks binarised at 0.5
    f = np.where(m, 0.7, 0.3)
    assert inside_point_from_mask(f) == (10, 15)


def test_inside_point_bad_input():
    with pytest.raises(ValueError, match="empty"):
        inside_point_from_mask(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="2D"):
        inside_point_from_mask(np.ones((2, 5, 5)))


def test_outside_points_official_example_and_clip():
    # iog-method.md §3.5: GT box x in [50, 449], y in [100, 299] -> corners (x, y)
    # (40, 90), (40, 309), (459, 90), (459, 309)
    pts = outside_points((100, 50, 299, 449), pad=10, size=512)
    as_xy = {(int(c), int(r)) for r, c in pts}
    assert as_xy == {(40, 90), (40, 309), (459, 90), (459, 309)}
    # clipped to [0, size]: the upper bound is size itself, not size - 1
    pts = outside_points(BBox(3, 0, 509, 505), pad=10, size=512)
    assert pts.min() == 0 and pts.max() == 512
    pts = outside_points((0, 0, 50, 60), pad=10, size=(100, 200))
    assert pts[:, 0].max() == 60 and pts[:, 1].max() == 70


def test_iog_guidance_joint_scaling():
    g = iog_guidance((20, 20), outside_points((10, 10, 30, 30), 4, 48), 48, sigma=6)
    assert g.shape == (2, 48, 48) and g.dtype == np.float32
    assert g.max() == pytest.approx(255) and g.min() >= 0
    assert g[0, 20, 20] == pytest.approx(255)
    assert np.unravel_index(np.argmax(g[1]), (48, 48)) in {(6, 6), (6, 34), (34, 6), (34, 34)}


def test_add_click_rule():
    base = iog_guidance((20, 20), outside_points((10, 10, 30, 30), 4, 48), 48, sigma=6)
    before = base.copy()
    pos = add_click(base, Click(40, 5, True), sigma=6)
    np.testing.assert_array_equal(base, before)  # input untouched
    assert pos.dtype == np.float32 and np.array_equal(pos, np.floor(pos))
    assert pos[0, 40, 5] == 255 and base[0, 40, 5] < 1
    np.testing.assert_array_equal(pos[1], np.floor(base[1]))  # other channel only truncated
    neg = add_click(pos, Click(20, 20, False), sigma=6)
    assert neg[1, 20, 20] == 255
    np.testing.assert_array_equal(neg[0], pos[0])
    assert add_click(base.astype(np.uint8), Click(1, 1), 6).dtype == np.float32
    with pytest.raises(ValueError, match=r"\[2, H, W\]"):
        add_click(np.zeros((3, 8, 8)), Click(1, 1), 6)


# --------------------------------------------------------------------------- fixture parity
@pytest.fixture(scope="module")
def fx():
    return require_shared("reference", "iog-parity")


def _fixture(fx):
    from skimage import io

    prompt = json.loads((fx / "prompt.json").read_text())
    image = io.imread(fx / "input_image.png")
    mask = io.imread(fx / "object_mask.png") > 0
    return prompt, image, mask


def test_fixture_inside_outside_heatmaps(fx):
    prompt, _, mask = _fixture(fx)
    x, y = prompt["inside_point"]
    assert inside_point_from_mask(mask) == (y, x) == (240, 220)
    box = BBox.from_mask(mask)
    corners = outside_points(box, prompt["pad_pixel"], 512)
    assert {(int(c), int(r)) for r, c in corners} == {tuple(p) for p in prompt["outside_points"]}
    g = iog_guidance((y, x), corners, 512, prompt["sigma"])
    ref = np.load(fx / "input_heatmaps.npz")
    assert np.abs(g[0] - ref["inside"]).max() <= 1e-3
    assert np.abs(g[1] - ref["outside"]).max() <= 1e-3


def test_fixture_whole_input_tensor_and_refinement_maps(fx):
    prompt, image, mask = _fixture(fx)
    x, y = prompt["inside_point"]
    p = Prompt(BBox.from_mask(mask), Click(y, x))  # relax 30 -> crop box = the image
    ni = make_network_input(image, p)  # default PreprocessConfig: 512, relax 30, sigma 10, pad 10
    ref = np.load(fx / "input_tensor.npy")[0]
    assert ni.x.shape == (5, 512, 512) and ni.x.dtype == np.float32
    assert np.abs(ni.x - ref).max() <= 1e-3
    np.testing.assert_array_equal(ni.x[:3], ref[:3])

    single = prompt["refinement_single_pass"]
    pc, nc = single["positive_click"], single["negative_click"]
    clicks = [Click(pc[1], pc[0], True), Click(nc[1], nc[0], False)]
    maps = ni.click_maps
    for c in clicks:
        maps = add_click(maps, c, prompt["sigma"])
    expected = np.load(fx / "refinement_input.npy")[0]
    np.testing.assert_array_equal(maps, expected)  # exact, uint8 truncation included
    # the same through the prompt's correction clicks (image coords = crop coords here)
    np.testing.assert_array_equal(
        make_network_input(image, p.with_clicks(clicks)).click_maps, expected
    )


def test_fixture_refinement_loop_first_click(fx):
    prompt, image, mask = _fixture(fx)
    x, y = prompt["inside_point"]
    ni = make_network_input(image, Prompt(BBox.from_mask(mask), Click(y, x)))
    cx, cy = prompt["refinement_loop_clicks"][0]["click_xy"]
    after = add_click(ni.click_maps, Click(cy, cx, True), prompt["sigma"])
    expected = np.load(fx / "refinement_loop_outputs.npz")["guidance_after_pass0"][0]
    np.testing.assert_array_equal(after, expected.astype(np.float32))
