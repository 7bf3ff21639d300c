"""The one place that sets how many threads torch, OpenCV and the BLAS libraries use.

Running N cases in parallel (``classicseg run --workers N``) while every case also spreads
over all cores makes N x cores threads fight for the CPU; the run gets *slower*. So each
worker calls :func:`set_threads` with its share of the cores, and nothing else in the
package touches thread counts.

Examples
--------
>>> from classicseg.pipeline.threads import set_threads, threads_per_worker
>>> n = set_threads(1)
>>> n
1
>>> threads_per_worker(2, cpus=8)
4
"""

from __future__ import annotations

import os
import sys

__all__ = ["set_threads", "get_threads", "threads_per_worker", "apply_to_torch"]

# Read by OpenMP / OpenBLAS / MKL / numexpr when they start; setting them early also
# covers libraries imported after set_threads() (torch reads OMP_NUM_THREADS at start-up).
_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")

_current: int | None = None
_limiter = None  # keeps the threadpoolctl limit alive for the whole process


def threads_per_worker(workers: int, *, cpus: int | None = None) -> int:
    """Fair share of the CPU cores for each of ``workers`` parallel workers (at least 1)."""
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    cpus = cpus or os.cpu_count() or 1
    return max(1, int(cpus) // int(workers))


def set_threads(n: int | None = None) -> int:
    """Limit torch, OpenCV and BLAS/OpenMP to ``n`` threads in this process.

    Parameters
    ----------
    n : int, optional
        Number of threads; default: all CPU cores.

    Returns
    -------
    int
        The number applied. Safe to call repeatedly (a Dask worker calls it per task).

    Notes
    -----
    torch is never imported here (``import classicseg`` must stay light): if it is already
    loaded its intra-op pool is resized now, otherwise :func:`apply_to_torch` does it
    right after a model is loaded.
    """
    global _current, _limiter
    n = int(n) if n is not None else (os.cpu_count() or 1)
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n!r}")
    for var in _ENV_VARS:
        os.environ[var] = str(n)
    try:  # optional: limits BLAS/OpenMP pools already loaded in this process
        import threadpoolctl
    except ImportError:
        pass
    else:
        _limiter = threadpoolctl.threadpool_limits(limits=n)
    try:
        import cv2
    except ImportError:  # pragma: no cover - OpenCV is a core dependency
        pass
    else:
        cv2.setNumThreads(n)
    _current = n
    apply_to_torch()
    return n


def get_threads() -> int | None:
    """The count last set by :func:`set_threads` in this process (None if never set)."""
    return _current


def apply_to_torch() -> None:
    """Resize torch's intra-op pool to the current setting, if torch is loaded already."""
    torch = sys.modules.get("torch")
    if _current is not None and torch is not None and torch.get_num_threads() != _current:
        torch.set_num_threads(_current)
