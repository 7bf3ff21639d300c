"""Sample cases for every modality: real images shipped in installable packages, and
synthetic phantoms with exact ground truth (always labelled synthetic).

>>> from classicseg import samples
>>> info = {s.name: s for s in samples.list()}["microscopy-two-channel"]
>>> info.modality, info.synthetic, info.variant
('Microscopy', True, 'two-channel')

* :func:`list` -- :class:`SampleInfo` for every sample (modality, real/synthetic, ground
  truth, licence, source, what it teaches).
* :func:`load` -- a validated :class:`~classicseg.io.Case` (``seed=`` and ``hard=`` for
  phantoms).
* :func:`write` -- challenge ``.npz`` pairs (``imgs/`` + ``gts/``) and ``MANIFEST.tsv``.
* :func:`gallery_figure` -- one matplotlib figure with every sample, its boxes and labels.
* :func:`fetch_cases` -- real challenge cases from the Hugging Face hub (online users);
  :func:`find_real_cases` -- a folder of such cases for a notebook, or how to get them
  (:mod:`classicseg.samples.fetch`).
"""

from .fetch import FetchError, fetch_cases, find_real_cases
from .real import INSTALL_HINT, SampleDataUnavailable
from .registry import DEFAULT_SET, SampleInfo, file_name, get_info, load, write
from .registry import list_samples as list  # noqa: A001 - the agreed API name

__all__ = ["SampleInfo", "list", "get_info", "load", "write", "file_name", "gallery_figure",
           "DEFAULT_SET", "SampleDataUnavailable", "INSTALL_HINT", "fetch_cases",
           "find_real_cases", "FetchError"]


def gallery_figure(names=None, **kwargs):
    """Figure of samples with boxes and ground truth.

    See :func:`classicseg.samples.gallery.gallery_figure`.
    """
    from .gallery import gallery_figure as _gallery

    return _gallery(names, **kwargs)


def load_directory(path, *, gt_dir=None, errors: str = "raise", modality: str | None = None,
                   allow_extra_keys: bool = False):
    """Deprecated: use :func:`classicseg.io.iter_cases` (same arguments); removed in 0.3."""
    import warnings

    from ..io import iter_cases

    warnings.warn("classicseg.samples.load_directory moved to classicseg.io.iter_cases; "
                  "the old name goes away in classicseg 0.3", DeprecationWarning, stacklevel=2)
    return iter_cases(path, gt_dir, errors=errors, modality=modality,
                      allow_extra_keys=allow_extra_keys)
