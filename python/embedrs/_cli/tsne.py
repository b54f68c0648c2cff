"""``embedrs tsne``: map vectors to 2-D/3-D with t-SNE (Barnes-Hut or FFT), then plot
them (PNG) and/or export normalised coordinates (JSON for a web viewer).

Inputs: a ``.npy`` matrix (optionally with ``--labels``: a ``.npy`` array or
a text file with one label per line), a word2vec text/binary file, or a
saved embedrs/gensim model (its most frequent ``--top-n`` words).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: TSNE parameters set by options of another name (for error messages).
PARAM_FLAGS = {"random_state": "--seed", "n_jobs": "--threads"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``tsne`` options to ``parser``."""
    parser.add_argument(
        "input", help="a .npy matrix, a word2vec-format file (.txt/.vec/.bin) or a saved model"
    )
    parser.add_argument(
        "--format",
        choices=("auto", "npy", "word2vec", "word2vec-binary", "model"),
        default="auto",
        help="input format (default: from the file name)",
    )
    parser.add_argument(
        "--labels", help="labels for a .npy input: .npy array or text, one per line"
    )
    parser.add_argument(
        "--top-n", type=int, default=500, help="word vectors: embed the N most frequent words"
    )
    parser.add_argument("--png", help="write a scatter plot here (needs matplotlib)")
    parser.add_argument("--json", help='write [{"label", "point"}] records in [0, 1] here')
    parser.add_argument(
        "--json-key", choices=("label", "path"), default="label", help="name of the label field"
    )
    parser.add_argument("--n-components", type=int, default=2, choices=(2, 3))
    parser.add_argument("--perplexity", type=float, default=30.0)
    parser.add_argument("--max-iter", type=int, default=1000)
    parser.add_argument("--learning-rate", default="auto", help="a number or 'auto'")
    parser.add_argument(
        "--metric", choices=("euclidean", "cosine"), default="euclidean", help="input metric"
    )
    parser.add_argument("--init", choices=("pca", "random"), default="pca")
    parser.add_argument(
        "--method",
        choices=("auto", "barnes_hut", "fft", "exact"),
        default="auto",
        help="gradient: Barnes-Hut, FFT interpolation (2-D) or exact; auto: fft above 10,000 "
        "points",
    )
    parser.add_argument(
        "--neighbors",
        choices=("auto", "exact", "approx"),
        default="auto",
        help="neighbour search; auto: approximate above 150,000 points",
    )
    parser.add_argument("--angle", type=float, default=0.5, help="Barnes-Hut angle (theta)")
    parser.add_argument("--seed", type=int, default=0, help="random_state")
    parser.add_argument("--threads", type=int, default=0, help="worker threads (0: all cores)")
    parser.add_argument("--title", help="plot title")


def _load_keyed(path: str, fmt: str, top_n: int | None) -> tuple[list[str], np.ndarray]:
    from embedrs.viz import _keyed_matrix

    if fmt == "model":
        import pickle

        kv: Any = None
        try:
            from embedrs.models import KeyedVectors  # type: ignore[attr-defined]

            kv = KeyedVectors.load(path)
        except (ImportError, AttributeError):
            raise ValueError("loading saved models needs embedrs.models.KeyedVectors") from None
        except (pickle.UnpicklingError, EOFError) as exc:
            raise ValueError(f"{path}: not a model file embedrs can read ({exc})") from None
        kv = getattr(kv, "wv", kv)
        return _keyed_matrix(kv, top_n)
    from embedrs.models import KeyedVectors  # type: ignore[attr-defined]

    binary = fmt == "word2vec-binary"
    kv = KeyedVectors.load_word2vec_format(path, binary=binary, limit=top_n)
    return _keyed_matrix(kv, top_n)


def _load_npy(path: str, what: str) -> np.ndarray:
    """A ``.npy`` array; never unpickles, and says so instead of NumPy's advice to."""
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise ValueError(
            f"{what} {path} is not a NumPy .npy array of numbers or strings (pickled object "
            "arrays are never loaded)"
        ) from None
    if not isinstance(x, np.ndarray):
        raise ValueError(  # noqa: TRY004 - a file of the wrong kind, not an argument
            f"{what} {path} is an .npz archive; save one array with numpy.save"
        )
    return x


def _load_labels(path: str, n: int) -> list[Any]:
    from embedrs._validate import check_input_file

    check_input_file(path, "labels file")
    if path.endswith(".npy"):
        labels = _load_npy(path, "labels file").tolist()
    else:
        with open(path, encoding="utf-8") as fh:
            labels = [line.rstrip("\n") for line in fh]
        if labels and labels[-1] == "" and len(labels) == n + 1:
            labels.pop()
    if len(labels) != n:
        raise ValueError(f"{path}: {len(labels)} labels for {n} rows")
    return labels


def _detect(path: str) -> str:
    lower = path.lower()
    if lower.endswith(".npy"):
        return "npy"
    if lower.endswith(".bin"):
        return "word2vec-binary"
    if lower.endswith((".txt", ".vec", ".w2v", ".txt.gz")):
        return "word2vec"
    with open(path, "rb") as fh:
        first = fh.readline(200).split()
    if len(first) == 2 and all(t.isdigit() for t in first):
        with open(path, "rb") as fh:
            fh.readline()
            chunk = fh.read(4096)
        return "word2vec" if all(b < 128 for b in chunk) else "word2vec-binary"
    return "model"


def run(args: argparse.Namespace) -> int:
    """Runs ``embedrs tsne``; returns the exit status."""
    from embedrs import viz
    from embedrs._validate import check_input_file, check_int
    from embedrs.manifold import TSNE

    if not args.png and not args.json:
        raise ValueError("nothing to write: give --png PATH and/or --json PATH")
    check_int(args.top_n, "--top-n", low=1)
    threads = check_int(args.threads, "--threads", low=0)
    lr: Any = args.learning_rate
    if lr != "auto":
        try:
            lr = float(lr)
        except ValueError:
            raise ValueError(f"--learning-rate must be a number or 'auto', got {lr!r}") from None
    tsne = TSNE(
        n_components=args.n_components,
        perplexity=args.perplexity,
        max_iter=args.max_iter,
        learning_rate=lr,
        metric=args.metric,
        init=args.init,
        angle=args.angle,
        method=args.method,
        neighbors=args.neighbors,
        random_state=args.seed,
        n_jobs=threads if threads > 0 else None,
        verbose=1,
    )
    tsne._check_params()  # refuse bad options before reading the input
    check_input_file(args.input, "input file")
    fmt = _detect(args.input) if args.format == "auto" else args.format
    words: list[str] | None = None
    labels: list[Any] | None = None
    if fmt == "npy":
        x = _load_npy(args.input, "input file")
        if x.ndim != 2:
            raise ValueError(
                f"input file {args.input} holds a {x.ndim}-D array; t-SNE needs a 2-D matrix "
                "(one row per point)"
            )
        if args.labels:
            labels = _load_labels(args.labels, x.shape[0])
    else:
        words, x = _load_keyed(args.input, fmt, args.top_n)
    if x.shape[0] < 2:
        raise ValueError(
            f"input file {args.input}: t-SNE needs at least 2 vectors, found {x.shape[0]}"
        )
    logger.info("t-SNE of %d x %d (%s)", x.shape[0], x.shape[1], fmt)
    # A perplexity above (n - 1) / 3 cannot be calibrated: lower it for small inputs.
    perplexity = min(args.perplexity, max((x.shape[0] - 1) / 3.0, 1.0))
    if perplexity < args.perplexity:
        logger.info(
            "perplexity lowered from %g to %g for %d points",
            args.perplexity,
            perplexity,
            x.shape[0],
        )
    tsne.set_params(perplexity=perplexity)
    coords = tsne.fit_transform(x)
    logger.info("KL divergence %.4f", tsne.kl_divergence_)
    names = words if words is not None else labels
    if args.png:
        if words is not None:
            viz.scatter_png(
                coords, args.png, annotations=words, title=args.title, figsize=(14.0, 14.0)
            )
        else:
            viz.scatter_png(coords, args.png, labels=labels, title=args.title)
        logger.info("wrote %s", args.png)
    if args.json:
        viz.to_json_records(coords, names, key=args.json_key, path=args.json)
        logger.info("wrote %s", args.json)
    return 0
