"""IOGPredictor (tiny random-init models, crop 64) and post-processing / label commits."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_iog.inference import (  # noqa: E402
    ImageError,
    IOGPredictor,
    PredictorStateError,
    make_network_input,
    paste_labels,
)
from napari_iog.inference.postprocess import finalize_mask, keep_seeded_components  # noqa: E402
from napari_iog.models import build_model, get_profile  # noqa: E402
from napari_iog.structures import BBox, Click, MaskResult, Prompt, PromptError  # noqa: E402

IMG = np.random.default_rng(0).integers(0, 255, (90, 110, 3)).astype(np.uint8)
PROMPT = Prompt(BBox(15, 20, 60, 80), Click(35, 50))


def make(name: str, **kw) -> IOGPredictor:
    torch.manual_seed(0)
    pred = IOGPredictor(build_model(name), get_profile(name)[1], device="cpu", **kw)
    pred.set_image(IMG)
    return pred


@pytest.fixture(scope="module")
def refine_pred():
    return make("iog-tiny-refine")


@pytest.fixture(scope="module")
def plain_pred():
    return make("iog-tiny")


def count_backbone_calls(pred):
    calls = []
    handle = pred.network.backbone.register_forward_hook(lambda *a: calls.append(1))
    return calls, handle


def reference_prob(pred, x, click_maps=None):
    """Sigmoid of the full forward: what predict must reproduce inside the crop."""
    with torch.no_grad():
        out = pred.model(
            torch.from_numpy(x[None]),
            None if click_maps is None else torch.from_numpy(click_maps[None]),
        )
    return torch.sigmoid(out.fine)[0, 0].numpy()


# ----------------------------------------------------------------------------- predict
@pytest.mark.parametrize("name", ["iog-tiny", "iog-tiny-refine"])
def test_predict_result_and_matches_forward(name):
    pred = make(name)
    assert not pred.model.training and pred.device.type == "cpu" and not pred.amp
    res = pred.predict(PROMPT)
    assert isinstance(res, MaskResult) and res.image_shape == (90, 110)
    assert res.prob.dtype == np.float32 and res.mask.dtype == bool
    assert res.prob.shape == res.mask.shape and 0 <= res.prob.min() and res.prob.max() <= 1
    t = pred._state.net_input.transform
    assert res.origin == t.window()[:2] and res.prompt == PROMPT
    ni = make_network_input(IMG, PROMPT, pred.preprocess)
    ref = reference_prob(pred, ni.x, ni.click_maps if pred.reuses_encoder else None)
    prob_ref, _ = t.paste(ref)
    np.testing.assert_allclose(res.prob, prob_ref, atol=1e-5)


def test_model_is_put_in_eval_mode():
    model = build_model("iog-tiny").train()
    pred = IOGPredictor(model, get_profile("iog-tiny")[1], device="cpu")
    assert not model.training and not pred.model.training


# ------------------------------------------------------------------------------ refine
def test_refine_reuses_encoder_on_refinement_net(refine_pred):
    pred = refine_pred
    assert pred.reuses_encoder and pred.supports_refinement
    calls, handle = count_backbone_calls(pred)
    try:
        pred.predict(PROMPT)
        assert len(calls) == 1
        clicks = [Click(55, 75, False), Click(20, 30, True)]
        r1 = pred.refine(clicks[:1])
        r2 = pred.refine(clicks)
        assert len(calls) == 1  # NO backbone for refinement clicks
    finally:
        handle.remove()
    assert r2.prompt == PROMPT.with_clicks(clicks) and r1.prompt.clicks == tuple(clicks[:1])
    # the cheap path gives what a full run with the same clicks gives
    full = pred.predict(PROMPT.with_clicks(clicks))
    np.testing.assert_allclose(r2.prob, full.prob, atol=1e-5)
    assert not np.allclose(r2.prob, pred.refine([]).prob)  # clicks change the output


def test_refine_fallback_reruns_whole_net_with_merged_clicks(plain_pred):
    pred = plain_pred
    assert not pred.reuses_encoder and pred.supports_refinement
    calls, handle = count_backbone_calls(pred)
    try:
        pred.predict(PROMPT)
        res = pred.refine([Click(55, 75, False)])
        assert len(calls) == 2
    finally:
        handle.remove()
    ni = make_network_input(IMG, PROMPT.with_clicks([Click(55, 75, False)]), pred.preprocess)
    prob_ref, _ = ni.transform.paste(reference_prob(pred, ni.merged()))
    np.testing.assert_allclose(res.prob, prob_ref, atol=1e-5)


# ------------------------------------------------------------------------ predict_batch
@pytest.mark.parametrize("name", ["iog-tiny", "iog-tiny-refine"])
def test_predict_batch_equals_single(name):
    pred = make(name)
    prompts = [
        PROMPT,
        Prompt(BBox(0, 0, 30, 40)),
        Prompt(BBox(50, 60, 89, 109), clicks=(Click(70, 100, False),)),
        Prompt(BBox(-10, 90, 20, 120)),  # partly off the image
    ]
    batch = pred.predict_batch(prompts, batch_size=3)
    for p, r in zip(prompts, batch):
        single = pred.predict(p)
        assert r.origin == single.origin and r.prompt == p
        np.testing.assert_allclose(r.prob, single.prob, atol=1e-4)


def test_predict_batch_errors(refine_pred):
    bad = Prompt(BBox(10, 10, 5, 20))
    with pytest.raises(PromptError, match="Prompt 1"):
        refine_pred.predict_batch([PROMPT, bad])
    res = refine_pred.predict_batch([PROMPT, bad], on_error="none")
    assert res[1] is None and isinstance(res[0], MaskResult)
    with pytest.raises(ValueError, match="on_error"):
        refine_pred.predict_batch([PROMPT], on_error="skip")
    with pytest.raises(ValueError, match="batch_size"):
        refine_pred.predict_batch([PROMPT], batch_size=0)
    assert refine_pred.predict_batch([]) == []


# ---------------------------------------------------------------------- big & odd images
def test_huge_image_never_gets_a_full_size_copy():
    pred = make("iog-tiny")
    huge = np.broadcast_to(np.uint8(90), (20_000, 20_000))  # zero-stride: 400 MPx, no memory
    pred.set_image(huge)
    res = pred.predict(Prompt(BBox(10_000, 10_000, 10_100, 10_050)))
    assert res.image_shape == (20_000, 20_000) and res.prob.shape == (101 + 16, 51 + 16)


def test_grey_uint16_and_contrast_limits():
    pred = make("iog-tiny")
    img = np.random.default_rng(1).integers(0, 60_000, (70, 80)).astype(np.uint16)
    pred.set_image(img, contrast_limits=(0, 60_000))
    assert pred._image.contrast_limits == (0.0, 60_000.0)
    assert pred.predict(Prompt(BBox(10, 10, 50, 60))).prob.shape[0] > 0


# ------------------------------------------------------------------------------ bad input
def test_state_errors():
    pred = IOGPredictor(build_model("iog-tiny"), get_profile("iog-tiny")[1], device="cpu")
    with pytest.raises(PredictorStateError, match="set_image"):
        pred.predict(PROMPT)
    with pytest.raises(PredictorStateError, match="set_image"):
        pred.predict_batch([PROMPT])
    pred.set_image(IMG)
    with pytest.raises(PredictorStateError, match="predict"):
        pred.refine([Click(30, 30)])
    pred.predict(PROMPT)
    pred.set_image(IMG)  # a new image forgets the object
    with pytest.raises(PredictorStateError, match="predict"):
        pred.refine([Click(30, 30)])


@pytest.mark.parametrize(
    "prompt, match",
    [
        (Prompt(BBox(10, 10, 5, 20)), "inverted"),
        (Prompt(BBox(10, 10, 40, 10)), "at least"),
        (Prompt(BBox(300, 300, 320, 330)), "outside"),
        (Prompt(BBox(10, 10, 40, 40), Click(60, 20)), "inside click"),
        (Prompt(BBox(10, 10, 40, 40), clicks=(Click(89, 109, True),)), "crop"),
        ("a box", "Prompt"),
    ],
)
def test_bad_prompts(plain_pred, prompt, match):
    with pytest.raises(PromptError, match=match):
        plain_pred.predict(prompt)


def test_bad_refine_clicks(refine_pred):
    refine_pred.predict(PROMPT)
    with pytest.raises(PromptError, match="crop"):
        refine_pred.refine([Click(89, 5, True)])  # outside box +- relax
    with pytest.raises(PromptError, match="Click"):
        refine_pred.refine([(30, 30)])
    with pytest.raises(PromptError, match="finite"):
        refine_pred.refine([Click(np.inf, 30)])


def test_bad_images_and_constructor():
    pred = make("iog-tiny")
    for img in (np.zeros((0, 4)), np.zeros(5), np.full((4, 4), np.nan), np.zeros((4, 4, 2))):
        with pytest.raises(ImageError):
            pred.set_image(img)
    with pytest.raises(ValueError, match="device"):
        IOGPredictor(build_model("iog-tiny"), device="tpu9")
    with pytest.raises(ValueError, match="IOGNet"):
        IOGPredictor(torch.nn.Linear(2, 2))


def test_from_weights_round_trip(tmp_path):
    from napari_iog.models.checkpoint import save_checkpoint

    pred = make("iog-tiny-refine")
    path = save_checkpoint(tmp_path / "tiny.pt", pred.model, pred.preprocess, {"data": "test"})
    loaded = IOGPredictor.from_weights(path, device="cpu")
    assert loaded.preprocess == pred.preprocess and loaded.reuses_encoder
    loaded.set_image(IMG)
    np.testing.assert_allclose(loaded.predict(PROMPT).prob, pred.predict(PROMPT).prob, atol=1e-6)


# ---------------------------------------------------------------------------- postprocess
def test_keep_seeded_components_and_fallback():
    m = np.zeros((20, 30), bool)
    m[2:6, 2:6] = True  # 16 px
    m[10:18, 10:20] = True  # 80 px
    m[6, 6] = True  # diagonal touch: 8-connected to the first blob
    kept = keep_seeded_components(m, [(3, 3)])
    assert kept[2:7, 2:7].sum() == 17 and not kept[10:18, 10:20].any()
    both = keep_seeded_components(m, [(3, 3), (12, 12)])
    np.testing.assert_array_equal(both, m)
    largest = keep_seeded_components(m, [(0, 29)])  # seed on background -> largest blob
    assert largest.sum() == 80


def test_finalize_mask_threshold_clip_and_holes():
    prob = np.zeros((20, 20), np.float32)
    prob[2:18, 2:18] = 0.9
    prob[8:10, 8:10] = 0.1  # 4 px hole
    prompt = Prompt(BBox(14, 14, 30, 30))
    r = finalize_mask(prob, (10, 10), (40, 40), prompt, 0.5, seeds_rc=[(20, 20)])
    assert r.area == 16 * 16 - 4 and r.origin == (10, 10) and r.full_mask().shape == (40, 40)
    filled = finalize_mask(
        prob, (10, 10), (40, 40), prompt, 0.5, seeds_rc=[(20, 20)], max_hole_area=4
    )
    assert filled.area == 256
    clipped = finalize_mask(prob, (10, 10), (40, 40), prompt, 0.5, clip_to_box=True)
    assert clipped.full_mask()[:14].sum() == 0 and clipped.area == 14 * 14 - 4
    # a positive click above the box (row 12 < row0 14) releases the top side only
    up = prompt.with_clicks([Click(12, 20, True)])
    released = finalize_mask(prob, (10, 10), (40, 40), up, 0.5, clip_to_box=True)
    m = released.full_mask()
    assert m[12:14, 14:28].all() and not m[12:28, :14].any() and released.area == 16 * 14 - 4
    down = prompt.with_clicks([Click(12, 20, False)])  # a negative click releases nothing
    assert finalize_mask(prob, (10, 10), (40, 40), down, 0.5, clip_to_box=True).area == 14 * 14 - 4


def _result(mask, origin, shape):
    return MaskResult(
        mask.astype(np.float32), mask.astype(bool), origin, shape, Prompt(BBox(0, 0, 5, 5))
    )


@pytest.mark.parametrize("mode, expected", [("keep", 6), ("background", 6), ("overwrite", 8)])
def test_paste_labels_modes(mode, expected):
    labels = np.zeros((6, 6), np.uint16)
    labels[2, 2] = 7  # another object
    labels[2, 3] = 3  # the same object (already committed)
    labels[3, 3] = 9
    res = _result(np.ones((3, 3), bool), (2, 2), (6, 6))
    edit = paste_labels(labels, res, 3, mode=mode)
    assert edit.size == expected and (edit.new_values == 3).all()
    assert edit.new_values.dtype == labels.dtype
    np.testing.assert_array_equal(edit.old_values, labels[edit.index])
    before = labels.copy()
    edit.apply(labels)
    assert labels[2:5, 2:5].tolist().count([3, 3, 3]) >= 1
    assert (labels[2, 2] == 7) == (mode != "overwrite") and labels[3, 3] == (
        9 if mode != "overwrite" else 3
    )
    assert (labels[before == 0] != 0).sum() == 6  # background pixels of the window were all written


def test_paste_labels_nd_plane_and_errors():
    stack = np.zeros((4, 6, 6), np.uint8)
    res = _result(np.ones((2, 2), bool), (1, 1), (6, 6))
    edit = paste_labels(stack, res, 5, plane=(2,))
    assert len(edit.index) == 3 and set(edit.index[0]) == {2}
    edit.apply(stack)
    assert stack[2, 1:3, 1:3].min() == 5 and stack.sum() == 20
    view_edit = paste_labels(stack[1], res, 5)  # a 2D slice view works the same way
    view_edit.apply(stack[1])
    assert stack[1].sum() == 20
    with pytest.raises(ValueError, match="plane"):
        paste_labels(stack, res, 5)
    with pytest.raises(ValueError, match="mode"):
        paste_labels(stack[0], res, 5, mode="merge")
    with pytest.raises(ValueError, match="positive integer"):
        paste_labels(stack[0], res, 0)
    with pytest.raises(ValueError, match="dtype"):
        paste_labels(stack[0], res, 300)
    with pytest.raises(ValueError, match="differ"):
        paste_labels(np.zeros((5, 6), np.uint8), res, 1)


# ------------------------------------------------------------------- end-to-end parity
@pytest.mark.slow
def test_end_to_end_matches_official_refinement_pass():
    """Fixture image + box + inside click + 2 correction clicks through IOGPredictor (paper
    profile, formula weights) reproduce the official refinement forward's fine output."""
    import json

    from skimage import io

    from ._shared import require_shared
    from .parity_weights import formula_state_dict

    fx = require_shared("reference", "iog-parity")
    meta = json.loads((fx / "prompt.json").read_text())
    model = build_model("iog-resnet101-refine")
    model.load_state_dict(formula_state_dict(model), strict=True)
    pred = IOGPredictor(model, get_profile("iog-resnet101-refine")[1], device="cpu")
    pred.set_image(io.imread(fx / "input_image.png"))
    (x, y), s = meta["inside_point"], meta["refinement_single_pass"]
    (px, py), (nx, ny) = s["positive_click"], s["negative_click"]
    mask = io.imread(fx / "object_mask.png") > 0
    prompt = Prompt(BBox.from_mask(mask), Click(y, x), (Click(py, px, True), Click(ny, nx, False)))
    res = pred.predict(prompt)
    ref = np.load(fx / "refinement_outputs.npz")["fine_512"][0, 0]
    expected = 1 / (1 + np.exp(-ref.astype(np.float64)))
    assert res.origin == (0, 0) and res.prob.shape == (512, 512)
    assert np.abs(res.prob - expected).max() <= 1e-4


# ------------------------------------------------------------------------ flip test-time augmentation
def test_flip_views_round_trip_and_bad_shapes():
    from napari_iog.inference.tta import flip_views, merge_views

    x = np.random.default_rng(1).random((2, 5, 8, 8)).astype(np.float32)
    v = flip_views(x)
    assert v.shape == (8, 5, 8, 8)
    np.testing.assert_array_equal(v[3], x[1, :, :, ::-1])  # left-right block, sample 1
    np.testing.assert_array_equal(v[2 * 2 + 1], x[1, :, ::-1, :])  # up-down block, sample 1
    np.testing.assert_array_equal(merge_views(v[:, 0]), x[:, 0])  # each view flipped back
    with pytest.raises(ValueError, match=r"\[N, C, S, S\]"):
        flip_views(x[0])
    with pytest.raises(ValueError, match=r"\[4N, S, S\]"):
        merge_views(v[:3, 0])


@pytest.mark.parametrize("name", ["iog-tiny-refine", "iog-tiny"])
def test_tta_is_the_mean_of_the_four_mirrored_passes(name):
    plain, tta = make(name), make(name, tta=True)
    assert tta.tta and not plain.tta
    ni = make_network_input(plain._require_image(), PROMPT, plain.preprocess)
    x = ni.x[None] if plain.reuses_encoder else ni.merged()[None]
    views = [x, x[..., ::-1], x[..., ::-1, :], x[..., ::-1, ::-1]]
    probs = []
    for v, undo in zip(views, [lambda p: p, lambda p: p[..., ::-1], lambda p: p[..., ::-1, :],
                               lambda p: p[..., ::-1, ::-1]]):  # fmt: skip
        maps = v[:, 3:5] if plain.reuses_encoder else None
        probs.append(undo(plain._decode(plain._encode(v), maps)))
    expected = np.mean(probs, axis=0)[0]
    got = tta.predict(PROMPT)
    res, _ = ni.transform.paste(expected)
    np.testing.assert_allclose(got.prob, res, atol=1e-5)
    assert not np.allclose(got.prob, plain.predict(PROMPT).prob, atol=1e-4)  # it did something
    clicks = [Click(30, 45, positive=False)]
    assert tta.refine(clicks).prob.shape == got.prob.shape  # refinement path runs with 4 views
    batch = tta.predict_batch([PROMPT, PROMPT])
    np.testing.assert_allclose(batch[0].prob, got.prob, atol=1e-5)


def test_rethreshold_recuts_from_the_stored_probabilities():
    """postprocess.rethreshold: same threshold -> the same object; a lower one grows the mask
    within the box; a blob not connected to a seed stays out."""
    from napari_iog.inference.postprocess import finalize_mask, rethreshold
    from napari_iog.structures import BBox, Click, Prompt

    rr, cc = np.mgrid[:40, :40]
    prob = np.clip(1.0 - np.hypot(rr - 20, cc - 20) / 12.0, 0, 1).astype(np.float32)
    prob[2:5, 2:5] = 0.9  # a separate bright spot, inside the box
    prompt = Prompt(BBox(1, 1, 35, 35), Click(20, 20))
    res = finalize_mask(prob, (0, 0), (40, 40), prompt, 0.5, True, [(20, 20)])
    assert rethreshold(res, 0.5, True) is res
    low = rethreshold(res, 0.2, True)
    assert low.threshold == 0.2 and low.area > res.area and not (res.mask & ~low.mask).any()
    assert not low.mask[2:5, 2:5].any()  # not connected to the inside click
    assert np.array_equal(
        low.mask, finalize_mask(prob, (0, 0), (40, 40), prompt, 0.2, True, [(20, 20)]).mask
    )
    assert not rethreshold(res, 0.01, True).mask[36:, :].any()  # clipped to the box
    # the seeds the result was cut with are kept: a box-only prompt's default seed (here the
    # spot), not the prompt's clicks, picks the component again
    spot = finalize_mask(prob, (0, 0), (40, 40), Prompt(prompt.box), 0.5, True, [(3, 3)])
    assert spot.seeds == ((3.0, 3.0),) and spot.area == 9
    again = rethreshold(spot, 0.2, True)
    assert again.area == 9 and again.mask[2:5, 2:5].all() and again.seeds == spot.seeds
