"""One validator: the same bad box, image or spacing gives the same InvalidInputError and the
same message whichever entry point it comes in by (io adds only the file name in front)."""

from __future__ import annotations

import numpy as np
import pytest

from classicseg import io, validation
from classicseg.methods import microscopy, oct, pet
from classicseg.validation import (
    InvalidInputError,
    check_box,
    check_boxes,
    check_image,
    check_labels,
    check_rgb_image,
    check_spacing,
)

IMG2D = np.zeros((20, 30, 3), np.uint8)
BOX2D = np.array([[2, 3, 10, 12]])
VOL = np.zeros((5, 20, 30), np.uint8)
BOX3D = np.array([[2, 3, 1, 10, 12, 3]])
NAMES = {2: "2DBox_US_0001", 3: "3DBox_CT_0001"}
NAN = np.nan

# name: (bad 2D boxes for IMG2D, bad 3D boxes for VOL)
BAD_BOXES = {
    "inverted": ([[10, 3, 2, 12]], [[2, 3, 3, 10, 12, 1]]),
    "partly outside": ([[2, 3, 30, 12]], [[2, 3, 1, 10, 12, 5]]),
    "entirely outside": ([[40, 3, 50, 12]], [[2, 3, 6, 10, 12, 8]]),
    "negative": ([[-1, 3, 10, 12]], [[2, -3, 1, 10, 12, 3]]),
    "NaN": ([[2, NAN, 10, 12]], [[2, 3, NAN, 10, 12, 3]]),
    "not whole": ([[2.5, 3, 10, 12]], [[2, 3, 1.5, 10, 12, 3]]),
    "width 5": ([[1, 2, 3, 4, 5]], [[1, 2, 3, 4, 5]]),
    "bool": (np.ones((1, 4), bool), np.ones((1, 6), bool)),
    "text": ([["2", "3", "10", "12"]], [["2", "3", "1", "10", "12", "3"]]),
}
# name: (bad 2D image with BOX2D, bad 3D volume with BOX3D)
BAD_IMAGES = {
    "bool": (np.zeros((20, 30, 3), bool), np.zeros((5, 20, 30), bool)),
    "NaN": (np.full((20, 30, 3), NAN), np.full((5, 20, 30), NAN)),
    "complex": (np.zeros((20, 30, 3), complex), np.zeros((5, 20, 30), complex)),
    "wrong rank": (np.zeros((2, 20, 30, 3), np.uint8), np.zeros((2, 5, 20, 30), np.uint8)),
    "empty": (np.zeros((0, 30, 3), np.uint8), np.zeros((0, 20, 30), np.uint8)),
}
BAD_SPACINGS = {
    "NaN": np.array([1.0, NAN, 2.0]),
    "negative": np.array([1.0, -1.0, 2.0]),
    "zero": np.array([1.0, 0.0, 2.0]),
    "two numbers": np.array([1.0, 2.0]),
    "text": np.array("1,1,2.5"),
}


def _problem(fn, *args, **kw) -> tuple[type, str]:
    """(exception type, message without the file prefix) of an entry point's error."""
    with pytest.raises(InvalidInputError) as info:
        fn(*args, **kw)
    e = info.value
    if isinstance(e, io.ChallengeFileError):
        assert str(e) == f"{e.source}: {e.problem}"
        return InvalidInputError, e.problem
    return type(e), str(e)


def _write(tmp_path, ndim, **arrays):
    path = tmp_path / f"{NAMES[ndim]}.npz"
    np.savez(path, **arrays)  # plain numpy: the point is to write bad files
    return path


# --------------------------------------------------------------------------- entry points

@pytest.fixture(scope="module")
def litemedsam():
    pytest.importorskip("torch")
    from classicseg.models.litemedsam import LiteMedSAM
    return LiteMedSAM.load()


@pytest.fixture(scope="module")
def mobileunet():
    pytest.importorskip("torch")
    from classicseg.models.mobileunet import MobileUNetSegmenter
    return MobileUNetSegmenter.load("Dermoscopy")


def _selector(image):
    pytest.importorskip("ipywidgets")
    from classicseg.widgets import BoxSelector
    return BoxSelector(image)


def _set_box(image, boxes):
    sel = _selector(image)
    sel.box = boxes


# path name -> (dims it takes, fn(request, tmp_path, ndim, image, boxes, spacing) that raises)
PATHS = {
    "validation": ((2, 3), lambda r, t, n, img, b, sp: (
        check_rgb_image(img) if n == 2 else check_image(img, ndim=3),
        check_boxes(b, np.shape(img)[:n]),
        sp is not None and check_spacing(sp, ndim=3))),
    "methods": ((2, 3), lambda r, t, n, img, b, sp: (
        oct.segment_oct(img, b) if n == 2 else pet.segment_pet(img, b))),
    "kmeans": ((2,), lambda r, t, n, img, b, sp: microscopy.segment_kmeans(img, b)),
    "Case": ((2, 3), lambda r, t, n, img, b, sp: io.Case(NAMES[n], img, b, spacing=sp)),
    "load_case": ((2, 3), lambda r, t, n, img, b, sp: io.load_case(
        _write(t, n, imgs=img, boxes=b, **({} if sp is None else {"spacing": sp})))),
    "LiteMedSAM": ((2, 3), lambda r, t, n, img, b, sp: (
        r.getfixturevalue("litemedsam").segment(img, b))),
    "MobileUNet": ((2,), lambda r, t, n, img, b, sp: (
        r.getfixturevalue("mobileunet").segment(img, b))),
    "BoxSelector": ((2, 3), lambda r, t, n, img, b, sp: _set_box(img, b)),
}
IMAGE_PATHS = [p for p in PATHS if p != "BoxSelector"]  # the selector's image is not the point


def _expected_image_problem(path, ndim, image):
    """Each path's image rule is one validation call (io: no grayscale; PET names ``volume``)."""
    if ndim == 3:
        def rule(a):
            return check_image(a, ndim=3, arg_name="volume" if path == "methods" else "image")
    elif path in ("Case", "load_case"):
        def rule(a):
            return check_rgb_image(a, allow_gray=False)
    else:
        rule = check_rgb_image
    return _problem(rule, image)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("bad", list(BAD_BOXES))
@pytest.mark.parametrize("path", list(PATHS))
def test_same_bad_boxes_same_error_on_every_path(request, tmp_path, path, bad, ndim):
    dims, enter = PATHS[path]
    if ndim not in dims:
        pytest.skip(f"{path} takes {dims}D input only")
    if path == "BoxSelector" and bad in ("partly outside", "negative"):
        pytest.skip("the selector clips a drawn box that sticks out (check_boxes(clip=True))")
    image = IMG2D if ndim == 2 else VOL
    boxes = np.array(BAD_BOXES[bad][ndim - 2])
    expected = _problem(check_boxes, boxes, image.shape[:ndim])
    assert _problem(enter, request, tmp_path, ndim, image, boxes, None) == expected


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("bad", list(BAD_IMAGES))
@pytest.mark.parametrize("path", IMAGE_PATHS)
def test_same_bad_image_same_error_on_every_path(request, tmp_path, path, bad, ndim):
    dims, enter = PATHS[path]
    if ndim not in dims:
        pytest.skip(f"{path} takes {dims}D input only")
    image = BAD_IMAGES[bad][ndim - 2]
    boxes = BOX2D if ndim == 2 else BOX3D
    got = _problem(enter, request, tmp_path, ndim, image, boxes, None)
    assert got == _expected_image_problem(path, ndim, image)


@pytest.mark.parametrize("bad", list(BAD_SPACINGS))
@pytest.mark.parametrize("path", ["validation", "Case", "load_case", "load_ground_truth"])
def test_same_bad_spacing_same_error_on_every_path(request, tmp_path, path, bad):
    spacing = BAD_SPACINGS[bad]
    expected = _problem(check_spacing, spacing, ndim=3)
    if path == "load_ground_truth":
        p = _write(tmp_path, 3, gts=np.zeros(VOL.shape, np.uint8), spacing=spacing)
        got = _problem(io.load_ground_truth, p)
    else:
        got = _problem(PATHS[path][1], request, tmp_path, 3, VOL, BOX3D, spacing)
    assert got == expected
    assert expected[1].startswith("spacing must be 3 positive finite numbers (x, y, z), got ")


def test_file_errors_name_the_file_then_the_same_problem(tmp_path):
    p = _write(tmp_path, 2, imgs=IMG2D, boxes=np.array([[10, 3, 2, 12]]))
    with pytest.raises(io.ChallengeFileError) as info:
        io.load_case(p)
    assert str(info.value) == f"{p}: boxes[0] = [10, 3, 2, 12] is inverted (min > max)"
    assert isinstance(info.value, InvalidInputError) and isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- the rules

@pytest.mark.parametrize("boxes, shape, message", [
    ([[10, 3, 2, 12]], (20, 30), "boxes[0] = [10, 3, 2, 12] is inverted (min > max)"),
    ([[2, 3, 4, 5], [2, 3, 30, 12]], (20, 30),
     "boxes[1] = [2, 3, 30, 12] lies partly outside the image of spatial shape (20, 30) "
     "(valid (x, y) from 0 to [29, 19], maxima inclusive); clip it with "
     "classicseg.boxes.clip_box if intended"),
    ([[2, 3, 1, 10, 12, 5]], (5, 20, 30),
     "boxes[0] = [2, 3, 1, 10, 12, 5] lies partly outside the image of spatial shape "
     "(5, 20, 30) (valid (x, y, z) from 0 to [29, 19, 4], maxima inclusive); clip it with "
     "classicseg.boxes.clip_box if intended"),
    ([[2, NAN, 10, 12]], (20, 30), "boxes[0] = [2.0, nan, 10.0, 12.0] contains NaN or inf"),
    ([[2.5, 3, 10, 12]], (20, 30),
     "boxes[0] = [2.5, 3.0, 10.0, 12.0] must hold whole numbers (pixel indices)"),
    ([[0, 0, 0, 1, 1, 1]], (20, 30), "boxes hold 6 coordinates per box (3D boxes) but the "
     "image is 2D; expected shape (N, 4), got shape (1, 6)"),
    ([[1, 2, 3, 4, 5]], (20, 30), "boxes must have shape (N, 4) [x0, y0, x1, y1] for a 2D "
     "image or (N, 6) [x0, y0, z0, x1, y1, z1] for a 3D image (this one is 2D), got shape (1, 5)"),
    (np.ones((1, 4), bool), (20, 30),
     "boxes must be a real numeric array (integers or floats), got dtype bool"),
    (np.array([[2**63 + 5, 0, 2**63 + 6, 1]], np.uint64), (20, 30),
     "boxes[0] = [9223372036854775813, 0, 9223372036854775814, 1] lies entirely outside the "
     "image of spatial shape (20, 30) (valid (x, y) from 0 to [29, 19], maxima inclusive)"),
    ([[1, 2], [3]], (20, 30), "boxes is not a rectangular array (ragged lists?)"),
])
def test_box_messages(boxes, shape, message):
    with pytest.raises(InvalidInputError) as info:
        check_boxes(boxes, shape)
    assert str(info.value) == message


def test_accepted_boxes():
    assert check_boxes([2.0, 3, 10, 12], (20, 30)).tolist() == [[2, 3, 10, 12]]  # one, flat
    assert check_boxes(np.uint16([[0, 0, 29, 19]]), (20, 30)).dtype == np.int64  # inclusive
    assert check_boxes([[5, 5, 5, 5]], (20, 30)).tolist() == [[5, 5, 5, 5]]  # one pixel
    assert check_boxes([], (5, 20, 30)).shape == (0, 6)
    got = check_boxes([[-5, 3, 40, 12]], (20, 30), clip=True)
    assert got.tolist() == [[0, 3, 29, 12]] and got.dtype == np.int64
    with pytest.raises(InvalidInputError, match="entirely outside"):
        check_boxes([[40, 3, 50, 12]], (20, 30), clip=True)
    b = np.array([[2, 3, 10, 12]])
    assert check_boxes(b, (20, 30)) is not b  # a copy


def test_image_rules():
    a = np.zeros((4, 5, 3), np.float32)
    assert check_image(a, ndim=3) is a and check_rgb_image(a) is a  # no copy
    assert check_rgb_image(np.zeros((4, 5), np.int16)).shape == (4, 5)
    for bad, message in [
        (np.zeros((4, 5), bool), "image must be a real numeric array (integers or floats), "
                                 "got dtype bool"),
        (np.zeros((4, 5), object), "image must be a real numeric array (integers or floats), "
                                   "got dtype object"),
        (np.full((4, 5), np.inf), "image contains NaN or inf"),
        (np.zeros((4, 5, 4)), "image must be a 2D image of shape (H, W, 3) or (H, W), "
                              "got shape (4, 5, 4)"),
        (np.zeros((0, 5)), "image is empty, shape (0, 5)"),
    ]:
        with pytest.raises(InvalidInputError) as info:
            check_rgb_image(bad)
        assert str(info.value) == message
    with pytest.raises(InvalidInputError, match=r"^volume must have 3 dimensions, got shape"):
        check_image(np.zeros((4, 5)), ndim=3, arg_name="volume")


def test_spacing_and_label_rules():
    assert check_spacing([1, 2, 2.5], ndim=3) == (1.0, 2.0, 2.5)
    assert check_spacing(np.array([0.5, 0.5]), ndim=2) == (0.5, 0.5)
    with pytest.raises(InvalidInputError, match=r"^spacing must be 3 .* got 'abc'$"):
        check_spacing("abc", ndim=3)
    with pytest.raises(InvalidInputError, match=r"^spacing .* got None$"):
        check_spacing(None, ndim=3)
    assert check_labels(np.ones((2, 3), bool), (2, 3)).dtype == np.uint8
    for bad, message in [
        (np.zeros((2, 3), np.float32), "gts must be an integer label map, got dtype float32"),
        (np.zeros((2, 4), np.uint8), "gts shape (2, 4) differs from the image's spatial "
                                     "shape (2, 3)"),
        (np.full((2, 3), -1), "gts has negative labels"),
    ]:
        with pytest.raises(InvalidInputError) as info:
            check_labels(bad, (2, 3), arg_name="gts")
        assert str(info.value) == message


def test_single_box_helpers_share_the_rules():
    from classicseg.boxes import box_slices

    assert check_box([2, 1, 4, 3.0]).tolist() == [2, 1, 4, 3]
    for bad, message in [
        ([1, 2, 3], "box must have 4 (2D) or 6 (3D) coordinates, got shape (3,)"),
        ([4, 1, 2, 3], "box = [4, 1, 2, 3] is inverted (min > max)"),
        ([1.5, 1, 2, 3], "box = [1.5, 1.0, 2.0, 3.0] must hold whole numbers (pixel indices)"),
    ]:
        with pytest.raises(InvalidInputError) as info:
            box_slices(bad)
        assert str(info.value) == message


def test_spatial_ndim_follows_the_boxes_then_the_image():
    assert validation.spatial_ndim(IMG2D, BOX3D) == 3
    assert validation.spatial_ndim(VOL, BOX2D) == 2
    assert validation.spatial_ndim(VOL, []) == 3 and validation.spatial_ndim(IMG2D, []) == 2
    assert validation.spatial_ndim(IMG2D[..., 0], [[1, 2, 3, 4, 5]]) == 2


def test_methods_common_reexports_the_checks():
    from classicseg.methods import _common

    assert _common.check_boxes is check_boxes and _common.check_image is check_image
    assert _common.check_rgb_image is check_rgb_image


def test_validation_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, classicseg.validation; "
            "assert 'torch' not in sys.modules and 'ipywidgets' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
