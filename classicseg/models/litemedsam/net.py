"""The LiteMedSAM network: TinyViT encoder + SAM prompt encoder and mask decoder.

Parameter names match ``lite_medsam.pth`` (``image_encoder.*``, ``prompt_encoder.*``,
``mask_decoder.*``) so the genuine checkpoint loads with ``strict=True``. Torch only; the
geometry around it lives in :mod:`.geometry`, the predictor in :mod:`.predictor`.
"""

from __future__ import annotations

import torch
from torch import nn

from .geometry import SIZE
from .sam_modules import sam_modeling
from .tiny_vit import TinyViT

__all__ = ["LiteMedSAMNet", "TorchRunner"]


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
    """Eager PyTorch execution of a loaded :class:`LiteMedSAMNet`."""

    name = "torch"

    def __init__(self, net: LiteMedSAMNet, device: torch.device, channels_last: bool) -> None:
        self.net, self.device, self.channels_last = net, device, channels_last
        with torch.inference_mode():
            self.dense_pe = net.prompt_encoder.get_dense_pe()  # constant; official recomputes it

    @torch.inference_mode()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net.image_encoder(x).contiguous()

    @torch.inference_mode()
    def decode(self, embedding: torch.Tensor, boxes: torch.Tensor):
        return self.net.decode(embedding, boxes, self.dense_pe)
