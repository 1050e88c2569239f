"""The simulated-click protocol: every object gets the 3 IOG clicks, then up to K corrective clicks.

A *predictor* is a :class:`~napari_iog.inference.interface.PromptPredictor`: ``set_image(image)``,
``predict(prompt) -> MaskResult`` and ``supports_refinement`` (when False, corrective clicks are
not simulated: the IoU is held). If it also has ``refine(clicks) -> MaskResult`` (IOG: re-uses
the cached encoder; every :class:`~napari_iog.inference.interface.Predictor`) that is used for
the corrective clicks, otherwise ``predict(prompt.with_clicks(clicks))``.

Per object (``labels == id``, area >= ``min_area``): box and inside click from
:func:`napari_iog.data.prompts.simulate_prompt` (the tight box; ``box_jitter`` > 0 moves its
edges the way a user's imprecise box would, seeded per object so every method gets the same
boxes), then clicks from
:func:`~napari_iog.data.prompts.next_click` on the current error. IoU is measured on the full
image plane (computed over the window that holds both masks). ``evaluate`` is a generator of
progress events so the CLI, the widget and tests can drive it; ``run_evaluation`` runs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..data.prompts import box_from_mask, next_click, simulate_prompt
from ..inference.interface import PromptPredictor
from ..structures import PromptError
from ..words import count
from .boundary import boundary_band
from .metrics import iou, summarize


@dataclass(frozen=True)
class EvalConfig:
    """``max_clicks``: corrective clicks after the 3 IOG clicks (20 as in the literature);
    ``min_area``: smaller objects are skipped (and counted); ``stop_iou``: an object whose IoU
    reaches it keeps that IoU for the remaining clicks (1.0 = never stop early);
    ``void_band``: pixels within this many px (city-block) of the object's boundary, on either
    side, are ignored by the IoU and by the click simulator (PASCAL VOC style void band; 0 =
    strict, every pixel counts; the headline numbers use 0); ``box_jitter``: each box edge moves
    by ``U(-d, d)``, ``d = min(box_jitter * side, 10 px)`` (0 = the tight box, the headline
    protocol), drawn from ``seed``, the plane and the object id."""

    max_clicks: int = 20
    min_area: int = 50
    stop_iou: float = 1.0
    void_band: int = 0
    box_jitter: float = 0.0
    seed: int = 0

    def __post_init__(self):
        if int(self.void_band) != self.void_band or self.void_band < 0:
            raise ValueError(f"void_band must be an integer >= 0 (px), got {self.void_band!r}.")
        if not 0.0 <= self.box_jitter < 0.5:
            raise ValueError(
                "box_jitter must be in [0, 0.5) (a fraction of the box side), "
                f"got {self.box_jitter!r}."
            )


@dataclass
class ObjectResult:
    plane: int
    label: int
    area: int
    box: tuple[int, int, int, int]
    ious: list[float]
    seconds: float
    touches_border: bool = False

    def to_dict(self) -> dict:
        return {
            "plane": self.plane,
            "label": self.label,
            "area": self.area,
            "box": list(self.box),
            "touches_border": self.touches_border,
            "seconds": round(self.seconds, 4),
            "ious": [round(v, 5) for v in self.ious],
        }


@dataclass
class EvalResult:
    name: str
    objects: list[ObjectResult] = field(default_factory=list)
    n_skipped_small: int = 0
    seconds: float = 0.0

    @property
    def curves(self) -> np.ndarray:
        """float64 ``[n_objects, max_clicks + 1]`` IoU after 3 + k clicks."""
        return np.array([o.ious for o in self.objects], dtype=np.float64)

    def summary(self) -> dict:
        if not self.objects:
            raise ValueError(f"{self.name}: no object was evaluated (all empty or below min_area).")
        s = summarize(self.curves)
        s.update(
            name=self.name,
            n_skipped_small=self.n_skipped_small,
            seconds=round(self.seconds, 2),
            seconds_per_object=round(self.seconds / len(self.objects), 4),
        )
        return s


@dataclass(frozen=True)
class EvalEvent:
    done: int
    total: int
    result: ObjectResult | None


def list_objects(labels: np.ndarray, min_area: int) -> tuple[list[tuple[int, tuple, int]], int]:
    """``([(id, slices, area), ...], n_skipped)`` for an int label plane ``[H, W]``."""
    from scipy import ndimage

    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"Labels must be a 2D integer plane, got {labels.dtype} {labels.shape}. "
            "Use napari_iog.data.files.as_instances to convert masks to instance ids."
        )
    areas = np.bincount(labels.ravel().astype(np.int64))
    out, skipped = [], 0
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        if areas[k] < min_area:
            skipped += 1
        else:
            out.append((k, sl, int(areas[k])))
    return out, skipped


def _window(res, gt_sl, shape):
    """Slices of the plane covering the prediction window and the object's box."""
    (r0, r1), (c0, c1) = (
        (res.window[0].start, res.window[0].stop),
        (res.window[1].start, res.window[1].stop),
    )
    r0, c0 = max(0, min(r0, gt_sl[0].start)), max(0, min(c0, gt_sl[1].start))
    r1, c1 = min(shape[0], max(r1, gt_sl[0].stop)), min(shape[1], max(c1, gt_sl[1].stop))
    return slice(r0, r1), slice(c0, c1)


def _plane_mask(res, win) -> np.ndarray:
    """The prediction ``res`` (a MaskResult) as a bool array over the plane window ``win``."""
    out = np.zeros((win[0].stop - win[0].start, win[1].stop - win[1].start), bool)
    rr, cc = res.window
    a0, a1 = max(rr.start, win[0].start), min(rr.stop, win[0].stop)
    b0, b1 = max(cc.start, win[1].start), min(cc.stop, win[1].stop)
    if a1 > a0 and b1 > b0:
        out[a0 - win[0].start : a1 - win[0].start, b0 - win[1].start : b1 - win[1].start] = (
            res.mask[a0 - rr.start : a1 - rr.start, b0 - cc.start : b1 - cc.start]
        )
    return out


def evaluate_object(
    predictor: PromptPredictor, labels: np.ndarray, label_id: int, cfg: EvalConfig, plane: int = 0
) -> list[float]:
    """IoU curve ``[1 + max_clicks]`` of one object on the image already set in ``predictor``
    (``plane`` seeds its jittered box)."""
    from ..structures import Click

    gt_full = labels == label_id
    rng = np.random.default_rng([cfg.seed, plane, int(label_id)]) if cfg.box_jitter else None
    prompt = simulate_prompt(gt_full, rng, cfg.box_jitter)
    tight = box_from_mask(gt_full)
    res = predictor.predict(prompt)
    refine: Callable | None = getattr(predictor, "refine", None)  # optional (PromptPredictor)
    clicks_matter = bool(predictor.supports_refinement)
    gt_sl = (slice(tight.row0, tight.row1 + 1), slice(tight.col0, tight.col1 + 1))
    ious: list[float] = []
    clicks: list[Click] = []
    for k in range(cfg.max_clicks + 1):
        win = _window(res, gt_sl, labels.shape)
        pred, gt = _plane_mask(res, win), gt_full[win]
        void = boundary_band(gt_full, win, int(cfg.void_band))
        ious.append(iou(pred, gt, void))
        if k == cfg.max_clicks:
            break
        click = (
            None if ious[-1] >= cfg.stop_iou or not clicks_matter else next_click(pred, gt, void)
        )
        if click is None:  # perfect, good enough, or clicks change nothing: hold the IoU
            ious.extend([ious[-1]] * (cfg.max_clicks - k))
            break
        clicks.append(Click(click.row + win[0].start, click.col + win[1].start, click.positive))
        try:
            res = (
                refine(list(clicks))
                if callable(refine)
                else predictor.predict(prompt.with_clicks(clicks))
            )
        except PromptError:  # a click the predictor cannot use (outside its crop): no change
            clicks.pop()
            ious.extend([ious[-1]] * (cfg.max_clicks - k))
            break
    return ious


def evaluate(
    predictor: PromptPredictor,
    images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    cfg: EvalConfig = EvalConfig(),
    name: str = "model",
    result: EvalResult | None = None,
) -> Iterator[EvalEvent]:
    """Generator: evaluate ``predictor`` on every object of ``labels`` (int planes ``[H, W]``,
    paired with ``images``); yields an :class:`EvalEvent` per object. The results accumulate in
    ``result`` (pass one in to keep it; a new one is created otherwise)."""
    result = result if result is not None else EvalResult(name)
    if len(images) != len(labels):
        raise ValueError(
            f"{count(len(images), 'image')} but {count(len(labels), 'label plane')}: they must pair up."
        )
    per_plane = []
    for lab in labels:
        objs, skipped = list_objects(lab, cfg.min_area)
        per_plane.append(objs)
        result.n_skipped_small += skipped
    total = sum(len(o) for o in per_plane)
    if total == 0:
        raise ValueError(
            f"No object with area >= {cfg.min_area} px in the labels: nothing to evaluate. "
            "Check the label images (0 = background) or lower min_area."
        )
    done, t_all = 0, time.perf_counter()
    for p, (image, lab, objs) in enumerate(zip(images, labels, per_plane)):
        if not objs:
            continue
        predictor.set_image(image)
        lab = np.asarray(lab)
        for k, sl, area in objs:
            t0 = time.perf_counter()
            ious = evaluate_object(predictor, lab, k, cfg, plane=p)
            border = (
                sl[0].start == 0
                or sl[1].start == 0
                or sl[0].stop == lab.shape[0]
                or sl[1].stop == lab.shape[1]
            )
            box = (sl[0].start, sl[1].start, sl[0].stop - 1, sl[1].stop - 1)
            obj = ObjectResult(p, int(k), area, box, ious, time.perf_counter() - t0, bool(border))
            result.objects.append(obj)
            done += 1
            result.seconds = time.perf_counter() - t_all
            yield EvalEvent(done, total, obj)


def run_evaluation(
    predictor: PromptPredictor,
    images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    cfg: EvalConfig = EvalConfig(),
    name: str = "model",
    progress: Callable[[EvalEvent], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> EvalResult:
    """Run :func:`evaluate` to the end (or until ``cancel()`` is true) and return the result."""
    result = EvalResult(name)
    for ev in evaluate(predictor, images, labels, cfg, name, result):
        if progress is not None:
            progress(ev)
        if cancel is not None and cancel():
            break
    return result
