"""The torch-free inference path: numpy logits -> mask equals torch's, and with the ONNX export
cached, ``python -m classicseg run`` on a 2D case never imports torch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from parity_vectors import CASES_2D, VECTORS

from classicseg.models.litemedsam import LiteMedSAM

REPO = Path(__file__).resolve().parents[2]

# Runs the real command line in this interpreter, then reports what got imported.
WRAPPER = """
import runpy, sys, json
sys.argv = ["classicseg", "run", *sys.argv[1:]]
try:
    runpy.run_module("classicseg", run_name="__main__")
    rc = 0
except SystemExit as e:
    rc = e.code
print(json.dumps({"rc": rc, "torch": "torch" in sys.modules}))
"""


def test_numpy_logits_to_mask_matches_torch_on_the_official_logits():
    torch = pytest.importorskip("torch")
    with np.load(VECTORS) as z:
        for case in CASES_2D:
            shape = z[f"{case}_image"].shape[:2]
            new = tuple(int(v) for v in z[f"{case}_new_size_hw"])
            for lo in z[f"{case}_lowres_logits_f16"].astype(np.float32).reshape(-1, 256, 256):
                mine = LiteMedSAM.logits_to_mask(lo, new, shape)
                ref = LiteMedSAM.logits_to_mask(torch.from_numpy(lo), new, shape)
                assert mine.shape == ref.shape == shape and mine.dtype == bool
                # OpenCV's float bilinear and torch's differ by float rounding only: at most
                # a pixel whose upsampled logit is ~1e-6 from 0 can flip
                assert (mine != ref).mean() <= 1e-4, case


@pytest.mark.parametrize("src, dst", [((256, 256), (512, 640)), ((128, 97), (300, 227)),
                                      ((256, 200), (128, 100)), ((64, 64), (33, 47))])
def test_opencv_bilinear_equals_torch_interpolate(src, dst):
    """The resize behind the numpy path, up and down: F.interpolate(bilinear,
    align_corners=False) values up to OpenCV's coordinate rounding (|error| ~1e-5 of the
    logit range; a mask pixel can flip only where the logit is that close to 0)."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    from classicseg.models.preprocess import resize_mask_back

    x = np.random.default_rng(0).normal(0, 4, (256, 256)).astype(np.float32)
    mine = resize_mask_back(x, src, dst)
    ref = F.interpolate(torch.from_numpy(x)[None, None, :src[0], :src[1]], size=dst,
                        mode="bilinear", align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(mine, ref, atol=5e-4, rtol=0)  # values have std 4


@pytest.fixture(scope="module")
def prepared_cache():
    """The default cache with the ONNX export and the auto verdict (made here once if absent,
    which imports torch in *this* process only)."""
    from classicseg.models.litemedsam.onnx_backend import onnx_cached
    from classicseg.models.litemedsam.weights import verify_litemedsam_weights

    _, sha = verify_litemedsam_weights()
    if not onnx_cached(sha):
        LiteMedSAM.load(backend="onnx")
    LiteMedSAM.load()  # auto: the verdict of the backend it takes is cached now
    return sha


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "openvino", "auto"])
def test_run_on_a_2d_case_never_imports_torch(prepared_cache, backend, tmp_path):
    if backend == "openvino":
        pytest.importorskip("openvino")
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    shutil.copy(REPO / "data_samples" / "imgs" / "2DBox_XRay_synthetic-lungs.npz", imgs)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", WRAPPER, str(imgs), str(out), "--backend",
                           backend, "--no-progress", "--threads", "2"],
                          capture_output=True, text=True, cwd=tmp_path)
    status = json.loads(proc.stdout.strip().splitlines()[-1])
    assert status == {"rc": 0, "torch": False}, proc.stdout + proc.stderr
    row = json.loads((out / "run_log.jsonl").read_text().splitlines()[-1])
    assert row["status"] == "ok" and row["method"] == "litemedsam"
    assert row["backend"].split()[0] != "torch" and row["backend"].endswith("fp32")
    if backend != "auto":
        assert row["backend"] == f"{backend} fp32"
    else:
        assert "parity holds" in row["backend_reason"]
    assert "LiteMedSAM backend:" in proc.stdout
    assert (out / "2DBox_XRay_synthetic-lungs.npz").is_file()
