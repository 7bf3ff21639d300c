"""score_methods: run, time and score several methods on one case (MethodScore rows)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from classicseg.analysis.scores import MethodScore, score_methods
from classicseg.boxes import box_mask
from classicseg.metrics import score_case
from classicseg.result import SegmentationResult


def _box_fill(image, boxes):
    """Every box filled (a deliberately crude method), as a SegmentationResult."""
    shape = image.shape if boxes.shape[1] == 6 else image.shape[:2]
    res = SegmentationResult.empty(shape, len(boxes))
    for i, b in enumerate(boxes):
        res.add_box(i, box_mask(shape, b), method="box")
    return res


def _shifted(case, px=3):
    """A method that answers the ground truth moved ``px`` pixels right (a plain label map)."""
    return lambda image, boxes: np.roll(case.gts, px, axis=-1)


@pytest.mark.parametrize("name", ["2DBox_US_0001", "3DBox_CT_0001"])
def test_rows_score_like_score_case_in_method_order(make_case, name):
    case = make_case(name)
    rows = score_methods(case, {"shifted": _shifted(case), "box": _box_fill})
    assert [r.method for r in rows] == ["shifted", "box"]
    assert all(isinstance(r, MethodScore) for r in rows)
    shifted, box = rows
    spacing = case.spacing if case.is_3d else None
    want = score_case(case.gts, np.roll(case.gts, 3, axis=-1), spacing=spacing)
    assert shifted.dsc == pytest.approx(want["dsc"]) and shifted.nsd == pytest.approx(want["nsd"])
    assert 0 < shifted.dsc < 1 and box.dsc == 1.0   # the fixture's boxes are tight
    assert shifted.seconds >= 0 and shifted.ok and shifted.error is None
    assert isinstance(box.result, SegmentationResult) and box.segs is box.result.segs
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.dsc = 0.0


def test_flavour_reaches_the_nsd(make_case):
    case = make_case("2DBox_US_0001")
    (challenge,) = score_methods(case, {"shifted": _shifted(case)})
    (correct,) = score_methods(case, {"shifted": _shifted(case)}, flavour="correct")
    assert challenge.dsc == correct.dsc and challenge.nsd != correct.nsd


def test_without_ground_truth_scores_are_nan_but_methods_run(make_case):
    case = dataclasses.replace(make_case("3DBox_CT_0001"), gts=None, spacing=None)
    (row,) = score_methods(case, {"box": _box_fill})
    assert math.isnan(row.dsc) and math.isnan(row.nsd) and row.ok and row.seconds >= 0


def test_errors_raise_or_are_recorded(make_case):
    case = make_case("2DBox_US_0001")

    def boom(image, boxes):
        raise RuntimeError("boom")

    def wrong_shape(image, boxes):
        return np.zeros((3, 3), np.uint16)

    with pytest.raises(RuntimeError, match="boom"):
        score_methods(case, {"boom": boom, "box": _box_fill})
    with pytest.raises(ValueError, match="shape"):
        score_methods(case, {"wrong": wrong_shape})
    rows = score_methods(case, {"boom": boom, "wrong": wrong_shape, "box": _box_fill}, catch=True)
    assert [r.error for r in rows[:2]] == ["RuntimeError: boom",
                                           "ValueError: method 'wrong' returned a mask of shape "
                                           "(3, 3), expected (48, 56)"]
    assert not rows[0].ok and rows[0].result is None and math.isnan(rows[0].seconds)
    assert rows[2].ok and rows[2].dsc > 0.5                         # the others still ran
    with pytest.raises(ValueError, match="methods"):
        score_methods(case, {})
    with pytest.raises(ValueError, match="methods"):
        score_methods(case, {"x": 3})
