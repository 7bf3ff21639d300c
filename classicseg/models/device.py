"""Device choice for the models: CPU by default, CUDA or Apple MPS only when asked.

Threads: the models never set a thread count. The one place in classicseg that calls
``torch.set_num_threads`` is :func:`classicseg.pipeline.threads.set_threads` (the runner
gives each worker its share of the cores); otherwise whatever the user set is what torch
uses. The ONNX Runtime and OpenVINO paths read the same number (:func:`num_threads`,
torch-free) and rebuild their sessions when it changes.

Examples
--------
>>> from classicseg.models.device import choose_device
>>> str(choose_device("cpu"))  # doctest: +SKIP
'cpu'
"""

from __future__ import annotations

import os
import sys

__all__ = ["choose_device", "num_threads"]


def choose_device(device="cpu"):
    """A ``torch.device`` for ``device`` ("cpu", "cuda", "cuda:1", "mps", "auto" or a
    ``torch.device``); "auto" takes CUDA, then MPS, then CPU.

    Raises
    ------
    ValueError
        For an unknown name, or an accelerator this torch build or machine does not have.
    """
    import torch

    if isinstance(device, torch.device):
        name = str(device)
    elif isinstance(device, str):
        name = device.strip().lower()
    else:
        raise ValueError(f"device must be a string like 'cpu', 'cuda', 'mps' or 'auto', "
                         f"got {device!r}")
    has_mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    kind = name.split(":")[0]
    if kind == "cpu":
        return torch.device(name)
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was asked for but CUDA is not available "
                             f"(torch {torch.__version__}); use device='cpu'")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s)")
        return dev
    if kind == "mps":
        if not has_mps:
            raise ValueError(f"device={device!r} was asked for but Apple MPS is not available; "
                             "use device='cpu'")
        return torch.device("mps")
    raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'")


def num_threads() -> int:
    """The thread count the models use now, without importing torch.

    torch loaded: ``torch.get_num_threads()`` (so ``torch.set_num_threads`` is respected);
    otherwise ``$OMP_NUM_THREADS`` (what :func:`classicseg.pipeline.threads.set_threads`
    sets), else the CPUs this process may run on.

    >>> num_threads() >= 1
    True
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        return int(torch.get_num_threads())
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        n = 0
    if n >= 1:
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)
