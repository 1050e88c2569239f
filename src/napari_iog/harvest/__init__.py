"""Box annotations -> instance masks at scale (the paper's box-to-mask harvesting), on dask.

Imports neither torch nor dask at import time (they load inside the functions that need them)::

    from napari_iog.harvest import HarvestConfig, load_boxes, run_harvest

    plan = load_boxes("boxes.json")               # COCO JSON or CSV image,x0,y0,x1,y1[,label]
    summary = run_harvest(plan, HarvestConfig("model.pt"), "images/", "masks.json")
    print(summary.format())
"""

from napari_iog.harvest.config import HarvestConfig, HarvestConfigError
from napari_iog.harvest.images import ImageReadError, open_image
from napari_iog.harvest.plan import BoxFileError, BoxRecord, HarvestPlan, ImageTask, Issue
from napari_iog.harvest.predict import BoxMask, check_boxes, iter_box_masks
from napari_iog.harvest.runner import INLINE, HarvestProgress, iter_harvest, run_harvest
from napari_iog.harvest.sources import read_coco, read_csv
from napari_iog.harvest.store import ResultStore
from napari_iog.harvest.summary import HarvestSummary
from napari_iog.harvest.vector import load_boxes  # COCO / CSV, and vector files ([geo] extra)

__all__ = [
    "INLINE",
    "BoxFileError",
    "BoxMask",
    "BoxRecord",
    "HarvestConfig",
    "HarvestConfigError",
    "HarvestPlan",
    "HarvestProgress",
    "HarvestSummary",
    "ImageReadError",
    "ImageTask",
    "Issue",
    "ResultStore",
    "check_boxes",
    "iter_box_masks",
    "iter_harvest",
    "load_boxes",
    "open_image",
    "read_coco",
    "read_csv",
    "run_harvest",
]
