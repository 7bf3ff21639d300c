"""The neural models: LiteMedSAM (the foundation-model baseline) and MobileUNet.

Importing this package is light: torch is imported only when a model is used. The names
below are resolved on first access.

>>> from classicseg.models import LiteMedSAM      # doctest: +SKIP
>>> model = LiteMedSAM.load()                       # doctest: +SKIP
"""

from __future__ import annotations

import importlib

_LAZY = {
    "LiteMedSAM": ".litemedsam",
    "litemedsam_weights_path": ".weights",
    "MobileUNet": ".mobileunet",
    "MobileUNetSegmenter": ".mobileunet",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
