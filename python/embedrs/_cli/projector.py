"""``embedrs projector MODEL OUTDIR``: export vectors to a TensorBoard projector folder."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def _count(text: str) -> int:
    """argparse type of ``--limit``: a non-negative integer (a huge one means all keys)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid count {text!r}: expected a whole number >= 0"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: must be >= 0")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the ``projector`` subcommand."""
    parser.add_argument(
        "model", help="a saved model (embedrs or gensim .save(), or word2vec format)"
    )
    parser.add_argument(
        "outdir", help="folder to write tensors.tsv, metadata.tsv, projector_config.pbtxt"
    )
    parser.add_argument(
        "--format",
        choices=["auto", "native", "word2vec-text", "word2vec-binary"],
        default="auto",
        help="format of MODEL (default: guess)",
    )
    parser.add_argument(
        "--limit", type=_count, default=None, help="only export the first N keys (N >= 0)"
    )
    parser.add_argument("--name", default="embedrs", help="tensor name shown in the projector")


def _load(path: str, fmt: str):
    from embedrs import _persist
    from embedrs.models.keyedvectors import KeyedVectors

    if fmt == "word2vec-text":
        return KeyedVectors.load_word2vec_format(path, binary=False)
    if fmt == "word2vec-binary":
        return KeyedVectors.load_word2vec_format(path, binary=True)
    if fmt == "native" or _persist.is_container(path) or _persist._is_pickle(path):
        return KeyedVectors.load(path, mmap="r")
    with open(path, "rb") as fh:
        head = fh.readline(200)
        body = fh.read(4096)
    binary = any(b < 9 or (13 < b < 32) for b in body)
    if not head.strip():
        raise ValueError(f"{path}: empty file")
    return KeyedVectors.load_word2vec_format(path, binary=binary)


def run(args: argparse.Namespace) -> int:
    """Run the export; returns the exit status."""
    from embedrs.exports import export_projector

    kv = _load(args.model, args.format)
    paths = export_projector(kv, args.outdir, limit=args.limit, tensor_name=args.name)
    n = len(kv) if args.limit is None else min(args.limit, len(kv))
    logger.info("exported %d vectors of dimension %d to %s", n, kv.vector_size, args.outdir)
    print(f"wrote {paths['tensors']}, {paths['metadata']}, {paths['config']}")
    print(
        f"view with: tensorboard --logdir {args.outdir}  (or load the TSVs at https://projector.tensorflow.org)"
    )
    return 0
