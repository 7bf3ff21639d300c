"""MobileUNet: the paper's small trained specialist (one idea per module).

- :mod:`.net` -- the architecture (MobileNetV2 encoder, transposed-conv decoder) and checkpoint
  loading
- :mod:`.segmenter` -- :class:`MobileUNetSegmenter`, box-prompted inference
- :mod:`.train` -- the training loop behind ``classicseg train mobileunet``
- :mod:`.weights` -- where weights and model cards live and how they are verified (torch-free)

Importing this package is light; torch loads when a model is first used.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(__name__, submod_attrs={
    "net": ["MobileUNet", "InvertedResidual", "count_parameters", "load_checkpoint",
            "REFERENCE_PARAMETERS", "INPUT_SIZE", "ENCODER_STAGES"],
    "segmenter": ["MobileUNetSegmenter"],
    "weights": ["SHIPPED_MODALITIES", "WeightsNotFoundError", "mobileunet_weights_path",
                "weights_dir"],
})
