"""The LiteMedSAM network: TinyViT encoder + SAM prompt encoder and mask decoder.

Parameter names match ``lite_medsam.pth`` (``image_encoder.*``, ``prompt_encoder.*``,
``mask_decoder.*``) so the genuine checkpoint loads with ``strict=True``. Torch only: the
network, its eager runner and its one-off ONNX export. The geometry around it lives in
:mod:`.geometry`, the predictor (torch-free) in :mod:`.predictor`.
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

from .geometry import SIZE
from .sam_modules import sam_modeling
from .tiny_vit import TinyViT, fuse_conv_bn

__all__ = ["LiteMedSAMNet", "TorchRunner", "export_onnx_files"]


class LiteMedSAMNet(nn.Module):
    """The three parts, named as in ``lite_medsam.pth`` (``image_encoder.*``, ...)."""

    def __init__(self) -> None:
        super().__init__()
        sam = sam_modeling()
        self.image_encoder = TinyViT()
        self.prompt_encoder = sam.PromptEncoder(embed_dim=256, image_embedding_size=(64, 64),
                                                input_image_size=(SIZE, SIZE), mask_in_chans=16)
        self.mask_decoder = sam.MaskDecoder(
            num_multimask_outputs=3, transformer_dim=256, iou_head_depth=3, iou_head_hidden_dim=256,
            transformer=sam.TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048,
                                              num_heads=8))

    def decode(self, embedding: torch.Tensor, boxes: torch.Tensor, dense_pe: torch.Tensor):
        """One image embedding (1, 256, 64, 64), boxes (N, 4) in the 256 frame ->
        low-res logits (N, 1, 256, 256) and predicted IoU (N, 1)."""
        sparse, dense = self.prompt_encoder(points=None, boxes=boxes[:, None, :], masks=None)
        # segment-anything repeats the (single) image embedding once per prompt.
        return self.mask_decoder(image_embeddings=embedding, image_pe=dense_pe,
                                 sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                 multimask_output=False)


class TorchRunner:
    """Eager PyTorch execution of a loaded :class:`LiteMedSAMNet`.

    The runner protocol every backend follows (:class:`~.onnx_backend.OnnxRunner`,
    :class:`~.openvino_backend.OpenVinoRunner` work on numpy arrays instead):
    ``as_array(x)`` -> the backend's array type; ``encode`` (B, 3, 256, 256) -> (B, 256, 64, 64);
    ``decode(embedding (1, 256, 64, 64), boxes (N, 4), batch)`` -> logits (N, 256, 256) and
    IoU (N,). Everything stays a tensor on the model's device, as before the other backends
    existed, so this path is bit for bit the one the parity tests pin.
    """

    name = "torch"
    precision = "fp32"

    def __init__(self, net: LiteMedSAMNet, device: torch.device, channels_last: bool) -> None:
        self.net, self.device, self.channels_last = net, device, channels_last
        with torch.inference_mode():
            self.dense_pe = net.prompt_encoder.get_dense_pe()  # constant; official recomputes it

    def as_array(self, x) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float32).to(self.device)

    @torch.inference_mode()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net.image_encoder(x).contiguous()

    @torch.inference_mode()
    def decode(self, embedding: torch.Tensor, boxes, batch: int = 1):
        b = torch.as_tensor(np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                            device=self.device)
        logits, ious = ([torch.zeros((0, SIZE, SIZE), device=self.device)],
                        [torch.zeros((0,), device=self.device)])
        for k in range(0, len(b), batch):
            lo, iou = self.net.decode(embedding, b[k:k + batch], self.dense_pe)
            logits.append(lo[:, 0])
            ious.append(iou[:, 0])
        return torch.cat(logits), torch.cat(ious)


class _Decoder(nn.Module):
    """(embedding (1, 256, 64, 64), box (1, 4)) -> (logits (1, 1, 256, 256), iou (1, 1))."""

    def __init__(self, net) -> None:
        super().__init__()
        self.net = net
        with torch.no_grad():
            self.register_buffer("dense_pe", net.prompt_encoder.get_dense_pe())

    def forward(self, embedding: torch.Tensor, box: torch.Tensor):
        return self.net.decode(embedding, box, self.dense_pe)


def _export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str],
            opset: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx.tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python ints are expected
            torch.onnx.export(module, args, tmp, input_names=inputs, output_names=outputs,
                              opset_version=opset, dynamo=False)
        os.replace(tmp, path)  # atomic: an interrupted export never leaves a broken file
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def export_onnx_files(net: LiteMedSAMNet, enc_path: Path, dec_path: Path, *, opset: int) -> None:
    """Write the encoder (conv-BN fused) and prompt encoder + mask decoder of ``net`` as ONNX.

    The graphs take one image and one box (the exporter bakes batch sizes in). A CPU copy of
    ``net`` is exported; ``net`` itself is not changed.
    """
    cpu = copy.deepcopy(net).to("cpu").eval()
    fuse_conv_bn(cpu.image_encoder)  # no-op when already fused
    _export(cpu.image_encoder, (torch.zeros(1, 3, SIZE, SIZE),), Path(enc_path), ["image"],
            ["embedding"], opset)
    box = torch.tensor([[10.0, 10.0, 100.0, 100.0]])
    _export(_Decoder(cpu), (torch.zeros(1, 256, 64, 64), box), Path(dec_path),
            ["embedding", "box"], ["logits", "iou"], opset)
