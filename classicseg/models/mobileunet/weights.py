"""Where MobileUNet weights live and how they are checked -- without importing torch.

The shipped weights sit in ``weights/`` at the repository root (not inside the package):
``mobileunet_<modality>.pt`` (the ``state_dict`` only) beside ``mobileunet_<modality>.json``
(the model card: architecture, data, seed, metrics and the file's SHA-256). Set
``CLASSICSEG_WEIGHTS_DIR`` to use another folder.

Examples
--------
>>> mobileunet_weights_path("Dermoscopy").name            # doctest: +SKIP
'mobileunet_dermoscopy.pt'
>>> mobileunet_weights_path("CT")  # doctest: +NORMALIZE_WHITESPACE
Traceback (most recent call last):
...
classicseg.models.mobileunet.weights.WeightsNotFoundError: no shipped MobileUNet for 'CT';
shipped: ('Dermoscopy', 'Mammography', 'OCT'); pass a path to your own .pt instead
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..checksum import WeightsError, sha256_file

__all__ = ["SHIPPED_MODALITIES", "WeightsError", "WeightsNotFoundError", "weights_dir",
           "mobileunet_weights_path", "resolve_weights", "sha256_file", "read_verified_card",
           "trained_on_real", "default_weights_status"]

#: Modalities with shipped (synthetic-phantom) MobileUNet weights.
SHIPPED_MODALITIES = ("Dermoscopy", "Mammography", "OCT")


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """A weights file or its model card is missing."""


def weights_dir() -> Path:
    """Folder of the shipped weights: ``$CLASSICSEG_WEIGHTS_DIR``, else ``<repo>/weights``."""
    env = os.environ.get("CLASSICSEG_WEIGHTS_DIR")
    if env:
        return Path(env)
    import classicseg
    return Path(classicseg.__file__).resolve().parents[1] / "weights"


def mobileunet_weights_path(modality: str) -> Path:
    """Path of the shipped weights for ``modality`` (case-insensitive); raises if not installed."""
    by_name = {m.lower(): m for m in SHIPPED_MODALITIES}
    canon = by_name.get(str(modality).lower())
    if canon is None:
        raise WeightsNotFoundError(f"no shipped MobileUNet for {modality!r}; "
                                   f"shipped: {SHIPPED_MODALITIES}; "
                                   "pass a path to your own .pt instead")
    folder = weights_dir()
    pt = folder / f"mobileunet_{canon.lower()}.pt"
    if not pt.is_file():
        raise WeightsNotFoundError(
            f"no MobileUNet weights for {canon}: {pt} is missing (weights folder: {folder}; set "
            "CLASSICSEG_WEIGHTS_DIR to point elsewhere, or train your own with "
            "`classicseg train mobileunet`)")
    return pt


def resolve_weights(modality_or_path) -> tuple[Path, Path]:
    """``(weights .pt, model card .json)`` for a shipped modality name or a path to either file."""
    key = str(modality_or_path)
    if not Path(key).suffix and key.lower() in {m.lower() for m in SHIPPED_MODALITIES}:
        pt = mobileunet_weights_path(key)
    else:
        pt = Path(modality_or_path)
        if pt.suffix == ".json":
            pt = pt.with_suffix(".pt")
        if not pt.is_file():
            raise WeightsNotFoundError(f"{pt}: weights file not found "
                                       f"(pass one of {SHIPPED_MODALITIES} "
                                       "or a path to a .pt file)")
    card = pt.with_suffix(".json")
    if not card.is_file():
        raise WeightsNotFoundError(f"{card}: model card missing; it holds the architecture and the "
                                   f"SHA-256 that {pt.name} is checked against")
    return pt, card


def read_verified_card(pt, card_path) -> dict:
    """The model card, after checking that ``pt``'s SHA-256 equals the card's."""
    try:
        card = json.loads(Path(card_path).read_text())
    except (OSError, ValueError) as e:
        raise WeightsError(f"{card_path}: unreadable model card ({e})") from None
    expected = card.get("sha256") if isinstance(card, dict) else None
    if not expected:
        raise WeightsError(f"{card_path}: no 'sha256' entry")
    actual = sha256_file(pt)
    if actual != expected:
        raise WeightsError(f"{pt}: SHA-256 {actual} does not match its model card ({expected}); "
                           "the file is corrupt, half-written or replaced")
    return card


def trained_on_real(card: dict, modality: str) -> tuple[bool, str]:
    """Whether a model card says its network was trained on **real** images of ``modality``.

    Only such weights may be a default on a user's images (docs/real-data.md): the card's
    ``modality`` must match and its ``data`` must name a folder of files whose manifest does
    not flag them synthetic (``data.kind == "directory"``, ``data.synthetic`` is False).
    A card that says nothing about its data counts as synthetic -- the safe answer.

    Returns
    -------
    (bool, str)
        The verdict and a short reason (recorded by the router).

    Examples
    --------
    >>> trained_on_real({"modality": "Dermoscopy", "data": {"kind": "sample", "synthetic": True,
    ...                  "source": "dermoscopy-lesion"}}, "Dermoscopy")
    (False, 'trained on synthetic phantoms (dermoscopy-lesion)')
    >>> trained_on_real({"modality": "Dermoscopy", "data": {"kind": "directory",
    ...                  "synthetic": False, "n_images": 120}}, "Dermoscopy")[0]
    True
    """
    if not isinstance(card, dict):
        return False, "model card is not a JSON object"
    if str(card.get("modality", "")).lower() != str(modality).lower():
        return False, f"model card is for {card.get('modality')!r}, not {modality}"
    data = card.get("data")
    if not isinstance(data, dict) or data.get("synthetic") is not False:
        src = data.get("source", "unknown data") if isinstance(data, dict) else "unknown data"
        return False, f"trained on synthetic phantoms ({src})"
    if data.get("kind") != "directory":
        return False, f"training data of kind {data.get('kind')!r} is not a folder of real images"
    n = data.get("n_images", "?")
    return True, f"trained on {n} real {modality} images ({data.get('source')})"


def default_weights_status(modality: str) -> tuple[bool, str]:
    """``(usable as the router's default, why)`` for the installed MobileUNet of ``modality``.

    Reads the model card only (no torch, no hashing: :func:`read_verified_card` checks the
    hash when the weights are really loaded).
    """
    try:
        pt = mobileunet_weights_path(modality)
    except WeightsError:
        return False, f"no MobileUNet weights for {modality} are installed"
    card = pt.with_suffix(".json")
    try:
        data = json.loads(card.read_text())
    except (OSError, ValueError):
        return False, f"{card.name}: model card missing or unreadable"
    ok, why = trained_on_real(data, modality)
    return ok, f"{pt.name}: {why}"
