"""ONNX Runtime execution of LiteMedSAM (``LiteMedSAM.load(backend="onnx")``).

The encoder (conv-BN fused) and the prompt encoder + mask decoder are exported once with
``torch.onnx.export`` (the TorchScript-based exporter, ``dynamo=False``) and cached as
``<cache>/litemedsam/<sha256 of the weights>/{encoder,decoder}-opset<N>.onnx``, where
``<cache>`` is ``$CLASSICSEG_CACHE`` or ``~/.cache/classicseg``. The exported graphs have
a fixed batch of one image and one box (the exporter bakes batch sizes in; the CPU gains
nothing from batching anyway). Files are written atomically, so an interrupted export
never leaves a broken cache entry.

ONNX Runtime's thread pool follows ``torch.get_num_threads()`` (re-read on every call),
so ``torch.set_num_threads`` governs both backends.
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..device import num_threads
from .tiny_vit import fuse_conv_bn

__all__ = ["cache_dir", "export_onnx", "OnnxRunner"]

OPSET = 17
ENV_CACHE = "CLASSICSEG_CACHE"


def cache_dir() -> Path:
    """Root of classicseg's cache: ``$CLASSICSEG_CACHE`` or ``~/.cache/classicseg``."""
    root = os.environ.get(ENV_CACHE)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "classicseg"


class _Decoder(nn.Module):
    """(embedding (1, 256, 64, 64), box (1, 4)) -> (logits (1, 1, 256, 256), iou (1, 1))."""

    def __init__(self, net) -> None:
        super().__init__()
        self.net = net
        with torch.no_grad():
            self.register_buffer("dense_pe", net.prompt_encoder.get_dense_pe())

    def forward(self, embedding: torch.Tensor, box: torch.Tensor):
        return self.net.decode(embedding, box, self.dense_pe)


def _export(module: nn.Module, args: tuple, path: Path, inputs: list[str],
            outputs: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx.tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python ints are expected
            torch.onnx.export(module, args, tmp, input_names=inputs, output_names=outputs,
                              opset_version=OPSET, dynamo=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def export_onnx(net, sha256: str, *, force: bool = False) -> tuple[Path, Path]:
    """Export (or find in the cache) the encoder and decoder ONNX files for ``net``.

    Parameters
    ----------
    net : LiteMedSAMNet
        The loaded network (any device; a CPU copy is exported).
    sha256 : str
        SHA-256 of the weights, the cache key.
    force : bool
        Export again even if cached files exist.
    """
    folder = cache_dir() / "litemedsam" / sha256
    enc_path = folder / f"encoder-opset{OPSET}.onnx"
    dec_path = folder / f"decoder-opset{OPSET}.onnx"
    if force or not enc_path.is_file() or not dec_path.is_file():
        cpu = copy.deepcopy(net).to("cpu").eval()
        fuse_conv_bn(cpu.image_encoder)  # no-op when already fused
        _export(cpu.image_encoder, (torch.zeros(1, 3, 256, 256),), enc_path, ["image"],
                ["embedding"])
        _export(_Decoder(cpu),
                (torch.zeros(1, 256, 64, 64), torch.tensor([[10.0, 10.0, 100.0, 100.0]])),
                dec_path, ["embedding", "box"], ["logits", "iou"])
    return enc_path, dec_path


class OnnxRunner:
    """Encoder/decoder calls through ONNX Runtime sessions (CPU)."""

    name = "onnx"

    def __init__(self, net, sha256: str) -> None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise ImportError("backend='onnx' needs onnxruntime: "
                              "pip install 'classicseg[onnx]'") from exc
        self._net, self._sha256 = net, sha256
        self.paths = export_onnx(net, sha256)
        self._threads = None
        self._sessions = None
        try:
            self._open()
        except Exception:  # a damaged cache entry: export again once
            self.paths = export_onnx(net, sha256, force=True)
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

    def _check_threads(self) -> None:
        if num_threads() != self._threads:  # the user changed torch.set_num_threads
            self._open()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check_threads()
        enc = self._sessions[0]
        # The exported graph takes one image; run a batch image by image.
        outs = [enc.run(None, {"image": xi[None].cpu().numpy()})[0] for xi in x]
        return torch.from_numpy(np.concatenate(outs))

    def decode(self, embedding: torch.Tensor, boxes: torch.Tensor):
        self._check_threads()
        dec = self._sessions[1]
        emb = embedding.cpu().numpy()
        logits, ious = [], []
        for box in boxes.cpu().numpy().astype(np.float32):
            lo, iou = dec.run(None, {"embedding": emb, "box": box[None]})
            logits.append(lo)
            ious.append(iou)
        return torch.from_numpy(np.concatenate(logits)), torch.from_numpy(np.concatenate(ious))
