"""``embedrs train``: the main job (also what ``embedrs`` runs with no arguments).

Trains word2vec vectors with :class:`embedrs.models.Word2Vec`, by default on
the embedded corpus built from the installed Python standard library's own
docstrings and comments (see :mod:`embedrs._default_corpus`), or on a text
file given with ``--corpus`` (one sentence per line, tokens separated by
white space, like gensim's ``LineSentence``). Then it prints the nearest
neighbours of a few words and writes to the output folder (``--out``,
default ``embedrs_output``):

``vectors.txt``
    the vectors in word2vec text format (``KeyedVectors.load_word2vec_format``
    reads them back, in embedrs or gensim);
``neighbours.json``
    the nearest neighbours printed on screen, with cosine similarities;
``corpus_stats.json``
    what the corpus held (files, sentences, tokens, distinct words);
``vocab.tsv``
    every corpus word with its count, most frequent first;
``run.json``
    the parameters, versions and timings of the run.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from embedrs._persist import atomic_open

logger = logging.getLogger(__name__)

#: Words whose neighbours are shown when ``--words`` is not given (those present).
DEFAULT_WORDS = ("file", "list", "thread", "string", "socket", "directory", "integer", "error")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``train`` options to ``parser``."""
    parser.description = (
        "Train word2vec vectors (by default on an embedded corpus made from the "
        "installed Python standard library's docstrings and comments), print "
        "nearest neighbours and write vectors, neighbours and statistics to a folder."
    )
    parser.add_argument(
        "--corpus",
        metavar="FILE",
        type=Path,
        default=None,
        help="text file, one sentence per line, tokens separated by white space "
        "(.gz accepted); default: the embedded standard-library corpus",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=Path("embedrs_output"),
        help="output folder (created if missing; default: %(default)s)",
    )
    parser.add_argument("--vector-size", type=int, default=100, help="dimensions (default: 100)")
    parser.add_argument("--window", type=int, default=5, help="context window (default: 5)")
    parser.add_argument(
        "--min-count",
        type=int,
        default=5,
        help="ignore words seen fewer times (default: 5)",
    )
    parser.add_argument("--epochs", type=int, default=5, help="passes over the corpus (default: 5)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="training threads (default: the number of cores, %(default)s)",
    )
    parser.add_argument(
        "--sg",
        type=int,
        choices=(0, 1),
        default=1,
        help="1 for skip-gram, 0 for CBOW (default: 1; gensim's default is CBOW, but "
        "skip-gram gives better neighbours on a corpus of this size)",
    )
    parser.add_argument(
        "--hs",
        type=int,
        choices=(0, 1),
        default=0,
        help="1 for hierarchical softmax (default: 0)",
    )
    parser.add_argument(
        "--negative",
        type=int,
        default=5,
        help="negative samples per word, 0 for none (default: 5)",
    )
    parser.add_argument("--alpha", type=float, default=0.025, help="initial learning rate")
    parser.add_argument("--sample", type=float, default=1e-3, help="down-sampling threshold")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        metavar="N",
        help="stop reading the corpus after about N tokens (for quick runs)",
    )
    parser.add_argument(
        "--words",
        default=None,
        metavar="W1,W2,...",
        help="comma-separated words whose nearest neighbours to show "
        f"(default: those of {','.join(DEFAULT_WORDS)} in the vocabulary)",
    )
    parser.add_argument("--topn", type=int, default=8, help="neighbours per word (default: 8)")


class TextFileCorpus:
    """Sentences of a text file: one per line, tokens split on white space.

    Restartable (each iteration reads the file again), so it can be passed
    to ``Word2Vec`` for several epochs without holding the file in memory.
    """

    def __init__(self, path: Path, max_tokens: int | None = None) -> None:
        from embedrs._validate import check_input_file

        self.path = Path(check_input_file(path, "corpus file"))
        self.max_tokens = max_tokens

    def _open(self):
        if self.path.suffix == ".gz":
            return gzip.open(self.path, "rt", encoding="utf-8", errors="replace")
        return open(self.path, encoding="utf-8", errors="replace")

    def __iter__(self) -> Iterator[list[str]]:
        seen = 0
        with self._open() as fh:
            for line in fh:
                words = line.split()
                if not words:
                    continue
                yield words
                seen += len(words)
                if self.max_tokens is not None and seen >= self.max_tokens:
                    return


def _count_words(sentences: Iterable[list[str]]) -> tuple[collections.Counter, int, int]:
    counts: collections.Counter = collections.Counter()
    n_sent = 0
    for sent in sentences:
        counts.update(sent)
        n_sent += 1
    return counts, n_sent, sum(counts.values())


def _load_corpus(args: argparse.Namespace) -> tuple[Iterable[list[str]], dict[str, Any], Any]:
    """The sentences to train on, their statistics and their word counts."""
    if args.corpus is None:
        from embedrs._default_corpus import build_default_corpus

        sentences, stats = build_default_corpus(max_tokens=args.max_tokens)
        counts, _, _ = _count_words(sentences)
        return sentences, {"kind": "embedded standard-library corpus", **stats.as_dict()}, counts
    corpus = TextFileCorpus(args.corpus, max_tokens=args.max_tokens)
    logger.info("reading corpus %s", args.corpus)
    start = time.perf_counter()
    counts, n_sent, n_tok = _count_words(corpus)
    seconds = time.perf_counter() - start
    if n_tok == 0:
        raise ValueError(f"corpus file {args.corpus} holds no words")
    stats = {
        "kind": "text file",
        "source": str(Path(args.corpus).resolve()),
        "sentences": n_sent,
        "tokens": n_tok,
        "unique_words": len(counts),
        "seconds": round(seconds, 3),
    }
    logger.info(
        "corpus: %d sentences, %d tokens, %d distinct words (%.0f tokens/s)",
        n_sent,
        n_tok,
        len(counts),
        n_tok / max(seconds, 1e-9),
    )
    return corpus, stats, counts


def _neighbour_words(args: argparse.Namespace, wv: Any, counts: collections.Counter) -> list[str]:
    if args.words:
        return [w.strip() for w in args.words.split(",") if w.strip()]
    words = [w for w in DEFAULT_WORDS if w in wv.key_to_index]
    if not words:
        # A user corpus without the default words: show its most frequent
        # longer words instead of stop words.
        words = [w for w, _ in counts.most_common(200) if len(w) > 3 and w in wv.key_to_index][:5]
    return words


def _check_args(args: argparse.Namespace) -> None:
    """Checks the options that are not Word2Vec parameters (those are checked by the model)."""
    from embedrs._validate import check_int

    check_int(args.topn, "--topn", low=1)
    check_int(args.max_tokens, "--max-tokens", low=1, allow_none=True)


def _check_min_count(min_count: int, counts: collections.Counter) -> None:
    """Refuses a ``--min-count`` that no word of the corpus reaches (an empty vocabulary)."""
    if not counts:
        return
    word, top = counts.most_common(1)[0]
    if top < min_count:
        raise ValueError(
            f"--min-count {min_count} is higher than the count of every word: the most frequent "
            f"word, {word!r}, occurs {top} times, so the vocabulary would be empty; "
            f"lower --min-count to at most {top}"
        )


def _check_output_dir(path: Path) -> Path:
    out_dir = Path(path)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir}: exists and is not a directory")
    return out_dir


def run(args: argparse.Namespace) -> int:
    """Runs the main job; returns the exit status."""
    import embedrs
    from embedrs.models.word2vec import Word2Vec

    _check_args(args)
    total_start = time.perf_counter()
    params = {
        "vector_size": args.vector_size,
        "window": args.window,
        "min_count": args.min_count,
        "workers": args.workers,
        "sg": args.sg,
        "hs": args.hs,
        "negative": args.negative,
        "alpha": args.alpha,
        "sample": args.sample,
        "seed": args.seed,
        "epochs": args.epochs,
    }
    # The model checks every training parameter before any work is done; a refused
    # value reaches the user as one line naming its option (see embedrs.cli).
    model = Word2Vec(**params)
    out_dir = _check_output_dir(args.out)

    sentences, corpus_stats, counts = _load_corpus(args)
    _check_min_count(args.min_count, counts)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "corpus_stats.json", corpus_stats)
    with atomic_open(out_dir / "vocab.tsv", "w", encoding="utf-8", compress=None) as fh:
        fh.writelines(f"{word}\t{n}\n" for word, n in counts.most_common())

    params["workers"] = model.workers
    run_info: dict[str, Any] = {
        "embedrs": embedrs.__version__,
        "python": sys.version.split()[0],
        "corpus": corpus_stats.get("source"),
        "parameters": params,
    }

    logger.info("training word2vec: %s", ", ".join(f"{k}={v}" for k, v in params.items()))
    start = time.perf_counter()
    if args.corpus is not None and args.max_tokens is None:
        # The whole file: let the Rust reader split it among the workers.
        model.build_vocab(corpus_file=str(args.corpus))
        model.train(
            corpus_file=str(args.corpus),
            total_examples=model.corpus_count,
            total_words=model.corpus_total_words,
            epochs=model.epochs,
        )
    else:
        model.build_vocab(sentences)
        model.train(
            sentences,
            total_examples=model.corpus_count,
            total_words=model.corpus_total_words,
            epochs=model.epochs,
        )
    seconds = time.perf_counter() - start
    words_per_sec = corpus_stats["tokens"] * args.epochs / max(seconds, 1e-9)
    logger.info(
        "trained %d vectors of %d dimensions in %.1fs (%.0f corpus words/s over %d epochs)",
        len(model.wv.index_to_key),
        model.wv.vector_size,
        seconds,
        words_per_sec,
        args.epochs,
    )

    vectors_path = out_dir / "vectors.txt"
    logger.info("writing %s", vectors_path)
    model.wv.save_word2vec_format(str(vectors_path))

    neighbours: dict[str, Any] = {}
    print(f"\nNearest neighbours (cosine similarity), {len(model.wv.index_to_key)} words:")
    for word in _neighbour_words(args, model.wv, counts):
        try:
            sims = model.wv.most_similar(word, topn=args.topn)
        except KeyError:
            print(f"  {word:>12}: not in the vocabulary")
            neighbours[word] = None
            continue
        neighbours[word] = [[w, round(float(s), 4)] for w, s in sims]
        print(f"  {word:>12}: " + ", ".join(f"{w} {s:.2f}" for w, s in sims))
    _write_json(out_dir / "neighbours.json", neighbours)

    run_info.update(
        trained=True,
        vocabulary=len(model.wv.index_to_key),
        train_seconds=round(seconds, 3),
        corpus_words_per_second=round(words_per_sec),
        total_seconds=round(time.perf_counter() - total_start, 3),
    )
    _write_json(out_dir / "run.json", run_info)
    print(
        f"\nOutputs written to {out_dir.resolve()}:\n"
        f"  vectors.txt (word2vec text format), neighbours.json, corpus_stats.json, "
        f"vocab.tsv, run.json"
    )
    return 0


def _write_json(path: Path, obj: Any) -> None:
    with atomic_open(path, "w", encoding="utf-8", compress=None) as fh:
        json.dump(obj, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
