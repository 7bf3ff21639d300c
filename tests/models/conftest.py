"""Shared fixtures of the model tests."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty ``$CLASSICSEG_CACHE`` holding only a copy of the current cache's ONNX export
    (when there is one), so verdicts are measured afresh without a second export."""
    from classicseg.models.litemedsam import onnx_backend
    from classicseg.models.litemedsam.weights import verify_litemedsam_weights

    _, sha = verify_litemedsam_weights()
    src = onnx_backend.model_dir(sha)
    monkeypatch.setenv(onnx_backend.ENV_CACHE, str(tmp_path))
    dst = onnx_backend.model_dir(sha)
    dst.mkdir(parents=True)
    for p in onnx_backend.onnx_paths(sha):
        if (src / p.name).is_file():
            shutil.copy(src / p.name, dst / p.name)
    return dst
