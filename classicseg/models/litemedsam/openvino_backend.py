"""OpenVINO execution of LiteMedSAM (``LiteMedSAM.load(backend="openvino")``), torch-free.

OpenVINO (PyPI ``openvino``, ``pip install 'classicseg[fast]'``) compiles the cached ONNX
export of :mod:`.onnx_backend` directly; its own compiled blobs are cached next to it
(``<cache>/litemedsam/<sha256>/openvino/<precision>-t<threads>/``, OpenVINO's
``CACHE_DIR``), so a later process compiles in a fraction of the time. CPU only,
``PERFORMANCE_HINT=LATENCY``, threads from :func:`classicseg.models.device.num_threads`
(re-read on every call).

Precision. ``"fp32"`` (the default) is set *explicitly*: on a CPU with AMX / AVX-512-BF16
OpenVINO's own default inference precision is bf16. ``"bf16"`` runs the image encoder in
bfloat16 (about 3x faster here) and keeps the decoder in fp32; it is allowed only where the
CPU computes bf16 natively (:func:`cpu_supports_bf16`), and
:meth:`LiteMedSAM.load <classicseg.models.litemedsam.predictor.LiteMedSAM.load>` uses it only
after its parity verdict (per-box mask Dice >= 0.99 against the official outputs) held.
It is never chosen by ``backend="auto"``: on the parity vectors one box of thirteen
drops to Dice ~0.93 (docs/algorithms.md, tests/models/test_openvino_backend.py).

Examples
--------
>>> from classicseg.models.litemedsam.openvino_backend import cpu_supports_bf16
>>> isinstance(cpu_supports_bf16(), bool)
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..device import num_threads
from .onnx_backend import GraphRunner

__all__ = ["OpenVinoRunner", "cpu_supports_bf16", "PRECISIONS"]

#: precision name -> OpenVINO ``INFERENCE_PRECISION_HINT`` of the encoder.
PRECISIONS = {"fp32": "f32", "bf16": "bf16"}
_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_supports_bf16(cpuinfo: str | None = None) -> bool:
    """True if the CPU has native bfloat16 arithmetic (``/proc/cpuinfo`` flags ``amx_bf16``
    or ``avx512_bf16``). False where the flags cannot be read (macOS, Windows): emulated
    bf16 is slower than fp32 and no more accurate.

    >>> cpu_supports_bf16("flags : fpu sse avx2 avx512_bf16")
    True
    >>> cpu_supports_bf16("flags : fpu sse avx2")
    False
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return any(f in line.split() for f in _BF16_FLAGS)
    return False


class OpenVinoRunner(GraphRunner):
    """Encoder/decoder calls through OpenVINO compiled models (CPU), on numpy arrays.

    Parameters
    ----------
    paths : (encoder path, decoder path)
        The cached ONNX files (:func:`~.onnx_backend.onnx_paths`).
    precision : {"fp32", "bf16"}
        Encoder precision (the decoder always runs fp32). ``"bf16"`` raises ValueError on a
        CPU without native bf16.
    cache : path, optional
        OpenVINO's compiled-model cache folder (default: ``openvino/`` next to the encoder).
    """

    name = "openvino"

    def __init__(self, paths, *, precision: str = "fp32", cache=None) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}")
        if precision == "bf16" and not cpu_supports_bf16():
            raise ValueError("precision='bf16' needs a CPU with native bf16 (AMX or "
                             "AVX-512-BF16; /proc/cpuinfo flags amx_bf16 / avx512_bf16); this "
                             "CPU has neither: use precision='fp32'")
        try:
            import openvino  # noqa: F401
        except ImportError as exc:
            raise ImportError("backend='openvino' needs openvino: "
                              "pip install 'classicseg[fast]'") from exc
        self.paths = tuple(Path(p) for p in paths)
        self.precision = precision
        self.cache = Path(cache) if cache is not None else self.paths[0].parent / "openvino"
        self._threads = None
        self._open()

    def _compile(self, core, path: Path, hint: str):
        return core.compile_model(str(path), "CPU", {
            "INFERENCE_NUM_THREADS": self._threads, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": hint})

    def _open(self) -> None:
        import openvino as ov

        core = ov.Core()
        self._threads = num_threads()
        # One blob folder per (precision, threads): OpenVINO 2026.4 names a cached blob by the
        # model and device only, so a bf16 compile read the fp32 blob of the same model (and
        # crashed); separate folders keep each setting's blob its own.
        blobs = self.cache / f"{self.precision}-t{self._threads}"
        try:
            blobs.mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(blobs)})
        except OSError:  # a read-only cache: compile every time
            pass
        enc = self._compile(core, self.paths[0], PRECISIONS[self.precision])
        dec = self._compile(core, self.paths[1], "f32")
        self._enc, self._dec = enc.create_infer_request(), dec.create_infer_request()
        self._models = (enc, dec)  # the requests need their compiled models alive

    def _encode_one(self, x1: np.ndarray) -> np.ndarray:
        self._enc.infer({"image": x1})
        return self._enc.get_output_tensor(0).data.copy()

    def _decode_one(self, emb: np.ndarray, box1: np.ndarray):
        self._dec.infer({"embedding": emb, "box": box1})
        return self._dec.get_tensor("logits").data.copy(), self._dec.get_tensor("iou").data.copy()
