"""classicseg.io: malformed challenge files give a clear ChallengeFileError naming the file,
round trips are lossless, writes are atomic and never overwrite by accident."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import warnings

import numpy as np
import pytest

from classicseg import io
from classicseg.io import ChallengeFileError, UnknownModalityWarning

IMG2D = np.zeros((20, 30, 3), np.uint8)
BOX2D = np.array([[2, 3, 10, 12]])
IMG3D = np.zeros((5, 20, 30), np.uint8)
BOX3D = np.array([[2, 3, 1, 10, 12, 3]])


def _npz(tmp_path, name, **arrays):
    """Write arrays with plain np.savez (not our writer: the point is to write bad files)."""
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def _raises(path, match, fn=io.load_case, **kw):
    """Assert a ChallengeFileError whose message names ``path`` and matches ``match``."""
    with pytest.raises(ChallengeFileError, match=match) as info:
        fn(path, **kw)
    assert str(path) in str(info.value) and info.value.source == str(path)
    return info.value


# --------------------------------------------------------------------------- malformed files

@pytest.mark.parametrize("arrays, match", [
    (dict(imgs=IMG2D), r"missing key\(s\) \['boxes'\]"),
    (dict(boxes=BOX2D), r"missing key\(s\) \['imgs'\]"),
    (dict(imgs=IMG2D, boxes=BOX2D, foo=np.zeros(1)), r"unexpected key\(s\) \['foo'\]"),
    (dict(imgs=IMG2D.astype(np.float32), boxes=BOX2D), r"image must be uint8 .* got dtype float32"),
    (dict(imgs=IMG2D.astype(np.int16), boxes=BOX2D), r"image must be uint8 .* got dtype int16"),
    (dict(imgs=np.full((20, 30, 3), np.nan), boxes=BOX2D), r"image contains NaN or inf"),
    (dict(imgs=IMG2D[..., 0], boxes=BOX2D),
     r"image must be a 2D image of shape \(H, W, 3\), got shape \(20, 30\)"),
    (dict(imgs=np.zeros((20, 30, 4), np.uint8), boxes=BOX2D),
     r"image must be a 2D image of shape \(H, W, 3\)"),
    (dict(imgs=np.zeros((2, 5, 20, 30), np.uint8), boxes=BOX3D),
     r"image must have 3 dimensions, got shape \(2, 5, 20, 30\)"),
    (dict(imgs=IMG2D, boxes=np.array([[1, 2, 3, 4, 5]])),
     r"boxes must have shape \(N, 4\) .* got shape \(1, 5\)"),
    (dict(imgs=IMG2D, boxes=np.array([1, 2, 3, 4, 5])),
     r"boxes must have shape .* got shape \(5,\)"),
    (dict(imgs=IMG2D, boxes=np.array([[bool(v) for v in BOX2D[0]]])),
     r"boxes must be a real .* got dtype bool"),
    (dict(imgs=IMG2D, boxes=np.array([[10, 3, 2, 12]])),
     r"boxes\[0\] = \[10, 3, 2, 12\] is inverted"),
    (dict(imgs=IMG2D, boxes=np.array([[2, 3, 30, 12]])),
     r"boxes\[0\] .* partly outside the image .* from 0 to \[29, 19\]"),
    (dict(imgs=IMG2D, boxes=np.array([[-1, 3, 10, 12]])),
     r"boxes\[0\] = \[-1, 3, 10, 12\] lies partly outside"),
    (dict(imgs=IMG3D, boxes=np.array([[2, 3, 1, 10, 12, 5]])),
     r"outside the image of spatial shape \(5, 20, 30\)"),
    (dict(imgs=IMG2D, boxes=np.array([[2.0, np.nan, 10, 12]])),
     r"boxes\[0\] = \[2\.0, nan, 10\.0, 12\.0\] contains NaN or inf"),
    (dict(imgs=IMG2D, boxes=np.array([[2.5, 3, 10, 12]])),
     r"boxes\[0\] = \[2\.5, 3\.0, 10\.0, 12\.0\] must hold whole numbers"),
    (dict(imgs=IMG2D, boxes=np.array([["a", "b", "c", "d"]])),
     r"boxes must be a real numeric array .* got dtype <U1"),
    (dict(imgs=IMG3D, boxes=BOX3D, spacing=np.array([1.0, np.nan, 2.0])),
     r"spacing must be 3 positive finite"),
    (dict(imgs=IMG3D, boxes=BOX3D, spacing=np.array([1.0, -1.0, 2.0])),
     r"spacing must be 3 positive finite"),
    (dict(imgs=IMG3D, boxes=BOX3D, spacing=np.array([1.0, 2.0])),
     r"spacing must be 3 positive finite"),
    (dict(imgs=IMG2D, boxes=BOX2D, gts=np.zeros((20, 31), np.uint8)),
     r"gts shape \(20, 31\) differs from the image's spatial shape \(20, 30\)"),
    (dict(imgs=IMG2D, boxes=BOX2D, gts=np.zeros((20, 30), np.float32)),
     r"gts must be an integer label map"),
    (dict(imgs=IMG2D, boxes=BOX2D, gts=np.full((20, 30), -1, np.int16)),
     r"gts has negative labels"),
    (dict(imgs=IMG2D, boxes=np.array([[2, 3, 10, 12]], dtype=object)),
     r"pickled object array; refusing"),
])
def test_malformed_image_file(tmp_path, arrays, match):
    boxes = np.asarray(arrays.get("boxes", BOX2D))
    name = "3DBox_CT_0001.npz" if boxes.ndim == 2 and boxes.shape[1] == 6 else "2DBox_US_0001.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownModalityWarning)
        _raises(_npz(tmp_path, name, **arrays), match)


def test_one_flat_box_reads_as_one_row(tmp_path):
    """The shared box rule (classicseg.validation.check_boxes) takes one flat box as N = 1."""
    p = _npz(tmp_path, "2DBox_US_0001.npz", imgs=IMG2D, boxes=BOX2D[0])
    assert io.load_case(p).boxes.tolist() == BOX2D.tolist()


def test_extra_keys_can_be_allowed_and_known_metadata_is_ignored(tmp_path):
    p = _npz(tmp_path, "2DBox_US_0001.npz", imgs=IMG2D, boxes=BOX2D, foo=np.zeros(1))
    assert io.load_case(p, allow_extra_keys=True).n_boxes == 1
    p = _npz(tmp_path, "2DBox_US_0002.npz", imgs=IMG2D, boxes=BOX2D,
             text_prompts=np.array(["liver"]))
    assert io.load_case(p).n_boxes == 1


def test_name_says_3d_but_boxes_are_2d(tmp_path):
    p = _npz(tmp_path, "3DBox_CT_0001.npz", imgs=IMG2D, boxes=BOX2D)
    _raises(p, r"file name says 3D but 'boxes' have 4 columns")
    p = _npz(tmp_path, "2DBox_CT_0001.npz", imgs=IMG3D, boxes=BOX3D)
    _raises(p, r"file name says 2D but 'boxes' have 6 columns")


def test_pickled_object_array_is_refused(tmp_path):
    """An npz holding a pickled object (which could run code when unpickled) is never loaded."""
    p = tmp_path / "2DBox_US_0001.npz"
    np.savez(p, imgs=IMG2D, boxes=BOX2D, payload=np.array([{"a": 1}, None], dtype=object))
    err = _raises(p, r"pickled object array; refusing to load it", allow_extra_keys=True)
    assert "pickles can run code" in err.problem
    _raises(p, r"pickled object array", fn=io.load_prediction)


def test_truncated_and_empty_files(tmp_path):
    p = tmp_path / "2DBox_US_0001.npz"
    io.atomic_savez(p, imgs=(np.arange(20 * 30 * 3) % 251).astype(np.uint8).reshape(IMG2D.shape),
                    boxes=BOX2D)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    _raises(p, r"corrupt or truncated \.npz: BadZipFile")
    p.write_bytes(data[:-10])  # central directory cut short
    _raises(p, r"corrupt or truncated \.npz")
    p.write_bytes(b"")
    _raises(p, r"corrupt or truncated \.npz|not an \.npz archive")


def test_garbage_file_is_refused_naming_the_file(tmp_path):
    p = tmp_path / "2DBox_US_0001.npz"
    p.write_bytes(b"this is not an npz archive at all\n" * 20)
    _raises(p, r".")
    _raises(p, r".", fn=io.load_ground_truth)


def test_garbage_file_is_not_called_a_pickle(tmp_path):
    p = tmp_path / "2DBox_US_0001.npz"
    p.write_bytes(b"this is not an npz archive at all\n" * 20)
    err = _raises(p, r"not an \.npz")
    assert "pickle" not in err.problem


def test_npy_file_with_npz_name(tmp_path):
    p = tmp_path / "2DBox_US_0001.npz"
    with open(p, "wb") as f:
        np.save(f, IMG2D)
    _raises(p, r"\.npy")


def test_missing_file(tmp_path):
    _raises(tmp_path / "2DBox_US_0404.npz", r"file not found")


def test_separate_gt_file_errors_name_the_gt_file(tmp_path):
    img = _npz(tmp_path, "2DBox_US_0001.npz", imgs=IMG2D, boxes=BOX2D)
    gt = _npz(tmp_path, "gt_2DBox_US_0001.npz", gts=np.zeros((21, 30), np.uint8))
    with pytest.raises(ChallengeFileError, match=r"gts shape \(21, 30\) differs") as info:
        io.load_case(img, gt)
    assert info.value.source == str(gt)
    gt2 = _npz(tmp_path, "gt2.npz", segs=np.zeros((20, 30), np.uint8))
    _raises(gt2, r"missing key\(s\) \['gts'\]", fn=io.load_ground_truth)
    gt3 = _npz(tmp_path, "gt3.npz", gts=np.zeros(5, np.uint8))
    _raises(gt3, r"'gts' must be 2D or 3D", fn=io.load_ground_truth)
    gt4 = _npz(tmp_path, "gt4.npz", gts=np.zeros((3, 4, 4), np.uint8),
               spacing=np.array([1.0, 0.0, 1.0]))
    _raises(gt4, r"spacing must be 3 positive finite", fn=io.load_ground_truth)


def test_prediction_errors(tmp_path):
    p = _npz(tmp_path, "2DBox_US_0001.npz", segs=np.zeros((20, 30), np.uint16))
    _raises(p, r"segs shape \(20, 30\) differs from the image's spatial shape \(20, 31\)",
            fn=io.load_prediction, shape=(20, 31))
    p = _npz(tmp_path, "2DBox_US_0002.npz", segs=np.zeros((20, 30), np.float32))
    _raises(p, r"segs must be an integer label map", fn=io.load_prediction)
    p = _npz(tmp_path, "2DBox_US_0003.npz", gts=np.zeros((20, 30), np.uint8))
    _raises(p, r"missing key\(s\) \['segs'\]", fn=io.load_prediction)


def test_unknown_modality_warns_and_can_be_overridden(tmp_path):
    p = _npz(tmp_path, "2DBox_Banana_0001.npz", imgs=IMG2D, boxes=BOX2D)
    with pytest.warns(UnknownModalityWarning,
                      match="2DBox_Banana_0001.npz: cannot parse the modality"):
        case = io.load_case(p)
    assert case.modality is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert io.load_case(p, modality="CT").modality == "CT"
        assert io.load_case(p, modality="ultrasound").modality == "US"
    with pytest.raises(ChallengeFileError, match="unknown modality 'Banana'") as info:
        io.load_case(p, modality="Banana")
    assert str(p) in str(info.value)


def test_empty_boxes_warn(tmp_path):
    p = _npz(tmp_path, "2DBox_US_0001.npz", imgs=IMG2D, boxes=np.zeros((0, 4), np.int64))
    with pytest.warns(UserWarning, match="no boxes"):
        assert io.load_case(p).n_boxes == 0


def test_whole_float_boxes_become_integers(tmp_path):
    p = _npz(tmp_path, "2DBox_US_0001.npz", imgs=IMG2D, boxes=np.array([[2.0, 3.0, 10.0, 12.0]]))
    case = io.load_case(p)
    assert case.boxes.dtype == np.int64 and case.boxes.tolist() == [[2, 3, 10, 12]]
    # inclusive maxima: the last pixel is a valid coordinate
    p = _npz(tmp_path, "2DBox_US_0002.npz", imgs=IMG2D, boxes=np.array([[0, 0, 29, 19]]))
    assert io.load_case(p).boxes.tolist() == [[0, 0, 29, 19]]


# --------------------------------------------------------------------------- round trips

def test_round_trip_2d_with_gts_in_image_file(tmp_path):
    gts = np.zeros((20, 30), np.uint8)
    gts[3:13, 2:11] = 1
    case = io.Case("2DBox_Dermoscopy_0001", IMG2D + 7, BOX2D, gts=gts)
    p = io.save_case(case, tmp_path / "2DBox_Dermoscopy_0001.npz")
    back = io.load_case(p)
    np.testing.assert_array_equal(back.image, case.image)
    np.testing.assert_array_equal(back.boxes, BOX2D)
    np.testing.assert_array_equal(back.gts, gts)
    assert back.modality == "Dermoscopy" and not back.is_3d and back.spacing is None
    assert back.spatial_shape == (20, 30) and back.path == p
    assert back.name == "2DBox_Dermoscopy_0001"


def test_round_trip_3d_with_spacing_and_separate_gt(tmp_path):
    gts = np.zeros(IMG3D.shape, np.uint16)
    gts[1:4, 3:13, 2:11] = 1
    case = io.Case("3DBox_MR_0001", IMG3D + 3, BOX3D, spacing=(0.8, 0.9, 2.5), gts=gts)
    img_p, gt_p = tmp_path / "imgs" / "3DBox_MR_0001.npz", tmp_path / "gts" / "3DBox_MR_0001.npz"
    io.save_case(case, img_p, gt_p)
    with np.load(img_p, allow_pickle=False) as z:
        assert sorted(z.files) == ["boxes", "imgs", "spacing"]  # gts went to the GT file
    back = io.load_case(img_p, gt_p)
    np.testing.assert_array_equal(back.image, case.image)
    np.testing.assert_array_equal(back.gts, gts)
    assert back.spacing == (0.8, 0.9, 2.5) and back.spacing_zyx == (2.5, 0.9, 0.8)
    assert back.is_3d and back.modality == "MR" and back.spatial_shape == IMG3D.shape
    g, sp = io.load_ground_truth(gt_p)
    np.testing.assert_array_equal(g, gts)
    assert sp == (0.8, 0.9, 2.5)


def test_prediction_round_trip_uint16_over_255_labels(tmp_path):
    segs = (np.arange(40 * 30).reshape(40, 30) % 1000).astype(np.int64)
    assert segs.max() > 255
    p = io.save_prediction(tmp_path / "2DBox_Microscope_0001.npz", segs)
    back = io.load_prediction(p, shape=(40, 30))
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, segs)
    with pytest.raises(ValueError, match="0..65535"):
        io.save_prediction(tmp_path / "x.npz", np.full((2, 2), 70000))
    with pytest.raises(ValueError, match="integer label map"):
        io.save_prediction(tmp_path / "y.npz", np.zeros((2, 2), np.float32))


def test_atomic_write_never_overwrites_unless_asked(tmp_path):
    p = io.save_prediction(tmp_path / "2DBox_US_0001.npz", np.ones((4, 4), np.uint8))
    before = p.read_bytes()
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        io.save_prediction(p, np.zeros((4, 4), np.uint8))
    assert p.read_bytes() == before
    case = io.Case("2DBox_US_0001", IMG2D, BOX2D)
    with pytest.raises(FileExistsError):
        io.save_case(case, p)
    assert p.read_bytes() == before
    io.save_prediction(p, np.zeros((4, 4), np.uint8), overwrite=True)
    assert io.load_prediction(p).max() == 0
    assert [q.name for q in tmp_path.iterdir()] == ["2DBox_US_0001.npz"]  # no temp files left
    with pytest.raises(ValueError, match="must end in .npz"):
        io.atomic_savez(tmp_path / "a.npy", a=np.zeros(1))


def test_modality_from_file_name_not_directory(tmp_path):
    d = tmp_path / "US_data"
    d.mkdir()
    p = _npz(d, "2DBox_Microscope_0001.npz", imgs=IMG2D, boxes=BOX2D)
    assert io.load_case(p).modality == "Microscopy"
    q = _npz(d, "2DBox_case_0001.npz", imgs=IMG2D, boxes=BOX2D)
    with pytest.warns(UnknownModalityWarning):
        assert io.load_case(q).modality is None
    assert io.parse_modality(d / "3DBox_PET_0001.npz") == "PET"


def test_iter_cases_order_and_error_policy(tmp_path):
    names = [f"2DBox_US_{i:04d}" for i in range(6)]
    random.Random(1).shuffle(names)
    for n in names:
        io.save_case(io.Case(n, IMG2D, BOX2D), tmp_path / f"{n}.npz")
    (tmp_path / "notes.txt").write_text("not a case")
    bad = tmp_path / "2DBox_US_0003.npz"
    bad.write_bytes(bad.read_bytes()[:50])
    with pytest.warns(UserWarning, match=r"skipped .*2DBox_US_0003\.npz: corrupt or truncated"):
        got = [c.name for c in io.iter_cases(tmp_path, errors="warn")]
    assert got == [f"2DBox_US_{i:04d}" for i in (0, 1, 2, 4, 5)]
    with pytest.raises(ChallengeFileError, match="2DBox_US_0003.npz"):
        list(io.iter_cases(tmp_path))
    with pytest.raises(ValueError, match="errors must be"):
        list(io.iter_cases(tmp_path, errors="ignore"))
    assert [p.name for p in io.list_case_files(tmp_path)] == sorted(f"{n}.npz" for n in names)


def test_iter_cases_pairs_ground_truth(tmp_path):
    gts = np.zeros((20, 30), np.uint8)
    gts[3:13, 2:11] = 1
    io.save_case(io.Case("2DBox_US_0001", IMG2D, BOX2D, gts=gts),
                 tmp_path / "imgs" / "2DBox_US_0001.npz", tmp_path / "gts" / "2DBox_US_0001.npz")
    io.save_case(io.Case("2DBox_US_0002", IMG2D, BOX2D), tmp_path / "imgs" / "2DBox_US_0002.npz")
    cases = list(io.iter_cases(tmp_path / "imgs", tmp_path / "gts"))
    np.testing.assert_array_equal(cases[0].gts, gts)
    assert cases[1].gts is None


def test_import_classicseg_does_not_import_torch():
    code = "import sys, classicseg; print('torch' in sys.modules, 'torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]


def test_scan_case_files_reports_every_entry_it_skips(tmp_path):
    for n in ("2DBox_US_0001", "2DBox_US_0002"):
        io.save_case(io.Case(n, IMG2D, BOX2D), tmp_path / f"{n}.npz")
    (tmp_path / "2DBox_US_0002.npz").rename(tmp_path / "2DBox_US_0002.NPZ")
    io.save_case(io.Case("2DBox_US_0002", IMG2D, BOX2D), tmp_path / "2DBox_US_0002.npz")
    (tmp_path / "2DBox_US_gone.npz").symlink_to(tmp_path / "nowhere.npz")
    (tmp_path / "2DBox_US_loop.npz").symlink_to(tmp_path / "2DBox_US_loop.npz")
    (tmp_path / "2DBox_US_dir.npz").mkdir()
    os.mkfifo(tmp_path / "2DBox_US_pipe.npz")  # must be skipped without being opened
    (tmp_path / "notes.txt").write_text("not a case, not reported")
    files, skipped = io.scan_case_files(tmp_path)
    assert [p.name for p in files] == ["2DBox_US_0001.npz", "2DBox_US_0002.NPZ"]
    reasons = {s.path.name: s.reason for s in skipped}
    assert reasons == {
        "2DBox_US_0002.npz": "same case name '2DBox_US_0002' as 2DBox_US_0002.NPZ (the names "
                             "differ only in letter case)",
        "2DBox_US_gone.npz": "broken symbolic link (its target is missing)",
        "2DBox_US_loop.npz": "symbolic link loop",
        "2DBox_US_dir.npz": "is a directory, not a file",
        "2DBox_US_pipe.npz": "is not a regular file (a pipe, socket or device)",
    }
    assert io.list_case_files(tmp_path) == files
    with pytest.warns(UserWarning) as caught:
        assert [c.name for c in io.iter_cases(tmp_path, errors="warn")] == [
            "2DBox_US_0001", "2DBox_US_0002"]
    assert sorted(str(w.message) for w in caught) == sorted(f"skipped {s}" for s in skipped)
    with pytest.raises(ChallengeFileError, match="same case name"):
        list(io.iter_cases(tmp_path))
    with pytest.raises(NotADirectoryError):
        io.scan_case_files(tmp_path / "2DBox_US_0001.npz")


def test_more_boxes_than_uint16_labels_are_refused_up_front(tmp_path):
    from classicseg.validation import MAX_BOXES

    boxes = np.tile(BOX2D, (MAX_BOXES, 1))
    assert io.Case("2DBox_US_0001", IMG2D, boxes).n_boxes == MAX_BOXES  # the most that fit
    path = tmp_path / "2DBox_US_0001.npz"
    io.atomic_savez(path, imgs=IMG2D, boxes=np.tile(BOX2D, (MAX_BOXES + 1, 1)))
    with pytest.raises(ChallengeFileError, match=r"2DBox_US_0001\.npz: boxes holds 65,536 boxes, "
                                                 r"more than the 65,535 a uint16 label map"):
        io.load_case(path)


def test_unknown_keys_message_has_no_api_hint(tmp_path):
    path = tmp_path / "2DBox_US_0001.npz"
    io.atomic_savez(path, imgs=IMG2D, boxes=BOX2D, extra=np.zeros(2))
    with pytest.raises(ChallengeFileError, match=r"unexpected key\(s\) \['extra'\]") as e:
        io.load_case(path)
    assert "allow_extra_keys" not in str(e.value)
    assert io.load_case(path, allow_extra_keys=True).n_boxes == 1
