"""Few-shot fine-tuning: ``FinetuneSpec`` -> ``finetune_job`` (the one job every entry point
runs), the engine ``finetune`` (a generator of typed events), ``FinetuneConfig`` (the one source
of the defaults) and DDP under torchrun (``training.distributed``).

Importing this package does not import torch; the loop imports it when it runs.
"""

from ..data.augment import AugmentConfig
from .config import FinetuneConfig, TrainingError
from .events import TrainEvent, TrainSummary
from .job import FilePairs, FinetuneSpec, Planes, finetune_job, run_finetune, run_job
from .loop import finetune

__all__ = [
    "AugmentConfig",
    "FilePairs",
    "FinetuneConfig",
    "FinetuneSpec",
    "Planes",
    "TrainEvent",
    "TrainSummary",
    "TrainingError",
    "finetune",
    "finetune_job",
    "run_finetune",
    "run_job",
]
