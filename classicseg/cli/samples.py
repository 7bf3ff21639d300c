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
import time

from . import CommandError
from ._checks import non_negative_int, output_dir, output_file

HELP = "list, write (challenge .npz) or draw the built-in real and synthetic sample cases"


def _bounded(lo: int, hi: int):
    """argparse type: an integer in lo..hi (a huge --dpi would try to allocate a huge canvas)."""
    def integer(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            n = None
        if n is None or not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer from {lo} to {hi}, "
                                             f"got {value!r}")
        return n
    return integer


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="samples_action", metavar="ACTION")
    p = sub.add_parser("list", help="print the sample registry")
    p.add_argument("--tsv", action="store_true", help="tab-separated output with every field")
    p = sub.add_parser("write",
                       help="write samples as challenge .npz files (imgs/, gts/, MANIFEST.tsv)")
    p.add_argument("directory", help="output folder (e.g. data_samples/)")
    p.add_argument("--names", nargs="+", metavar="NAME",
                   help="samples to write (NAME or NAME:hard); "
                   "default: the data_samples set")
    p.add_argument("--all", action="store_true", help="write every sample (normal variants)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the synthetic phantoms (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p = sub.add_parser("gallery", help="save a figure of the samples with boxes and ground truth")
    p.add_argument("output", help="image file to write (e.g. gallery.png)")
    p.add_argument("--names", nargs="+", metavar="NAME", help="samples to show (default: all)")
    p.add_argument("--hard", action="store_true", help="show the hard variants of the phantoms")
    p.add_argument("--columns", type=_bounded(1, 50), default=6, help="panels per row (1-50)")
    p.add_argument("--dpi", type=_bounded(10, 1200), default=110,
                   help="resolution of a raster image (10-1200, default 110)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing image file")
    parser.set_defaults(_samples_parser=parser)


def _list(args) -> int:
    from classicseg import samples

    infos = samples.list()
    if args.tsv:
        cols = ["name", "modality", "dims", "synthetic", "has_gt", "variant", "available",
                "licence", "source",
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
        gt = "yes" if s.has_gt else "no"
        print(f"{s.name:28} {s.modality:11} {s.dims}D  {origin:9} {gt:3} {s.variant}{flag}")
        print(f"{'':28} {s.description}")
        print(f"{'':28} source:  {s.source}")
        print(f"{'':28} licence: {s.licence}")
    print(f"\n{len(infos)} samples; load one with classicseg.samples.load(NAME[, seed=, hard=])")
    return 0


def _write(args) -> int:
    from classicseg import samples

    if args.all and args.names:
        raise CommandError("--names", "give either --names or --all, not both")
    names = "all" if args.all else args.names
    directory = output_dir(args.directory, "DIRECTORY")
    t = time.perf_counter()
    try:
        paths = samples.write(directory, names, overwrite=args.overwrite, seed=args.seed)
    except FileExistsError as e:
        clashes = getattr(e, "clashes", None)
        if not clashes:
            raise
        raise CommandError(f"DIRECTORY {directory}", f"{len(clashes)} sample file(s) exist there "
                                                     f"(e.g. {clashes[0]}); add --overwrite to "
                                                     "replace them") from None
    for p in paths:
        print(p)
    print(f"wrote {len(paths)} cases to {directory} in {time.perf_counter() - t:.1f} s "
          "(imgs/, gts/, MANIFEST.tsv)")
    return 0


def _image_formats() -> set[str]:
    from matplotlib.backend_bases import FigureCanvasBase

    return set(FigureCanvasBase.get_supported_filetypes())


def _gallery(args) -> int:
    from classicseg import samples

    from ..io import atomic_write

    # every check before the (slow) drawing; the folder must exist (a typo is not a new folder)
    out = output_file(args.output, "OUTPUT", overwrite=args.overwrite, formats=_image_formats(),
                      create_parent=False)
    fig = samples.gallery_figure(args.names, hard=args.hard, columns=args.columns)
    fmt = out.suffix[1:].lower()
    atomic_write(out, lambda f: fig.savefig(f, format=fmt, dpi=args.dpi), overwrite=True)
    print(out)
    return 0


def run(args) -> int:
    action = getattr(args, "samples_action", None)
    if action is None:
        args._samples_parser.print_help()
        return 2
    return {"list": _list, "write": _write, "gallery": _gallery}[action](args)
