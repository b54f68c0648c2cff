"""Side-by-side word2vec benchmark: embedrs against gensim (and the word2vec C tool).

Trains both libraries on the same corpus with the same settings and threads,
alternating their runs (A B A B ...) and reporting medians, for skip-gram +
negative sampling, CBOW + negative sampling and skip-gram + hierarchical
softmax, on the iterable path (the same in-memory list of sentences for both),
the ``corpus_file`` path (the same uncompressed file for both) and, with
``--paths lines``/``text8``, each library's ``LineSentence`` over that file or
``Text8Corpus`` over the same tokens on one line (the per-run line also shows
``build_vocab``'s time, which these paths change). Quality is
judged by one evaluator for everyone (``evaluate_word_analogies`` on
the Google analogy set restricted to the 30,000 most frequent words, and
Spearman on WordSim-353, computed by embedrs' KeyedVectors whose figures equal
gensim's), so speed is never reported without quality.

Usage::

    pip install -e '.[bench]'            # or: pip install gensim scipy
    python benches/bench_word2vec.py --epochs 1 --repeats 2
    python benches/bench_word2vec.py --max-words 3000000 --modes sg_ns   # quick look

Prints a markdown table with words/sec, the embedrs/gensim ratio and the
quality figures of every run.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
#: Where questions-words.txt and wordsim353.tsv are (``--eval-data``).
EVAL_DATA = DATA / "gensim_test_data"

MODES = {
    "sg_ns": {"sg": 1, "hs": 0, "negative": 5},
    "cbow_ns": {"sg": 0, "hs": 0, "negative": 5},
    "sg_hs": {"sg": 1, "hs": 1, "negative": 0},
    "cbow_hs": {"sg": 0, "hs": 1, "negative": 0},
}


def load_tokens(path: Path, max_words: int) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fin:
        data = fin.read() if not max_words else fin.read(max_words * 9)
    tokens = data.decode("utf8").split()
    return tokens[:max_words] if max_words else tokens


def evaluate(
    index_to_key: list[str], vectors: np.ndarray, eval_data: Path = EVAL_DATA
) -> tuple[float, float]:
    """Analogy accuracy (30k most frequent words) and WordSim-353 Spearman.

    One evaluator for every library: embedrs' ``KeyedVectors.evaluate_word_analogies`` /
    ``evaluate_word_pairs``, whose figures equal gensim's on the same vectors (tested in
    tests/test_keyedvectors*.py) and which is several times faster than gensim's.
    """
    import logging

    from embedrs.models import KeyedVectors

    logging.getLogger("embedrs").setLevel(logging.WARNING)
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(list(index_to_key), np.ascontiguousarray(vectors, dtype=np.float32))
    acc, _ = kv.evaluate_word_analogies(
        str(eval_data / "questions-words.txt"), restrict_vocab=30000
    )
    _, spearman, _ = kv.evaluate_word_pairs(str(eval_data / "wordsim353.tsv"))
    return float(acc), float(spearman[0])


def run_one(
    lib: str,
    path_kind: str,
    mode: str,
    args: argparse.Namespace,
    sentences: list[list[str]],
    corpus_file: str,
    workers: int,
) -> dict[str, Any]:
    if lib == "embedrs":
        from embedrs.models import Word2Vec
        from embedrs.models.word2vec import LineSentence, Text8Corpus
    else:
        from gensim.models import Word2Vec  # type: ignore[no-redef]
        from gensim.models.word2vec import LineSentence, Text8Corpus  # type: ignore[no-redef]
    params = dict(
        vector_size=args.vector_size,
        window=args.window,
        min_count=args.min_count,
        sample=args.sample,
        workers=workers,
        epochs=args.epochs,
        seed=args.seed,
        **MODES[mode],
    )
    model = Word2Vec(**params)
    vocab_start = time.perf_counter()
    if path_kind in ("iterable", "lines", "text8"):
        # "lines": LineSentence over the corpus file; "text8": Text8Corpus over the
        # same tokens on one line (the same 10,000-token sentences); each library's
        # own reader
        if path_kind == "iterable":
            corpus: Any = sentences
        elif path_kind == "lines":
            corpus = LineSentence(corpus_file)
        else:
            corpus = Text8Corpus(corpus_file + ".text8")
        model.build_vocab(corpus)
        start = time.perf_counter()
        model.train(corpus, total_examples=model.corpus_count, epochs=args.epochs)
    else:
        model.build_vocab(corpus_file=corpus_file)
        start = time.perf_counter()
        model.train(
            corpus_file=corpus_file, total_words=model.corpus_total_words, epochs=args.epochs
        )
    elapsed = time.perf_counter() - start
    words = model.corpus_total_words * args.epochs
    acc, spearman = evaluate(model.wv.index_to_key, model.wv.vectors, args.eval_data)
    return {
        "lib": lib,
        "path": path_kind,
        "mode": mode,
        "workers": workers,
        "seconds": elapsed,
        "vocab_seconds": start - vocab_start,
        "words_per_sec": words / elapsed,
        "analogy": acc,
        "wordsim": spearman,
        "vocab": len(model.wv.index_to_key),
    }


def run_c_tool(mode: str, args: argparse.Namespace, corpus_file: str) -> dict[str, Any] | None:
    """The word2vec C binary installed by the `word2vec` PyPI package, if present."""
    import shutil
    import subprocess

    binary = shutil.which("word2vec")
    if binary is None:
        return None
    from embedrs.models import KeyedVectors

    m = MODES[mode]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "vec.bin")
        cmd = [
            binary,
            "-train",
            corpus_file,
            "-output",
            out,
            "-size",
            str(args.vector_size),
            "-window",
            str(args.window),
            "-sample",
            str(args.sample),
            "-hs",
            str(m["hs"]),
            "-negative",
            str(m["negative"]),
            "-threads",
            str(args.worker_counts[-1]),
            "-iter",
            str(args.epochs),
            "-min-count",
            str(args.min_count),
            "-alpha",
            "0.025",
            "-debug",
            "0",
            "-binary",
            "1",
            "-cbow",
            "0" if m["sg"] else "1",
        ]
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        elapsed = time.perf_counter() - start
        kv = KeyedVectors.load_word2vec_format(out, binary=True)
        vocab = [str(w) for w in kv.index_to_key]
        vectors = np.asarray(kv.vectors, dtype=np.float32)
    with open(corpus_file, "rb") as fin:
        total = len(fin.read().split())
    acc, spearman = evaluate(vocab, vectors, args.eval_data)
    return {
        "lib": "word2vec-c",
        "path": "file",
        "mode": mode,
        "workers": args.worker_counts[-1],
        "seconds": elapsed,
        "words_per_sec": total * args.epochs / elapsed,
        "analogy": acc,
        "wordsim": spearman,
        "vocab": len(vocab),
    }


def blas_report() -> str:
    """The BLAS libraries of this process as threadpoolctl sees them.

    gensim's inner loops call numpy/scipy's BLAS (``sdot``/``saxpy``), so
    its kernel (e.g. SkylakeX against an old ``OPENBLAS_CORETYPE``) and
    thread count decide gensim's speed; embedrs' training calls no BLAS.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS: threadpoolctl not installed (pip install threadpoolctl)"
    libs = [
        f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} "
        f"threads={i.get('num_threads')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return "BLAS (gensim's inner loops; embedrs trains without BLAS): " + (
        "; ".join(libs) or "none loaded"
    )


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--corpus", type=Path, default=DATA / "enwik_text8like.gz")
    p.add_argument("--max-words", type=int, default=0, help="use only the first N tokens (0: all)")
    p.add_argument("--modes", default="sg_ns,cbow_ns,sg_hs,cbow_hs")
    p.add_argument("--paths", default="iterable,file", help="iterable, file, lines, text8")
    p.add_argument(
        "--workers",
        default="2",
        help="worker threads; a comma-separated list (e.g. 1,2,4,8,16) measures thread scaling, "
        "each count alternating the libraries as usual",
    )
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--vector-size", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--seed", type=int, default=1, help="both libraries' seed")
    p.add_argument("--sample", type=float, default=1e-4)
    p.add_argument(
        "--eval-data",
        type=Path,
        default=EVAL_DATA,
        help="folder holding questions-words.txt and wordsim353.tsv",
    )
    p.add_argument(
        "--c-tool",
        action="store_true",
        help="also run the word2vec C binary (once per mode, with the last --workers count)",
    )
    p.add_argument(
        "--libs",
        default="embedrs,gensim",
        help="libraries to run (e.g. 'embedrs' alone to compare two embedrs builds, each "
        "run with its own PYTHONPATH, alternating)",
    )
    args = p.parse_args()
    try:
        args.worker_counts = [int(w) for w in str(args.workers).split(",")]
    except ValueError:
        args.worker_counts = []
    if not args.worker_counts or min(args.worker_counts) < 1:
        p.error(f"--workers takes positive integers, e.g. 2 or 1,2,4,8,16 (got {args.workers!r})")

    import embedrs
    import gensim

    tokens = load_tokens(args.corpus, args.max_words)
    sentences = [tokens[i : i + 10000] for i in range(0, len(tokens), 10000)]
    tmpdir = tempfile.mkdtemp()
    corpus_file = os.path.join(tmpdir, "corpus.txt")
    with open(corpus_file, "w", encoding="utf8") as fout:
        fout.writelines(" ".join(s) + "\n" for s in sentences)
    if "text8" in args.paths.split(","):
        with open(corpus_file + ".text8", "w", encoding="utf8") as fout:
            fout.write(" ".join(tokens))
    print(
        f"# corpus: {args.corpus.name}, {len(tokens):,} tokens; workers={args.workers}, "
        f"epochs={args.epochs}, vector_size={args.vector_size}, window={args.window}, "
        f"min_count={args.min_count}, sample={args.sample}, seed={args.seed}; "
        f"repeats={args.repeats}"
    )
    print(
        f"# embedrs {embedrs.__version__}, gensim {gensim.__version__}, python "
        f"{platform.python_version()}, {os.cpu_count()} cpus, {platform.processor() or platform.machine()}"
    )
    print(f"# {blas_report()}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"# WARNING: {var}={os.environ[var]} is set: gensim's BLAS is slowed down")
    sys.stdout.flush()

    results: list[dict[str, Any]] = []
    for mode in args.modes.split(","):
        for path_kind in args.paths.split(","):
            for _ in range(args.repeats):
                for workers, lib in itertools.product(args.worker_counts, args.libs.split(",")):
                    r = run_one(lib, path_kind, mode, args, sentences, corpus_file, workers)
                    results.append(r)
                    print(
                        f"  {r['mode']:8s} {r['path']:8s} w={workers:<2d} {r['lib']:8s} "
                        f"{r['seconds']:7.1f}s "
                        f"(build_vocab {r['vocab_seconds']:5.2f}s) "
                        f"{r['words_per_sec'] / 1e6:6.3f}M words/s analogy {r['analogy']:.4f} "
                        f"wordsim {r['wordsim']:.4f} load {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
        if args.c_tool:
            r = run_c_tool(mode, args, corpus_file)
            if r:
                results.append(r)
                print(
                    f"  {mode:8s} file     w2v-c    {r['seconds']:7.1f}s "
                    f"{r['words_per_sec'] / 1e6:6.3f}M words/s analogy {r['analogy']:.4f}",
                    flush=True,
                )

    print()
    print(
        "| mode | path | workers | embedrs words/s | gensim words/s | ratio | embedrs analogy "
        "| gensim analogy | embedrs WS353 | gensim WS353 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode, path_kind, workers in itertools.product(
        args.modes.split(","), args.paths.split(","), args.worker_counts
    ):

        def med(
            lib: str, key: str, cell: tuple[str, str, int] = (mode, path_kind, workers)
        ) -> float:
            vals = [
                r[key]
                for r in results
                if r["lib"] == lib and (r["mode"], r["path"], r["workers"]) == cell
            ]
            return statistics.median(vals) if vals else float("nan")

        def cell(x: float, fmt: str, unit: str = "") -> str:
            # a library left out with --libs has no figure: an empty cell, not "nan"
            return "" if math.isnan(x) else format(x, fmt) + unit

        e, g = med("embedrs", "words_per_sec"), med("gensim", "words_per_sec")
        print(
            f"| {mode} | {path_kind} | {workers} | {cell(e / 1e6, '.3f', 'M')} | "
            f"{cell(g / 1e6, '.3f', 'M')} | {cell(e / g, '.2f', 'x')} | "
            f"{cell(med('embedrs', 'analogy'), '.4f')} | {cell(med('gensim', 'analogy'), '.4f')} | "
            f"{cell(med('embedrs', 'wordsim'), '.4f')} | {cell(med('gensim', 'wordsim'), '.4f')} |"
        )
    for r in results:
        if r["lib"] == "word2vec-c":
            print(
                f"| {r['mode']} | file (C tool) | {r['workers']} | {r['words_per_sec'] / 1e6:.3f}M "
                "| | | "
                f"{r['analogy']:.4f} | | {r['wordsim']:.4f} | |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
