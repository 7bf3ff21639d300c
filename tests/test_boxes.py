"""Box helpers: inclusive maxima, one argument order (image shape first), perturbed boxes."""

import numpy as np
import pytest

from classicseg.boxes import BoxPerturbation, box_mask, clip_box, perturb_boxes
from classicseg.validation import InvalidInputError


@pytest.mark.parametrize("shape, box, clipped", [
    ((100, 200), [-5, 10, 250, 120], [0, 10, 199, 99]),
    ((30, 100, 200), [-1, 5, -2, 300, 99, 40], [0, 5, 0, 199, 99, 29]),
    ((10, 10), [2, 3, 4, 5], [2, 3, 4, 5]),
])
def test_clip_box_takes_the_shape_first(shape, box, clipped):
    out = clip_box(shape, box)
    assert out.dtype == np.int64 and out.tolist() == clipped
    assert box_mask(shape, out).sum() > 0                      # same order as box_mask


def test_clip_box_old_order_warns_and_agrees():
    with pytest.warns(DeprecationWarning, match="clip_box\\(shape, box\\)"):
        old = clip_box([-5, 10, 250, 120], (100, 200))
    assert old.tolist() == clip_box((100, 200), [-5, 10, 250, 120]).tolist()
    with pytest.warns(DeprecationWarning):
        assert clip_box([0, 0, 0, 9, 9, 9], (5, 5, 5)).tolist() == [0, 0, 0, 4, 4, 4]


def test_clip_box_rejects_a_shape_of_the_wrong_dimension():
    with pytest.raises(ValueError, match="shape of 2"):
        clip_box((100, 200, 3), [0, 0, 5, 5])                  # an RGB shape: pass shape[:2]
    with pytest.raises(ValueError, match="4 \\(2D\\) or 6 \\(3D\\)"):
        clip_box((100, 200), [0, 0, 5])


# --------------------------------------------------------------------------- perturb_boxes

BOXES_2D = np.array([[10, 10, 19, 29], [30, 5, 45, 12], [0, 0, 3, 3]])
SHAPE_2D = (40, 50)


def _valid(out, shape):
    k = out.shape[1] // 2
    top = np.array(shape[::-1]) - 1
    assert out.dtype == np.int64
    assert (out[:, :k] <= out[:, k:]).all()                    # never inverted or empty
    assert (out >= 0).all() and (out[:, :k] <= top).all() and (out[:, k:] <= top).all()


def test_perturb_boxes_is_deterministic_with_a_seed():
    a = perturb_boxes(BOXES_2D, SHAPE_2D, jitter=5, rng=3)
    b = perturb_boxes(BOXES_2D, SHAPE_2D, jitter=5, rng=np.random.default_rng(3))
    c = perturb_boxes(BOXES_2D, SHAPE_2D, jitter=5, rng=4)
    assert (a == b).all() and not (a == c).all()


def test_perturb_boxes_identity_keeps_the_boxes():
    assert (perturb_boxes(BOXES_2D, SHAPE_2D) == BOXES_2D).all()
    assert (perturb_boxes(BOXES_2D, SHAPE_2D, jitter=0, scale=1.0, shift=(0, 0)) == BOXES_2D).all()


def test_jitter_moves_each_side_within_the_range_and_uses_all_of_it():
    big = np.array([[100, 100, 199, 199]] * 400)
    out = perturb_boxes(big, (300, 300), jitter=5, rng=0)
    d = out - big
    assert d.min() == -5 and d.max() == 5                      # the whole range is drawn ...
    assert len(np.unique(d)) == 11                             # ... every value of it
    assert not (d == d[:, :1]).all()                           # sides move independently


def test_scale_loosens_and_tightens_about_the_centre():
    box = [[10, 10, 19, 29]]                                   # 10 wide, 20 high
    loose = perturb_boxes(box, SHAPE_2D, scale=1.5)[0]
    tight = perturb_boxes(box, SHAPE_2D, scale=0.5)[0]
    assert loose.tolist() == [7, 5, 22, 34]                    # +2.5 -> 3 px, +5 px a side
    assert tight.tolist() == [13, 15, 16, 24]                  # -2.5 -> -3 px, -5 px a side
    size = lambda b: (b[2] - b[0] + 1) * (b[3] - b[1] + 1)     # noqa: E731
    assert size(tight) < 200 < size(loose)
    centre = lambda b: ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)  # noqa: E731
    assert centre(loose) == centre(tight) == centre(box[0])


def test_never_empty_and_inside_the_image():
    for kw in (dict(scale=0.01), dict(jitter=40, rng=1), dict(shift=(500, -500)),
               dict(scale=5.0), dict(shift=(-100, 0), jitter=3, rng=2)):
        _valid(perturb_boxes(BOXES_2D, SHAPE_2D, **kw), SHAPE_2D)
    gone = perturb_boxes([[2, 2, 5, 5]], (10, 10), shift=(100, 0))
    assert gone.tolist() == [[9, 2, 9, 5]]                     # the border column it crossed


def test_shift_translates_x_right_y_down():
    assert perturb_boxes([[10, 10, 19, 29]], SHAPE_2D, shift=(3, -2)).tolist() == \
        [[13, 8, 22, 27]]


def test_3d_boxes_jitter_scale_and_shift():
    box = np.array([[10, 10, 2, 20, 20, 6]])
    shape = (10, 40, 40)
    out = perturb_boxes(box, shape, jitter=2, rng=0)
    assert out.shape == (1, 6) and np.abs(out - box).max() <= 2
    _valid(perturb_boxes(np.repeat(box, 50, 0), shape, jitter=9, rng=1), shape)
    assert perturb_boxes(box, shape, shift=(1, 2)).tolist() == [[11, 12, 2, 21, 22, 6]]  # z kept
    assert perturb_boxes(box, shape, shift=(0, 0, 3)).tolist() == [[10, 10, 5, 20, 20, 9]]
    assert perturb_boxes(box, shape, scale=2.0).tolist() == [[4, 4, 0, 26, 26, 9]]


@pytest.mark.parametrize("kw, names", [
    (dict(jitter=-1), "jitter"), (dict(jitter=2.5), "jitter"), (dict(jitter="5"), "jitter"),
    (dict(jitter=True), "jitter"), (dict(scale=0), "scale"), (dict(scale=-1.0), "scale"),
    (dict(scale=float("nan")), "scale"), (dict(scale="big"), "scale"),
    (dict(shift=(1,)), "shift"), (dict(shift=(1.5, 0)), "shift"), (dict(shift=(1, 2, 3)), "shift"),
    (dict(rng="seed"), "rng"), (dict(rng=-1), "rng"),
])
def test_bad_perturbation_arguments_name_the_argument(kw, names):
    with pytest.raises(InvalidInputError, match=f"^{names} "):
        perturb_boxes(BOXES_2D, SHAPE_2D, **kw)


def test_bad_boxes_go_through_the_shared_validator():
    with pytest.raises(InvalidInputError, match=r"boxes\[0\].*inverted"):
        perturb_boxes([[10, 3, 2, 12]], SHAPE_2D, jitter=1)
    with pytest.raises(InvalidInputError, match="boxes"):
        perturb_boxes([[0, 0, 1, 1]], (5, 5, 5))               # 2D boxes, 3D shape


def test_box_perturbation_seeds_by_case_name_and_repeat():
    p = BoxPerturbation(jitter=5, seed=7)
    a = p.apply(BOXES_2D, SHAPE_2D, name="2DBox_US_a")
    assert (a == p.apply(BOXES_2D, SHAPE_2D, name="2DBox_US_a")).all()
    assert not (a == p.apply(BOXES_2D, SHAPE_2D, name="2DBox_US_b")).all()
    assert not (a == p.apply(BOXES_2D, SHAPE_2D, name="2DBox_US_a", repeat=1)).all()
    assert not (a == BoxPerturbation(jitter=5, seed=8).apply(BOXES_2D, SHAPE_2D,
                                                             name="2DBox_US_a")).all()
    # (dx, dy, dz) on a 2D case: dz means nothing there
    assert BoxPerturbation(shift=(1, 2, 3)).apply([[2, 2, 3, 3]], (10, 10)).tolist() == \
        [[3, 4, 4, 5]]


def test_box_perturbation_describes_itself_and_validates():
    p = BoxPerturbation(jitter=5, scale=1.2, shift=(3, -1), seed=2)
    assert not p.identity and BoxPerturbation(scale=1).identity
    assert p.as_dict() == {"box_jitter": 5, "box_scale": 1.2, "box_shift": "3,-1", "box_seed": 2}
    assert "±5 px" in p.describe() and "1.2" in p.describe() and "(3, -1)" in p.describe()
    assert BoxPerturbation().describe().startswith("none")
    for kw, name in ((dict(jitter=-2), "jitter"), (dict(scale=0), "scale"),
                     (dict(seed=-1), "seed"), (dict(shift="x"), "shift")):
        with pytest.raises(InvalidInputError, match=f"^{name} "):
            BoxPerturbation(**kw)
