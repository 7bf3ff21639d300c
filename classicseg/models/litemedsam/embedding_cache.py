"""Encode once, prompt many: keep LiteMedSAM's image embeddings while the box changes.

LiteMedSAM splits into a heavy image encoder (TinyViT, one pass per image or 3D slice) and a
light prompt decoder (one pass per box). Re-prompting the *same* image with a new box -- a
box dragged in a widget, a box-robustness study -- needs only the decoder, if the embedding
is kept. :class:`EmbeddingCache` keeps it: while active, the model's ``encode`` looks every
model input up by its content (a BLAKE2 hash of the 256x256 input, so an image and each slice
of a volume get their own entry) and runs the encoder only for inputs it has not seen.

The cache changes no answer (the same embedding, the same decoder) and works for every
backend (torch tensors or numpy arrays; torch is never imported here). It is active only
inside ``with cache:`` or through :meth:`EmbeddingCache.segment`, so timings taken with the
model elsewhere stay honest.

Examples
--------
>>> import numpy as np
>>> class Toy:                       # anything with an ``encode`` (a real LiteMedSAM works)
...     def encode(self, x):
...         return x[:, :1] * 2
>>> toy = Toy()
>>> cache = EmbeddingCache(toy)
>>> x = np.ones((1, 3, 4, 4), np.float32)
>>> with cache:
...     a = toy.encode(x)
...     b = toy.encode(x)            # same input: no encoder pass
>>> cache.misses, cache.hits, bool((a == b).all())
(1, 1, True)
>>> "encode" in vars(toy)            # outside ``with`` the model is untouched
False
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict

import numpy as np

__all__ = ["EmbeddingCache"]


def _host_bytes(a) -> bytes:
    """The bytes of one model input, torch tensor (any device) or ndarray."""
    if hasattr(a, "detach"):  # torch, without importing it here
        a = a.detach().cpu().numpy()
    return np.ascontiguousarray(a).tobytes()


def _concat(parts):
    if len(parts) == 1:
        return parts[0]
    if hasattr(parts[0], "detach"):
        import torch

        return torch.cat(parts)
    return np.concatenate(parts)


class EmbeddingCache:
    """Least-recently-used store of image embeddings for one LiteMedSAM model.

    Parameters
    ----------
    model : LiteMedSAM
        Any object with ``encode(image_256) -> embeddings`` (B, ...) for inputs (B, 3, 256,
        256) or (3, 256, 256); :class:`~classicseg.models.litemedsam.LiteMedSAM` calls its
        own ``encode`` for every image and slice it segments.
    max_entries : int >= 1
        Embeddings kept (4 MiB each; a 3D box needs one per predicted slice).

    Attributes
    ----------
    hits, misses : int
        Inputs served from the store / sent to the encoder (``misses`` counts encoder passes
        per image or slice).
    seconds_encode : float
        Encoder time spent on the misses.
    seconds_saved : float
        Encoder time the hits saved (each hit costs what its miss cost).
    """

    def __init__(self, model, *, max_entries: int = 32):
        if not callable(getattr(model, "encode", None)):
            raise ValueError(f"model must have an encode method, got {type(model).__name__}")
        if isinstance(max_entries, bool) or int(max_entries) != max_entries or max_entries < 1:
            raise ValueError(f"max_entries must be an integer >= 1, got {max_entries!r}")
        self.model, self.max_entries = model, int(max_entries)
        self.store: OrderedDict = OrderedDict()
        self.hits = self.misses = 0
        self.seconds_encode = self.seconds_saved = 0.0
        self._depth = 0
        self._saved = None

    def __repr__(self) -> str:
        return (f"EmbeddingCache({len(self.store)}/{self.max_entries} embeddings, "
                f"hits={self.hits}, misses={self.misses})")

    # ----------------------------------------------------------------- activation

    def __enter__(self) -> "EmbeddingCache":
        if self._depth == 0:
            # An instance attribute shadows the class's encode (what the predictor calls).
            d = vars(self.model)
            self._saved = (("encode" in d), d.get("encode"))
            self._encode = self.model.encode
            self.model.encode = self.encode
        self._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0:
            had, previous = self._saved
            if had:
                self.model.encode = previous
            else:
                del self.model.encode

    def segment(self, image, boxes, **kwargs):
        """``model.segment(image, boxes, **kwargs)`` with the cache active.

        Use it where a method callable is wanted: ``{"LiteMedSAM": cache.segment}``.
        """
        with self:
            return self.model.segment(image, boxes, **kwargs)

    def clear(self) -> None:
        """Drop every embedding (the counters stay)."""
        self.store.clear()

    # ----------------------------------------------------------------- the lookup

    def encode(self, image_256):
        """Embeddings of model inputs (B, 3, 256, 256) or (3, 256, 256); the encoder runs
        only for inputs not in the store."""
        encode = self._encode if self._depth else self.model.encode
        x = image_256[None] if image_256.ndim == 3 else image_256
        keys = [hashlib.blake2b(_host_bytes(x[i]), digest_size=16).digest()
                for i in range(len(x))]
        todo = [i for i, k in enumerate(keys) if k not in self.store]
        if todo:
            t0 = time.perf_counter()
            embs = encode(x[todo] if len(todo) < len(keys) else x)
            each = (time.perf_counter() - t0) / len(todo)
            self.seconds_encode += each * len(todo)
            for j, i in enumerate(todo):
                self.store[keys[i]] = (embs[j:j + 1], each)
        for i, k in enumerate(keys):
            self.store.move_to_end(k)
            if i not in todo:
                self.hits += 1
                self.seconds_saved += self.store[k][1]
        self.misses += len(todo)
        out = _concat([self.store[k][0] for k in keys])
        while len(self.store) > self.max_entries:
            self.store.popitem(last=False)
        return out
