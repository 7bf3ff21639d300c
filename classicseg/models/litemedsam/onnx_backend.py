"""ONNX Runtime execution of LiteMedSAM (``LiteMedSAM.load(backend="onnx")``), torch-free.

The encoder (conv-BN fused) and the prompt encoder + mask decoder are exported once with
``torch.onnx.export`` (the TorchScript-based exporter, ``dynamo=False``) and cached as
``<cache>/litemedsam/<sha256 of the weights>/{encoder,decoder}-opset<N>.onnx``, where
``<cache>`` is ``$CLASSICSEG_CACHE`` or ``~/.cache/classicseg``. The exported graphs have
a fixed batch of one image and one box (the exporter bakes batch sizes in; the CPU gains
nothing from batching anyway). Files are written atomically, so an interrupted export
never leaves a broken cache entry.

Only the export needs torch; with the files cached, :class:`OnnxRunner` runs on numpy
arrays and this module never imports torch. The thread pool follows
:func:`classicseg.models.device.num_threads` (re-read on every call): ``torch.set_num_threads``
when torch is loaded, else ``$OMP_NUM_THREADS`` / ``classicseg.pipeline.threads.set_threads``.

Examples
--------
>>> from classicseg.models.litemedsam.onnx_backend import onnx_paths
>>> [p.name for p in onnx_paths("ab12")]
['encoder-opset17.onnx', 'decoder-opset17.onnx']
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..device import num_threads

__all__ = ["GraphRunner", "cache_dir", "onnx_paths", "export_onnx", "OnnxRunner", "OPSET"]

OPSET = 17
ENV_CACHE = "CLASSICSEG_CACHE"


def cache_dir() -> Path:
    """Root of classicseg's cache: ``$CLASSICSEG_CACHE`` or ``~/.cache/classicseg``."""
    root = os.environ.get(ENV_CACHE)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "classicseg"


def model_dir(sha256: str) -> Path:
    """The cache folder of one checkpoint: ``<cache>/litemedsam/<sha256>``."""
    return cache_dir() / "litemedsam" / sha256


def onnx_paths(sha256: str) -> tuple[Path, Path]:
    """Where the encoder and decoder ONNX files of the weights ``sha256`` are cached
    (whether or not they exist yet)."""
    folder = model_dir(sha256)
    return folder / f"encoder-opset{OPSET}.onnx", folder / f"decoder-opset{OPSET}.onnx"


def onnx_cached(sha256: str) -> bool:
    """True if both ONNX files of the weights ``sha256`` are in the cache."""
    return all(p.is_file() for p in onnx_paths(sha256))


def export_onnx(net, sha256: str, *, force: bool = False) -> tuple[Path, Path]:
    """Export (or find in the cache) the encoder and decoder ONNX files for ``net``.

    Parameters
    ----------
    net : LiteMedSAMNet
        The loaded network (any device; a CPU copy is exported). Needs torch.
    sha256 : str
        SHA-256 of the weights, the cache key.
    force : bool
        Export again even if cached files exist.
    """
    enc_path, dec_path = onnx_paths(sha256)
    if force or not onnx_cached(sha256):
        from .net import export_onnx_files  # torch: only to export, once

        export_onnx_files(net, enc_path, dec_path, opset=OPSET)
    return enc_path, dec_path


class GraphRunner:
    """What the ONNX Runtime and OpenVINO runners share: numpy in and out, one image per
    encoder call and one box per decoder call (the exported graphs have batch 1), and a
    re-open when the thread setting changes. Subclasses give ``_open`` (which sets
    ``_threads``), ``_encode_one`` and ``_decode_one``."""

    name = ""
    precision = "fp32"

    def _open(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode_one(self, x1: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _decode_one(self, emb: np.ndarray, box1: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_threads(self) -> None:
        if num_threads() != self._threads:  # the thread setting changed since we opened
            self._open()

    @staticmethod
    def as_array(x) -> np.ndarray:
        return np.asarray(x, dtype=np.float32)

    def encode(self, x: np.ndarray) -> np.ndarray:
        self._check_threads()
        return np.concatenate([self._encode_one(np.ascontiguousarray(xi[None])) for xi in x])

    def decode(self, embedding: np.ndarray, boxes, batch: int = 1):
        self._check_threads()
        emb = np.ascontiguousarray(embedding, dtype=np.float32)
        logits, ious = [np.zeros((0, 256, 256), np.float32)], [np.zeros((0,), np.float32)]
        for box in np.asarray(boxes, dtype=np.float32).reshape(-1, 4):
            lo, iou = self._decode_one(emb, np.ascontiguousarray(box[None]))
            logits.append(lo[:, 0])
            ious.append(iou[:, 0])
        return np.concatenate(logits), np.concatenate(ious)


class OnnxRunner(GraphRunner):
    """Encoder/decoder calls through ONNX Runtime sessions (CPU), on numpy arrays.

    Parameters
    ----------
    paths : (encoder path, decoder path)
        The cached ONNX files (:func:`onnx_paths`).
    """

    name = "onnx"

    def __init__(self, paths) -> None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise ImportError("backend='onnx' needs onnxruntime: "
                              "pip install 'classicseg[onnx]'") from exc
        self.paths = tuple(Path(p) for p in paths)
        self._threads = None
        self._sessions = None
        self._open()

    def _open(self) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle workers sleep instead of spinning: on a shared or busy CPU (notebooks, Dask
        # workers) spinning threads steal the cores the other threads need.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # MatMul+Add -> Gemm fusion made the encoder ~7% slower here (MLAS Gemm on 2D views
        # of the 3D token tensors); keep MatMul and a separate bias Add.
        self._sessions = [ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"],
                                               disabled_optimizers=["MatMulAddFusion"])
                          for p in self.paths]
        self._threads = opts.intra_op_num_threads

    def _encode_one(self, x1: np.ndarray) -> np.ndarray:
        return self._sessions[0].run(None, {"image": x1})[0]

    def _decode_one(self, emb: np.ndarray, box1: np.ndarray):
        lo, iou = self._sessions[1].run(None, {"embedding": emb, "box": box1})
        return lo, iou
