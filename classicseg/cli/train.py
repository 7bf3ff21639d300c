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

__all__ = ["configure", "run", "HELD_OUT_SEED_START"]

#: Held-out phantoms use seeds from here on, far from the training seeds 0, 1, 2, ...
HELD_OUT_SEED_START = 10_000


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    p = sub.add_parser("mobileunet", help="MobileUNet specialist (dermoscopy, mammography, OCT, ...)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = p.add_argument_group("data")
    d.add_argument("--modality", required=True,
                   help="modality the model is for (e.g. Dermoscopy); files named for another are skipped")
    d.add_argument("--data", required=True,
                   help="directory of challenge .npz files (imgs/ + gts/, or flat with gts inside) "
                        "or the name of a synthetic sample (see `classicseg samples list`)")
    d.add_argument("--n-train", type=int, default=16, help="phantoms to generate when --data is a sample (seeds 0..N-1)")
    d.add_argument("--hard", action="store_true", help="use the samples' hard variant")
    d.add_argument("--val-data", default=None,
                   help="held-out data (directory or sample name); its Dice goes into the model card")
    d.add_argument("--n-val", type=int, default=8,
                   help=f"held-out phantoms when --val-data is a sample (seeds {HELD_OUT_SEED_START}...)")
    t = p.add_argument_group("training (defaults: the paper's protocol)")
    t.add_argument("--epochs", type=int, default=500)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay (authors' code: 0.01)")
    t.add_argument("--batch-size", type=int, default=4)
    t.add_argument("--width", type=float, default=1.0, help="channel multiplier (1.0 = reference, 13.3 M parameters)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--flip", action="store_true", help="random flips, as the authors' code (the paper: no augmentation)")
    t.add_argument("--box-jitter", type=int, default=0, help="enlarge each training box by up to N px per side")
    t.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto (GPU when present)")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    o = p.add_argument_group("output")
    o.add_argument("--out", required=True, help="weights file (.pt); the model card is written beside it (.json)")
    o.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint")
    o.add_argument("--resume", action="store_true", help="continue the checkpoint at --out up to --epochs")
    o.add_argument("--save-every", type=int, default=1, help="write a checkpoint every N epochs")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    if args.model != "mobileunet":  # pragma: no cover -- argparse restricts the choices
        print(f"unknown model {args.model!r}", file=sys.stderr)
        return 2
    from ..io import parse_modality

    modality = parse_modality(args.modality)
    if modality is None:
        print(f"error: --modality {args.modality!r} is not a known modality", file=sys.stderr)
        return 2

    from ..models.mobileunet.train import TrainConfig, load_training_cases, train
    from ..pipeline.threads import set_threads

    if args.threads is not None:
        set_threads(max(1, args.threads))
    try:
        config = TrainConfig(modality=modality, width=args.width, epochs=args.epochs, lr=args.lr,
                             weight_decay=args.weight_decay, batch_size=args.batch_size, seed=args.seed,
                             box_jitter=args.box_jitter, flip=args.flip, device=args.device,
                             save_every=args.save_every)
        cases, data = load_training_cases(args.data, modality=modality, n=args.n_train, hard=args.hard)
        val_cases = val_data = None
        if args.val_data:
            val_cases, val_data = load_training_cases(args.val_data, modality=modality, n=args.n_val,
                                                      seed_start=HELD_OUT_SEED_START, hard=args.hard)
        command = _command_line(args, modality)
        card = train(cases, config, out=args.out, data=data, val_cases=val_cases, val_data=val_data,
                     resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress,
                     command=command)
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
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
