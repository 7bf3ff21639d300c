"""The sample registry, the phantoms, the challenge-format writer and the user-data loader."""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path

import numpy as np
import pytest

from classicseg import samples
from classicseg.boxes import box_slices
from classicseg.io import (
    MODALITIES,
    MODALITIES_3D,
    ChallengeFileError,
    dimension_from_name,
    load_case,
    load_case_2025,
    parse_modality,
)
from classicseg.io import iter_cases as load_directory
from classicseg.io_cvpr2025 import boxes_from_2025
from classicseg.samples import real, registry

REPO = Path(__file__).resolve().parents[2]
DATA_SAMPLES = REPO / "data_samples"
ALL = [s.name for s in samples.list()]
SYNTHETIC = [s.name for s in samples.list() if s.synthetic]


@functools.lru_cache(maxsize=None)
def _load(name, hard=False, seed=0):
    """Generate each case once per test session (the cases are never mutated by the tests)."""
    info = samples.get_info(name)
    if not info.available:
        pytest.skip(f"{name}: {', '.join(info.requires)} not installed ({samples.INSTALL_HINT})")
    return samples.load(name, hard=hard, seed=seed)


# --------------------------------------------------------------------------- registry

def test_registry_fields_and_coverage():
    infos = samples.list()
    assert len({s.name for s in infos}) == len(infos)
    for s in infos:
        assert s.modality in MODALITIES, s
        assert s.dims == (3 if s.modality in MODALITIES_3D else 2), s
        assert s.licence and s.source and s.description and s.teaches, s
        assert "_" not in s.name and s.name == s.name.lower(), s.name
        assert not s.synthetic or s.has_gt, s.name
        assert s.generator.count(":") == 1
    # a synthetic phantom for each of the 11 modalities, and the four microscopy situations
    assert {s.modality for s in infos if s.synthetic} == set(MODALITIES)
    micro = {s.variant for s in infos if s.synthetic and s.modality == "Microscopy"}
    assert {"grayscale", "grayscale-circular", "two-channel", "rgb"} <= micro
    hc18 = {f"us-hc18-{k}" for k in ("082", "085", "178", "325", "355", "640")}
    assert {s.name for s in infos if not s.synthetic and s.has_gt} == {
        "microscopy-nuclei-stardist", "mr-ventricles-mni152", *hc18}
    # real cases stored as files: in the default set, named as in their source
    assert {s.name for s in infos if s.bundled} == hc18
    assert all(samples.file_name(s.name) == s.bundled for s in infos if s.bundled)
    assert [s.modality for s in samples.list(modality="OCT")] == ["OCT"]


@pytest.mark.parametrize("name", ALL)
def test_file_name_routes_to_the_modality(name):
    info = samples.get_info(name)
    for hard, seed in ((False, 0), (True, 3)):
        if not info.synthetic and (hard or seed):
            continue
        f = samples.file_name(name, hard=hard, seed=seed)
        assert parse_modality(f) == info.modality
        assert dimension_from_name(f) == info.dims
        assert ("synthetic" in f) == info.synthetic


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="unknown sample 'nope'"):
        samples.load("nope")
    with pytest.raises(ValueError, match="real image"):
        samples.load("microscopy-nuclei-stardist", hard=True)
    with pytest.raises(ValueError, match="seed"):
        samples.load("oct-cysts", seed=-1)
    with pytest.raises(ValueError, match="NAME:hard"):
        samples.write("/nonexistent-dir-never-written", ["oct-cysts:easy"])


# --------------------------------------------------------------------------- every sample

@pytest.mark.parametrize("name", ALL)
def test_every_sample_loads_and_validates(name):
    info = samples.get_info(name)
    case = _load(name)
    assert case.modality == info.modality and case.is_3d == (info.dims == 3)
    assert case.image.dtype == np.uint8 and case.n_boxes >= 1
    assert case.name == samples.file_name(name)[:-4]
    for key in ("synthetic", "source", "licence", "generator", "seed", "teaches", "sample"):
        assert key in case.meta, key
    assert case.synthetic == info.synthetic
    assert (case.gts is not None) == info.has_gt
    if case.is_3d:
        assert case.spacing is not None and all(s > 0 for s in case.spacing)
        # LiteMedSAM at s = 1 needs one encoder pass per slice of a box: keep it <= 15
        assert np.all(case.boxes[:, 5] - case.boxes[:, 2] + 1 <= 15), case.boxes
        assert case.image.size <= 40 * 200 * 200 * 1.5
    else:
        # phantoms stay small; the bundled real HC18 images are 800 x 540 as released
        assert 200 <= max(case.image.shape[:2]) <= (700 if info.synthetic else 800)
    if case.gts is not None:
        assert case.gts.max() == case.n_boxes
        for k, box in enumerate(case.boxes):
            inside = case.gts[box_slices(box)] == k + 1
            assert inside.sum() == (case.gts == k + 1).sum() > 0, f"label {k + 1} leaves its box"


@pytest.mark.parametrize("name", SYNTHETIC)
def test_hard_variant_differs_and_validates(name):
    normal, hard = _load(name), _load(name, hard=True)
    assert hard.meta["hard"] is True and hard.name.endswith("-hard")
    assert hard.image.shape == normal.image.shape
    assert not np.array_equal(hard.image, normal.image)
    assert hard.gts is not None and hard.gts.max() == hard.n_boxes


@pytest.mark.parametrize("name", ["oct-cysts", "pet-lesions", "microscopy-he", "us-fetal-head"])
def test_generators_are_deterministic(name):
    a = samples.load(name, seed=5)
    b = samples.load(name, seed=5)
    c = samples.load(name, seed=6)
    sha = registry.array_sha256
    assert sha(a.image) == sha(b.image) and sha(a.gts) == sha(b.gts)
    assert np.array_equal(a.boxes, b.boxes)
    assert sha(a.image) != sha(c.image)


# ------------------------------------------------------------------------- what the phantoms teach

def test_microscopy_channel_situations():
    two = _load("microscopy-two-channel").image
    zero = [bool((two[..., c] == 0).all()) for c in range(3)]
    assert zero == [False, False, True]
    for name in ("microscopy-dark-cells", "microscopy-round-nuclei", "microscopy-nuclei-stardist"):
        img = _load(name).image
        assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])
    he = _load("microscopy-he").image.astype(int)
    assert np.abs(he[..., 0] - he[..., 1]).mean() > 20
    assert (_load("microscopy-dark-cells").n_boxes >= 20
            and _load("microscopy-nuclei-stardist").n_boxes == 125)


def test_circle_rule_fires_only_on_round_nuclei():
    micro = pytest.importorskip("classicseg.methods.microscopy")
    rnd, dark = _load("microscopy-round-nuclei"), _load("microscopy-dark-cells")
    assert micro.circle_fraction(rnd.image, rnd.boxes) > 0.35
    assert micro.circle_fraction(dark.image, dark.boxes) < 0.35


def test_pet_hot_organs_lie_outside_the_boxes():
    case = _load("pet-lesions")
    inside = np.zeros(case.image.shape, bool)
    for b in case.boxes:
        inside[box_slices(b)] = True
    lesion_level = np.median(case.image[case.gts > 0])
    hot_outside = (case.image > lesion_level) & ~inside
    # a global threshold at the lesions' level would pick up far more than the lesions
    assert hot_outside.sum() > 5 * (case.gts > 0).sum()


def test_oct_hard_variant_has_lower_cyst_contrast():
    def cnr(case):
        img = case.image[..., 0].astype(float)
        vals = []
        for k, b in enumerate(case.boxes):
            crop, lab = img[box_slices(b)], case.gts[box_slices(b)] == k + 1
            vals.append((crop[~lab].mean() - crop[lab].mean()) / crop[~lab].std())
        return np.mean(vals)

    normal, hard = cnr(_load("oct-cysts")), cnr(_load("oct-cysts", hard=True))
    assert normal > 1.0 and hard < normal


def test_dermoscopy_coarse_annotation_contains_the_fine_one():
    fine, coarse = _load("dermoscopy-lesion"), _load("dermoscopy-lesion-coarse")
    assert np.array_equal(fine.image, coarse.image) and np.array_equal(fine.boxes, coarse.boxes)
    assert np.all(coarse.gts[fine.gts > 0] == 1)
    assert 1.02 < (coarse.gts > 0).sum() / (fine.gts > 0).sum() < 1.6


@pytest.mark.parametrize("name", ["us-fetal-head", "us-hc18-082", "us-hc18-640"])
def test_fetal_head_label_is_a_filled_ellipse(name):
    from skimage.measure import regionprops

    case = _load(name)
    p = regionprops(case.gts.astype(int))[0]
    assert p.solidity > 0.99 and p.euler_number == 1
    ellipse_area = np.pi * p.axis_major_length * p.axis_minor_length / 4
    assert abs(p.area / ellipse_area - 1) < 0.02


def test_bundled_file_is_read_not_derived(monkeypatch, tmp_path):
    case = _load("us-hc18-082")
    assert case.meta["files"] == ["data_samples/imgs/2DBox_US_hc18-082.npz",
                                  "data_samples/gts/2DBox_US_hc18-082.npz"]
    assert "CC-BY-4.0" in case.meta["licence"] and "HC18" in case.meta["source"]
    # an install without the repository's data_samples/: a clear error, not a crash
    monkeypatch.setenv(real.DATA_SAMPLES_ENV, str(tmp_path))
    assert not samples.get_info("us-hc18-082").available
    with pytest.raises(samples.SampleDataUnavailable, match="CLASSICSEG_DATA_SAMPLES"):
        samples.load("us-hc18-082")


# ------------------------------------------------------------------------ writing and round trips

@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The default data_samples set written to a temporary folder (generated once per module)."""
    out = tmp_path_factory.mktemp("samples")
    for name in ("stardist", "nilearn"):
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"{name} not installed: {samples.INSTALL_HINT}")
    paths = samples.write(out)
    return out, paths


def test_write_round_trips_through_the_challenge_format(written):
    out, paths = written
    assert len(paths) == len(samples.DEFAULT_SET)
    for p in paths:
        gt = out / "gts" / p.name
        case = load_case(p, gt)
        name, _, flag = next(
            e for e in samples.DEFAULT_SET
            if samples.file_name(e.split(":")[0], hard=e.endswith(":hard")) == p.name
        ).partition(":")
        ref = _load(name, hard=flag == "hard")
        assert np.array_equal(case.image, ref.image) and np.array_equal(case.boxes, ref.boxes)
        assert np.array_equal(case.gts, ref.gts)
        assert case.spacing == ref.spacing and case.modality == ref.modality
        with np.load(p, allow_pickle=False) as z:
            assert set(z.files) == ({"imgs", "boxes", "spacing"} if ref.is_3d
                                    else {"imgs", "boxes"})
        with np.load(gt, allow_pickle=False) as z:
            assert set(z.files) == ({"gts", "spacing"} if ref.is_3d else {"gts"})


def test_written_manifest_matches_the_committed_data_samples(written):
    """The committed data_samples/ must be exactly what `classicseg samples write` produces."""
    out, paths = written
    if not (DATA_SAMPLES / "MANIFEST.tsv").is_file():
        pytest.skip("data_samples/ not generated in this checkout")
    new, old = (registry._read_manifest(out / "MANIFEST.tsv"),
                registry._read_manifest(DATA_SAMPLES / "MANIFEST.tsv"))
    assert sorted(new) == sorted(old)
    for f, row in new.items():
        for col in ("sha256_imgs", "sha256_gts", "licence", "source", "shape", "n_boxes"):
            assert row[col] == old[f][col], (
                f, col, "regenerate with: classicseg samples write data_samples --overwrite")
        for sub in ("imgs", "gts"):
            if (out / sub / f).exists():
                assert ((out / sub / f).read_bytes()
                        == (DATA_SAMPLES / sub / f).read_bytes()), (sub, f)


def test_data_samples_stays_small():
    if not DATA_SAMPLES.is_dir():
        pytest.skip("no data_samples/")
    total = sum(p.stat().st_size for p in DATA_SAMPLES.rglob("*") if p.is_file())
    assert total < 10 * 2 ** 20


def test_write_refuses_to_overwrite_and_merges_the_manifest(tmp_path):
    samples.write(tmp_path, ["oct-cysts"])
    before = (tmp_path / "imgs" / samples.file_name("oct-cysts")).read_bytes()
    with pytest.raises(FileExistsError):
        samples.write(tmp_path, ["us-fetal-head", "oct-cysts"])
    # nothing half-written
    assert not (tmp_path / "imgs" / samples.file_name("us-fetal-head")).exists()
    samples.write(tmp_path, ["oct-cysts:hard", "microscopy-cell-skimage"])
    samples.write(tmp_path, ["oct-cysts"], overwrite=True)
    assert (tmp_path / "imgs" / samples.file_name("oct-cysts")).read_bytes() == before
    rows = registry._read_manifest(tmp_path / "MANIFEST.tsv")
    assert set(rows) == {samples.file_name("oct-cysts"), samples.file_name("oct-cysts", hard=True),
                         samples.file_name("microscopy-cell-skimage")}
    no_gt = rows[samples.file_name("microscopy-cell-skimage")]
    assert no_gt["has_gt"] == "no" and no_gt["synthetic"] == "no" and "CC0" in no_gt["licence"]
    assert not (tmp_path / "gts" / samples.file_name("microscopy-cell-skimage")).exists()


# --------------------------------------------------------------------------- missing packages

def test_missing_package_says_how_to_install(monkeypatch):
    original = real._distribution

    def fake(name):
        if name == "stardist":
            raise importlib.metadata.PackageNotFoundError(name)
        return original(name)

    monkeypatch.setattr(real, "_distribution", fake)
    with pytest.raises(samples.SampleDataUnavailable, match=r'pip install "classicseg\[samples\]"'):
        samples.load("microscopy-nuclei-stardist")
    info = samples.get_info("microscopy-nuclei-stardist")
    assert not info.available and samples.get_info("oct-cysts").available
    samples.load("oct-cysts")   # phantoms never need the extra


# --------------------------------------------------------------------------- user data

def _write_2025(path, image, box_dicts, gts=None, extra=None):
    arrays = {"imgs": image, "boxes": np.array(box_dicts, dtype=object),
              "spacing": np.array([1.0, 1.0, 2.0])}
    if gts is not None:
        arrays["gts"] = gts
    arrays.update(extra or {})
    np.savez_compressed(path, **arrays)   # object arrays are pickled, as in the 2025 release


def test_load_directory_layouts_and_2025_format(tmp_path, make_case):
    # imgs/ + gts/ layout, as written by samples.write
    samples.write(tmp_path / "pairs", ["oct-cysts", "microscopy-cell-skimage"])
    cases = list(load_directory(tmp_path / "pairs"))
    assert [c.name for c in cases] == sorted(samples.file_name(n)[:-4] for n in ("oct-cysts",
                                                                               "microscopy-cell-skimage"))
    assert [c.gts is not None for c in cases] == [False, True]
    # flat folder with gts inside the files + one CVPR 2025 file with pickled box dicts
    flat = tmp_path / "flat"
    flat.mkdir()
    from classicseg.io import save_case
    save_case(make_case("2DBox_US_0001"), flat / "2DBox_US_0001.npz")
    vol = np.zeros((10, 32, 40), np.uint8)
    gts = np.zeros(vol.shape, np.uint16)
    gts[2:7, 5:20, 6:30] = 1
    box = {"z_min": 2, "z_max": 6, "z_mid": 4, "z_mid_x_min": 6, "z_mid_y_min": 5,
           "z_mid_x_max": 29, "z_mid_y_max": 19}
    _write_2025(flat / "3DBox_CT_0002.npz", vol, [box], gts,
                extra={"text_prompts": np.array({"1": "liver"})})
    cases = list(load_directory(flat))
    assert [c.name for c in cases] == ["2DBox_US_0001", "3DBox_CT_0002"]
    c25 = cases[1]
    assert c25.boxes.tolist() == [[6, 5, 2, 29, 19, 6]] and c25.meta["format"] == "CVPR2025"
    assert c25.spacing == (1.0, 1.0, 2.0) and np.array_equal(c25.gts, gts)


class _Evil:
    def __reduce__(self):  # would call os.getcwd on a plain np.load(allow_pickle=True)
        import os
        return (os.getcwd, ())


def test_2025_loader_refuses_arbitrary_pickles(tmp_path):
    path = tmp_path / "3DBox_CT_bad.npz"
    _write_2025(path, np.zeros((4, 8, 8), np.uint8), [_Evil()])
    with pytest.raises(ChallengeFileError, match="refusing to unpickle"):
        load_case_2025(path)
    with pytest.warns(UserWarning, match="skipped"):
        assert list(load_directory(tmp_path, errors="warn")) == []
    with pytest.raises(ValueError, match="lacks"):
        boxes_from_2025([{"z_min": 1}])


def test_load_directory_errors(tmp_path):
    with pytest.raises(NotADirectoryError):
        list(load_directory(tmp_path / "missing"))
    (tmp_path / "2DBox_US_broken.npz").write_bytes(b"not a zip")
    with pytest.raises(ChallengeFileError, match="2DBox_US_broken"):
        list(load_directory(tmp_path))
    with pytest.raises(ValueError, match="errors"):
        list(load_directory(tmp_path, errors="ignore"))


# --------------------------------------------------------------------------- CLI and gallery

@pytest.fixture
def cli_main(monkeypatch):
    from classicseg import cli

    monkeypatch.setitem(cli.COMMANDS, "samples", ("classicseg.cli.samples", "samples"))
    return cli.main


def test_cli_samples_list(cli_main, capsys):
    assert cli_main(["samples", "list"]) == 0
    out = capsys.readouterr().out
    for name in ALL:
        assert name in out
    assert "synthetic" in out and "real" in out and "BSD-3-Clause" in out
    assert cli_main(["samples", "list", "--tsv"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert len(rows) == len(ALL) + 1 and rows[0].startswith("name\tmodality")


def test_cli_samples_write_and_gallery(cli_main, tmp_path, capsys):
    assert cli_main(["samples", "write", str(tmp_path),
                     "--names", "oct-cysts", "pet-lesions:hard"]) == 0
    assert (tmp_path / "imgs" / samples.file_name("pet-lesions", hard=True)).is_file()
    # an existing file is an input error
    assert cli_main(["samples", "write", str(tmp_path), "--names", "oct-cysts"]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert cli_main(["samples", "write", str(tmp_path), "--names", "no-such-sample"]) == 2
    out = tmp_path / "gallery.png"
    assert cli_main(["samples", "gallery", str(out), "--names", "oct-cysts", "ct-kidneys"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gallery_titles_say_synthetic():
    fig = samples.gallery_figure(["oct-cysts", "microscopy-cell-skimage"], columns=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert any("synthetic" in t for t in titles) and any("real, no GT" in t for t in titles)
