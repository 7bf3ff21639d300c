"""EmbeddingCache: encode once, prompt many -- same answers, one encoder pass per image."""

from __future__ import annotations

import numpy as np
import pytest

from classicseg.models.litemedsam.embedding_cache import EmbeddingCache
from classicseg.models.litemedsam.predictor import LiteMedSAM


class FakeRunner:
    """A network stand-in (numpy): counts encoder passes; the decoder's logits are positive
    inside the 256-frame box and on bright input pixels, so masks depend on image and box."""

    name, precision = "fake", "fp32"

    def __init__(self):
        self.encoded = 0
        self.decoded = 0

    def as_array(self, x):
        return np.asarray(x, np.float32)

    def encode(self, x):
        self.encoded += len(x)
        emb = np.zeros((len(x), 256, 64, 64), np.float32)
        emb[:, 0] = x[:, 0, ::4, ::4]  # the image, at 64 x 64, in channel 0
        return emb

    def decode(self, emb, boxes, step):
        self.decoded += len(boxes)
        up = np.kron(emb[0, 0], np.ones((4, 4), np.float32))
        out = np.full((len(boxes), 256, 256), -1.0, np.float32)
        for i, (x0, y0, x1, y1) in enumerate(boxes.astype(int)):
            win = up[y0:y1 + 1, x0:x1 + 1]
            out[i, y0:y1 + 1, x0:x1 + 1] = np.where(win > 0.5, 1.0, -1.0)
        return out, np.full(len(boxes), 0.9, np.float32)


def fake_litemedsam() -> LiteMedSAM:
    """A LiteMedSAM predictor (the real numpy code) on :class:`FakeRunner`."""
    return LiteMedSAM(None, FakeRunner(), device="cpu", optimize=False)


def _image():
    img = np.zeros((60, 80, 3), np.uint8)
    img[10:30, 10:30] = 220
    img[35:55, 45:75] = 220
    return img


def test_two_boxes_on_one_image_encode_once_and_give_the_uncached_masks():
    model = fake_litemedsam()
    img = _image()
    boxes = [np.array([[8, 8, 31, 31]]), np.array([[43, 33, 77, 57]])]
    plain = [model.segment(img, b).segs for b in boxes]
    assert model._runner.encoded == 2
    cache = EmbeddingCache(model)
    cached = [cache.segment(img, b).segs for b in boxes]
    assert model._runner.encoded == 3  # one pass for the image, then the decoder only
    assert (cache.misses, cache.hits) == (1, 1)
    assert cache.seconds_saved > 0 and cache.seconds_encode > 0
    for a, b in zip(plain, cached):
        np.testing.assert_array_equal(a, b)
    assert cached[0].sum() > 0 and cached[1].sum() > 0
    assert "encode" not in vars(model)  # inactive outside segment / with


def test_a_changed_image_is_encoded_again_and_old_entries_are_dropped():
    model = fake_litemedsam()
    cache = EmbeddingCache(model, max_entries=1)
    img = _image()
    box = np.array([[8, 8, 31, 31]])
    cache.segment(img, box)
    other = img.copy()
    other[0, 0] = 50
    cache.segment(other, box)
    assert cache.misses == 2 and len(cache.store) == 1
    cache.segment(img, box)  # evicted: encoded again
    assert cache.misses == 3 and cache.hits == 0


def test_volume_slices_are_cached_per_slice():
    model = fake_litemedsam()
    vol = np.random.default_rng(0).integers(0, 60, (6, 40, 40)).astype(np.uint8)
    vol[:, 10:30, 10:30] += 150  # every slice differs (by its noise) after normalisation
    cache = EmbeddingCache(model)
    cache.segment(vol, np.array([[8, 8, 1, 31, 31, 4]]))
    n = cache.misses
    assert n == 4  # slices 1..4
    cache.segment(vol, np.array([[9, 9, 1, 30, 30, 4]]))  # an in-plane drag: no new pass
    assert cache.misses == n and cache.hits == 4


def test_nesting_and_restoring_a_previous_instance_encode():
    model = fake_litemedsam()
    calls = []

    def outer(x):
        calls.append(len(x))
        return type(model).encode(model, x)

    model.encode = outer  # e.g. another wrapper installed first
    cache = EmbeddingCache(model)
    with cache, cache:
        model.encode(np.zeros((1, 3, 256, 256), np.float32))
        model.encode(np.zeros((1, 3, 256, 256), np.float32))
    assert model.encode is outer and calls == [1]


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="encode"):
        EmbeddingCache(object())
    with pytest.raises(ValueError, match="max_entries"):
        EmbeddingCache(fake_litemedsam(), max_entries=0)
