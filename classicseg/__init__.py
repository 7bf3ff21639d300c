"""classicseg -- classical interactive segmentation next to LiteMedSAM.

Importing the package is fast and never imports torch: the models (``classicseg.models``)
and widgets (``classicseg.widgets``) are imported on use.

>>> import classicseg, sys
>>> "torch" in sys.modules  # doctest: +SKIP
False
"""

from . import _deprecated
from .io import MODALITIES, Case, iter_cases, load_case, load_prediction, save_prediction
from .result import SegmentationResult

_deprecated.install()  # the 0.1 module paths stay importable for one release

__version__ = "0.1.0"
__all__ = ["MODALITIES", "Case", "load_case", "iter_cases", "save_prediction", "load_prediction",
           "SegmentationResult", "__version__"]
