"""Few-shot fine-tuning: ``FinetuneConfig``, losses, the generator loop (cancel, checkpoints).

Importing this package does not import torch; the loop imports it when it runs.
"""

from .config import FinetuneConfig, TrainingError
from .loop import TrainEvent, TrainSummary, finetune, run_finetune

__all__ = [
    "FinetuneConfig",
    "TrainEvent",
    "TrainSummary",
    "TrainingError",
    "finetune",
    "run_finetune",
]
