"""The vendored LiteMedSAM parity vectors (tests/data/README.md), shared by the model tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

VECTORS = Path(__file__).resolve().parents[1] / "data" / "litemedsam_vectors.npz"
CASES_2D = ["c1_coins", "c2_retina", "c3_phantom", "c4_coins_nonsquare", "c5_coins_tinybox"]
CASES_3D = ["c6_3d", "c7_3d_extra_asym"]


def load_vectors() -> dict:
    with np.load(VECTORS, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def dice(a, b) -> float:
    """Dice of two masks; 1.0 when both are empty (the official masks may be)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    s = a.sum() + b.sum()
    return 1.0 if s == 0 else 2.0 * (a & b).sum() / s
