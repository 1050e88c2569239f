"""napari-iog: Inside-Outside Guidance interactive segmentation for napari.

Importing this package imports neither torch nor Qt; submodules load them lazily.
"""

__version__ = "0.1.0"
