"""``embedrs serve MODEL``: serve a model's vectors over HTTP (Starlette + uvicorn)."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
from typing import Any, Optional

logger = logging.getLogger(__name__)


def _port(text: str) -> int:
    """argparse type of ``--port``: 0 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected a number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: must be 0 to 65535")
    return value


def _workers(text: str) -> int:
    """argparse type of ``--workers``: at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: must be >= 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the ``serve`` subcommand."""
    parser.add_argument(
        "model", help="a saved model (embedrs or gensim .save(), or word2vec format)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=8000, help="port to listen on")
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="worker processes (they share the memory-mapped vectors)",
    )
    parser.add_argument(
        "--index",
        choices=["hnsw"],
        default=None,
        help='build an approximate index for "approximate": true queries',
    )
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (off: it costs throughput)"
    )
    parser.add_argument(
        "--no-int8",
        action="store_true",
        help="exact search without its int8 copy (a quarter of the vectors' size, shared by "
        "the workers): less memory, slower /similar on large models",
    )
    parser.add_argument(
        "--index-file",
        default=None,
        help="open this saved HnswIndexer instead of building one (implies --index hnsw)",
    )
    parser.add_argument(
        "--ef-search",
        type=_workers,
        default=None,
        help="candidates the approximate index keeps while it searches (HnswIndexer.ef_search; "
        "default: 64, or the saved index's value): lower answers sooner and finds fewer of the "
        "true nearest neighbours",
    )


def _shared_int8(kv: Any, tmpdir: str) -> Optional[str]:
    """Build the exact search's int8 copy once, into ``tmpdir``, for the workers
    to map (one shared copy instead of one per worker); ``None`` when the model
    is too small for it or its vectors cannot use it."""
    if not kv.int8_search or kv.vectors.size < kv.int8_min_size:
        return None
    path = os.path.join(tmpdir, "vectors.int8")
    try:
        kv.use_int8_file(path)
    except ValueError as exc:  # vectors the int8 search cannot use (not float32, strided)
        logger.info("no shared int8 copy: %s", exc)
        return None
    return path


def run(args: argparse.Namespace) -> int:
    """Load the model, build the index if asked, and serve until SIGTERM/Ctrl-C."""
    try:
        import uvicorn
    except ImportError:
        raise ImportError('embedrs serve needs uvicorn and Starlette: pip install "embedrs[serve]"')
    from embedrs.serve import create_app, load_served

    # Load once here: a bad file fails before any worker starts, with one line.
    index_path = os.path.abspath(args.index_file) if args.index_file else None
    ef_search = getattr(args, "ef_search", None)
    if ef_search is not None and not (args.index or index_path):
        raise ValueError("--ef-search sets the approximate index: add --index hnsw or --index-file")
    served = load_served(
        args.model, index="hnsw" if (args.index or index_path) else None, index_path=index_path
    )
    if ef_search is not None:
        served.indexer.ef_search = ef_search
    tmpdir = None
    try:
        if args.workers == 1:
            if args.no_int8:
                served.kv.int8_search = False
            app = create_app(served)
            uvicorn.run(
                app, host=args.host, port=args.port, log_level="info", access_log=args.access_log
            )
            return 0
        tmpdir = tempfile.mkdtemp(prefix="embedrs-serve-")
        if served.indexer is not None and index_path is None:
            # build once, share it: the workers map the saved index
            index_path = os.path.join(tmpdir, "index.hnsw")
            served.indexer.save(index_path)
        int8_path = "off" if args.no_int8 else _shared_int8(served.kv, tmpdir)
        os.environ["EMBEDRS_SERVE_MODEL"] = os.path.abspath(args.model)
        os.environ["EMBEDRS_SERVE_INDEX"] = index_path or ""
        os.environ["EMBEDRS_SERVE_INT8"] = int8_path or ""
        os.environ["EMBEDRS_SERVE_EF_SEARCH"] = str(ef_search or "")
        del served
        uvicorn.run(
            "embedrs.serve.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
            access_log=args.access_log,
        )
        return 0
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
