"""LiteMedSAM: the genuine weights, the official inference, faster.

One idea per module (as in segment-anything):

- :mod:`.geometry` -- the 256 frame, prompt boxes, slice walks (torch-free)
- :mod:`.slice_selection` -- which slices of a 3D box get a pass: uniform s, or adaptive
- :mod:`.net` -- the network (TinyViT + SAM prompt encoder / mask decoder) and its eager runner
- :mod:`.tiny_vit`, :mod:`.sam_modules` -- the encoder and Meta's decoder modules
- :mod:`.predictor` -- :class:`LiteMedSAM`, the box-prompted predictor (2D and 3D)
- :mod:`.onnx_backend`, :mod:`.openvino_backend` -- the ONNX Runtime and OpenVINO runners
  (torch-free once the ONNX export is cached)
- :mod:`.embedding_cache` -- encode once, prompt many (:class:`EmbeddingCache`)
- :mod:`.backends` -- which backend ``backend="auto"`` takes, and the parity verdicts
- :mod:`.weights` -- finding, verifying and loading ``lite_medsam.pth``

Importing this package is light; torch loads only for ``backend="torch"`` or to export the
ONNX files once.

>>> from classicseg.models.litemedsam import LiteMedSAM   # doctest: +SKIP
>>> LiteMedSAM.load().segment(image, boxes)               # doctest: +SKIP
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(__name__, submod_attrs={
    "predictor": ["LiteMedSAM", "Prepared"],
    "net": ["LiteMedSAMNet"],
    "geometry": ["SIZE", "BOX_SHIFT", "scale_boxes_256", "box_from_mask_256", "middle_slice",
                 "slice_plan", "context_window"],
    "slice_selection": ["SlicePlan", "parse_slice_plan", "adaptive_walk"],
    "embedding_cache": ["EmbeddingCache"],
    "weights": ["litemedsam_weights_path", "load_litemedsam_state_dict", "LITEMEDSAM_SHA256"],
})
