"""Inference: numpy images and Prompts in, MaskResults out (napari-free).

Importing this package does not import torch; ``IOGPredictor`` loads it when it is built.

- ``Predictor`` / ``PromptPredictor`` - the declared predictor interface (``inference.interface``).
- ``IOGPredictor`` - the IOG network (``set_image``, ``predict``, ``refine``, ``predict_batch``).
- ``RandomWalkerPredictor``, ``BoxFillPredictor`` - classical baselines (no deep learning).
- ``make_network_input`` - the one place that builds the 5-channel input and click maps.
- ``to_network_rgb`` / ``ImageError`` - image conversion and its errors.
- ``NonFiniteOutputError`` - NaN/inf probabilities (broken weights), never an empty mask.
- ``paste_labels`` - the label-image edit of a commit (for ``Labels.data_setitem``).
"""

from .classical import BoxFillPredictor, RandomWalkerPredictor
from .image import ImageError, NetworkImage, to_network_rgb
from .interface import Predictor, PromptPredictor
from .postprocess import COMMIT_MODES, LabelEdit, NonFiniteOutputError, paste_labels
from .predictor import IOGPredictor, PredictorStateError
from .transforms import CropTransform, NetworkInput, make_network_input

__all__ = [
    "COMMIT_MODES",
    "BoxFillPredictor",
    "CropTransform",
    "IOGPredictor",
    "ImageError",
    "LabelEdit",
    "NetworkImage",
    "NetworkInput",
    "NonFiniteOutputError",
    "Predictor",
    "PredictorStateError",
    "PromptPredictor",
    "RandomWalkerPredictor",
    "make_network_input",
    "paste_labels",
    "to_network_rgb",
]
