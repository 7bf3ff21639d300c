"""The neural models: LiteMedSAM (the foundation-model baseline) and MobileUNet.

Importing this package is light: torch is imported only when a model is used.

- :mod:`.litemedsam` -- LiteMedSAM (network, torch-free geometry, predictor, backends, weights)
- :mod:`.mobileunet` -- MobileUNet specialists (network, segmenter, training, weights)
- :mod:`.preprocess` -- the shared 256-px resize / pad / normalise (OpenCV, torch-free)
- :mod:`.device`, :mod:`.checksum` -- device choice; the one weights error and checksum

>>> from classicseg.models import LiteMedSAM      # doctest: +SKIP
>>> model = LiteMedSAM.load()                       # doctest: +SKIP
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__, submodules=["litemedsam", "mobileunet"], submod_attrs={
        "litemedsam": ["LiteMedSAM", "litemedsam_weights_path"],
        "mobileunet": ["MobileUNet", "MobileUNetSegmenter"],
        "checksum": ["WeightsError"],
    })
