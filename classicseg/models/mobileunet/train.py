"""Training MobileUNet on box crops (the paper's protocol), with safe checkpoints and resume.

Protocol (paper Table 4 + the authors' training script; docs/algorithms.md §11)
-------------------------------------------------------------------------------
* AdamW (betas 0.9/0.999, eps 1e-8, weight decay 0.01 as in the code), lr 5e-5, batch 4,
  500 epochs, ``ReduceLROnPlateau(factor=0.9, patience=5)`` on the mean epoch loss;
* loss = soft Dice (squared denominator, per sample) + binary cross-entropy, 1 : 1;
* every step, each image of the batch contributes **one random box**: the crop is resized
  so its longest side is 256, min-max normalised and zero-padded (the same pipeline as
  inference, :mod:`classicseg.models.preprocess`); the target is that box's instance mask;
* no augmentation (the paper). The authors' code does flip images left-right and up-down at
  random -- ``flip=True`` reproduces that; ``box_jitter`` enlarges boxes at random (off by default).

Checkpoints
-----------
``out.pt`` holds **only** the ``state_dict`` (loadable with ``weights_only=True``);
``out.json`` is the model card (config, data, seed, metrics, SHA-256 of ``out.pt``);
``out.resume.pt`` holds what resuming needs (optimizer, scheduler, sampler RNG, epoch).
Each file is written to a temporary file in the same folder and renamed into place, so an
interrupted run leaves either the previous or the new checkpoint, never half of one; the
card is written last, and a ``.pt`` whose hash disagrees with its card is refused on load.

Examples
--------
>>> cases = [toy_case(seed) for seed in range(4)]                        # doctest: +SKIP
>>> cfg = TrainConfig(modality="Dermoscopy", width=0.25, epochs=2, lr=1e-3)  # doctest: +SKIP
>>> card = train(cases, cfg, out="model.pt", progress=False)           # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy.ndimage as ndi
import torch
import torch.nn.functional as F

from ...boxes import box_slices
from ...io import Case, ChallengeFileError, atomic_write, parse_modality
from ..checksum import WeightsError, sha256_file
from ..device import choose_device
from ..preprocess import longest_side_size, pad_to_square, preprocess_for_256
from .net import MobileUNet, _safe_load, count_parameters, load_checkpoint
from .segmenter import MobileUNetSegmenter

__all__ = ["TrainConfig", "BoxCropSampler", "dice_bce_loss", "train", "evaluate",
           "load_training_cases", "save_checkpoint", "NOT_CLINICAL"]

NOT_CLINICAL = ("Trained on synthetic phantoms only: these weights demonstrate the method and "
                "the training command; they are NOT clinical models and say nothing about "
                "real images.")


@dataclass
class TrainConfig:
    """Training settings; the defaults are the paper's protocol."""

    modality: str
    width: float = 1.0
    epochs: int = 500
    lr: float = 5e-5
    weight_decay: float = 0.01
    batch_size: int = 4
    seed: int = 0
    plateau_factor: float = 0.9
    plateau_patience: int = 5
    box_jitter: int = 0
    flip: bool = False
    reference_layout: bool = True
    device: str = "cpu"
    save_every: int = 1

    def __post_init__(self):
        for name in ("epochs", "batch_size", "save_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not self.width > 0:
            raise ValueError(f"width must be > 0, got {self.width}")
        if self.box_jitter < 0:
            raise ValueError(f"box_jitter must be >= 0, got {self.box_jitter}")

    def architecture(self) -> dict:
        return {"width": float(self.width), "out_channels": 1,
                "reference_layout": bool(self.reference_layout)}


# --------------------------------------------------------------------------- data

def _read_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 -- any failure to read is reported with the file name
        raise ChallengeFileError(
            path, f"not a readable .npz without pickles ({type(e).__name__}: {e})") from None


def _label_boxes(gts: np.ndarray) -> np.ndarray:
    """Tight inclusive box of every instance label 1..max (missing labels get no box)."""
    boxes = []
    for sl in ndi.find_objects(gts):
        if sl is not None:
            boxes.append([sl[1].start, sl[0].start, sl[1].stop - 1, sl[0].stop - 1])
    return np.asarray(boxes, dtype=np.int64).reshape(-1, 4)


def _cases_from_directory(directory: Path, modality: str | None) -> list[Case]:
    """2D cases with ground truth from ``imgs/`` + ``gts/`` or a flat folder (``gts`` inside)."""
    img_dir = directory / "imgs" if (directory / "imgs").is_dir() else directory
    gt_dir = directory / "gts" if (directory / "gts").is_dir() else None
    files = sorted(p for p in img_dir.iterdir() if p.suffix.lower() == ".npz")
    cases = []
    for p in files:
        name = p.name[:-4]
        mod = parse_modality(name)
        if modality is not None and mod is not None and mod != modality:
            continue
        data = _read_npz(p)
        if "imgs" not in data:
            raise ChallengeFileError(p, f"missing key 'imgs'; found {sorted(data)}")
        gts = data.get("gts")
        if gt_dir is not None and (gt_dir / p.name).is_file():
            gts = _read_npz(gt_dir / p.name).get("gts")
        if gts is None:
            warnings.warn(f"{p}: no ground truth ('gts'); skipped for training", stacklevel=3)
            continue
        if data["imgs"].ndim != 3 or data["imgs"].shape[-1] != 3:
            warnings.warn(f"{p}: not a 2D (H, W, 3) image; MobileUNet trains on 2D cases, "
                          "skipped", stacklevel=3)
            continue
        gts = np.asarray(gts)
        if not np.issubdtype(gts.dtype, np.integer):
            raise ChallengeFileError(p, f"'gts' must be an integer label map, got {gts.dtype}")
        boxes = data.get("boxes")
        if boxes is None:  # challenge training files carry no boxes: use each label's tight box
            boxes = _label_boxes(gts.astype(np.int64, copy=False))
        cases.append(Case(name=name, image=data["imgs"], boxes=boxes, gts=gts, path=p,
                          modality=modality if mod is None else None))
    return cases


def load_training_cases(source, *, modality: str | None = None, n: int = 16, seed_start: int = 0,
                        hard: bool = False) -> tuple[list[Case], dict]:
    """2D cases with ground truth for training/evaluation, plus a description of the data.

    Parameters
    ----------
    source : path or str
        A directory of challenge files (``imgs/`` + ``gts/`` subfolders, or flat with
        ``gts`` inside the image files), or the name of a synthetic sample of
        :mod:`classicseg.samples` (then ``n`` phantoms with seeds ``seed_start ...``).
    modality : str, optional
        Keep only files whose name says this modality (names without one are kept).
    """
    path = Path(str(source))
    if path.is_dir():
        cases = _cases_from_directory(path, modality)
        desc = {"source": str(path), "kind": "directory", "files": [c.name for c in cases],
                "synthetic": all(c.synthetic for c in cases) if cases else False}
    else:
        from ... import samples
        names = [info.name for info in samples.list()]
        if str(source) not in names:
            raise ValueError(f"--data {source!r}: neither a directory nor a sample name; "
                             f"samples: {names}")
        if n < 1:
            raise ValueError(f"number of phantoms must be >= 1, got {n}")
        seeds = list(range(int(seed_start), int(seed_start) + int(n)))
        cases = [samples.load(str(source), seed=s, hard=hard) for s in seeds]
        desc = {"source": str(source), "kind": "sample", "seeds": seeds, "hard": bool(hard),
                "synthetic": all(c.synthetic for c in cases)}
    cases = [c for c in cases if not c.is_3d and c.gts is not None]
    if not cases:
        raise ValueError(f"{source}: no 2D case with ground truth found"
                         + (f" for modality {modality}" if modality else ""))
    desc["n_images"] = len(cases)
    return cases, desc


class BoxCropSampler:
    """Draws training samples: one random box of an image -> (input, target) at 256 x 256.

    Box ``i`` of a case is paired with ground-truth label ``i + 1`` (the challenge
    convention); boxes whose label is absent from the ground truth are never drawn.
    """

    def __init__(self, cases, *, size: int = 256, box_jitter: int = 0, flip: bool = False):
        self.size, self.box_jitter, self.flip = int(size), int(box_jitter), bool(flip)
        self.items = []  # (image, gts, list of (box, label))
        for c in cases:
            present = set(np.unique(c.gts).tolist())
            pairs = [(b, i + 1) for i, b in enumerate(c.boxes) if i + 1 in present]
            if pairs:
                self.items.append((c.image, c.gts, pairs))
        if not self.items:
            raise ValueError(
                "no case has a box whose label (box index + 1) appears in its ground truth")

    def __len__(self) -> int:
        return len(self.items)

    def sample(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(3, S, S) float32 input and (1, S, S) float32 target, random box of image ``index``."""
        image, gts, pairs = self.items[index]
        box, label = pairs[int(rng.integers(len(pairs)))]
        box = np.array(box, dtype=np.int64)
        if self.box_jitter:
            h, w = gts.shape
            grow = rng.integers(0, self.box_jitter + 1, size=4)
            box = np.clip(box + grow * np.array([-1, -1, 1, 1]), 0, [w - 1, h - 1, w - 1, h - 1])
        where = box_slices(box)
        x, newhw = preprocess_for_256(image[where], self.size)
        y = (gts[where] == label).astype(np.uint8)
        assert longest_side_size(y.shape, self.size) == tuple(newhw)
        import cv2  # nearest keeps the target binary
        y = cv2.resize(y, (newhw[1], newhw[0]), interpolation=cv2.INTER_NEAREST)
        y = pad_to_square(y, self.size)
        x, y = x.transpose(2, 0, 1), y[None].astype(np.float32)
        if self.flip:  # the authors' code (not the paper) flips at random
            for axis in (-1, -2):
                if rng.random() < 0.5:
                    x, y = np.flip(x, axis), np.flip(y, axis)
        return np.ascontiguousarray(x), np.ascontiguousarray(y)

    def batch(self, indices, rng) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = zip(*(self.sample(int(i), rng) for i in indices))
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def dice_bce_loss(logits: torch.Tensor, target: torch.Tensor, *,
                  smooth: float = 1e-5) -> torch.Tensor:
    """Soft Dice loss + binary cross-entropy (1 : 1), as the authors' training script.

    Dice per sample with a squared denominator (MONAI ``DiceLoss(sigmoid=True,
    squared_pred=True)``), averaged over the batch; BCE averaged over all pixels.
    """
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    dice = 1 - (2 * (p * t).sum(1) + smooth) / ((p * p).sum(1) + (t * t).sum(1) + smooth)
    return dice.mean() + F.binary_cross_entropy_with_logits(logits, target)


# --------------------------------------------------------------------------- checkpoints

def _resume_path(out: Path) -> Path:
    return out.with_name(out.stem + ".resume.pt")


_RESUME_KEYS = {"optimizer", "scheduler", "rng", "epoch", "seconds", "history", "weights_sha256"}


def _load_resume_state(rs_path: Path, out: Path, card: dict) -> dict:
    """The optimizer/scheduler/RNG state beside ``out``, checked to belong to its weights."""
    rs = _safe_load(rs_path, lambda: torch.load(rs_path, map_location="cpu", weights_only=True))
    if not isinstance(rs, dict) or not _RESUME_KEYS <= set(rs):
        raise WeightsError(f"{rs_path}: not a resume state written by classicseg train "
                           f"(expected the entries {sorted(_RESUME_KEYS)}); cannot resume")
    if rs.get("weights_sha256") != card["sha256"]:
        raise ValueError(f"{rs_path} belongs to a different checkpoint than {out}")
    return rs


def save_checkpoint(model, out, card: dict) -> dict:
    """Write ``out`` (the state_dict only), then the card ``out.json`` with its SHA-256.

    Both writes are atomic. Returns the card as written.
    """
    out = Path(out)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_write(out, lambda f: torch.save(state, f), overwrite=True)
    card = dict(card, file=out.name, bytes=out.stat().st_size, sha256=sha256_file(out))
    text = json.dumps(card, indent=2, sort_keys=False) + "\n"
    atomic_write(out.with_suffix(".json"), lambda f: f.write(text.encode()), overwrite=True)
    return card


# --------------------------------------------------------------------------- evaluation

def evaluate(segmenter: MobileUNetSegmenter, cases, *, postprocess: str = "full") -> dict:
    """Mean case DSC and NSD (challenge definitions, :func:`classicseg.metrics.score_case`)."""
    from ...metrics import score_case

    dsc, nsd = [], []
    for c in cases:
        res = segmenter.segment(c.image, c.boxes, postprocess=postprocess)
        s = score_case(c.gts, res.segs)
        dsc.append(float(s["dsc"]))
        nsd.append(float(s["nsd"]))
    return {"dice": float(np.mean(dsc)), "nsd": float(np.mean(nsd)),
            "per_case_dice": [round(d, 6) for d in dsc], "n_cases": len(dsc),
            "postprocess": postprocess}


# --------------------------------------------------------------------------- training

@dataclass
class _State:
    epoch: int = 0
    seconds: float = 0.0
    history: list = field(default_factory=list)


def _train_epoch(model, sampler, optimizer, rng, *, batch_size: int, device, bar=None,
                 epoch: int = 1) -> float:
    """One pass over the images in random order, in batches; returns the mean step loss."""
    n = len(sampler)
    order = rng.permutation(n)
    losses = []
    for s in range(-(-n // batch_size)):
        x, y = sampler.batch(order[s * batch_size:(s + 1) * batch_size], rng)
        x, y = x.to(device), y.to(device)
        loss = dice_bce_loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{losses[-1]:.4f}",
                            lr=f"{optimizer.param_groups[0]['lr']:.2e}")
    return float(np.mean(losses))


def train(cases, config: TrainConfig, *, out, data: dict | None = None, val_cases=None,
          val_data: dict | None = None, resume: bool = False, overwrite: bool = False,
          progress: bool = True, command: str | None = None) -> dict:
    """Train a MobileUNet on box crops of ``cases`` and write checkpoints to ``out``.

    Parameters
    ----------
    cases : list of Case
        2D cases with ground truth (box ``i`` <-> label ``i + 1``).
    config : TrainConfig
    out : path
        Weights file (``.pt``); the model card goes to ``.json`` beside it and the resume
        state to ``.resume.pt``.
    data, val_data : dict, optional
        Descriptions of the training / held-out data written into the model card.
    val_cases : list of Case, optional
        Held-out cases; their mean Dice is measured after training and stored in the card.
    resume : bool
        Continue from the checkpoint at ``out`` (same architecture) up to ``config.epochs``.
    overwrite : bool
        Replace an existing checkpoint at ``out`` instead of refusing.
    progress : bool
        Show a tqdm bar with the running loss.
    command : str, optional
        The command line that produced the model, recorded in the card.

    Returns
    -------
    dict
        The final model card.
    """
    out = Path(out)
    if out.suffix != ".pt":
        raise ValueError(f"out must end in .pt, got {out}")
    if out.exists() and not (resume or overwrite):
        raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it "
                              "or resume=True (--resume) to continue it")
    device = choose_device(config.device)
    torch.manual_seed(config.seed)
    sampler = BoxCropSampler(cases, box_jitter=config.box_jitter, flip=config.flip)
    model = MobileUNet(config.width, reference_layout=config.reference_layout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.plateau_factor, patience=config.plateau_patience)
    rng = np.random.default_rng(config.seed)
    st = _State()

    if resume and out.exists():
        model, card = _safe_load(out, lambda: load_checkpoint(out))  # SHA-256 checked first
        if card.get("config") != config.architecture():
            raise ValueError(f"{out}: architecture {card.get('config')} differs from the requested "
                             f"{config.architecture()}; cannot resume")
        rs_path = _resume_path(out)
        if not rs_path.is_file():
            raise FileNotFoundError(f"{rs_path}: resume state missing; cannot resume {out}")
        rs = _load_resume_state(rs_path, out, card)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.999),
                                      eps=1e-8, weight_decay=config.weight_decay)
        optimizer.load_state_dict(rs["optimizer"])
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=config.plateau_factor, patience=config.plateau_patience)
        scheduler.load_state_dict(rs["scheduler"])
        rng.bit_generator.state = rs["rng"]
        if data is not None and card.get("data") != data:
            warnings.warn(f"{out}: resuming on different data than the checkpoint was trained on",
                          stacklevel=2)
        st = _State(epoch=int(rs["epoch"]), seconds=float(rs["seconds"]),
                    history=list(rs["history"]))
    model.to(device).train()
    _optimizer_to(optimizer, device)

    n = len(sampler)
    steps = -(-n // config.batch_size)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=config.epochs * steps, initial=min(st.epoch, config.epochs) * steps,
                   desc=f"MobileUNet {config.modality}", unit="step", dynamic_ncols=True)

    def card() -> dict:
        c = {
            "model": "MobileUNet", "modality": config.modality, "config": model.config(),
            "parameters": count_parameters(model), "seed": config.seed,
            "training": {**asdict(config), "epochs_done": st.epoch,
                         "wall_seconds": round(st.seconds, 1),
                         "optimizer": "AdamW(betas=(0.9, 0.999), eps=1e-8)",
                         "loss": "soft Dice (squared) + BCE, 1:1",
                         "scheduler": f"ReduceLROnPlateau(factor={config.plateau_factor}, "
                                      f"patience={config.plateau_patience}) on the mean epoch loss",
                         "sampling": "one random box crop per image per epoch, "
                                     "resized/padded to 256",
                         "final_lr": optimizer.param_groups[0]["lr"],
                         "torch": torch.__version__, "threads": torch.get_num_threads(),
                         "device": str(device)},
            "data": data or {}, "command": command,
            "metrics": {"final_epoch_loss": st.history[-1] if st.history else None,
                        "epoch_loss": [round(v, 5) for v in st.history]},
        }
        if (data or {}).get("synthetic"):
            c["note"] = NOT_CLINICAL
        return c

    def checkpoint(metrics=None) -> dict:
        c = card()
        if metrics:
            c["metrics"].update(metrics)
        rs = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
              "rng": rng.bit_generator.state, "epoch": st.epoch, "seconds": st.seconds,
              "history": st.history}
        model.eval()
        try:
            # The resume state is written last and tagged with the weights' hash, so a crash
            # between the writes is detected on resume instead of mixing two checkpoints.
            written = save_checkpoint(model, out, c)
            rs["weights_sha256"] = written["sha256"]
            atomic_write(_resume_path(out), lambda f: torch.save(_to_cpu(rs), f), overwrite=True)
        finally:
            model.train()
        return written

    written = None
    try:
        while st.epoch < config.epochs:
            t0 = time.perf_counter()
            epoch_loss = _train_epoch(model, sampler, optimizer, rng, batch_size=config.batch_size,
                                      device=device, bar=bar, epoch=st.epoch + 1)
            scheduler.step(epoch_loss)
            st.epoch += 1
            st.history.append(epoch_loss)
            st.seconds += time.perf_counter() - t0
            if st.epoch % config.save_every == 0 or st.epoch == config.epochs:
                written = checkpoint()
    finally:
        if bar is not None:
            bar.close()

    metrics = {}
    if val_cases:
        model.eval()
        seg = MobileUNetSegmenter(model, card={"modality": config.modality}, device=device)
        ev = evaluate(seg, val_cases)
        metrics["heldout"] = {**(val_data or {}), **ev}
    if metrics or written is None:
        written = checkpoint(metrics)
    return written


def _optimizer_to(optimizer, device) -> None:
    for state in optimizer.state.values():
        for k, v in state.items():
            if torch.is_tensor(v):
                state[k] = v.to(device)


def _to_cpu(obj):
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
