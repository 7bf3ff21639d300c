"""classicseg -- classical interactive segmentation next to LiteMedSAM.

Importing the package is fast and never imports torch: the models (``classicseg.models``)
and widgets (``classicseg.widgets``) are imported on use.

>>> import classicseg, sys
>>> "torch" in sys.modules  # doctest: +SKIP
False
"""

from .io import MODALITIES, Case, load_case, iter_cases, save_prediction, load_prediction
from .result import SegmentationResult

__version__ = "0.1.0"
__all__ = ["MODALITIES", "Case", "load_case", "iter_cases", "save_prediction", "load_prediction",
           "SegmentationResult", "__version__"]
