"""``classicseg samples``: list, write and show the built-in sample cases.

    classicseg samples list [--tsv]
    classicseg samples write DIR [--names NAME ...] [--all] [--seed N] [--overwrite]
    classicseg samples gallery OUT.png [--names NAME ...] [--hard] [--dpi N]
    classicseg samples fetch DEST [--modality M] [--n N] [--source S] [--revision R]
                             [--overwrite] [--no-progress]

``write`` stores challenge ``.npz`` pairs in ``DIR/imgs`` and ``DIR/gts`` plus
``DIR/MANIFEST.tsv``; with no ``--names`` it writes the committed ``data_samples/`` set.
A name may carry ``:hard`` (e.g. ``pet-lesions:hard``).

``fetch`` downloads real challenge cases from the Hugging Face hub (needs internet; see
:mod:`classicseg.samples.fetch` for the sources and licences) into ``DEST/imgs`` +
``DEST/gts``. Exit status 2 for bad input (or existing files without ``--overwrite``), 1 when
the hub cannot be reached or a checksum fails.
"""

from __future__ import annotations

import argparse
import time

from . import CommandError
from ._checks import non_negative_int, output_dir, output_file, positive_int

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
    p = sub.add_parser("fetch", help="download real challenge cases from the Hugging Face hub "
                       "(needs internet) into DEST/imgs + DEST/gts")
    p.add_argument("dest", metavar="DEST", help="output folder (e.g. real_cases/)")
    p.add_argument("--modality", metavar="M", help="only this modality (e.g. CT); default: any")
    p.add_argument("--n", type=positive_int, default=3, help="number of cases (default 3)")
    p.add_argument("--source", default="cvpr2025", metavar="S",
                   help="cvpr2025 (junma/CVPR-BiomedSegFM, CC BY-NC-SA 4.0) or cvpr2024 "
                   "(default cvpr2025)")
    p.add_argument("--revision", metavar="R",
                   help="commit of the dataset repository (default: pinned, else the branch "
                   "resolved once; printed after a fetch)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
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


def _fetch(args) -> int:
    from classicseg.samples import fetch

    dest = output_dir(args.dest, "DEST")
    src = fetch.SOURCES.get(args.source)
    if src is not None and src.repo_id is None:  # a known source that is not on the hub
        raise CommandError(f"--source {args.source}", f"not on the Hugging Face hub: {src.note}")
    try:
        res = fetch.fetch_cases(dest, modality=args.modality, n=args.n, source=args.source,
                                revision=args.revision, progress=not args.no_progress,
                                overwrite=args.overwrite)
    except FileExistsError as e:
        clashes = getattr(e, "clashes", None)
        if not clashes:
            raise
        raise CommandError(f"DEST {dest}", f"{len(clashes)} file(s) exist there (e.g. "
                                           f"{clashes[0]}); add --overwrite to replace "
                                           "them") from None
    except fetch.FetchError as e:
        raise CommandError(str(e), status=1) from None
    for p in res.paths:
        print(p)
    src = fetch.SOURCES[res.source]
    print(f"fetched {len(res.paths)} real cases into {dest} (imgs/, gts/, MANIFEST.tsv) from "
          f"{res.repo_id} at commit {res.revision}; licence {src.licence}. Reproduce with "
          f"--revision {res.revision}")
    return 0


def run(args) -> int:
    action = getattr(args, "samples_action", None)
    if action is None:
        args._samples_parser.print_help()
        return 2
    return {"list": _list, "write": _write, "gallery": _gallery, "fetch": _fetch}[action](args)
