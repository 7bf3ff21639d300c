r"""``classicseg train mobileunet``: train the paper's MobileUNet specialist on box crops.

The defaults are the paper's protocol (AdamW lr 5e-5, batch 4, 500 epochs, Dice + BCE,
ReduceLROnPlateau(0.9, 5), one random box crop per image per step, 256 x 256 inputs, no
augmentation). Training runs on the CPU unless ``--device cuda`` (or ``auto``) is asked for.

Examples (shell)::

    classicseg train mobileunet --modality Dermoscopy --data path/to/train \
        --out weights/mobileunet_dermoscopy.pt
    classicseg train mobileunet --modality Dermoscopy --data dermoscopy-lesion --n-train 24 \
        --width 0.25 --epochs 40 --lr 2e-3 --val-data dermoscopy-lesion --n-val 8 --out m.pt

Nothing heavy (torch) is imported until the command runs.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from . import CommandError
from ._checks import non_negative_int, output_file, positive_float, positive_int

__all__ = ["configure", "run", "HELD_OUT_SEED_START"]

#: Held-out phantoms use seeds from here on, far from the training seeds 0, 1, 2, ...
HELD_OUT_SEED_START = 10_000


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    p = sub.add_parser("mobileunet",
                       help="MobileUNet specialist (dermoscopy, mammography, OCT, ...)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = p.add_argument_group("data")
    d.add_argument("--modality", required=True,
                   help="modality the model is for (e.g. Dermoscopy); files named for another are "
                        "skipped")
    d.add_argument("--data", required=True,
                   help="directory of challenge .npz files (imgs/ + gts/, or flat with gts inside) "
                        "or the name of a synthetic sample (see `classicseg samples list`)")
    d.add_argument("--n-train", type=positive_int, default=16,
                   help="phantoms to generate when --data is a sample (seeds 0..N-1)")
    d.add_argument("--hard", action="store_true", help="use the samples' hard variant")
    d.add_argument("--val-data", default=None,
                   help="held-out data (directory or sample name); its Dice goes into the model "
                        "card")
    d.add_argument("--n-val", type=positive_int, default=8,
                   help=f"held-out phantoms when --val-data is a sample (seeds "
                        f"{HELD_OUT_SEED_START}...)")
    t = p.add_argument_group("training (defaults: the paper's protocol)")
    t.add_argument("--epochs", type=positive_int, default=500)
    t.add_argument("--lr", type=positive_float, default=5e-5)
    t.add_argument("--weight-decay", type=non_negative_float, default=0.01,
                   help="AdamW weight decay (authors' code: 0.01)")
    t.add_argument("--batch-size", type=positive_int, default=4)
    t.add_argument("--width", type=positive_float, default=1.0,
                   help="channel multiplier (1.0 = reference, 13.3 M parameters)")
    t.add_argument("--seed", type=non_negative_int, default=0)
    t.add_argument("--flip", action="store_true",
                   help="random flips, as the authors' code (the paper: no augmentation)")
    t.add_argument("--box-jitter", type=non_negative_int, default=0,
                   help="enlarge each training box by up to N px per side")
    t.add_argument("--device", default="cpu",
                   help="cpu (default), cuda, cuda:N or auto (GPU when present)")
    t.add_argument("--threads", type=positive_int, default=None,
                   help="torch CPU threads (default: torch's choice)")
    o = p.add_argument_group("output")
    o.add_argument("--out", required=True,
                   help="weights file (.pt); the model card is written beside it (.json)")
    o.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint")
    o.add_argument("--resume", action="store_true",
                   help="continue the checkpoint at --out up to --epochs")
    o.add_argument("--save-every", type=positive_int, default=1,
                   help="write a checkpoint every N epochs")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")


def non_negative_float(value: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        x = float(value)
    except ValueError:
        x = float("nan")
    if not 0 <= x < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value!r}")
    return x


def run(args) -> int:
    # Reports its own errors (as the boundary in classicseg.cli.main words them), so that
    # calling it directly returns the exit status too.
    from . import _describe

    try:
        return _train(args)
    except (CommandError, ValueError, OSError) as e:
        message, status = _describe(e)
        print(f"classicseg train: {message}", file=sys.stderr)
        return status


def _check_out(args) -> Path:
    """``--out`` before any data is read: a .pt file that may be written (or resumed)."""
    out = Path(args.out)
    if out.suffix != ".pt":
        raise CommandError(f"--out {out}", "the weights file must end in .pt")
    if args.overwrite and args.resume:
        raise CommandError("--overwrite", "starts afresh, --resume continues; give one of them")
    if args.resume:
        if not out.is_file():
            raise CommandError(f"--out {out}", "no checkpoint to --resume from"
                               + (" (it is not a file)" if out.exists() else ""))
        return out
    if out.is_file() and not args.overwrite:
        raise CommandError(f"--out {out}", "exists; add --overwrite to replace it or --resume to "
                                           "continue it")
    return output_file(out, "--out", overwrite=args.overwrite)


def _train(args) -> int:
    if args.model != "mobileunet":  # pragma: no cover -- argparse restricts the choices
        raise CommandError("MODEL", f"unknown model {args.model!r}")
    from ..io import parse_modality

    modality = parse_modality(args.modality)
    if modality is None:
        raise CommandError(f"--modality {args.modality}", "not a known modality")
    _check_out(args)

    from ..models.mobileunet.train import TrainConfig, load_training_cases, train
    from ..pipeline.threads import set_threads

    if args.threads is not None:
        set_threads(args.threads)
    config = TrainConfig(modality=modality, width=args.width, epochs=args.epochs, lr=args.lr,
                         weight_decay=args.weight_decay, batch_size=args.batch_size,
                         seed=args.seed, box_jitter=args.box_jitter, flip=args.flip,
                         device=args.device, save_every=args.save_every)
    cases, data = load_training_cases(args.data, modality=modality, n=args.n_train,
                                      hard=args.hard)
    val_cases = val_data = None
    if args.val_data:
        val_cases, val_data = load_training_cases(args.val_data, modality=modality,
                                                  n=args.n_val, seed_start=HELD_OUT_SEED_START,
                                                  hard=args.hard)
    command = _command_line(args, modality)
    card = train(cases, config, out=args.out, data=data, val_cases=val_cases,
                 val_data=val_data, resume=args.resume, overwrite=args.overwrite,
                 progress=not args.no_progress, command=command)
    held = card["metrics"].get("heldout")
    msg = (f"wrote {args.out} ({card['bytes'] / 1e6:.1f} MB, {card['parameters']:,} parameters, "
           f"{card['training']['epochs_done']} epochs, {card['training']['wall_seconds']:.0f} s)")
    if held:
        msg += f"; held-out Dice {held['dice']:.4f} on {held['n_cases']} cases"
    print(msg)
    return 0


def _command_line(args, modality: str) -> str:
    """The full, explicit command that reproduces this run (recorded in the model card)."""
    parts = ["classicseg", "train", "mobileunet", "--modality", modality, "--data", str(args.data)]
    opts = [("--n-train", args.n_train), ("--epochs", args.epochs), ("--lr", args.lr),
            ("--weight-decay", args.weight_decay), ("--batch-size", args.batch_size),
            ("--width", args.width), ("--seed", args.seed), ("--box-jitter", args.box_jitter),
            ("--device", args.device)]
    if args.val_data:
        opts[1:1] = [("--val-data", args.val_data), ("--n-val", args.n_val)]
    if args.threads is not None:
        opts.append(("--threads", args.threads))
    for flag, value in opts:
        parts += [flag, str(value)]
    parts += [flag for flag, on in (("--hard", args.hard), ("--flip", args.flip)) if on]
    parts += ["--out", str(args.out)]
    return " ".join(shlex.quote(p) for p in parts)
