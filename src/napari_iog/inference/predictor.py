"""IOGPredictor: numpy image + Prompt in, MaskResult out (``reference/iog-method.md`` §3, §6, §7).

Typical use::

    pred = IOGPredictor.from_weights("IOG_PASCAL_SBD_REFINEMENT")   # or (model, preprocess)
    pred.set_image(image)                                 # [H, W] or [H, W, 3|4], any dtype
    res = pred.predict(Prompt(BBox(r0, c0, r1, c1), inside=Click(r, c)))
    res = pred.refine([Click(r, c, positive=False)])      # all correction clicks so far

``predict`` runs backbone + head once and caches, for that object, the crop transform, the
initial click maps and (refinement nets) the backbone features. ``refine`` on a refinement net
re-runs only the head (click branch, PSP, decoders) on the updated click maps - never the
backbone. A net without the refinement branch has no click input, so ``refine`` re-runs the
whole net with the clicks merged into its guidance channels (positive into "inside", negative
into "outside"); this is a documented fallback, not the paper's method.

``tta=True`` averages the crop with its 3 mirror images (:mod:`.tta`; 4x compute, clicks
mirrored alike). Devices: :func:`napari_iog.devices.resolve_device` (``"auto"`` = CUDA, else
Apple MPS, else CPU). AMP (fp16 autocast) only on CUDA. The model is put in eval mode
(BatchNorm running stats) and run under ``torch.inference_mode``. torch is imported lazily; ``torch.set_num_threads`` is never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import PreprocessConfig
from ..devices import resolve_device
from ..structures import Click, MaskResult, Prompt, PromptError
from .base import (  # noqa: F401  (re-exported: classical, grabcut, tests import them here)
    ImagePredictorBase,
    PredictorStateError,
    check_batch_args,
)
from .postprocess import check_finite_prob, finalize_mask
from .transforms import (
    CropTransform,
    NetworkInput,
    add_image_clicks,
    as_clicks,
    check_clicks_in_crop,
    make_network_input,
    validate_prompt,
)
from .tta import flip_views, merge_views

if TYPE_CHECKING:
    import torch

    from ..models.iog import IOGNet


@dataclass
class _ObjectState:
    prompt: Prompt  # box + inside only
    net_input: NetworkInput
    feats: object  # (EncoderFeatures, cached laterals) on the device (refinement nets), else None


class IOGPredictor(ImagePredictorBase):
    """Deep-learning IOG predictor around an ``IOGNet`` (``napari_iog.models``)."""

    name, supports_refinement = "IOG", True  # every IOG net takes clicks (see the module doc)
    domain: str | None = None  # "em" / "aerial" when the weights declare it (starters)
    propagation_confidence = 0.88  # mean mask probability below which an object has ended

    def __init__(
        self,
        model: IOGNet,
        preprocess: PreprocessConfig | None = None,
        device: str | torch.device = "auto",
        amp: bool = True,
        optimize: bool = True,
        tta: bool = False,
    ):
        """``tta=True``: flip test-time augmentation (:mod:`.tta`, 4x compute). ``optimize=True``
        runs an eval-only copy with BatchNorm folded into the convs and channels-last tensors
        (``models.fuse``; logits change by ~1e-5; 25-35% faster on a 2-core CPU,
        docs/latency.md). ``self.model`` stays the original (for saving / fine-tuning); build a
        new predictor after changing its weights."""
        super().__init__(preprocess)
        if not (hasattr(model, "encode") and hasattr(model, "decode")):
            raise ValueError(
                f"model must be an IOGNet (napari_iog.models.build_model), got {type(model).__name__}."
            )
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        if optimize:
            from ..models.fuse import optimize_for_inference

            self._net = optimize_for_inference(self.model, channels_last=True)
        else:
            self._net = self.model
        self._channels_last = bool(optimize)
        self.amp = bool(amp) and self.device.type == "cuda"
        self.tta = bool(tta)
        self._state: _ObjectState | None = None

    @classmethod
    def from_weights(
        cls, source: str | Path, device: str = "auto", amp: bool = True, tta: bool = False
    ) -> IOGPredictor:
        """Load weights (our checkpoint, an official ``.pth`` or a registry name) and wrap them."""
        from ..models.checkpoint import load_model
        from ..models.starters import weights_domain

        dev = resolve_device(device)
        loaded = load_model(source, device=str(dev))
        pred = cls(loaded.model, loaded.preprocess, device=dev, amp=amp, tta=tta)
        pred.domain = weights_domain(loaded.meta)  # "em" / "aerial" / None (unknown)
        return pred

    @property
    def network(self) -> torch.nn.Module:
        """The module that actually runs (the BN-folded copy when ``optimize=True``)."""
        return self._net

    @property
    def reuses_encoder(self) -> bool:
        """True when ``refine`` skips the backbone (the model has the refinement branch)."""
        return bool(getattr(self.model, "is_refinement", False))

    def reset(self) -> None:
        self._state = None

    # ------------------------------------------------------------------------------ running
    def _autocast(self):
        import torch

        return torch.autocast(device_type="cuda", dtype=torch.float16, enabled=self.amp)

    def _tensor(self, arr: np.ndarray):
        import torch

        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).to(self.device)
        return t.contiguous(memory_format=torch.channels_last) if self._channels_last else t

    def _encode(self, x: np.ndarray):
        import torch

        if self.tta:
            x = flip_views(x)
        with torch.inference_mode(), self._autocast():
            feats = self._net.encode(self._tensor(x))
            laterals = self._net.lateral_features(feats) if self.reuses_encoder else None
            return feats, laterals

    def _decode(self, feats, click_maps: np.ndarray | None) -> np.ndarray:
        """Head on cached features -> float32 probabilities ``[N, S, S]``."""
        import torch

        s = self.preprocess.crop_size
        if self.tta and self.reuses_encoder:
            click_maps = flip_views(click_maps)
        maps = self._tensor(click_maps) if self.reuses_encoder else None
        feats, laterals = feats
        with torch.inference_mode(), self._autocast():
            out = self._net.decode(
                feats, maps, out_size=(s, s), laterals=laterals, side_outputs=False
            )
            prob = torch.sigmoid(out.fine.float())[:, 0].cpu().numpy()
        check_finite_prob(prob, "The IOG network")  # NaN weights: an error, never an empty mask
        return merge_views(prob) if self.tta else prob

    def _run(self, inputs: list[NetworkInput]) -> np.ndarray:
        """Full net on a batch of inputs (clicks merged for nets without the click branch)."""
        if self.reuses_encoder:
            feats = self._encode(np.stack([ni.x for ni in inputs]))
            return self._decode(feats, np.stack([ni.click_maps for ni in inputs]))
        return self._decode(self._encode(np.stack([ni.merged() for ni in inputs])), None)

    def _result(self, ni: NetworkInput, prob_crop: np.ndarray, prompt: Prompt) -> MaskResult:
        prob, origin = ni.transform.paste(prob_crop)
        seeds = [ni.transform.crop_to_image(ni.inside)[0]]
        seeds += [(c.row, c.col) for c in prompt.clicks if c.positive]
        pre = self.preprocess
        return finalize_mask(
            prob, origin, ni.transform.image_shape, prompt, pre.threshold, pre.clip_to_box, seeds
        )

    # --------------------------------------------------------------------------- public API
    def predict(self, prompt: Prompt) -> MaskResult:
        """Segment one object. ``prompt``: box (+ inside click, + correction clicks) in image
        ``(row, col)``. Becomes the current object for :meth:`refine`. Raises PromptError for
        an unusable prompt, PredictorStateError before :meth:`set_image`."""
        image = self._require_image()
        ni = make_network_input(image, prompt, self.preprocess)
        base = Prompt(prompt.box, prompt.inside)
        if self.reuses_encoder:
            feats = self._encode(ni.x[None])
            self._state = _ObjectState(base, ni, feats)
            prob = self._decode(feats, ni.click_maps[None])
        else:
            self._state = _ObjectState(base, ni, None)
            prob = self._run([ni])
        return self._result(ni, prob[0], prompt)

    def refine(self, clicks: Sequence[Click]) -> MaskResult:
        """Re-segment the current object with ``clicks`` = all correction clicks so far (image
        ``(row, col)``, positive or negative, in order). Refinement nets reuse the cached
        backbone features. Raises PromptError for clicks outside the object's crop,
        PredictorStateError before :meth:`predict`."""
        self._require_image()
        st = self._state
        if st is None:
            raise PredictorStateError("No current object: call predict(prompt) before refine().")
        clicks = as_clicks(clicks)
        t = st.net_input.transform
        check_clicks_in_crop(clicks, t)
        maps = add_image_clicks(st.net_input.x[3:5], clicks, t, self.preprocess.sigma)
        ni = NetworkInput(st.net_input.x, maps, t, st.net_input.inside)
        if self.reuses_encoder:
            prob = self._decode(st.feats, maps[None])
        else:
            prob = self._run([ni])
        return self._result(ni, prob[0], st.prompt.with_clicks(clicks))

    def predict_batch(
        self, prompts: Sequence[Prompt], batch_size: int = 8, on_error: str = "raise"
    ) -> list[MaskResult | None]:
        """Segment many objects of the current image, ``batch_size`` crops per network call
        (harvesting). Does not change the current object. ``on_error="raise"`` raises
        PromptError naming the bad prompt's index; ``"none"`` puts None in its place."""
        image = self._require_image()
        check_batch_args(batch_size, on_error)
        prompts = list(prompts)
        results: list = [None] * len(prompts)
        valid = []  # validate everything first (cheap); build inputs chunk by chunk (memory)
        for i, p in enumerate(prompts):
            try:
                validate_prompt(p, image.shape)
                pre = self.preprocess
                t = CropTransform.from_box(p.box, image.shape, pre.relax, pre.crop_size)
                check_clicks_in_crop(p.clicks, t)
                valid.append(i)
            except PromptError as exc:
                if on_error == "raise":
                    raise PromptError(f"Prompt {i}: {exc}") from None
        for start in range(0, len(valid), int(batch_size)):
            chunk = valid[start : start + int(batch_size)]
            inputs = [make_network_input(image, prompts[i], self.preprocess) for i in chunk]
            for i, ni, prob in zip(chunk, inputs, self._run(inputs)):
                results[i] = self._result(ni, prob, prompts[i])
        return results
