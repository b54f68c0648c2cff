"""Before/after check of the hostile-input hardening (issue 11): same machine, same data.

The hardening touched hot paths: the word2vec text/binary readers (fallible,
data-driven allocation, capped lines), every search entry point (one array
check, clamped ``k``, overflow-safe norms), training (untracked numpy borrows,
one thread pool per model). This script runs the same measurements with two
builds of embedrs, each installed in its own virtual environment, alternating
the builds run by run, and prints medians, the ratio new/old and the quality
figures that must not move (identical query answers, WordSim-353 Spearman).

Usage (each PYTHON has one embedrs build installed)::

    python benches/bench_hardening.py --old /path/old-venv/bin/python \\
        --new /path/new-venv/bin/python --repeats 3

Each environment needs embedrs and scipy (WordSim-353's Spearman). Needs
``../shared/data/enwik_text8like.gz`` and ``gensim_test_data/wordsim353.tsv`` for the
training row (skipped with a note if absent).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

WORKER = textwrap.dedent(r"""
    import gzip, itertools, json, os, sys, time
    import numpy as np
    import embedrs
    from embedrs.models import KeyedVectors, Word2Vec

    work, data, train_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = {"version": embedrs.__version__, "file": embedrs.__file__}
    txt, binf = os.path.join(work, "v.txt"), os.path.join(work, "v.bin")

    t = time.perf_counter(); kv = KeyedVectors.load_word2vec_format(txt)
    out["load_text_s"] = time.perf_counter() - t
    t = time.perf_counter(); kvb = KeyedVectors.load_word2vec_format(binf, binary=True)
    out["load_binary_s"] = time.perf_counter() - t
    keys = kv.index_to_key[:: max(1, len(kv) // 200)][:200]
    kv.most_similar(keys[0], topn=10)  # norms and the int8 index, built once
    lat = []
    answers = []
    for k in keys:
        t = time.perf_counter(); r = kv.most_similar(k, topn=10); lat.append(time.perf_counter() - t)
        answers.append([w for w, _ in r])
    out["query_p50_ms"] = 1000 * sorted(lat)[len(lat) // 2]
    t = time.perf_counter(); kv.most_similar_batch(keys[:100], topn=10)
    out["batch100_ms"] = 1000 * (time.perf_counter() - t)
    out["answers"] = answers

    corpus = os.path.join(data, "enwik_text8like.gz")
    if train_tokens and os.path.exists(corpus):
        with gzip.open(corpus, "rt") as fh:
            toks = list(itertools.islice((w for line in fh for w in line.split()), train_tokens))
        sents = [toks[i:i + 1000] for i in range(0, len(toks), 1000)]
        m = Word2Vec(vector_size=100, window=5, min_count=5, sample=1e-4, workers=2, seed=1, sg=1)
        m.build_vocab(sents)
        t = time.perf_counter()
        m.train(sents, total_examples=len(sents), epochs=1)
        out["train_words_per_s"] = len(toks) / (time.perf_counter() - t)
        ws = os.path.join(data, "gensim_test_data", "wordsim353.tsv")
        if os.path.exists(ws):
            out["wordsim_spearman"] = float(m.wv.evaluate_word_pairs(ws)[1][0])
    print(json.dumps(out))
""")


def make_vectors(work: Path, n: int, dim: int, python: str) -> None:
    """Writes the same random text and binary word2vec files for both builds."""
    code = textwrap.dedent(f"""
        import numpy as np
        from embedrs.models import KeyedVectors
        rng = np.random.default_rng(0)
        kv = KeyedVectors({dim})
        kv.add_vectors([f"w{{i}}" for i in range({n})],
                       rng.standard_normal(({n}, {dim})).astype(np.float32))
        kv.save_word2vec_format({str(work / "v.txt")!r})
        kv.save_word2vec_format({str(work / "v.bin")!r}, binary=True)
    """)
    subprocess.run([python, "-c", code], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="python of the environment with the old build")
    ap.add_argument("--new", required=True, help="python of the environment with the new build")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--train-tokens", type=int, default=2_000_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrs-bench-hardening-"))
    make_vectors(work, args.n, args.dim, args.new)
    env = dict(os.environ)
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for r in range(args.repeats):
        for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
            py = getattr(args, name)
            load = os.getloadavg()[0]
            res = subprocess.run(
                [py, "-c", WORKER, str(work), str(DATA), str(args.train_tokens)],
                check=False,
                capture_output=True,
                text=True,
                env=env,
                cwd=work,
            )
            if res.returncode != 0:
                sys.exit(f"the {name} build failed:\n{res.stderr[-3000:]}")
            out = json.loads(res.stdout.strip().splitlines()[-1])
            out["load_avg"] = load
            runs[name].append(out)
            print(
                f"run {r + 1} {name}: "
                + ", ".join(f"{k}={v:.4g}" for k, v in out.items() if isinstance(v, float)),
                flush=True,
            )
    same = all(a["answers"] == b["answers"] for a in runs["old"] for b in runs["new"])
    print(
        f"\nmedians of {args.repeats} alternating runs, {args.n} x {args.dim} vectors, "
        f"{args.train_tokens} training tokens (2 workers)"
    )
    print(f"{'measure':24} {'old':>12} {'new':>12} {'new/old':>8}")
    for key in (
        "load_text_s",
        "load_binary_s",
        "query_p50_ms",
        "batch100_ms",
        "train_words_per_s",
        "wordsim_spearman",
    ):
        if key not in runs["new"][0]:
            continue
        old = statistics.median(x[key] for x in runs["old"])
        new = statistics.median(x[key] for x in runs["new"])
        print(f"{key:24} {old:12.4g} {new:12.4g} {new / old:8.3f}")
    print(f"query answers identical across builds: {same}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
