"""Box-prompted inference with a trained MobileUNet: one 256 x 256 crop per box."""

from __future__ import annotations

import time

import numpy as np
import torch

from ...validation import InvalidInputError, check_boxes, check_rgb_image, spatial_ndim
from ..preprocess import preprocess_for_256, resize_mask_back
from .net import MobileUNet, load_checkpoint

__all__ = ["MobileUNetSegmenter"]


class MobileUNetSegmenter:
    """Box-prompted segmentation with a trained MobileUNet (one crop per box).

    Parameters
    ----------
    model : MobileUNet
    card : dict, optional
        The model card (modality, data, metrics, ...), kept for provenance.
    device : str or torch.device

    Examples
    --------
    >>> seg = MobileUNetSegmenter.load("Dermoscopy")           # doctest: +SKIP
    >>> res = seg.segment(case.image, case.boxes)              # doctest: +SKIP
    >>> res.segs.shape == case.image.shape[:2]                 # doctest: +SKIP
    True
    """

    method = "mobileunet"

    def __init__(self, model: MobileUNet, *, card: dict | None = None, device="cpu"):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.card = dict(card or {})

    @classmethod
    def load(cls, modality_or_path, *, device="cpu") -> "MobileUNetSegmenter":
        """Shipped weights for ``"Dermoscopy"``, ``"Mammography"`` or ``"OCT"``, or a ``.pt`` path.

        Raises :class:`WeightsError` when the file or its model card is missing or the
        SHA-256 differs from the card's.
        """
        model, card = load_checkpoint(modality_or_path, device=device)
        return cls(model, card=card, device=device)

    @torch.no_grad()
    def predict_logits(self, batch: np.ndarray) -> np.ndarray:
        """(B, 256, 256, 3) float32 inputs -> (B, 256, 256) float32 logits."""
        x = torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))).to(self.device)
        return self.model(x)[:, 0].float().cpu().numpy()

    def segment(self, image, boxes, *, postprocess: str = "full", batch_size: int = 8):
        """Segment every box of a 2D image.

        Parameters
        ----------
        image : (H, W, 3) or (H, W) array
            Any real dtype: each box crop is min-max normalised (as in training).
        boxes : (N, 4) int ``[x0, y0, x1, y1]``, inclusive maxima
            Checked by :func:`classicseg.validation.check_boxes` (inside the image).
        postprocess : {"full", "lcc", "box", "none"}
            Paper: ``"full"`` (largest connected component + hole filling per box); the box
            filter always holds since only the crop is painted. See
            :mod:`classicseg.methods.postprocess`.
        batch_size : int
            Box crops per forward pass.

        Returns
        -------
        SegmentationResult
            ``method="mobileunet"``; each box's ``seconds`` is its share of the batch time
            plus its own pre/post-processing; ``extra["postprocess"]`` is the mode that ran.
        """
        from ...boxes import box_slices
        from ...methods._common import start_result
        from ...methods.postprocess import apply_postprocess, parse_postprocess

        postprocess = parse_postprocess(postprocess)
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if spatial_ndim(image, boxes) == 3:
            raise InvalidInputError("MobileUNet segments 2D images: image must be (H, W, 3) or "
                                    "(H, W) with (N, 4) boxes")
        image = check_rgb_image(image)
        boxes = check_boxes(boxes, image.shape[:2])
        if image.ndim == 2:  # grayscale: the network takes three channels
            image = np.repeat(image[:, :, None], 3, axis=2)
        res, t_case = start_result(image.shape[:2], boxes, "MobileUNet")
        reason = (f"{self.card.get('modality', 'trained')} specialist "
                  f"(MobileUNet, width {self.model.width:g})")
        for start in range(0, len(boxes), int(batch_size)):
            idx = range(start, min(start + int(batch_size), len(boxes)))
            t0 = time.perf_counter()
            where = [box_slices(boxes[i]) for i in idx]
            prepped = [preprocess_for_256(image[w]) for w in where]
            logits = self.predict_logits(np.stack([p[0] for p in prepped]))
            shared = (time.perf_counter() - t0) / len(idx)
            for k, i in enumerate(idx):
                t1 = time.perf_counter()
                crop_hw = image[where[k]].shape[:2]
                mask = resize_mask_back(logits[k], prepped[k][1], crop_hw) > 0  # sigmoid > 0.5
                mask = apply_postprocess(mask, postprocess)
                res.add_box(i, mask, where[k], method=self.method, reason=reason,
                            seconds=shared + time.perf_counter() - t1, postprocess=postprocess)
        res.seconds = time.perf_counter() - t_case
        return res
