"""``classicseg samples``: list, write and show the built-in sample cases.

    classicseg samples list [--tsv]
    classicseg samples write DIR [--names NAME ...] [--all] [--seed N] [--overwrite]
    classicseg samples gallery OUT.png [--names NAME ...] [--hard] [--dpi N]

``write`` stores challenge ``.npz`` pairs in ``DIR/imgs`` and ``DIR/gts`` plus
``DIR/MANIFEST.tsv``; with no ``--names`` it writes the committed ``data_samples/`` set.
A name may carry ``:hard`` (e.g. ``pet-lesions:hard``).
"""

from __future__ import annotations

import argparse
import sys
import time

HELP = "list, write (challenge .npz) or draw the built-in real and synthetic sample cases"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="samples_action", metavar="ACTION")
    p = sub.add_parser("list", help="print the sample registry")
    p.add_argument("--tsv", action="store_true", help="tab-separated output with every field")
    p = sub.add_parser("write", help="write samples as challenge .npz files (imgs/, gts/, MANIFEST.tsv)")
    p.add_argument("directory", help="output folder (e.g. data_samples/)")
    p.add_argument("--names", nargs="+", metavar="NAME", help="samples to write (NAME or NAME:hard); "
                   "default: the data_samples set")
    p.add_argument("--all", action="store_true", help="write every sample (normal variants)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic phantoms (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p = sub.add_parser("gallery", help="save a figure of the samples with boxes and ground truth")
    p.add_argument("output", help="image file to write (e.g. gallery.png)")
    p.add_argument("--names", nargs="+", metavar="NAME", help="samples to show (default: all)")
    p.add_argument("--hard", action="store_true", help="show the hard variants of the phantoms")
    p.add_argument("--columns", type=int, default=6)
    p.add_argument("--dpi", type=int, default=110)
    parser.set_defaults(_samples_parser=parser)


def _list(args) -> int:
    from classicseg import samples

    infos = samples.list()
    if args.tsv:
        cols = ["name", "modality", "dims", "synthetic", "has_gt", "variant", "available", "licence", "source",
                "description", "teaches"]
        print("\t".join(cols))
        for s in infos:
            row = {**s.__dict__, "available": s.available}
            print("\t".join(str(row[c]) for c in cols))
        return 0
    head = f"{'name':28} {'modality':11} {'dim':3} {'origin':9} {'GT':3} variant"
    print(head)
    print("-" * 72)
    for s in infos:
        origin = "synthetic" if s.synthetic else "real"
        flag = "" if s.available else f"   [not installed: {samples.INSTALL_HINT}]"
        print(f"{s.name:28} {s.modality:11} {s.dims}D  {origin:9} {'yes' if s.has_gt else 'no':3} {s.variant}{flag}")
        print(f"{'':28} {s.description}")
        print(f"{'':28} source:  {s.source}")
        print(f"{'':28} licence: {s.licence}")
    print(f"\n{len(infos)} samples; load one with classicseg.samples.load(NAME[, seed=, hard=])")
    return 0


def _write(args) -> int:
    from classicseg import samples

    if args.all and args.names:
        print("error: give either --names or --all", file=sys.stderr)
        return 2
    names = "all" if args.all else args.names
    t = time.perf_counter()
    try:
        paths = samples.write(args.directory, names, overwrite=args.overwrite, seed=args.seed)
    except FileExistsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (ValueError, samples.SampleDataUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    print(f"wrote {len(paths)} cases to {args.directory} in {time.perf_counter() - t:.1f} s "
          "(imgs/, gts/, MANIFEST.tsv)")
    return 0


def _gallery(args) -> int:
    from classicseg import samples

    try:
        fig = samples.gallery_figure(args.names, hard=args.hard, columns=args.columns)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    fig.savefig(args.output, dpi=args.dpi)
    print(args.output)
    return 0


def run(args) -> int:
    action = getattr(args, "samples_action", None)
    if action is None:
        args._samples_parser.print_help()
        return 2
    return {"list": _list, "write": _write, "gallery": _gallery}[action](args)
