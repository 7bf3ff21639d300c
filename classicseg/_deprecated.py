"""The 0.1 module paths, kept importable for one release (removed in 0.3).

The 0.2 redesign moved modules into rooms that say what they are (``docs/architecture.md``).
Old imports such as ``from classicseg.pipeline import lessons`` keep working through one
import hook with one table, :data:`MOVED`: the old module is a thin alias whose attributes
resolve to the new homes with a :class:`DeprecationWarning` naming the new place. No old
file is left in the package.

>>> import warnings
>>> with warnings.catch_warnings(record=True) as w:
...     warnings.simplefilter("always")
...     from classicseg.pipeline.gallery import spearman
>>> spearman.__module__, w[-1].category.__name__
('classicseg.analysis.failures', 'DeprecationWarning')
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

__all__ = ["MOVED", "new_home", "install"]

#: old module -> new module (every name moved with it), or -> {name: new module}.
MOVED: dict[str, str | dict[str, str]] = {
    "classicseg.pipeline.lessons": {
        **dict.fromkeys(["tolerant_area_overlap", "shifted", "per_box_dice", "subsampling_sweep",
                         "box_values", "threshold_study", "subset_case", "per_box_table",
                         "scaled_boxes"], "classicseg.analysis.studies"),
        **dict.fromkeys(["ellipse_result", "skull_ellipse", "ellipse_agreement"],
                        "classicseg.methods.ellipse"),
        **dict.fromkeys(["relabel_result", "postprocessed"], "classicseg.methods.postprocess"),
        "interpolate_from_slices": "classicseg.methods.interpolation",
        "threshold_panel": "classicseg.viz",
    },
    "classicseg.pipeline.gallery": "classicseg.analysis.failures",
    "classicseg.pipeline.evaluate": "classicseg.evaluation.evaluate",
    "classicseg.pipeline.compare": "classicseg.evaluation.compare",
    "classicseg.models.tiny_vit": "classicseg.models.litemedsam.tiny_vit",
    "classicseg.models.sam_modules": "classicseg.models.litemedsam.sam_modules",
    "classicseg.models.onnx_backend": "classicseg.models.litemedsam.onnx_backend",
    "classicseg.models.weights": "classicseg.models.litemedsam.weights",
    "classicseg.models.mobileunet_weights": "classicseg.models.mobileunet.weights",
    "classicseg.models.mobileunet_train": "classicseg.models.mobileunet.train",
    "classicseg.samples.userdata": {"load_directory": "classicseg.samples",
                                    "load_case_2025": "classicseg.io",
                                    "boxes_from_2025": "classicseg.io_cvpr2025",
                                    "manifest_synthetic_flags": "classicseg.io"},
}


def new_home(old_module: str, name: str) -> str:
    """The module that now holds ``old_module.name``."""
    target = MOVED[old_module]
    if isinstance(target, str):
        return target
    if name not in target:
        raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
    return target[name]


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old module names (and only those) and builds their alias modules."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None  # a plain module object

    def exec_module(self, module):
        old = module.__name__

        def __getattr__(name):
            if name.startswith("_"):
                raise AttributeError(name)
            where = new_home(old, name)
            warnings.warn(f"{old}.{name} moved to {where}.{name}; "
                          "the old path goes away in classicseg 0.3",
                          DeprecationWarning, stacklevel=2)
            return getattr(importlib.import_module(where), name)

        module.__getattr__ = __getattr__
        module.__doc__ = f"Deprecated alias (classicseg 0.1 layout); see {MOVED[old]!r}."


_FINDER = _Alias()


def install() -> None:
    """Register the alias finder (last on ``sys.meta_path``: real modules always win)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)
