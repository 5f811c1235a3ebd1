"""`faceswap models list|install|verify`: the neural engine's model files."""

from __future__ import annotations

import argparse
import sys

from .. import model_catalog as catalog
from .. import model_installer as installer


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models", help="list, install or verify model files (the neural engine's)",
        description="Model files are checked by size and SHA-256 and written atomically. "
                    "Offline machines: copy the files (or buffalo_l.zip) into a folder and use --from.")
    parser.set_defaults(handler=run)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    for name, text in (("list", "show every model, its size, licence and whether it is installed"),
                       ("install", "download (or copy with --from) and verify models"),
                       ("verify", "check installed models' SHA-256")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("--dir", dest="model_dir", default=None,
                         help="models folder (default: $FACESWAP_MODEL_DIR or the per-user data folder)")
        if name != "list":
            sub.add_argument("names", nargs="*", metavar="NAME",
                             help="model names, or 'neural' for what the neural engine needs (default)")
        if name == "install":
            sub.add_argument("--from", dest="source_dir", metavar="DIR", default=None,
                             help="copy from this folder instead of downloading (offline machines)")
            sub.add_argument("--force", action="store_true", help="reinstall even when already verified")
            sub.add_argument("--yes", "-y", action="store_true",
                             help="accept non-commercial model licences without asking")


def run(args: argparse.Namespace) -> int:
    model_dir = args.model_dir or catalog.default_model_dir()
    if args.action == "list":
        return _list(model_dir)
    if args.action == "verify":
        return _verify(catalog.resolve_names(args.names), model_dir, args.model_dir)
    ask = input if sys.stdin is not None and sys.stdin.isatty() else None
    installer.install(catalog.resolve_names(args.names), model_dir, source_dir=args.source_dir,
                      force=args.force, assume_yes=args.yes, ask=ask)
    print(f"Models are in {model_dir}.")
    return 0


def _list(model_dir) -> int:
    print(f"Models folder: {model_dir}")
    print(f"{'name':<20} {'role':<11} {'MB':>6}  {'status':<11} licence")
    for model in catalog.CATALOG:
        status = installer.check(model, model_dir, full=False)
        state = "installed" if status.good else status.state
        licence = "non-commercial" if model.non_commercial else model.license
        print(f"{model.name:<20} {model.role:<11} {model.bytes / 1e6:6.0f}  {state:<11} {licence}")
    print(_runtime_line())
    return 0


def _runtime_line() -> str:
    """Which ONNX Runtime is installed and which provider --provider auto would take."""
    from ..errors import FaceSwapError
    from ..neural import providers

    packages = providers.installed_ort_packages()
    if not packages:
        return "ONNX Runtime: not installed (pip install 'obs-faceswap[neural]', or onnxruntime-gpu for NVIDIA GPUs)"
    try:
        available = providers.available_providers()
    except FaceSwapError as error:
        return f"ONNX Runtime: {', '.join(packages)} cannot be imported: {error}"
    names = ", ".join(providers.short_name(p) for p in available if p in providers.PROVIDERS.values())
    best = providers.short_name(providers.choose_providers("auto", available).primary)
    warning = "  (several ONNX Runtime packages shadow each other: keep one)" if len(packages) > 1 else ""
    return f"ONNX Runtime: {', '.join(packages)}; providers: {names}; --provider auto uses {best}{warning}"


def _verify(models, model_dir, given_dir) -> int:
    bad, damaged = [], False
    for status in installer.verify(models, model_dir):
        print(f"{status.model.filename:<26} {status.state}")
        if not status.good:
            bad.append(status.model.name)
            damaged = damaged or status.state != "missing"
    if bad:
        print(f"faceswap: {len(bad)} model(s) missing or damaged; run: "
              f"{catalog.install_command(bad, given_dir, force=damaged)}", file=sys.stderr)
        return 1
    return 0
