"""``classicseg models prepare``: build LiteMedSAM's cached artefacts once (Binder's postBuild).

Exports the ONNX encoder and decoder (the only step that needs torch), compiles them with
every installed CPU backend (OpenVINO keeps its compiled blobs), measures each backend's
parity verdict against the official outputs and caches it, and prints what
``--backend auto`` will choose. ``classicseg models show`` prints the same without
measuring anything new. Exit status 0, 1 if no backend could be prepared, 2 for bad input.
Examples::

    classicseg models prepare                 # everything installed (fp32; bf16 where native)
    classicseg models prepare --backend onnx  # one backend
    classicseg models show                    # what is cached, and what auto picks

Top-level imports are light (no torch).
"""

from __future__ import annotations

from . import CommandError


def configure(parser) -> None:
    parser.add_argument("action", choices=("prepare", "show"),
                        help="prepare: export, compile, measure parity; show: report the cache")
    parser.add_argument("--backend", action="append", choices=("openvino", "onnx"),
                        help="only this CPU backend (repeatable; default: every installed one)")
    parser.add_argument("--weights", help="LiteMedSAM checkpoint (default: the verified shipped "
                                          "one)")
    parser.add_argument("--no-bf16", action="store_true",
                        help="skip the OpenVINO bf16 verdict (measured only on CPUs with native "
                             "bf16)")


def _verdict_line(name: str, v: dict | None) -> str:
    from ..models.litemedsam.backends import describe_verdict

    if v is None:
        return f"  {name:<16} no verdict cached"
    state = "parity holds" if v["passed"] else "PARITY FAILS"
    return (f"  {name:<16} {state}: {describe_verdict(v)}, mean Dice {v['mean_dice']:.4f}, "
            f"{v['library']}")


def _cached_verdict(sha: str, backend: str, precision: str) -> dict | None:
    import json

    from ..models.litemedsam.backends import verdict_path

    path = verdict_path(sha, backend, precision)
    try:
        return {**json.loads(path.read_text()), "cached": True}
    except (OSError, ValueError):
        return None


def run(args) -> int:
    from ..models.litemedsam.backends import AUTO_ORDER, installed, parity_verdict
    from ..models.litemedsam.onnx_backend import model_dir, onnx_cached
    from ..models.litemedsam.openvino_backend import cpu_supports_bf16
    from ..models.litemedsam.predictor import LiteMedSAM
    from ..models.litemedsam.weights import verify_litemedsam_weights
    from .run import check_weights

    weights = check_weights(args.weights) if args.weights is not None else None
    path, sha = verify_litemedsam_weights(weights)
    wanted = args.backend or [b for b in AUTO_ORDER[:-1] if installed(b)]
    missing = [b for b in wanted if not installed(b)]
    if missing:
        raise CommandError(f"--backend {missing[0]}", "is not installed (pip install "
                                                      "'classicseg[fast]' / 'classicseg[onnx]')")
    print(f"LiteMedSAM cache: {model_dir(sha)}")
    combos = [(b, "fp32") for b in wanted]
    if "openvino" in wanted and cpu_supports_bf16() and not args.no_bf16:
        combos.append(("openvino", "bf16"))
    failed = 0
    for backend, precision in combos:
        name = f"{backend} {precision}"
        if args.action == "show":
            print(_verdict_line(name, _cached_verdict(sha, backend, precision)))
            continue
        try:
            # bf16 is measured through the fp32 loader's runner: load() itself would fall
            # back to fp32 (with a warning) where bf16 fails, and we want the bf16 numbers
            model = LiteMedSAM._load_cpu(backend, path, sha,
                                         optimize=True, precision=precision)
            verdict = parity_verdict(model, sha256=sha)
        except Exception as exc:  # report every backend; one that fails does not stop the rest
            failed += 1
            print(f"  {name:<16} FAILED: {type(exc).__name__}: {str(exc)[:300]}")
            continue
        print(_verdict_line(name, verdict))
    if args.action == "show":
        print(f"ONNX export cached: {onnx_cached(sha)}")
    else:
        auto = LiteMedSAM.load(weights)
        print(f"--backend auto -> {auto.backend} {auto.precision}: {auto.backend_reason}")
    return 1 if failed == len(combos) and combos else 0
