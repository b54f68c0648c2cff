"""The ``embedrs`` command.

``embedrs`` with no arguments (or ``embedrs train``) trains word vectors on
an embedded default corpus and prints nearest neighbours. Other subcommands
are listed by ``embedrs --help``. Each subcommand lives in its own module
under ``embedrs._cli`` with ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("embedrs._cli.train", "train word2vec vectors (default: the embedded corpus)"),
    "projector": (
        "embedrs._cli.projector",
        "export a model to a TensorBoard Embedding Projector folder",
    ),
    "tsne": ("embedrs._cli.tsne", "map vectors to 2-D/3-D with Barnes-Hut t-SNE and plot them"),
    "poincare": ("embedrs._cli.poincare", "train or plot Poincaré embeddings of a hierarchy"),
}


def _available() -> dict[str, tuple[str, str]]:
    out = {}
    for name, (module, help_) in SUBCOMMANDS.items():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        out[name] = (module, help_)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``embedrs`` command."""
    parser = argparse.ArgumentParser(
        prog="embedrs",
        description="Fast embeddings with a Rust core. With no subcommand, runs `train`.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only print warnings")
    sub = parser.add_subparsers(dest="command")
    for name, (module, help_) in _available().items():
        p = sub.add_parser(name, help=help_)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``embedrs`` command; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = _available()
    if not any(a in commands for a in args_list) and not any(
        a in ("-h", "--help") for a in args_list
    ):
        args_list = [a for a in args_list if a in ("-q", "--quiet")] + ["train"] + [
            a for a in args_list if a not in ("-q", "--quiet")
        ]
    args = parser.parse_args(args_list)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s : %(levelname)s : %(name)s : %(message)s",
    )
    module = importlib.import_module(commands[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, KeyError) as exc:
        print(f"embedrs {args.command}: error: {exc}", file=sys.stderr)
        return 2
