"""Real challenge cases from the Hugging Face hub, for users who are online (Binder, Colab).

:func:`fetch_cases` downloads a few cases of one source (a public dataset repository of the
MedSAM challenges), checks every file against the hub's checksum, converts it to the CVPR 2024
layout this package reads and places it atomically in ``DEST/imgs`` + ``DEST/gts`` (plus a
``MANIFEST.tsv`` row with origin, source, licence and the pinned commit).
:func:`find_real_cases` is what a notebook asks: a folder of such cases if one is present.

Nothing here runs at import time and ``huggingface_hub`` is imported only inside the
functions, so ``import classicseg.samples`` stays offline and light.

Sources (found with the project's search tool, 2026-12-01; nothing was downloaded)
----------------------------------------------------------------------------------
``cvpr2025`` -- ``junma/CVPR-BiomedSegFM`` (dataset repo), "CVPR 2025 Competition: Foundation
    Models for 3D Biomedical Image Segmentation". Licence **CC BY-NC-SA 4.0** (the dataset
    card's front matter ``license: cc-by-nc-sa-4.0``; the card says every image comes from a
    public dataset whose licence allows redistribution). Five 3D modalities: CT, MR, PET,
    ultrasound, microscopy. Folders: ``3D_train_npz_all/`` (complete training set),
    ``3D_train_npz_random_10percent_16G/`` (a 10 % subset, about 16 GB; nested as
    ``<Modality>/<dataset>/<case>.npz``), ``3D_val_npz/`` (validation images: ``imgs``,
    ``spacing``, optional pickled ``boxes``, ``text_prompts``) and ``3D_val_gt/`` (their
    ``gts`` + ``spacing``, same file names), ``CVPR25_TextSegFMData_with_class.json``.
    Training files carry ``imgs``, ``gts``, ``spacing`` and no boxes. Validation file names
    start with the modality (``CT_``, ``MR_``, ``PET_``, ``US3D_``, ``Microscopy_``), e.g.
    ``3D_val_npz/CT_AbdomenAtlas_BDMAP_00000006.npz``. Sources: the dataset card
    (``huggingface.co/datasets/junma/CVPR-BiomedSegFM``, read through a mirror's
    ``README.md``), download scripts on GitHub that call ``list_repo_files`` /
    ``hf_hub_download`` on ``3D_val_npz/`` and pair ``3D_val_npz/X.npz`` with
    ``3D_val_gt/X.npz`` (e.g. SAT's ``cvpr2025challenge`` data preparation). The 10 % subset
    alone is about 16 GB (its folder name); per-file sizes could not be seen offline, so a
    fetch lists one folder and downloads only the ``n`` cases it picks.
    We fetch **validation** cases: they come with box prompts and separate ground truth.
``cvpr2024`` -- the CVPR 2024 "MedSAM on Laptop" data (11 modalities, 2D and 3D,
    ``CVPR24-MedSAMLaptopData/train_npz/<Modality>/...``): **no public Hugging Face dataset
    repository was found**; it is distributed through the challenge page
    (``codabench.org/competitions/1847``) after registration. The entry is kept so the CLI
    can say so; add a ``repo_id`` here if one appears.

Revision: the hub commit of ``junma/CVPR-BiomedSegFM`` could not be looked up offline, so the
registry pins no commit yet (``revision=None``). A fetch resolves the branch to its commit
**once**, downloads every file at that commit, records it in ``MANIFEST.tsv`` and returns it;
pass it back as ``revision=`` (``--revision``) to reproduce the same files.

Checksums: each file is compared with the SHA-256 the hub lists for it (LFS metadata from
``HfApi.get_paths_info``), or with its git blob id for a small non-LFS file, or with the
registry's own ``sha256`` table when it has the file; a mismatch deletes the cached copy and
nothing is written to ``DEST``.

Examples
--------
>>> sorted(SOURCES)
['cvpr2024', 'cvpr2025']
>>> SOURCES["cvpr2025"].repo_id, SOURCES["cvpr2025"].licence
('junma/CVPR-BiomedSegFM', 'CC BY-NC-SA 4.0')
>>> case_name_2025("US3D_fetal_0007.npz")
'3DBox_US_fetal_0007'
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io as _stdio
import os
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from ..io import (
    MODALITIES,
    Case,
    ChallengeFileError,
    atomic_write,
    load_case,
    load_case_2025,
    load_ground_truth,
    parse_modality,
    save_case,
)
from ..validation import InvalidInputError

__all__ = ["FetchError", "HubSource", "FetchResult", "SOURCES", "DEFAULT_SOURCE",
           "fetch_cases", "find_real_cases", "default_real_cases_dir", "case_name_2025",
           "OFFLINE_HINT"]

DEFAULT_SOURCE = "cvpr2025"
DEFAULT_ENDPOINT = "https://huggingface.co"

#: What every "cannot reach the hub" message ends with.
OFFLINE_HINT = ("run it where you are online (Binder, Colab, your own machine) or copy the "
                "files into DEST/imgs and DEST/gts yourself")


class FetchError(RuntimeError):
    """The hub could not be reached, a file failed its checksum, or a source is not on the hub.

    The message says what failed and what to do; nothing is left half-written in ``dest``."""


@dataclass(frozen=True)
class HubSource:
    """One public dataset repository of challenge cases on the Hugging Face hub.

    ``image_dir`` / ``gt_dir`` are folders of the repository holding image files and ground
    truth of the same names; ``pattern`` matches the image file names and captures their
    ``modality`` token; ``modality_tokens`` maps that token to a canonical modality;
    ``convert`` names the reader in :data:`_CONVERTERS`; ``sha256`` holds known checksums
    (path in the repository -> hex digest) that are checked besides the hub's own.
    """

    name: str
    title: str
    repo_id: str | None
    licence: str
    url: str
    layout: str
    revision: str | None = None
    image_dir: str = ""
    gt_dir: str = ""
    pattern: str = r"^(?P<modality>[^_]+)_.+\.npz$"
    modality_tokens: Mapping[str, str] = field(default_factory=dict)
    convert: str = "cvpr2025-3d"
    sha256: Mapping[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.modality_tokens.values()))


SOURCES: dict[str, HubSource] = {
    "cvpr2025": HubSource(
        name="cvpr2025",
        title="CVPR 2025 Foundation Models for 3D Biomedical Image Segmentation (validation)",
        repo_id="junma/CVPR-BiomedSegFM",
        licence="CC BY-NC-SA 4.0",
        url="https://huggingface.co/datasets/junma/CVPR-BiomedSegFM",
        layout="3D_val_npz/<MOD>_<dataset>_<id>.npz + 3D_val_gt/<same name> (CVPR 2025 3D)",
        revision=None,  # not looked up offline: resolved once per fetch and recorded
        image_dir="3D_val_npz",
        gt_dir="3D_val_gt",
        modality_tokens={"CT": "CT", "MR": "MR", "PET": "PET", "US3D": "US",
                         "Microscopy": "Microscopy"},
        convert="cvpr2025-3d",
    ),
    "cvpr2024": HubSource(
        name="cvpr2024",
        title="CVPR 2024 MedSAM on Laptop",
        repo_id=None,
        licence="per source dataset (see the challenge page)",
        url="https://www.codabench.org/competitions/1847/",
        layout="train_npz/<Modality>/<dataset>/*.npz, validation-box/imgs + gts (CVPR 2024)",
        pattern=r"^(?:[23]DBox_)?(?P<modality>[^_]+)_.+\.npz$",
        convert="cvpr2024",
        note="no public Hugging Face dataset repository of this data was found; register on "
             "the challenge page (codabench.org/competitions/1847), download it there and run "
             "classicseg on the unpacked folder",
    ),
}


@dataclass
class FetchResult:
    """What :func:`fetch_cases` placed: image files, and the commit they came from."""

    paths: list[Path]
    source: str
    repo_id: str
    revision: str
    dest: Path


# --------------------------------------------------------------------------- names


_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def case_name_2025(filename: str, tokens: Mapping[str, str] | None = None) -> str:
    """Our case name (``3DBox_<Modality>_<rest>``) for a CVPR 2025 file name.

    The 2025 names start with the modality (``CT_``, ``US3D_``, ...) and lack the ``3DBox_``
    prefix the 2024 format (and :func:`classicseg.io.parse_modality`) relies on.
    """
    tokens = SOURCES["cvpr2025"].modality_tokens if tokens is None else tokens
    stem = Path(filename).name
    stem = stem[:-4] if stem.lower().endswith(".npz") else stem
    head, _, rest = stem.partition("_")
    canon = tokens.get(head) or parse_modality(f"{head}.npz")
    if canon is None or not rest:
        raise ValueError(f"{filename}: no modality prefix (expected one of {sorted(tokens)})")
    return f"3DBox_{canon}_{rest}"


def _case_name(src: HubSource, filename: str) -> str:
    if src.convert == "cvpr2025-3d":
        return case_name_2025(filename, src.modality_tokens)
    return Path(filename).name[:-4]


def _modality_of(src: HubSource, filename: str) -> str | None:
    m = re.match(src.pattern, Path(filename).name)
    if m is None:
        return None
    token = m.group("modality")
    return src.modality_tokens.get(token) or parse_modality(f"2DBox_{token}.npz")


# --------------------------------------------------------------------------- conversion


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two inclusive boxes ``[x0, y0, z0, x1, y1, z1]``."""
    lo, hi = np.maximum(a[:3], b[:3]), np.minimum(a[3:], b[3:])
    inter = float(np.prod(np.clip(hi - lo + 1, 0, None)))
    vol = float(np.prod(a[3:] - a[:3] + 1) + np.prod(b[3:] - b[:3] + 1)) - inter
    return inter / vol if vol > 0 else 0.0


def _relabel(gts: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, str]:
    """Class labels -> instance ids 1..N in box order.

    Each box is matched to the label whose 3D bounding box overlaps it most (greedy, best
    pairs first), so the result does not rely on the order in which the 2025 files list their
    boxes; if some box finds no label, the labels are kept as they are (and noted).
    """
    from scipy import ndimage as ndi

    labels = np.unique(gts)
    labels = labels[labels != 0]
    if len(labels) == 0 or len(boxes) == 0:
        return gts, ""
    objs = ndi.find_objects(gts.astype(np.int64, copy=False), max_label=int(labels.max()))
    extent = {int(v): np.array([objs[v - 1][2].start, objs[v - 1][1].start,
                                objs[v - 1][0].start, objs[v - 1][2].stop - 1,
                                objs[v - 1][1].stop - 1, objs[v - 1][0].stop - 1])
              for v in labels}
    pairs = sorted(((_box_iou(np.asarray(b), e), i, v) for i, b in enumerate(boxes)
                    for v, e in extent.items()), reverse=True)
    match: dict[int, int] = {}
    for iou, i, v in pairs:
        if iou > 0 and i not in match and v not in match.values():
            match[i] = v
    if len(match) < len(boxes):
        return gts, f"labels kept ({len(labels)} labels, {len(match)} of {len(boxes)} boxes " \
                    "matched)"
    if all(match[i] == i + 1 for i in match) and len(labels) == len(boxes):
        return gts, ""
    lut = np.zeros(int(labels.max()) + 1, dtype=np.uint16)  # unmatched labels -> background
    for i, v in match.items():
        lut[v] = i + 1
    dropped = len(labels) - len(match)
    return lut[gts], ("labels renumbered 1..N in box order"
                      + (f", {dropped} label(s) without a box dropped" if dropped else ""))


def _boxes_from_gts(gts: np.ndarray) -> np.ndarray:
    from ._common import boxes_from_labels

    labels = np.unique(gts)
    labels = labels[labels != 0]
    lut = np.zeros(int(labels.max()) + 1 if len(labels) else 1, dtype=np.uint16)
    lut[labels] = np.arange(1, len(labels) + 1)
    return boxes_from_labels(lut[gts], len(labels))


def _has_member(path: Path, key: str) -> bool:
    with zipfile.ZipFile(path) as zf:
        return f"{key}.npy" in zf.namelist()


def _convert_2025(image: Path, gt: Path | None, name: str) -> tuple[Case, str]:
    """A CVPR 2025 3D validation file (+ its GT file) as a CVPR 2024-layout :class:`Case`."""
    notes = []
    if _has_member(image, "boxes"):
        case = load_case_2025(image, gt)
    else:  # the box key is optional in 2025 files: derive tight boxes from the ground truth
        if gt is None:
            raise ChallengeFileError(image, "no 'boxes' and no ground truth to derive them from")
        with np.load(image, allow_pickle=False) as z:
            img = z["imgs"]
            spacing = z["spacing"] if "spacing" in z.files else None
        gts, gt_spacing = load_ground_truth(gt)
        case = Case(name=name, image=img, boxes=_boxes_from_gts(gts), gts=gts,
                    spacing=spacing if spacing is not None else gt_spacing, path=image)
        notes.append("boxes derived from the ground truth (tight 3D boxes)")
    gts = case.gts
    if gts is not None:
        gts, note = _relabel(gts, case.boxes)
        notes.append(note)
    out = Case(name=name, image=case.image, boxes=case.boxes, spacing=case.spacing, gts=gts,
               path=image, meta={**case.meta, "synthetic": False})
    return out, "; ".join(n for n in notes if n)


def _convert_2024(image: Path, gt: Path | None, name: str) -> tuple[Case, str]:
    """A CVPR 2024 file: read as is (validated, never unpickled)."""
    case = load_case(image, gt, allow_extra_keys=True)
    return Case(name=name, image=case.image, boxes=case.boxes, spacing=case.spacing,
                gts=case.gts, path=image, meta={"synthetic": False}), ""


#: layout name -> reader(image file, GT file or None, case name) -> (Case, note)
_CONVERTERS: dict[str, Callable[[Path, Path | None, str], tuple[Case, str]]] = {
    "cvpr2025-3d": _convert_2025,
    "cvpr2024": _convert_2024,
}


# --------------------------------------------------------------------------- hub errors


# Exception class names of the HTTP stacks huggingface_hub has used (requests, httpx,
# httpx2): matched by name so a change of stack still reads as "no internet".
_NETWORK_NAMES = {"ConnectionError", "ConnectError", "ConnectTimeout", "ReadTimeout", "Timeout",
                  "TimeoutException", "NetworkError", "TransportError", "ProxyError",
                  "OfflineModeIsEnabled", "LocalEntryNotFoundError", "SSLError"}


def _is_network_error(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if any(c.__name__ in _NETWORK_NAMES for c in type(exc).__mro__):
            return True
        if isinstance(exc, (TimeoutError, ConnectionError)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _offline_mode() -> bool:
    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    if env.strip().lower() in ("1", "on", "yes", "true"):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - reported by _hub()
        return False
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


@contextlib.contextmanager
def _hub_errors(src: HubSource, endpoint: str):
    """Turn huggingface_hub's exceptions into one :class:`FetchError` that says what to do."""
    where = f"{src.repo_id} on {endpoint}"
    try:
        yield
    except FetchError:
        raise
    except Exception as e:  # noqa: BLE001 - classified below, never swallowed
        name = type(e).__name__
        if _is_network_error(e):
            raise FetchError(f"no internet: cannot reach {where} ({name}); "
                             f"{OFFLINE_HINT}") from e
        status = getattr(getattr(e, "response", None), "status_code", None)
        if name in ("RepositoryNotFoundError", "GatedRepoError") or status in (401, 403):
            raise FetchError(f"{where}: the dataset repository is not accessible ({name}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}); if it is gated, "
                             "accept its conditions on the hub and log in "
                             "(`hf auth login`)") from e
        if name == "RevisionNotFoundError":
            raise FetchError(f"{where}: no such revision ({str(e).splitlines()[0]})") from e
        if name in ("HfHubHTTPError", "RemoteEntryNotFoundError", "EntryNotFoundError",
                    "FileMetadataError"):
            raise FetchError(f"{where}: the hub answered with an error ({name}: "
                             f"{str(e).splitlines()[0] if str(e) else ''})") from e
        raise


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        raise FetchError("huggingface_hub is not installed: pip install huggingface_hub "
                         "(it is a dependency of classicseg; reinstall the package)") from None
    return huggingface_hub


@contextlib.contextmanager
def _progress_bars(enabled: bool):
    """Silence huggingface_hub's per-file bars when ``progress`` is False; restore after."""
    from huggingface_hub import utils

    if enabled or not hasattr(utils, "disable_progress_bars"):
        yield
        return
    was_disabled = utils.are_progress_bars_disabled()
    utils.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            utils.enable_progress_bars()


# --------------------------------------------------------------------------- checksums


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _git_blob_sha1(path: Path) -> str:
    h = hashlib.sha1()  # noqa: S324 - git's object id, compared with the hub's, not security
    h.update(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _expected_digests(infos) -> dict[str, tuple[str, str]]:
    """path -> ("sha256", hex) from LFS metadata, else ("git-sha1", blob id)."""
    out = {}
    for info in infos:
        lfs = getattr(info, "lfs", None)
        sha = getattr(lfs, "sha256", None) if lfs is not None else None
        if sha is None and isinstance(lfs, dict):
            sha = lfs.get("sha256") or lfs.get("oid")
        if sha:
            out[info.path] = ("sha256", str(sha))
        elif getattr(info, "blob_id", None):
            out[info.path] = ("git-sha1", str(info.blob_id))
    return out


def _discard_cached(path: Path) -> None:
    """Remove a cached download and the blob it links to (so a retry downloads it again)."""
    try:
        blob = Path(os.path.realpath(path))
        path.unlink(missing_ok=True)
        if blob != path:
            blob.unlink(missing_ok=True)
    except OSError:
        pass


def _verify(local: Path, repo_path: str, src: HubSource, hub: dict) -> str:
    """The file's SHA-256 after checking it against every digest known for it."""
    digest = _sha256(local)
    checks = []
    if repo_path in src.sha256:
        checks.append(("sha256 (classicseg registry)", src.sha256[repo_path], digest))
    kind, want = hub.get(repo_path, (None, None))
    if kind == "sha256":
        checks.append(("sha256 (hub LFS metadata)", want, digest))
    elif kind == "git-sha1":
        checks.append(("git blob id (hub)", want, _git_blob_sha1(local)))
    if not checks:
        warnings.warn(f"{repo_path}: the hub lists no checksum; kept unverified (sha256 "
                      f"{digest[:12]}...)", stacklevel=3)
    for what, want, got in checks:
        if want.lower() != got.lower():
            _discard_cached(local)
            raise FetchError(f"{src.repo_id}/{repo_path}: checksum mismatch ({what}: expected "
                             f"{want[:16]}..., got {got[:16]}...); the corrupt download was "
                             "removed from the cache and nothing was written; run the command "
                             "again")
    return digest


# --------------------------------------------------------------------------- selection


def _dataset_key(filename: str) -> str:
    """File name without its trailing case number: the dataset a case belongs to."""
    stem = Path(filename).name[:-4]
    return re.sub(r"[_-]?\d+$", "", stem) or stem


def _select(files: list[str], n: int) -> list[str]:
    """n files, round robin over the datasets (sorted), so a small fetch shows variety."""
    groups: dict[str, list[str]] = {}
    for f in sorted(files):
        groups.setdefault(_dataset_key(f), []).append(f)
    queues = [groups[k] for k in sorted(groups)]
    out: list[str] = []
    depth = 0
    while len(out) < n and any(depth < len(q) for q in queues):
        for q in queues:
            if depth < len(q) and len(out) < n:
                out.append(q[depth])
        depth += 1
    return out


# --------------------------------------------------------------------------- fetch


def _cache_dir(cache_dir) -> str | None:
    if cache_dir is not None:
        return str(cache_dir)
    env = os.environ.get("CLASSICSEG_CACHE")
    return str(Path(env) / "hub") if env else None  # None: the huggingface_hub cache


def _check_args(source: str, modality: str | None, n) -> tuple[HubSource, str | None]:
    if source not in SOURCES:
        raise InvalidInputError(f"source must be one of {sorted(SOURCES)}, got {source!r}")
    src = SOURCES[source]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidInputError(f"n must be a positive integer, got {n!r}")
    if modality is not None:
        canon = parse_modality(f"2DBox_{modality}.npz")
        if canon is None or canon not in MODALITIES:
            raise InvalidInputError(f"modality must be one of {MODALITIES}, got {modality!r}")
        if src.modalities and canon not in src.modalities:
            raise InvalidInputError(f"modality {canon!r} is not in source {source!r} "
                                    f"(it has {', '.join(src.modalities)})")
        modality = canon
    return src, modality


def _manifest_rows(placed: list[tuple[str, Case, str, str, str]], src: HubSource, sha: str):
    from .registry import array_sha256

    rows = {}
    for fname, case, repo_path, digest, note in placed:
        rows[fname] = {
            "file": fname, "name": case.name, "sample": "", "modality": case.modality or "",
            "dims": "3" if case.is_3d else "2", "synthetic": "no",
            "has_gt": "yes" if case.gts is not None else "no", "hard": "no", "seed": "",
            "generator": (f"classicseg.samples.fetch {src.name}: hf://datasets/{src.repo_id}"
                          f"@{sha}/{repo_path} (sha256 {digest})" + (f"; {note}" if note else "")),
            "source": f"{src.title} ({src.url})", "licence": src.licence,
            "shape": "x".join(str(v) for v in case.image.shape), "n_boxes": str(case.n_boxes),
            "sha256_imgs": array_sha256(case.image),
            "sha256_gts": array_sha256(case.gts) if case.gts is not None else "",
        }
    return rows


def _write_manifest(dest: Path, rows: dict) -> None:
    from .registry import MANIFEST_COLUMNS, _read_manifest

    path = dest / "MANIFEST.tsv"
    merged = {**_read_manifest(path), **rows}
    text = _stdio.StringIO()
    w = csv.DictWriter(text, fieldnames=MANIFEST_COLUMNS, delimiter="\t", lineterminator="\n")
    w.writeheader()
    for key in sorted(merged):
        w.writerow({c: merged[key].get(c, "") for c in MANIFEST_COLUMNS})
    atomic_write(path, lambda f: f.write(text.getvalue().encode("utf-8")), overwrite=True)


def fetch_cases(dest, *, modality: str | None = None, n: int = 3,
                source: str = DEFAULT_SOURCE, revision: str | None = None, cache_dir=None,
                progress: bool = True, overwrite: bool = False) -> FetchResult:
    """Download ``n`` real challenge cases into ``dest/imgs`` + ``dest/gts``.

    Parameters
    ----------
    dest : path-like
        Output folder (created); :func:`classicseg.io.iter_cases` reads it as it is.
    modality : str, optional
        Only cases of this modality (e.g. ``"CT"``); default: any modality of the source.
    n : int
        How many cases (picked deterministically, round robin over the source's datasets).
    source : str
        A key of :data:`SOURCES` (default ``"cvpr2025"``).
    revision : str, optional
        Commit (or branch / tag) of the dataset repository; default: the registry's pinned
        commit, else the default branch resolved **once** to its commit.
    cache_dir : path-like, optional
        Download cache; default ``$CLASSICSEG_CACHE/hub``, else the huggingface_hub cache.
    progress : bool
        Show progress bars (tqdm).
    overwrite : bool
        Replace existing files in ``dest`` (otherwise ``FileExistsError`` before any download).

    Returns
    -------
    FetchResult
        ``paths`` (image files written), ``revision`` (the commit they came from).

    Raises
    ------
    FetchError
        No internet (or ``HF_HUB_OFFLINE=1``), a checksum mismatch, an inaccessible repository,
        or a source that is not on the hub. Nothing is left in ``dest``.
    InvalidInputError
        Bad ``source``, ``modality`` or ``n``.

    Examples
    --------
    >>> import os, tempfile
    >>> os.environ["HF_HUB_OFFLINE"] = "1"   # like CI: no network
    >>> try:
    ...     fetch_cases(tempfile.mkdtemp(), modality="CT", n=1, progress=False)
    ... except FetchError as e:
    ...     print(str(e)[:11])
    no internet
    >>> del os.environ["HF_HUB_OFFLINE"]
    """
    src, modality = _check_args(source, modality, n)
    dest = Path(dest)
    if src.repo_id is None:
        raise FetchError(f"source {source!r} ({src.title}) is not on the Hugging Face hub: "
                         f"{src.note}")
    if dest.exists() and not dest.is_dir():
        raise InvalidInputError(f"dest {dest}: exists and is not a directory")
    from .registry import _read_manifest

    _read_manifest(dest / "MANIFEST.tsv")  # a foreign MANIFEST.tsv: refuse before downloading
    hf = _hub()
    endpoint = (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    if _offline_mode():
        raise FetchError(f"no internet: huggingface_hub's offline mode is on (HF_HUB_OFFLINE=1), "
                         f"so {src.repo_id} cannot be reached; {OFFLINE_HINT}")
    api = hf.HfApi(endpoint=endpoint)
    cache = _cache_dir(cache_dir)
    rev = revision or src.revision
    with _hub_errors(src, endpoint), _progress_bars(progress):
        # one commit for every file of this fetch, even if the branch moves meanwhile
        sha = rev if rev and _COMMIT.match(rev) else api.dataset_info(src.repo_id,
                                                                      revision=rev).sha
        listing = api.list_repo_tree(src.repo_id, path_in_repo=src.image_dir or None,
                                     revision=sha, repo_type="dataset")
        files = [f.path for f in listing if isinstance(f, hf.hf_api.RepoFile)
                 and f.path.endswith(".npz") and _modality_of(src, f.path) is not None]
        if modality is not None:
            files = [f for f in files if _modality_of(src, f) == modality]
        if not files:
            raise FetchError(f"{src.repo_id}@{sha[:12]}: no {modality or ''} case files in "
                             f"{src.image_dir or 'the repository root'}/")
        chosen = _select(files, n)
        if len(chosen) < n:
            warnings.warn(f"{src.repo_id}: only {len(chosen)} {modality or ''} cases available, "
                          f"fetching those", stacklevel=2)
        names = {f: _case_name(src, f) + ".npz" for f in chosen}
        if not overwrite:
            clashes = [dest / sub / fn for fn in names.values() for sub in ("imgs", "gts")
                       if (dest / sub / fn).exists()]
            if clashes:
                err = FileExistsError(f"{len(clashes)} file(s) exist in {dest}, e.g. "
                                      f"{clashes[0]}; pass overwrite=True to replace them")
                err.clashes = clashes
                raise err
        gts = {f: f"{src.gt_dir}/{Path(f).name}" for f in chosen} if src.gt_dir else {}
        infos = api.get_paths_info(src.repo_id, chosen + list(gts.values()), revision=sha,
                                   repo_type="dataset")
        digests = _expected_digests(infos)
        present = {i.path for i in infos}
        gts = {f: g for f, g in gts.items() if g in present}
        downloads = _download(hf, src, sha, chosen, gts, endpoint, cache, progress, digests)
    cases = []
    for f in chosen:  # convert everything before writing anything
        img, digest = downloads[f]
        gt = downloads[gts[f]][0] if f in gts else None
        try:
            case, note = _CONVERTERS[src.convert](img, gt, names[f][:-4])
        except (ChallengeFileError, ValueError, OSError, zipfile.BadZipFile) as e:
            raise FetchError(f"{src.repo_id}/{f}: cannot be converted ({e})") from None
        cases.append((names[f], case, f, digest, note))
    written = _place(dest, cases, overwrite)
    _write_manifest(dest, _manifest_rows(cases, src, sha))
    return FetchResult(paths=written, source=src.name, repo_id=src.repo_id, revision=sha,
                       dest=dest)


def _download(hf, src, sha, chosen, gts, endpoint, cache, progress, digests):
    from tqdm.auto import tqdm

    paths = list(chosen) + [gts[f] for f in chosen if f in gts]
    out = {}
    for p in tqdm(paths, desc=f"{src.name}: files", unit="file", disable=not progress):
        local = Path(hf.hf_hub_download(src.repo_id, p, repo_type="dataset", revision=sha,
                                        cache_dir=cache, endpoint=endpoint))
        out[p] = (local, _verify(local, p, src, digests))
    return out


def _place(dest: Path, cases, overwrite: bool) -> list[Path]:
    """Write every case atomically; on any failure remove what this call wrote."""
    created: list[Path] = []
    written = []
    try:
        for fname, case, _, _, _ in cases:
            img, gt = dest / "imgs" / fname, dest / "gts" / fname
            new = [p for p in (img, gt) if not p.exists()]
            save_case(case, img, gt if case.gts is not None else None, overwrite=overwrite)
            created.extend(new)
            written.append(img)
    except BaseException:
        for p in created:
            p.unlink(missing_ok=True)
        raise
    return written


# --------------------------------------------------------------------------- notebooks


def default_real_cases_dir() -> Path:
    """Where notebooks look for fetched cases: ``$CLASSICSEG_CACHE/real_cases``, else
    ``~/.cache/classicseg/real_cases``."""
    env = os.environ.get("CLASSICSEG_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "classicseg"
    return base / "real_cases"


def _count_cases(folder: Path, modality: str | None) -> int:
    img_dir = folder / "imgs" if (folder / "imgs").is_dir() else folder
    names = [p.name for p in img_dir.glob("*.npz")]
    if modality is not None:
        names = [f for f in names if parse_modality(f) == modality]
    return len(names)


def find_real_cases(*, modality: str | None = None, min_cases: int = 1
                    ) -> tuple[Path | None, str]:
    """A folder of real challenge cases for a notebook's optional section, and a message.

    Looks at ``$CLASSICSEG_REAL_CASES``, then :func:`default_real_cases_dir`. Returns
    ``(folder, message)`` with ``folder`` None when fewer than ``min_cases`` cases (of
    ``modality``) are there; the message then says how to get them.

    Examples
    --------
    >>> import os, tempfile
    >>> os.environ["CLASSICSEG_REAL_CASES"] = tempfile.mkdtemp()
    >>> os.environ["CLASSICSEG_CACHE"] = tempfile.mkdtemp()   # an empty default place too
    >>> folder, message = find_real_cases(modality="CT")
    >>> folder is None, message.startswith("no real CT challenge cases")
    (True, True)
    >>> del os.environ["CLASSICSEG_REAL_CASES"], os.environ["CLASSICSEG_CACHE"]
    """
    if modality is not None:
        canon = parse_modality(f"2DBox_{modality}.npz")
        if canon is None:
            raise InvalidInputError(f"modality must be one of {MODALITIES}, got {modality!r}")
        modality = canon
    what = f"{modality} " if modality else ""
    env = os.environ.get("CLASSICSEG_REAL_CASES")
    candidates = [Path(env)] if env else []
    candidates.append(default_real_cases_dir())
    for folder in candidates:
        if folder.is_dir() and _count_cases(folder, modality) >= min_cases:
            k = _count_cases(folder, modality)
            return folder, f"{k} real {what}challenge case(s) in {folder}"
    looked = ", ".join(str(c) for c in candidates)
    fetch = (f"classicseg samples fetch {default_real_cases_dir()}"
             + (f" --modality {modality}" if modality else "") + " --n 3")
    return None, (f"no real {what}challenge cases found (looked in {looked}). Where you are "
                  f"online (Binder, Colab): `{fetch}` (CVPR 2025 validation cases, "
                  f"{SOURCES['cvpr2025'].licence}), or set CLASSICSEG_REAL_CASES to a folder "
                  "of challenge .npz files (imgs/ + gts/).")
