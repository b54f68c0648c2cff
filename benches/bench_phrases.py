"""Phrases: embedrs vs gensim 4.4, learning bigrams on the text8-like corpus.

Side by side in one process, same data and settings, runs alternating
(gensim, embedrs, gensim, ...). Each run builds ``Phrases`` from the corpus
and exports its phrases; reported: median wall time and CPU time per
library, their ratio, the number of counted entries and exported phrases,
and the overlap of the two exported phrase sets (with equal scores).

embedrs is timed on two inputs:

* ``iterable``: gensim's own ``Text8Corpus`` (sentences of 10,000 tokens),
  exactly the object gensim gets, so Python's reading of the file is timed
  for both;
* ``file``: ``Phrases(corpus_file=...)``, the same sentences read by Rust
  from the ``.gz`` file (no Python in the loop).

Examples::

    python benches/bench_phrases.py                  # full corpus, 3 repeats
    python benches/bench_phrases.py --tokens 2000000 --repeats 1
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import platform
import statistics
import tempfile
import time

DATA = os.environ.get(
    "EMBEDRS_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
)


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.path.join(DATA, "enwik_text8like.gz"))
    ap.add_argument("--tokens", type=int, default=0, help="use only the first N tokens (0: all)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--threshold", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()

    import gensim
    from embedrs.models.phrases import Phrases as EPhrases
    from gensim.models.phrases import Phrases as GPhrases
    from gensim.models.word2vec import Text8Corpus
    from threadpoolctl import threadpool_info

    corpus_path = args.corpus
    tmpdir = None
    if args.tokens:
        # a prefix of the corpus, written as text8 (one line) for both libraries
        sentences = itertools.islice(Text8Corpus(corpus_path), args.tokens // 10000 or 1)
        tmpdir = tempfile.mkdtemp()
        corpus_path = os.path.join(tmpdir, "prefix.gz")
        with gzip.open(corpus_path, "wt", encoding="utf8") as fh:
            fh.write(" ".join(w for s in sentences for w in s))
    kw = {"min_count": args.min_count, "threshold": args.threshold}
    print(f"corpus {corpus_path}  settings {kw}  cores {os.cpu_count()}  {platform.platform()}")
    print(
        f"gensim {gensim.__version__}; BLAS (threadpoolctl: api, kernel): "
        f"{[(i.get('internal_api'), i.get('architecture')) for i in threadpool_info()]}"
    )
    print(f"load average at start: {os.getloadavg()}")

    runs: dict[str, list[tuple[float, float]]] = {
        "gensim": [],
        "embedrs iterable": [],
        "embedrs file": [],
    }
    results = {}
    for r in range(args.repeats):
        for name, times in runs.items():
            if name == "gensim":
                fn = lambda: GPhrases(Text8Corpus(corpus_path), **kw)
            elif name == "embedrs iterable":
                fn = lambda: EPhrases(Text8Corpus(corpus_path), workers=args.workers, **kw)
            else:
                fn = lambda: EPhrases(corpus_file=corpus_path, workers=args.workers, **kw)
            model, wall, cpu = timed(fn)
            exported, ewall, ecpu = timed(model.export_phrases)
            times.append((wall + ewall, cpu + ecpu))
            results[name] = (len(model.vocab), exported, model.corpus_word_count)
            print(
                f"run {r + 1} {name:17s} learn {wall:7.2f}s  export {ewall:6.2f}s  "
                f"cpu {cpu + ecpu:7.2f}s  entries {len(model.vocab)}  phrases {len(exported)}  "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            del model
    g_entries, g_phr, g_words = results["gensim"]
    g_wall = statistics.median(w for w, _ in runs["gensim"])
    g_cpu = statistics.median(c for _, c in runs["gensim"])
    print(f"\ncorpus words {g_words}; gensim: {g_entries} entries, {len(g_phr)} phrases")
    print(
        f"{'':17s} {'median wall':>12s} {'median cpu':>11s} {'wall x':>7s} {'cpu x':>6s}  same phrases"
    )
    print(f"{'gensim':17s} {g_wall:11.2f}s {g_cpu:10.2f}s")
    for name in ("embedrs iterable", "embedrs file"):
        entries, phr, words = results[name]
        wall = statistics.median(w for w, _ in runs[name])
        cpu = statistics.median(c for _, c in runs[name])
        common = set(phr) & set(g_phr)
        same_scores = sum(phr[p] == g_phr[p] for p in common)
        print(
            f"{name:17s} {wall:11.2f}s {cpu:10.2f}s {g_wall / wall:6.1f}x {g_cpu / cpu:5.1f}x  "
            f"{len(common)}/{len(g_phr)} shared ({same_scores} equal scores), "
            f"{len(phr) - len(common)} extra; entries {entries} (gensim {g_entries}), words {words}"
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
