"""The ``embedrs`` command.

``embedrs`` with no arguments (or ``embedrs train``) trains word vectors on
an embedded default corpus and prints nearest neighbours. Other subcommands
are listed by ``embedrs --help``. Each subcommand lives in its own module
under ``embedrs._cli`` with ``add_arguments(parser)`` and ``run(args) -> int``
(and optionally ``PARAM_FLAGS``, a map from library parameter names to the
options that set them, when they are not simply ``--param-name``).

Errors: every failure is reported as ONE line on stderr,
``embedrs <command>: error: <what to fix>``, with exit status 2 for bad
input (options, files, data) and 1 for failures inside the library
(``RuntimeError``, ``MemoryError``, anything unexpected). The library's
parameter checks (:mod:`embedrs._validate`) name the parameter; the message
then names the option that sets it. ``--debug`` (or ``EMBEDRS_DEBUG=1``)
re-raises instead, with the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pickle
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("embedrs._cli.train", "train word2vec vectors (default: the embedded corpus)"),
    "projector": (
        "embedrs._cli.projector",
        "export a model to a TensorBoard Embedding Projector folder",
    ),
    "tsne": ("embedrs._cli.tsne", "map vectors to 2-D/3-D with Barnes-Hut t-SNE and plot them"),
    "poincare": ("embedrs._cli.poincare", "train or plot Poincaré embeddings of a hierarchy"),
    "serve": ("embedrs._cli.serve", "serve a model's vectors over HTTP (needs embedrs[serve])"),
}

#: Options of the top-level parser that may come before the subcommand.
_GLOBAL_FLAGS = ("-q", "--quiet", "--debug")

#: Exceptions that mean "the input is wrong" (exit status 2); others exit with 1.
_INPUT_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    OSError,
    EOFError,
    pickle.UnpicklingError,
)

_MAX_MESSAGE = 600


class _Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message>`` on one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``embedrs`` command."""
    parser = _Parser(
        prog="embedrs",
        description="Fast embeddings with a Rust core. With no subcommand, runs `train`.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only print warnings")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of an error (also: EMBEDRS_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name, (module, help_) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_)
        importlib.import_module(module).add_arguments(p)
    return parser


def _with_default_command(argv: list[str]) -> list[str]:
    """Insert ``train`` where the subcommand belongs when none is given.

    Only the first token after the global options can be the subcommand, so
    an option value equal to a subcommand name (``--out tsne``) stays a value.
    """
    i = 0
    while i < len(argv) and argv[i] in _GLOBAL_FLAGS:
        i += 1
    if i == len(argv) or (argv[i].startswith("-") and argv[i] not in ("-h", "--help")):
        return [*argv[:i], "train", *argv[i:]]
    return argv  # a subcommand, -h/--help, or an unknown word argparse will report


def one_line(message: str) -> str:
    """``message`` on one line, without NumPy's advice to load pickles unsafely.

    Parameters
    ----------
    message : str
        Any error message.

    Returns
    -------
    str
        White space collapsed, at most a few hundred characters.
    """
    text = " ".join(str(message).split())
    if "allow_pickle" in text or "pickle.load()" in text:
        text = re.sub(
            r"This file contains pickled \(object\) data\.\s*If you trust the file you can "
            r"load it unsafely using the `allow_pickle=` keyword argument or `pickle\.load\(\)`\.",
            "the file holds pickled (object) data, which embedrs never loads.",
            text,
        )
        text = re.sub(
            r"(Object arrays|Cannot load file containing pickled data)[^.;)]*"
            r"allow_pickle=False",
            "the file holds pickled (object) data, which embedrs never loads",
            text,
        )
        text = re.sub(r"[^.;()]*(allow_pickle|pickle\.load\(\))[^.;()]*[.;]?", "", text).strip()
        text = text or "not a file embedrs can read"
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 3] + "..."
    return text


def _option_for(param: str, parser: argparse.ArgumentParser | None, module: Any) -> str | None:
    """The command-line option that sets library parameter ``param``, if any."""
    if parser is None:
        return None
    flag = getattr(module, "PARAM_FLAGS", {}).get(param, "--" + param.replace("_", "-"))
    return flag if flag in parser._option_string_actions else None


def describe_error(
    exc: BaseException, parser: argparse.ArgumentParser | None = None, module: Any = None
) -> str:
    """One line saying what went wrong, naming the option when a parameter was refused.

    Parameters
    ----------
    exc : BaseException
        The error.
    parser : argparse.ArgumentParser, optional
        The subcommand's parser, to find the option that sets a refused parameter.
    module : module, optional
        The subcommand's module (its ``PARAM_FLAGS``).

    Returns
    -------
    str
        The message, without the ``embedrs <command>: error:`` prefix.
    """
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]
    elif isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        reason = exc.strerror[:1].lower() + exc.strerror[1:]
        text = f"{exc.filename}: {reason}"
    else:
        text = str(exc) or type(exc).__name__
    if isinstance(exc, pickle.UnpicklingError):
        text = f"not a model file embedrs can read ({text})"
    elif isinstance(exc, MemoryError):
        text = f"out of memory{': ' + text if str(exc) else ''}"
    elif not isinstance(exc, (*_INPUT_ERRORS, RuntimeError, ImportError)):
        text = f"internal error ({type(exc).__name__}): {text} (rerun with --debug for details)"
    param = getattr(exc, "param", None)
    flag = _option_for(param, parser, module) if isinstance(param, str) else None
    if flag is not None:
        text = f"argument {flag}: {text}"
    return one_line(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``embedrs`` command; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(_with_default_command(args_list))
    debug = args.debug or os.environ.get("EMBEDRS_DEBUG", "") not in ("", "0")
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s : %(levelname)s : %(name)s : %(message)s",
    )
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    sub_parser = None
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        if isinstance(action, argparse._SubParsersAction):
            sub_parser = action.choices.get(args.command)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except BaseException as exc:  # also Rust panics: PanicException is a BaseException
        if debug or isinstance(exc, GeneratorExit):
            raise
        message = describe_error(exc, sub_parser, module)
        print(f"embedrs {args.command}: error: {message}", file=sys.stderr)
        return 2 if isinstance(exc, _INPUT_ERRORS) else 1
