"""IOGNet unit tests on tiny random-init models: shapes, encode/decode split, profiles, bad input."""

from __future__ import annotations

import pytest
import torch

from napari_iog.config import ModelConfig, PreprocessConfig
from napari_iog.models import PROFILES, InputShapeError, build_model, get_profile, profile_of
from tests._shared import boundary_net


@pytest.mark.parametrize("name", ["iog-tiny", "iog-tiny-refine"])
def test_forward_shapes_and_logits(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    x = torch.rand(2, 5, 64, 64) * 255
    with torch.inference_mode():
        out = model(x)
    assert len(out.coarse) == 4
    for t in (*out.coarse, out.fine):
        assert t.shape == (2, 1, 64, 64) and t.dtype == torch.float32
        assert torch.isfinite(t).all()


def test_decode_reuses_encoder_features_and_clicks_matter():
    torch.manual_seed(0)
    model = build_model("iog-tiny-refine").eval()
    x = torch.rand(1, 5, 64, 64) * 255
    clicks = torch.zeros(1, 2, 64, 64)
    clicks[0, 0, 20:30, 20:30] = 255
    with torch.inference_mode():
        feats = model.encode(x)
        full = model(x, clicks)
        dec = model.decode(feats, clicks, out_size=(64, 64))
        other = model.decode(feats, torch.zeros_like(clicks), out_size=(64, 64))
        low = model.decode(feats, clicks)
    torch.testing.assert_close(full.fine, dec.fine)
    assert not torch.allclose(dec.fine, other.fine)  # the click branch changes the output
    assert low.fine.shape == (1, 1, 16, 16)  # the /4 grid


def test_cached_laterals_and_no_side_outputs_give_the_same_fine_output():
    torch.manual_seed(0)
    model = build_model("iog-tiny-refine").eval()
    x = torch.rand(1, 5, 64, 64) * 255
    clicks = torch.rand(1, 2, 64, 64) * 255
    with torch.inference_mode():
        feats = model.encode(x)
        ref = model.decode(feats, clicks)
        fast = model.decode(
            feats, clicks, laterals=model.lateral_features(feats), side_outputs=False
        )
    assert fast.coarse == ()
    torch.testing.assert_close(fast.fine, ref.fine, rtol=0, atol=1e-6)


def test_refinement_default_clicks_are_the_initial_heatmaps():
    torch.manual_seed(0)
    model = build_model("iog-tiny-refine").eval()
    x = torch.rand(1, 5, 64, 64) * 255
    with torch.inference_mode():
        torch.testing.assert_close(model(x).fine, model(x, x[:, 3:5]).fine)


def test_paper_profiles_have_official_sizes():
    # counts from the official classes (reference/iog-method.md §1.5, §2)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(build_model("iog-resnet101")) == 52_124_106
    assert n(build_model("iog-resnet101-refine")) == 53_433_546


def test_profiles_roundtrip():
    for name, (m, p) in PROFILES.items():
        assert profile_of(m) == name
        assert ModelConfig.from_dict(m.to_dict()) == m
        assert PreprocessConfig.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="choose one of"):
        get_profile("iog-resnet9000")


@pytest.mark.parametrize(
    "shape,msg",
    [
        ((1, 3, 64, 64), r"\[N, 5, S, S\]"),
        ((5, 64, 64), r"\[N, 5, S, S\]"),
        ((1, 5, 60, 64), "multiple of 16"),
    ],
)
def test_bad_input_shapes(shape, msg):
    model = build_model("iog-tiny").eval()
    with pytest.raises(InputShapeError, match=msg):
        model(torch.zeros(shape))


def test_click_maps_errors():
    plain = build_model("iog-tiny").eval()
    with pytest.raises(ValueError, match="without the refinement branch"):
        plain(torch.zeros(1, 5, 64, 64), torch.zeros(1, 2, 64, 64))
    refine = build_model("iog-tiny-refine").eval()
    feats = refine.encode(torch.zeros(1, 5, 64, 64))
    with pytest.raises(ValueError, match="needs click_maps"):
        refine.decode(feats)
    with pytest.raises(InputShapeError):
        refine.decode(feats, torch.zeros(1, 3, 64, 64))


def test_config_validation():
    with pytest.raises(ValueError, match="Unknown backbone"):
        ModelConfig(backbone="vgg16")
    with pytest.raises(ValueError, match="multiple of 16"):
        PreprocessConfig(crop_size=100)
    with pytest.raises(ValueError, match="unknown fields"):
        ModelConfig.from_dict({"backbone": "resnet18", "bogus": 1})
    with pytest.raises(ValueError, match="boundary_channels"):
        ModelConfig(boundary_channels=-1)


def test_boundary_head_starts_as_identity_and_predicts_on_the_half_grid():
    import torch.nn.functional as F

    model = boundary_net(seed=0).eval()
    x = torch.rand(2, 5, 64, 64, generator=torch.Generator().manual_seed(1)) * 255
    with torch.inference_mode():
        feats = model.encode(x)
        low = model.decode(feats, x[:, 3:5])
        full = model(x)
    assert feats.stem is not None and feats.stem.shape == (2, model.config.width, 32, 32)
    assert len(low.coarse) == 5 and low.coarse[4].shape == (2, 1, 16, 16)  # FineNet's own /4
    assert low.fine.shape == (2, 1, 32, 32)  # the /2 grid
    up = F.interpolate(low.coarse[4], size=(32, 32), mode="bilinear", align_corners=True)
    torch.testing.assert_close(low.fine, up, rtol=0, atol=1e-6)  # zero-init delta
    assert len(full.coarse) == 5 and full.fine.shape == (2, 1, 64, 64)
    assert any(k.startswith("boundary_head.") for k in model.state_dict())
    # the paper nets carry no head, no stem and no extra keys (official checkpoints load as is)
    plain = build_model("iog-tiny-refine")
    assert plain.encode(x).stem is None
    assert not any(k.startswith("boundary_head.") for k in plain.state_dict())


def test_boundary_head_learns_and_needs_the_stem():
    model = boundary_net(seed=0).train()
    x = torch.rand(2, 5, 64, 64, generator=torch.Generator().manual_seed(2)) * 255
    y = torch.zeros(2, 1, 64, 64)
    y[:, :, 20:44, 18:40] = 1.0
    out = model(x)
    torch.nn.functional.binary_cross_entropy_with_logits(out.fine, y).backward()
    grad = model.boundary_head.delta.weight.grad
    assert grad is not None and grad.abs().sum() > 0  # the head is trained
    feats = model.encode(x)
    with pytest.raises(ValueError, match="boundary head"):
        model.decode(feats._replace(stem=None), x[:, 3:5])
