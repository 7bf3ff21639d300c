"""The adversarial suite: hostile files, folders and arguments through the real command line.

Every scenario below builds one hostile input under ``tmp_path`` and runs ``python -m
classicseg`` on it in a subprocess. Each run must end with the expected exit status (2: usage
or input error, 1: some cases failed, 0: done), no Python traceback and no raw Python warning
on stderr, a message that names the file or argument and the problem, nothing written that
should not be, every pre-existing file byte-for-byte unchanged, and no pickle payload run.

The inputs are tiny, and the cases route to classical methods (OCT, PET: GHT), so LiteMedSAM
is never loaded; the whole file runs in about a minute on two cores.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import (
    OCT_BOX,
    OCT_IMAGE,
    PET_BOX,
    PET_VOLUME,
    cli,
    garbled_header_npy,
    good_2d,
    good_3d,
    gt_for,
    lying_size_npz,
    npy_bytes,
    npz,
    oversized_header_npy,
    payload_object_array,
    payload_pickle,
    snapshot,
    torch_payload,
    zip_members,
)

from classicseg.cli import COMMANDS

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
RAW_WARNING = re.compile(r"^\S+:\d+: \w*Warning: ", re.M)  # Python's own warning format


@dataclass
class Expect:
    """One hostile run and what must (not) come of it."""

    args: list
    status: int
    says: list = field(default_factory=list)      # in stdout + stderr: names and problems
    never: list = field(default_factory=list)     # must not appear anywhere in the output
    present: list = field(default_factory=list)   # files the run must write (the good cases)
    absent: list = field(default_factory=list)    # files it must not write
    keep: list = field(default_factory=list)      # files/folders that must stay unchanged
    marker: Path | None = None                    # a pickle payload would create it
    env: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- run: one bad file

def _bad_file_run(tmp, make_bad, *problem):
    """IN_DIR with a good OCT case and one hostile file; ``run`` predicts the good one,
    reports the bad one by name and with ``problem``, writes nothing for it, exits 1."""
    src, out = tmp / "in", tmp / "out"
    good_2d(src)
    bad = make_bad(src)
    return Expect(["run", src, out, "--no-progress"], 1, says=[bad.name[:-4], *problem],
                  never=["allow_extra_keys", "overwrite=True"],
                  present=[out / "2DBox_OCT_good.npz"], absent=[out / bad.name],
                  keep=[src], marker=tmp / "MARKER")


def _write(name, data: bytes):
    def make(src):
        p = src / name
        p.write_bytes(data)
        return p
    return make


def _arrays(name="2DBox_OCT_bad", **arrays):
    return lambda src: npz(src / f"{name}.npz", **arrays)


def _oct(name="2DBox_OCT_bad", **override):
    return lambda src: good_2d(src, name, **override)


def _pet(name="3DBox_PET_bad", **override):
    return lambda src: good_3d(src, name, **override)


def _truncated(src):
    p = good_2d(src, "2DBox_OCT_bad")
    p.write_bytes(p.read_bytes()[:60])
    return p


def _marker_pickle(src):
    p = src / "2DBox_OCT_bad.npz"
    p.write_bytes(payload_pickle(src.parent / "MARKER"))
    return p


def _pickled_member(key):
    def make(src):
        arrays = {"imgs": OCT_IMAGE, "boxes": OCT_BOX,
                  key: payload_object_array(src.parent / "MARKER")}
        return npz(src / "2DBox_OCT_bad.npz", pickles=True, **arrays)
    return make


BOX_OVERFLOW = np.tile(np.array([[1, 1, 2, 2]], np.uint16), (65_536, 1))

BAD_FILES = {
    # archives
    "truncated-archive": (_truncated, "corrupt or truncated"),
    "empty-file": (_write("2DBox_OCT_bad.npz", b""), "empty file"),
    "text-not-archive": (_write("2DBox_OCT_bad.npz", b"hello, I am not a zip\n"), "no zip header"),
    "single-npy-not-npz": (_write("2DBox_OCT_bad.npz", npy_bytes(OCT_IMAGE)), "single .npy"),
    "zip-without-arrays": (lambda s: zip_members(s / "2DBox_OCT_bad.npz", {"a.txt": b"x"}),
                           "missing key"),
    "garbage-member": (lambda s: zip_members(s / "2DBox_OCT_bad.npz", {
        "imgs.npy": os.urandom(64), "boxes.npy": npy_bytes(OCT_BOX)}), "garbled .npy header"),
    "garbled-header": (lambda s: zip_members(s / "2DBox_OCT_bad.npz", {
        "imgs.npy": garbled_header_npy(), "boxes.npy": npy_bytes(OCT_BOX)}), "garbled"),
    "oversized-header": (lambda s: zip_members(s / "2DBox_OCT_bad.npz", {
        "imgs.npy": oversized_header_npy(), "boxes.npy": npy_bytes(OCT_BOX)}),
        "declares shape (100000, 100000, 3)"),
    "zip-bomb-sizes": (lambda s: lying_size_npz(s / "2DBox_OCT_bad.npz"), "the file is corrupt"),
    # pickles (each would create MARKER if unpickled)
    "pickle-whole-file": (_marker_pickle, "no zip header"),
    "pickle-in-imgs": (_pickled_member("imgs"), "pickled object array"),
    "pickle-in-boxes": (_pickled_member("boxes"), "pickled object array"),
    "pickle-extra-key": (_pickled_member("origin"), "pickled object array"),
    # keys
    "missing-imgs": (_arrays(boxes=OCT_BOX), "missing key(s) ['imgs']"),
    "missing-boxes": (_arrays(imgs=OCT_IMAGE), "missing key(s) ['boxes']"),
    "unknown-key": (_oct(surprise=np.zeros(3)), "unexpected key(s) ['surprise']"),
    # image dtypes, ranks, shapes, values
    "image-float": (_oct(imgs=OCT_IMAGE.astype(np.float32)), "must be uint8"),
    "image-bool": (_oct(imgs=OCT_IMAGE > 0), "dtype bool"),
    "image-complex": (_oct(imgs=OCT_IMAGE.astype(np.complex64)), "dtype complex64"),
    "image-strings": (_oct(imgs=np.full((20, 24, 3), "a")), "dtype <U1"),
    "image-gray-2d": (_oct(imgs=OCT_IMAGE[..., 0]), "(H, W, 3)"),
    "image-four-channels": (_oct(imgs=np.zeros((20, 24, 4), np.uint8)), "(H, W, 3)"),
    "image-rank-1": (_oct(imgs=np.zeros(24, np.uint8)), "shape (24,)"),
    "image-empty": (_oct(imgs=np.zeros((0, 0, 3), np.uint8)), "empty"),
    "volume-nan": (_pet(imgs=np.full((6, 20, 20), np.nan)), "NaN or inf"),
    "volume-rank-4": (_pet(imgs=np.zeros((2, 6, 20, 20), np.uint8)), "3 dimensions"),
    # boxes
    "boxes-nan": (_oct(boxes=np.array([[3.0, np.nan, 14, 14]])), "NaN or inf"),
    "boxes-inf": (_oct(boxes=np.array([[3.0, 3, np.inf, 14]])), "NaN or inf"),
    "boxes-fractional": (_oct(boxes=np.array([[3.5, 3, 14, 14]])), "whole numbers"),
    "boxes-inverted": (_oct(boxes=np.array([[14, 3, 3, 14]])), "inverted"),
    "boxes-outside": (_oct(boxes=np.array([[100, 100, 120, 120]])), "entirely outside"),
    "boxes-partly-outside": (_oct(boxes=np.array([[3, 3, 40, 14]])), "partly outside"),
    "boxes-int64-min": (_oct(boxes=np.array([[-2**63, 3, 14, 14]])), "outside"),
    "boxes-five-columns": (_oct(boxes=np.zeros((1, 5))), "(N, 4)"),
    "boxes-strings": (_oct(boxes=np.array([["a", "b", "c", "d"]])), "real numeric"),
    "boxes-3d-in-2d-file": (_oct(boxes=PET_BOX), "file name says 2D"),
    "boxes-too-many": (_oct(boxes=BOX_OVERFLOW), "65,536 boxes", "65,535"),
    # spacing
    "spacing-strings": (_pet(spacing=np.array(["a", "b", "c"])), "spacing must be 3 positive"),
    "spacing-zero": (_pet(spacing=np.array([1.0, 0.0, 1.0])), "spacing must be 3 positive"),
    "spacing-nan": (_pet(spacing=np.array([1.0, np.nan, 1.0])), "spacing must be 3 positive"),
    "spacing-two-values": (_pet(spacing=np.array([1.0, 1.0])), "spacing must be 3 positive"),
    # ground truth inside the image file that disagrees with the image
    "gts-wrong-shape": (_oct(gts=np.zeros((5, 5), np.uint8)), "gts shape (5, 5) differs"),
    "gts-float": (_oct(gts=np.zeros((20, 24), np.float32)), "integer label map"),
    "gts-negative": (_oct(gts=np.full((20, 24), -1, np.int8)), "negative labels"),
}


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def _scenario_bad_file(key):
    make, *problem = BAD_FILES[key]
    return lambda tmp: _bad_file_run(tmp, make, *problem)


# --------------------------------------------------------------------------- run: folders

def _entry(kind):
    """IN_DIR with a good case and one ``*.npz`` entry that is no readable file."""
    def build(tmp):
        src, out = tmp / "in", tmp / "out"
        good_2d(src)
        bad = src / "2DBox_OCT_bad.npz"
        reason = {"broken-link": "broken symbolic link", "link-loop": "symbolic link loop",
                  "folder": "is a directory", "fifo": "not a regular file",
                  "unreadable": "cannot be read", "case-clash": "same case name"}[kind]
        if kind == "broken-link":
            bad.symlink_to(src / "missing.npz")
        elif kind == "link-loop":
            bad.symlink_to(bad)
        elif kind == "folder":
            bad.mkdir()
        elif kind == "fifo":
            os.mkfifo(bad)  # opening it would block: it must be skipped unopened
        elif kind == "unreadable":
            good_2d(src, "2DBox_OCT_bad")
            bad.chmod(0)
        elif kind == "case-clash":  # a.NPZ + a.npz: one case name twice; a.NPZ sorts first
            good_2d(src, "2DBox_OCT_bad").rename(src / "2DBox_OCT_bad.NPZ")
            good_2d(src, "2DBox_OCT_bad")
        return Expect(["run", src, out, "--no-progress"], 1, says=[bad.name, reason],
                      present=[out / "run_log.jsonl"], keep=[src])
    return build


def _odd_names(tmp):
    src, out = tmp / "in", tmp / "out"
    names = ["2DBox_OCT_with space", "2DBox_OCT_ünïcødé-✓", "2DBox_OCT_'quote\""]
    for n in names:
        good_2d(src, n)
    return Expect(["run", src, out, "--no-progress"], 0, says=["3 predicted"],
                  present=[out / f"{n}.npz" for n in names], keep=[src])


def _no_boxes(tmp):
    src, out = tmp / "in", tmp / "out"
    good_2d(src, "2DBox_OCT_empty", boxes=np.zeros((0, 4), np.int64))
    return Expect(["run", src, out, "--no-progress"], 0,
                  says=["classicseg run: 2DBox_OCT_empty: no boxes; the prediction will be empty"],
                  present=[out / "2DBox_OCT_empty.npz"], keep=[src])


def _existing_predictions(tmp):
    src, out = tmp / "in", tmp / "out"
    good_2d(src)
    out.mkdir()
    (out / "2DBox_OCT_good.npz").write_bytes(b"an old prediction, kept without --overwrite")
    return Expect(["run", src, out, "--no-progress"], 0, says=["1 skipped (exist)"],
                  keep=[out / "2DBox_OCT_good.npz"])


def _corrupt_among_good(tmp):
    src, out = tmp / "in", tmp / "out"
    good_2d(src, "2DBox_OCT_a")
    good_3d(src, "3DBox_PET_b")
    (src / "2DBox_OCT_c.npz").write_bytes(b"PK\x03\x04 broken")
    good_2d(src, "2DBox_OCT_d")
    return Expect(["run", src, out, "--no-progress"], 1, says=["3 predicted", "1 failed",
                                                              "2DBox_OCT_c"],
                  present=[out / f"{n}.npz" for n in ("2DBox_OCT_a", "3DBox_PET_b", "2DBox_OCT_d")],
                  absent=[out / "2DBox_OCT_c.npz"], keep=[src])


def _dirs(kind):
    def build(tmp):
        src = tmp / "in"
        good_2d(src)
        out = tmp / "out"
        if kind == "in-missing":
            return Expect(["run", tmp / "nowhere", out], 2, says=["nowhere", "no such directory"],
                          absent=[out])
        if kind == "in-is-file":
            return Expect(["run", src / "2DBox_OCT_good.npz", out], 2,
                          says=["2DBox_OCT_good.npz", "not a directory"], absent=[out])
        if kind == "in-empty":
            (tmp / "empty").mkdir()
            return Expect(["run", tmp / "empty", out], 2, says=["empty", "no .npz"], absent=[out])
        if kind == "in-only-broken":
            (tmp / "broken").mkdir()
            (tmp / "broken" / "2DBox_OCT_x.npz").symlink_to(tmp / "gone.npz")
            return Expect(["run", tmp / "broken", out], 2,
                          says=["no usable .npz", "2DBox_OCT_x.npz", "broken symbolic link"],
                          absent=[out])
        if kind == "in-link-loop":
            (tmp / "loop").symlink_to(tmp / "loop")
            return Expect(["run", tmp / "loop", out], 2, says=["loop", "symbolic link"],
                          absent=[out])
        if kind == "out-is-file":
            out.write_text("not a folder")
            return Expect(["run", src, out], 2, says=[str(out), "not a directory"], keep=[out])
        if kind == "out-parent-is-file":
            out.write_text("not a folder")
            return Expect(["run", src, out / "sub"], 2, says=[str(out), "not a directory"],
                          keep=[out])
        if kind == "out-is-in":
            return Expect(["run", src, src, "--overwrite"], 2, says=["is the input folder"],
                          keep=[src])
        if kind == "log-is-folder":
            (out / "run_log.jsonl").mkdir(parents=True)
            return Expect(["run", src, out], 2, says=["run_log.jsonl", "cannot write the run log"],
                          absent=[out / "2DBox_OCT_good.npz"])
        if kind == "out-read-only":
            out.mkdir()
            out.chmod(0o555)
            return Expect(["run", src, out], 2, says=[str(out), "not writable"],
                          absent=[out / "2DBox_OCT_good.npz", out / "run_log.jsonl"])
        raise KeyError(kind)
    return build


# --------------------------------------------------------------------------- run: arguments

def _run_args(*extra, says, status=2, env=None, setup=None):
    def build(tmp):
        src, out = tmp / "in", tmp / "out"
        good_2d(src)
        args = [a(tmp) if callable(a) else a for a in extra]
        if setup:
            setup(tmp)
        return Expect(["run", src, out, "--no-progress", *args], status, says=list(says),
                      absent=[out], env=env or {}, marker=tmp / "MARKER")
    return build


def _garbage_weights(tmp):
    (tmp / "lite.pth").write_bytes(b"\0" * 1000)
    return tmp / "lite.pth"


def _payload_weights(tmp):
    return torch_payload(tmp / "lite.pth", tmp / "MARKER")


RUN_ARGS = {
    "s-zero": _run_args("--s", "0", says=["--s", "positive integer", "'0'"]),
    "s-text": _run_args("--s", "CT=x", says=["--s", "positive integer", "'x'"]),
    "s-unknown-modality": _run_args("--s", "Brain=3", says=["--s", "unknown modality 'Brain'"]),
    "s-mixed": _run_args("--s", "3", "--s", "CT=2", says=["--s", "not both"]),
    "method-unknown": _run_args("--method", "magic", says=["--method", "unknown method 'magic'"]),
    "workers-zero": _run_args("--workers", "0", says=["--workers", "positive integer"]),
    "threads-negative": _run_args("--threads", "-1", says=["--threads", "positive integer"]),
    "postprocess-bogus": _run_args("--postprocess", "sometimes", says=["--postprocess",
                                                                       "invalid choice"]),
    "baseline-with-router-options": _run_args(
        "--mode", "baseline", "--method", "ght", "--s", "2", "--postprocess", "off",
        says=["--mode baseline", "--method", "--s", "--postprocess"]),
    "cold-with-workers": _run_args("--cold", "--workers", "2", says=["--cold", "--workers"]),
    "scheduler-garbage": _run_args("--scheduler", "not an address",
                                   says=["--scheduler", "not a Dask scheduler address"]),
    "scheduler-http": _run_args("--scheduler", "http://head:8786",
                                says=["--scheduler", "unknown scheme 'http'"]),
    "scheduler-port": _run_args("--scheduler", "tcp://127.0.0.1:99999",
                                says=["--scheduler", "outside 1..65535"]),
    "scheduler-unreachable": _run_args("--scheduler", "tcp://127.0.0.1:1",
                                       says=["--scheduler tcp://127.0.0.1:1", "cannot connect"]),
    "weights-missing": _run_args("--weights", lambda t: t / "nope.pth",
                                 says=["--weights", "nope.pth", "no such file"]),
    "weights-garbage": _run_args("--weights", _garbage_weights,
                                 says=["--weights", "lite.pth", "not the official LiteMedSAM"]),
    "weights-pickle-payload": _run_args("--weights", _payload_weights,
                                        says=["lite.pth", "not the official LiteMedSAM"]),
    "backend-bogus": _run_args("--backend", "tpu", says=["--backend", "invalid choice"]),
    "modality-unknown": _run_args("--modality", "Banana", says=["--modality Banana",
                                                                "unknown modality"]),
}


# --------------------------------------------------------------------------- MobileUNet weights

def _mobileunet_dir(kind):
    def build(tmp):
        src, out, wdir = tmp / "in", tmp / "out", tmp / "weights"
        good_2d(src)
        wdir.mkdir()
        pt = wdir / "mobileunet_oct.pt"
        if kind == "corrupt":
            pt.write_bytes(b"\0" * 200)
            sha = "0" * 64
        else:  # a pickle payload whose model card even carries its true hash
            torch_payload(pt, tmp / "MARKER")
            import hashlib
            sha = hashlib.sha256(pt.read_bytes()).hexdigest()
        (wdir / "mobileunet_oct.json").write_text(
            '{"sha256": "%s", "config": {"width": 0.25, "out_channels": 1, '
            '"reference_layout": true}, "modality": "OCT"}' % sha)
        says = ["mobileunet_oct.pt", "does not match its model card" if kind == "corrupt"
                else "refusing"]
        return Expect(["run", src, out, "--no-progress", "--method", "OCT=mobileunet"], 1,
                      says=says, never=["weights_only"], absent=[out / "2DBox_OCT_good.npz"],
                      keep=[wdir], marker=tmp / "MARKER", env={"CLASSICSEG_WEIGHTS_DIR": str(wdir)})
    return build


# --------------------------------------------------------------------------- evaluate

def _eval_setup(tmp, n=2):
    """PRED_DIR and GT_DIR with ``n`` good, matching OCT cases."""
    pred, gt = tmp / "pred", tmp / "gts"
    for i in range(n):
        img = good_2d(tmp / "imgs", f"2DBox_OCT_{i}")
        gt_for(img, gt)
        segs = np.zeros((20, 24), np.uint16)
        segs[5:12, 5:12] = 1
        npz(pred / img.name, segs=segs)
    return pred, gt


def _evaluate(kind):
    def build(tmp):
        pred, gt = _eval_setup(tmp)
        args = ["evaluate", pred, gt]
        if kind == "corrupt-prediction":
            (pred / "2DBox_OCT_1.npz").write_bytes(b"PK\x03\x04 junk")
            return Expect(args, 1, says=["2DBox_OCT_1.npz", "unreadable prediction",
                                         "1 cases scored"], keep=[pred, gt])
        if kind == "missing-prediction":
            (pred / "2DBox_OCT_1.npz").unlink()
            return Expect(args, 1, says=["2DBox_OCT_1.npz", "no prediction file"], keep=[gt])
        if kind == "prediction-wrong-shape":
            npz(pred / "2DBox_OCT_1.npz", segs=np.zeros((7, 7), np.uint16))
            return Expect(args, 1, says=["2DBox_OCT_1.npz", "differs"], keep=[pred, gt])
        if kind == "prediction-float":
            npz(pred / "2DBox_OCT_1.npz", segs=np.zeros((20, 24), np.float64))
            return Expect(args, 1, says=["2DBox_OCT_1.npz", "integer label map"], keep=[pred])
        if kind == "corrupt-ground-truth":
            (gt / "2DBox_OCT_0.npz").write_bytes(b"")
            return Expect(args, 1, says=["2DBox_OCT_0.npz", "unreadable ground truth",
                                         "1 cases scored"], keep=[pred, gt])
        if kind == "pickled-ground-truth":
            npz(gt / "2DBox_OCT_0.npz", pickles=True,
                gts=payload_object_array(tmp / "MARKER"))
            return Expect(args, 1, says=["2DBox_OCT_0.npz", "pickled object array"],
                          keep=[gt], marker=tmp / "MARKER")
        if kind == "ground-truth-broken-link":
            (gt / "2DBox_OCT_9.npz").symlink_to(tmp / "gone.npz")
            return Expect(args, 1, says=["2DBox_OCT_9.npz", "broken symbolic link"], keep=[pred])
        if kind == "3d-without-spacing":
            img = good_3d(tmp / "imgs", "3DBox_PET_nospacing")
            gt_for(img, gt, spacing=False)
            npz(pred / img.name, segs=np.zeros(PET_VOLUME.shape, np.uint16))
            return Expect(args, 0, says=["classicseg evaluate: 3DBox_PET_nospacing: 3D masks "
                                         "without spacing"], keep=[pred, gt])
        if kind == "csv-parent-is-file":
            (tmp / "afile").write_text("x")
            return Expect(args + ["--csv", tmp / "afile" / "s.csv"], 2,
                          says=["--csv", "afile is not a directory"], keep=[tmp / "afile"])
        if kind == "csv-is-folder":
            (tmp / "csvdir").mkdir()
            return Expect(args + ["--csv", tmp / "csvdir", "--overwrite"], 2,
                          says=["--csv", "is a directory"])
        if kind == "csv-exists":
            (tmp / "s.csv").write_text("precious")
            return Expect(args + ["--csv", tmp / "s.csv"], 2, says=["--csv", "--overwrite"],
                          never=["overwrite=True"], keep=[tmp / "s.csv"])
        if kind == "gt-dir-empty":
            (tmp / "nogt").mkdir()
            return Expect(["evaluate", pred, tmp / "nogt"], 2, says=["nogt", "no .npz"])
        if kind == "pred-dir-missing":
            return Expect(["evaluate", tmp / "nopred", gt], 2, says=["nopred",
                                                                     "no such directory"])
        if kind == "flavour-bogus":
            return Expect(args + ["--flavour", "fancy"], 2, says=["--flavour", "invalid choice"])
        raise KeyError(kind)
    return build


# --------------------------------------------------------------------------- compare

def _compare_setup(tmp, *, labels=1):
    """IN_DIR imgs/ + gts/ with two OCT cases whose baseline predictions already exist (so
    LiteMedSAM never runs: ``run`` keeps existing predictions)."""
    data, out = tmp / "data", tmp / "report"
    for name in ("2DBox_OCT_a", "2DBox_OCT_b"):
        img = good_2d(data / "imgs", name)
        gt_for(img, data / "gts", labels=labels if name.endswith("a") else 1)
        segs = np.zeros((20, 24), np.uint16)
        segs[5:12, 5:12] = 1
        npz(out / "predictions" / "baseline" / img.name, segs=segs)
    return data, out


def _compare(kind):
    def build(tmp):
        if kind == "label-box-mismatch":
            data, out = _compare_setup(tmp, labels=2)
            return Expect(["compare", data, "--out", out, "--no-progress", "--no-figures"], 0,
                          says=["classicseg compare: 2DBox_OCT_a: the ground truth has labels "
                                "1..2 but the image has 1 box"], present=[out / "report.md"])
        data, out = _compare_setup(tmp)
        args = ["compare", data, "--out", out, "--no-progress"]
        if kind == "corrupt-among-good":  # with figures: the corrupt case ranks worst
            (data / "imgs" / "2DBox_OCT_c.npz").write_bytes(b"\x93NUMPY not an archive")
            gt_for(data / "imgs" / "2DBox_OCT_a.npz", data / "gts", name="2DBox_OCT_c.npz")
            return Expect(args, 1, says=["2DBox_OCT_c", "single .npy"],
                          present=[out / n for n in ("report.md", "summary.csv", "per_case.csv")],
                          keep=[data])
        if kind == "report-exists":
            (out / "report.md").write_text("an earlier report")
            return Expect(args, 2, says=["report.md", "--overwrite", "--resume"],
                          never=["overwrite=True"], keep=[out])
        if kind == "out-is-file":
            (tmp / "afile").write_text("x")
            return Expect(["compare", data, "--out", tmp / "afile"], 2,
                          says=["--out", "not a directory"], keep=[tmp / "afile"])
        if kind == "overwrite-and-resume":
            return Expect(args + ["--overwrite", "--resume"], 2, says=["--overwrite", "--resume"],
                          absent=[out / "report.md"])
        if kind == "worst-negative":
            return Expect(args + ["--worst", "-1"], 2, says=["--worst", "integer >= 0"])
        if kind == "methods-unknown":
            return Expect(args + ["--methods", "voodoo"], 2, says=["--methods voodoo"],
                          absent=[out / "report.md"])
        if kind == "gt-dir-missing":
            return Expect(["compare", data, tmp / "nogt", "--out", out], 2,
                          says=["nogt", "no such directory"], absent=[out / "report.md"])
        if kind == "gt-given-twice":
            return Expect(["compare", data, data / "gts", "--gt", tmp, "--out", out], 2,
                          says=["GT_DIR", "twice"])
        raise KeyError(kind)
    return build


# --------------------------------------------------------------------------- samples

def _samples(kind):
    def build(tmp):
        f = tmp / "afile"
        f.write_text("x")
        if kind == "write-into-file":
            return Expect(["samples", "write", f, "--names", "oct-cysts"], 2,
                          says=["afile", "not a directory"], keep=[f])
        if kind == "write-under-file":
            return Expect(["samples", "write", f / "sub", "--names", "oct-cysts"], 2,
                          says=["afile", "not a directory"], keep=[f])
        if kind == "write-existing":
            d = tmp / "s"
            assert cli("samples", "write", d, "--names", "oct-cysts").returncode == 0
            return Expect(["samples", "write", d, "--names", "oct-cysts"], 2,
                          says=["exist", "--overwrite"], never=["overwrite=True"], keep=[d])
        if kind == "write-bad-manifest":
            d = tmp / "s"
            d.mkdir()
            (d / "MANIFEST.tsv").write_bytes(b"\xff\xfe garbage \x00")
            return Expect(["samples", "write", d, "--names", "oct-cysts"], 2,
                          says=["MANIFEST.tsv", "not a MANIFEST.tsv"], keep=[d],
                          absent=[d / "imgs"])
        if kind == "write-unknown-name":
            return Expect(["samples", "write", tmp / "s", "--names", "no-such-sample"], 2,
                          says=["unknown sample 'no-such-sample'"], absent=[tmp / "s"])
        if kind == "write-names-and-all":
            return Expect(["samples", "write", tmp / "s", "--names", "oct-cysts", "--all"], 2,
                          says=["--names", "--all"], absent=[tmp / "s"])
        if kind == "write-seed-negative":
            return Expect(["samples", "write", tmp / "s", "--seed", "-1"], 2,
                          says=["--seed", "integer >= 0"], absent=[tmp / "s"])
        if kind == "gallery-existing":
            png = tmp / "g.png"
            png.write_bytes(b"an earlier figure")
            return Expect(["samples", "gallery", png, "--names", "oct-cysts"], 2,
                          says=["g.png", "exists", "--overwrite"], keep=[png])
        if kind == "gallery-unknown-format":
            return Expect(["samples", "gallery", tmp / "g.xyz", "--names", "oct-cysts"], 2,
                          says=["g.xyz", "unknown image format"], absent=[tmp / "g.xyz"])
        if kind == "gallery-missing-folder":
            return Expect(["samples", "gallery", tmp / "nope" / "g.png", "--names", "oct-cysts"],
                          2, says=["g.png", "does not exist"], absent=[tmp / "nope"])
        if kind == "gallery-into-folder":
            return Expect(["samples", "gallery", tmp, "--names", "oct-cysts"], 2,
                          says=[str(tmp), "is a directory"])
        if kind == "gallery-dpi-zero":
            return Expect(["samples", "gallery", tmp / "g.png", "--dpi", "0"], 2,
                          says=["--dpi", "from 10 to 1200"], absent=[tmp / "g.png"])
        if kind == "gallery-dpi-huge":
            return Expect(["samples", "gallery", tmp / "g.png", "--dpi", "10000000"], 2,
                          says=["--dpi", "from 10 to 1200"], absent=[tmp / "g.png"])
        if kind == "unknown-action":
            return Expect(["samples", "explode"], 2, says=["invalid choice: 'explode'"])
        raise KeyError(kind)
    return build


# --------------------------------------------------------------------------- train

def _checkpoint(tmp, kind):
    """A --out checkpoint that cannot be resumed, with a model card naming its hash."""
    import hashlib

    pt = tmp / "m.pt"
    if kind == "truncated":
        pt.write_bytes(b"PK\x03\x04" + b"\0" * 100)
        sha = "f" * 64  # the card of the full file: the hash check catches the truncation
    else:
        torch_payload(pt, tmp / "MARKER")
        sha = hashlib.sha256(pt.read_bytes()).hexdigest()
    (tmp / "m.json").write_text('{"sha256": "%s", "config": {"width": 0.25, "out_channels": 1, '
                                '"reference_layout": true}}' % sha)
    return pt


def _train(kind):
    def build(tmp):
        base = ["train", "mobileunet", "--modality", "Dermoscopy", "--data", "dermoscopy-lesion",
                "--n-train", "1", "--width", "0.25", "--epochs", "1", "--no-progress",
                "--threads", "1"]
        out = tmp / "m.pt"
        if kind in ("resume-truncated", "resume-pickle"):
            pt = _checkpoint(tmp, kind.split("-")[1])
            says = ["m.pt", "does not match its model card" if kind == "resume-truncated"
                    else "refusing to load"]
            return Expect(base + ["--out", pt, "--resume"], 2, says=says, never=["weights_only"],
                          keep=[tmp / "m.pt", tmp / "m.json"], marker=tmp / "MARKER")
        if kind == "resume-nothing":
            return Expect(base + ["--out", out, "--resume"], 2, says=["m.pt", "no checkpoint"],
                          absent=[out])
        if kind == "out-exists":
            out.write_bytes(b"precious")
            return Expect(base + ["--out", out], 2, says=["m.pt", "--overwrite", "--resume"],
                          keep=[out])
        if kind == "out-not-pt":
            return Expect(base + ["--out", tmp / "m.txt"], 2, says=["m.txt", ".pt"],
                          absent=[tmp / "m.txt"])
        if kind == "epochs-zero":
            return Expect(base + ["--out", out, "--epochs", "0"], 2,
                          says=["--epochs", "positive integer"], absent=[out])
        if kind == "lr-nan":
            return Expect(base + ["--out", out, "--lr", "nan"], 2,
                          says=["--lr", "positive number"], absent=[out])
        if kind == "modality-unknown":
            return Expect(base[:3] + ["Brain"] + base[4:] + ["--out", out], 2,
                          says=["--modality Brain", "not a known modality"], absent=[out])
        if kind == "data-missing":
            return Expect(base[:5] + [tmp / "nodata"] + base[6:] + ["--out", out], 2,
                          says=["--data", "nodata"], absent=[out])
        raise KeyError(kind)
    return build


# --------------------------------------------------------------------------- the table

SCENARIOS = {f"run-file-{k}": _scenario_bad_file(k) for k in BAD_FILES}
SCENARIOS.update({f"run-entry-{k}": _entry(k) for k in
                  ("broken-link", "link-loop", "folder", "fifo", "unreadable", "case-clash")})
SCENARIOS.update({"run-odd-names": _odd_names, "run-existing-predictions": _existing_predictions,
                  "run-corrupt-among-good": _corrupt_among_good, "run-file-boxes-empty": _no_boxes})
SCENARIOS.update({
    "top-unknown-command": lambda tmp: Expect(["explode"], 2, says=["invalid choice: 'explode'"]),
    "top-no-command": lambda tmp: Expect([], 2, says=["usage: classicseg"]),
})
SCENARIOS.update({f"run-dir-{k}": _dirs(k) for k in
                  ("in-missing", "in-is-file", "in-empty", "in-only-broken", "in-link-loop",
                   "out-is-file", "out-parent-is-file", "out-is-in", "log-is-folder",
                   "out-read-only")})
SCENARIOS.update({f"run-arg-{k}": v for k, v in RUN_ARGS.items()})
SCENARIOS.update({f"run-mobileunet-{k}": _mobileunet_dir(k) for k in ("corrupt", "pickle")})
SCENARIOS.update({f"evaluate-{k}": _evaluate(k) for k in
                  ("corrupt-prediction", "missing-prediction", "prediction-wrong-shape",
                   "prediction-float", "corrupt-ground-truth", "pickled-ground-truth",
                   "ground-truth-broken-link", "3d-without-spacing", "csv-parent-is-file",
                   "csv-is-folder", "csv-exists", "gt-dir-empty", "pred-dir-missing",
                   "flavour-bogus")})
SCENARIOS.update({f"compare-{k}": _compare(k) for k in
                  ("corrupt-among-good", "label-box-mismatch", "report-exists", "out-is-file",
                   "overwrite-and-resume", "worst-negative", "methods-unknown",
                   "gt-dir-missing", "gt-given-twice")})
SCENARIOS.update({f"samples-{k}": _samples(k) for k in
                  ("write-into-file", "write-under-file", "write-existing", "write-bad-manifest",
                   "write-unknown-name", "write-names-and-all", "write-seed-negative",
                   "gallery-existing", "gallery-unknown-format", "gallery-missing-folder",
                   "gallery-into-folder", "gallery-dpi-zero", "gallery-dpi-huge",
                   "unknown-action")})
SCENARIOS.update({f"train-{k}": _train(k) for k in
                  ("resume-truncated", "resume-pickle", "resume-nothing", "out-exists",
                   "out-not-pt", "epochs-zero", "lr-nan", "modality-unknown", "data-missing")})

#: root reads and writes whatever the permission bits say: these inputs cannot be built
NEEDS_NON_ROOT = {"run-entry-unreadable", "run-dir-out-read-only"}


def test_the_suite_is_large_enough():
    assert len(SCENARIOS) >= 60


#: inputs whose fix lies outside the command line's files (strict: a fix makes them fail)
#: Scenarios that still fail, each with the reason (strict: a fix makes the test say so).
KNOWN_GAPS: dict[str, str] = {}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[n]))
    if n in KNOWN_GAPS else n for n in sorted(SCENARIOS)])
def test_hostile_input(name, tmp_path):
    if name in NEEDS_NON_ROOT and ROOT:
        pytest.skip("running as root: permission bits do not stop root, so this input is "
                    "not hostile here")
    expect = SCENARIOS[name](tmp_path)
    before = snapshot(*[p for p in expect.keep if Path(p).exists()])
    proc = cli(*expect.args, cwd=tmp_path, env=expect.env)
    out = proc.stdout + proc.stderr
    detail = f"\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    assert proc.returncode == expect.status, detail
    assert "Traceback" not in proc.stderr, detail
    assert not RAW_WARNING.search(proc.stderr), detail
    if proc.returncode == 2 and expect.args:  # "classicseg <command>: <what>: <problem>"
        command = expect.args[0] if expect.args[0] in COMMANDS else ""
        assert any(line.startswith(f"classicseg {command}".rstrip())
                   for line in proc.stderr.splitlines()), detail
    for text in expect.says:
        assert str(text) in out, f"{text!r} not in the output{detail}"
    for text in expect.never:
        assert text not in out, f"{text!r} in the output{detail}"
    for p in expect.present:
        assert Path(p).exists(), f"{p} was not written{detail}"
    for p in expect.absent:
        assert not os.path.lexists(p), f"{p} was written{detail}"
    assert snapshot(*[p for p in expect.keep if Path(p).exists()]) == before, \
        f"an existing file changed{detail}"
    if expect.marker is not None:
        assert not Path(expect.marker).exists(), "a pickle payload ran"
