"""Meta's official SAM prompt encoder and mask decoder, imported without torchvision.

``segment_anything/__init__.py`` imports its predictor, which imports torchvision -- and
torchvision fails to import beside a CPU-only torch on some set-ups. The model classes we
need (``segment_anything.modeling``: PromptEncoder, MaskDecoder, TwoWayTransformer,
LayerNorm2d) are pure torch, so we load that sub-package directly from the installed
files under a private module name, without running the package ``__init__``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["sam_modeling"]

_ALIAS = "classicseg.models._segment_anything_modeling"


def sam_modeling() -> ModuleType:
    """Return segment-anything's ``modeling`` sub-package (imported once, then cached).

    Raises
    ------
    ImportError
        If the ``segment-anything`` distribution is not installed.
    """
    for name in ("segment_anything.modeling", _ALIAS):  # already fully imported somewhere?
        if name in sys.modules:
            return sys.modules[name]
    spec = importlib.util.find_spec("segment_anything")  # locates; does not execute __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("LiteMedSAM needs Meta's segment-anything package: "
                          "pip install 'segment-anything>=1.0'")
    folder = Path(next(iter(spec.submodule_search_locations))) / "modeling"
    sub = importlib.util.spec_from_file_location(_ALIAS, folder / "__init__.py",
                                                 submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(sub)
    sys.modules[_ALIAS] = module
    try:
        sub.loader.exec_module(module)
    except BaseException:
        del sys.modules[_ALIAS]
        raise
    return module
