"""``classicseg.samples.fetch`` against a local fake Hugging Face hub (CI never goes online).

The fake hub is an ``http.server`` on 127.0.0.1 that answers the few endpoints
``huggingface_hub`` calls (dataset info, tree, paths-info, resolve); it serves a tiny fixture
copy of the CVPR 2025 layout made at test time from **synthetic** arrays (random noise with
two bright cuboids -- no real image is involved). A socket guard fails the test if anything
tries to connect anywhere but the loopback interface.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pytest

pytest.importorskip("huggingface_hub")

from classicseg.io import iter_cases, load_case  # noqa: E402
from classicseg.samples import fetch  # noqa: E402
from classicseg.samples.fetch import FetchError, fetch_cases, find_real_cases  # noqa: E402
from classicseg.validation import InvalidInputError  # noqa: E402

REPO = "junma/CVPR-BiomedSegFM"  # the real source's id, served by the fake hub only
SHA = "0123456789abcdef0123456789abcdef01234567"


# --------------------------------------------------------------------------- fixture data


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # object arrays are pickled, as in the 2025 files
    return buf.getvalue()


def _box(z0, z1, y0, y1, x0, x1) -> dict:
    zm = (z0 + z1) // 2
    return {"z_min": z0, "z_max": z1, "z_mid": zm, "z_mid_x_min": x0, "z_mid_y_min": y0,
            "z_mid_x_max": x1, "z_mid_y_max": y1}


def synthetic_case_2025(seed: int, labels=(1, 2), boxes: bool = True,
                        reverse: bool = False) -> tuple[bytes, bytes]:
    """SYNTHETIC 3D case in the CVPR 2025 layout: (image file bytes, GT file bytes)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, (6, 20, 24), dtype=np.uint8)
    gts = np.zeros(img.shape, np.uint8)
    gts[1:4, 2:8, 3:9] = labels[0]
    gts[2:5, 10:16, 12:20] = labels[1]
    img[gts > 0] += 120
    spacing = np.array([0.8, 0.8, 2.5])
    image = {"imgs": img, "spacing": spacing,
             "text_prompts": np.array({"1": "synthetic cuboid"}, dtype=object)}
    if boxes:
        listed = [_box(1, 3, 2, 7, 3, 8), _box(2, 4, 10, 15, 12, 19)]
        image["boxes"] = np.array(listed[::-1] if reverse else listed, dtype=object)
    return _npz(**image), _npz(gts=gts, spacing=spacing)


def fixture_repo() -> dict[str, bytes]:
    files = {"README.md": b"---\nlicense: cc-by-nc-sa-4.0\n---\nsynthetic fixture\n"}
    cases = {"CT_synthA_0001": {}, "CT_synthA_0002": {}, "CT_synthB_0001": {},
             "MR_synthC_0001": {"labels": (2, 5)}, "US3D_synthD_0001": {"boxes": False},
             "PET_synthE_0001": {"reverse": True}}
    for i, (name, kw) in enumerate(cases.items()):
        img, gt = synthetic_case_2025(i, **kw)
        files[f"3D_val_npz/{name}.npz"] = img
        files[f"3D_val_gt/{name}.npz"] = gt
    return files


# --------------------------------------------------------------------------- fake hub


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324


class FakeHub:
    """The hub endpoints huggingface_hub uses, for one dataset repo at one commit."""

    def __init__(self, files: dict[str, bytes], *, repo: str = REPO, sha: str = SHA):
        self.files, self.repo, self.sha = files, repo, sha
        self.corrupt: set[str] = set()  # served with one byte changed (LFS sha256 unchanged)
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest's output clean
                pass

            def do_GET(self):
                hub._serve(self, "GET")

            def do_HEAD(self):
                hub._serve(self, "HEAD")

            def do_POST(self):
                hub._serve(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # -- answers
    def _entry(self, path: str) -> dict:
        data = self.files[path]
        return {"type": "file", "path": path, "size": len(data), "oid": _git_sha1(data),
                "lfs": None if path.endswith(".md") else
                {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}}

    def _send(self, h, status: int, body: bytes = b"", headers=None, head=False):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _json(self, h, obj, status=200):
        self._send(h, status, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def _error(self, h, code: str, status=404, head=False):
        self._send(h, status, json.dumps({"error": code}).encode(),
                   {"X-Error-Code": code, "X-Error-Message": code,
                    "Content-Type": "application/json"}, head=head)

    def _serve(self, h, method: str):
        url = urlsplit(h.path)
        path = unquote(url.path)
        self.requests.append((method, path))
        api, res = f"/api/datasets/{self.repo}", f"/datasets/{self.repo}/resolve/"
        if path == api or path.startswith(api + "/"):
            rest = path[len(api):].lstrip("/")
            kind, _, tail = rest.partition("/")
            rev, _, sub = tail.partition("/")
            if kind == "" or kind == "revision":
                if kind == "revision" and rev not in ("main", self.sha):
                    return self._error(h, "RevisionNotFound")
                return self._json(h, {"id": self.repo, "sha": self.sha, "private": False})
            if rev not in ("main", self.sha):
                return self._error(h, "RevisionNotFound")
            if kind == "tree":
                prefix = sub.rstrip("/") + "/" if sub else ""
                entries, folders = [], set()
                for p in sorted(self.files):
                    if not p.startswith(prefix):
                        continue
                    head, _, more = p[len(prefix):].partition("/")
                    if more:
                        folders.add(prefix + head)
                    else:
                        entries.append(self._entry(p))
                entries += [{"type": "directory", "path": f, "oid": "0" * 40} for f in folders]
                return self._json(h, entries)
            if kind == "paths-info" and method == "POST":
                n = int(h.headers.get("Content-Length") or 0)
                form = parse_qs(h.rfile.read(n).decode())
                return self._json(h, [self._entry(p) for p in form.get("paths", [])
                                      if p in self.files])
        if path.startswith(res):
            rev, _, name = path[len(res):].partition("/")
            if rev not in ("main", self.sha):
                return self._error(h, "RevisionNotFound", head=method == "HEAD")
            if name not in self.files:
                return self._error(h, "EntryNotFound", head=method == "HEAD")
            data = self.files[name]
            if name in self.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            headers = {"X-Repo-Commit": self.sha,
                       "ETag": f'"{hashlib.sha256(self.files[name]).hexdigest()}"',
                       "Content-Type": "application/octet-stream"}
            return self._send(h, 200, data, headers, head=method == "HEAD")
        return self._error(h, "RepoNotFound")

    def resolves(self) -> list[str]:
        return [p for m, p in self.requests if "/resolve/" in p and m == "GET"]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Refuse (and record) every name lookup or connection that is not to this machine."""
    attempts = []
    real_connect = socket.socket.connect

    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in (
                "127.0.0.1", "::1"):
            attempts.append(address)
            raise OSError(f"test: network access to {address} refused")
        return real_connect(self, address)

    real_getaddrinfo = socket.getaddrinfo

    def lookup(host, *args, **kwargs):  # a name lookup is already a network access
        if host not in (None, "127.0.0.1", "::1", "localhost"):
            attempts.append(host)
            raise socket.gaierror(f"test: name lookup of {host!r} refused")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    try:  # huggingface_hub >= 1.x asks the real hub which AI agents exist: keep that offline
        from huggingface_hub.utils import _detect_agent

        monkeypatch.setattr(_detect_agent, "_registry", _detect_agent._EMPTY_REGISTRY)
    except (ImportError, AttributeError):
        pass
    yield attempts
    assert not attempts, f"tried to reach the network: {attempts}"


@pytest.fixture
def hub(monkeypatch):
    h = FakeHub(fixture_repo())
    monkeypatch.setenv("HF_ENDPOINT", h.url)
    yield h
    h.stop()


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "hf-cache"


# --------------------------------------------------------------------------- tests


def test_fetch_places_loadable_cases_pinned_to_one_commit(hub, tmp_path, cache):
    dest = tmp_path / "real"
    res = fetch_cases(dest, modality="CT", n=2, cache_dir=cache, progress=False)
    # round robin over the datasets: one case of synthA, one of synthB
    assert [p.name for p in res.paths] == ["3DBox_CT_synthA_0001.npz", "3DBox_CT_synthB_0001.npz"]
    assert res.revision == SHA and res.repo_id == REPO
    for p in res.paths:
        assert (dest / "gts" / p.name).is_file()
        case = load_case(p, dest / "gts" / p.name)
        assert case.modality == "CT" and case.is_3d and case.spacing == (0.8, 0.8, 2.5)
        # the 2025 box dicts -> [x0, y0, z0, x1, y1, z1]
        assert case.boxes.tolist() == [[3, 2, 1, 8, 7, 3], [12, 10, 2, 19, 15, 4]]
        assert sorted(np.unique(case.gts).tolist()) == [0, 1, 2]
    cases = list(iter_cases(dest))
    assert [c.name for c in cases] == ["3DBox_CT_synthA_0001", "3DBox_CT_synthB_0001"]
    assert not any(c.synthetic for c in cases)  # the manifest marks fetched cases as real
    manifest = (dest / "MANIFEST.tsv").read_text()
    assert f"@{SHA}/3D_val_npz/CT_synthA_0001.npz" in manifest and "CC BY-NC-SA 4.0" in manifest
    # the branch was resolved once; every file request used the commit
    asked = {p for m, p in hub.requests if "/resolve/" in p}
    assert all(f"/resolve/{SHA}/" in p for p in asked)
    assert {p.rsplit(SHA + "/", 1)[1] for p in asked} == {
        f"3D_val_{d}/CT_synth{c}_0001.npz" for d in ("npz", "gt") for c in "AB"}


def test_labels_renumbered_and_missing_boxes_derived(hub, tmp_path, cache):
    dest = tmp_path / "real"
    fetch_cases(dest, modality="MR", n=1, cache_dir=cache, progress=False)
    fetch_cases(dest, modality="US", n=1, cache_dir=cache, progress=False)
    mr = load_case(dest / "imgs" / "3DBox_MR_synthC_0001.npz",
                   dest / "gts" / "3DBox_MR_synthC_0001.npz")
    assert sorted(np.unique(mr.gts).tolist()) == [0, 1, 2]  # class ids 2, 5 -> 1, 2
    us = load_case(dest / "imgs" / "3DBox_US_synthD_0001.npz",
                   dest / "gts" / "3DBox_US_synthD_0001.npz")
    assert us.modality == "US"
    # no boxes in the file: the tight 3D boxes of the ground truth
    assert us.boxes.tolist() == [[3, 2, 1, 8, 7, 3], [12, 10, 2, 19, 15, 4]]
    assert "boxes derived from the ground truth" in (dest / "MANIFEST.tsv").read_text()


def test_labels_follow_the_boxes_not_the_file_order(hub, tmp_path, cache):
    dest = tmp_path / "real"
    fetch_cases(dest, modality="PET", n=1, cache_dir=cache, progress=False)
    name = "3DBox_PET_synthE_0001.npz"
    case = load_case(dest / "imgs" / name, dest / "gts" / name)
    assert case.boxes.tolist() == [[12, 10, 2, 19, 15, 4], [3, 2, 1, 8, 7, 3]]  # as listed
    x0, y0, z0 = case.boxes[0, :3]
    assert case.gts[z0, y0, x0] == 1 and case.gts[1, 2, 3] == 2  # label k is box k's object


def test_explicit_commit_skips_branch_lookup(hub, tmp_path, cache):
    fetch_cases(tmp_path / "d", modality="CT", n=1, revision=SHA, cache_dir=cache,
                progress=False)
    assert not any("/revision/" in p or p == f"/api/datasets/{REPO}" for _, p in hub.requests)


def test_unknown_revision_is_a_clear_error(hub, tmp_path, cache):
    with pytest.raises(FetchError, match="no such revision"):
        fetch_cases(tmp_path / "d", n=1, revision="v9-does-not-exist", cache_dir=cache,
                    progress=False)


def test_checksum_mismatch_leaves_nothing(hub, tmp_path, cache):
    hub.corrupt.add("3D_val_npz/CT_synthB_0001.npz")  # (the gts files are identical)
    dest = tmp_path / "real"
    with pytest.raises(FetchError, match="checksum mismatch.*nothing was written"):
        fetch_cases(dest, modality="CT", n=2, cache_dir=cache, progress=False)
    assert not list(dest.rglob("*.npz")) and not (dest / "MANIFEST.tsv").exists()
    # the corrupt copy left the cache: once the hub serves it right, a retry downloads it
    hub.corrupt.clear()
    n_before = len(hub.resolves())
    res = fetch_cases(dest, modality="CT", n=2, cache_dir=cache, progress=False)
    assert len(res.paths) == 2
    assert "/datasets/" + REPO + f"/resolve/{SHA}/3D_val_npz/CT_synthB_0001.npz" in \
        hub.resolves()[n_before:]


def test_server_down_is_no_internet(hub, tmp_path, cache):
    hub.stop()
    with pytest.raises(FetchError, match=r"^no internet: .*Binder, Colab.*copy the files"):
        fetch_cases(tmp_path / "d", n=1, cache_dir=cache, progress=False)


def test_offline_mode_fails_before_any_request(hub, tmp_path, cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FetchError, match="no internet: .*HF_HUB_OFFLINE"):
        fetch_cases(tmp_path / "d", n=1, cache_dir=cache, progress=False)
    assert hub.requests == []


def test_existing_files_refused_before_download(hub, tmp_path, cache):
    dest = tmp_path / "real"
    fetch_cases(dest, modality="CT", n=1, cache_dir=cache, progress=False)
    before = (dest / "imgs" / "3DBox_CT_synthA_0001.npz").read_bytes()
    n_before = len(hub.resolves())
    with pytest.raises(FileExistsError, match="overwrite=True") as info:
        fetch_cases(dest, modality="CT", n=1, cache_dir=cache, progress=False)
    assert len(info.value.clashes) == 2 and len(hub.resolves()) == n_before
    assert (dest / "imgs" / "3DBox_CT_synthA_0001.npz").read_bytes() == before
    fetch_cases(dest, modality="CT", n=1, cache_dir=cache, progress=False, overwrite=True)


@pytest.mark.parametrize("kwargs, word", [
    ({"source": "nope"}, "source"), ({"n": 0}, "n must"), ({"modality": "Fundus"}, "not in source"),
    ({"modality": "Banana"}, "modality must"),
])
def test_bad_arguments_name_the_argument(kwargs, word, tmp_path):
    with pytest.raises(InvalidInputError, match=word):
        fetch_cases(tmp_path, progress=False, **kwargs)


def test_source_without_hub_repo_says_where_the_data_is(tmp_path):
    with pytest.raises(FetchError, match="not on the Hugging Face hub.*codabench"):
        fetch_cases(tmp_path, source="cvpr2024", progress=False)


def test_2024_layout_source(monkeypatch, tmp_path, cache):
    """A source in the CVPR 2024 layout (2D, boxes in the file) is copied as validated."""
    img = np.zeros((16, 20, 3), np.uint8)  # SYNTHETIC
    img[4:9, 5:12] = 200
    gts = np.zeros((16, 20), np.uint8)
    gts[4:9, 5:12] = 1
    files = {"validation-box/imgs/2DBox_US_synth_0001.npz":
             _npz(imgs=img, boxes=np.array([[5, 4, 11, 8]])),
             "validation-box/gts/2DBox_US_synth_0001.npz": _npz(gts=gts)}
    h = FakeHub(files, repo="someone/fixture-2024")
    monkeypatch.setenv("HF_ENDPOINT", h.url)
    monkeypatch.setitem(fetch.SOURCES, "fixture2024", fetch.HubSource(
        name="fixture2024", title="synthetic fixture", repo_id="someone/fixture-2024",
        licence="CC0 (synthetic)", url="-", layout="2024", image_dir="validation-box/imgs",
        gt_dir="validation-box/gts", pattern=r"^2DBox_(?P<modality>[^_]+)_.+\.npz$",
        modality_tokens={"US": "US"}, convert="cvpr2024"))
    try:
        res = fetch_cases(tmp_path / "d", source="fixture2024", n=1, cache_dir=cache,
                          progress=False)
    finally:
        h.stop()
    case = load_case(res.paths[0], tmp_path / "d" / "gts" / res.paths[0].name)
    assert case.boxes.tolist() == [[5, 4, 11, 8]] and int(case.gts.sum()) == 35


def test_find_real_cases(hub, tmp_path, cache, monkeypatch):
    monkeypatch.setenv("CLASSICSEG_CACHE", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("CLASSICSEG_REAL_CASES", str(tmp_path / "real"))
    folder, message = find_real_cases(modality="CT")
    assert folder is None and "classicseg samples fetch" in message and "--modality CT" in message
    fetch_cases(tmp_path / "real", modality="CT", n=2, cache_dir=cache, progress=False)
    folder, message = find_real_cases(modality="CT", min_cases=2)
    assert folder == tmp_path / "real" and message.startswith("2 real CT challenge case")
    assert find_real_cases(modality="MR")[0] is None


# --------------------------------------------------------------------------- CLI


def _cli(argv, capsys):
    from classicseg.cli import main

    status = main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_cli_fetch(hub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLASSICSEG_CACHE", str(tmp_path / "cache"))
    dest = tmp_path / "real"
    status, out, err = _cli(["samples", "fetch", str(dest), "--modality", "CT", "--n", "1",
                             "--no-progress"], capsys)
    assert status == 0, err
    assert "3DBox_CT_synthA_0001.npz" in out and SHA in out and "CC BY-NC-SA 4.0" in out
    assert (tmp_path / "cache" / "hub").is_dir()  # $CLASSICSEG_CACHE/hub is the cache
    status, out, err = _cli(["samples", "fetch", str(dest), "--modality", "CT", "--n", "1",
                             "--no-progress"], capsys)
    assert status == 2 and "--overwrite" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["--modality", "Banana"], "modality must"),
    (["--source", "cvpr2024"], "codabench"),
])
def test_cli_bad_input(argv, words, tmp_path, capsys):
    status, _, err = _cli(["samples", "fetch", str(tmp_path / "d"), *argv], capsys)
    assert status == 2 and words in err and "Traceback" not in err


def test_cli_bad_n(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        _cli(["samples", "fetch", str(tmp_path / "d"), "--n", "0"], capsys)
    assert info.value.code == 2 and "positive integer" in capsys.readouterr().err


def test_cli_offline(hub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLASSICSEG_CACHE", str(tmp_path / "cache"))
    hub.stop()
    status, out, err = _cli(["samples", "fetch", str(tmp_path / "d"), "--no-progress"], capsys)
    assert status == 1
    assert err.startswith("classicseg samples: no internet") and "Traceback" not in err
    assert not (tmp_path / "d").exists() or not list(Path(tmp_path / "d").rglob("*.npz"))
