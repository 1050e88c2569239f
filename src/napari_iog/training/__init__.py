"""Few-shot fine-tuning: ``FinetuneConfig``, losses, the generator loop (cancel, checkpoints).

Importing this package does not import torch; the loop imports it when it runs.
"""

from .config import FinetuneConfig, TrainingError
from .events import TrainEvent, TrainSummary
from .loop import finetune, run_finetune

__all__ = [
    "FinetuneConfig",
    "TrainEvent",
    "TrainSummary",
    "TrainingError",
    "finetune",
    "run_finetune",
]
