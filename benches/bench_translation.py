"""TranslationMatrix: embedrs against gensim 4 on the same vectors, side by side.

Two synthetic "languages" (seeded): ``--vocab`` source words and as many
target words, ``--dim`` dimensions, the target vectors a fixed rotation of the
source ones plus noise, so that the right translation of ``s<i>`` is ``t<i>``.
Both libraries train on the same ``--pairs`` pairs and translate the same
``--words`` held-out words (``topn=5``), plainly (``gc=0``) and with the
hubness correction (``gc=1``, ``sample_num=--sample``). Runs alternate between
the libraries; the table reports medians over ``--repeats``.

Figures per library and mode:

* ``translate()`` wall time;
* peak memory that ``translate()`` allocated (``tracemalloc``, which NumPy
  reports its arrays to);
* top-1 accuracy (the right ``t<i>`` first);
* with ``gc=0``, the share of words whose five translations are the same as
  gensim's, in the same order. With ``gc=1`` the two libraries sample
  different extra words, so only accuracy is compared.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benches/bench_translation.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
import warnings
from typing import Any

import numpy as np


def spaces(vocab: int, dim: int, seed: int) -> tuple[list, np.ndarray, list, np.ndarray]:
    rng = np.random.default_rng(seed)
    src = rng.normal(size=(vocab, dim)).astype(np.float32)
    rot, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    tgt = (src @ rot + rng.normal(scale=4.0, size=src.shape)).astype(np.float32)
    return [f"s{i}" for i in range(vocab)], src, [f"t{i}" for i in range(vocab)], tgt


def keyed(cls: Any, keys: list, vectors: np.ndarray) -> Any:
    kv = cls(vectors.shape[1])
    kv.add_vectors(keys, vectors)
    return kv


def run(lib: str, args: argparse.Namespace, data: tuple, gc: int) -> dict[str, Any]:
    if lib == "embedrs":
        from embedrs.models import KeyedVectors
        from embedrs.models.translation_matrix import TranslationMatrix
    else:
        from gensim.models import KeyedVectors
        from gensim.models.translation_matrix import TranslationMatrix
    skeys, src, tkeys, tgt = data
    s_kv, t_kv = keyed(KeyedVectors, skeys, src), keyed(KeyedVectors, tkeys, tgt)
    pairs = [(f"s{i}", f"t{i}") for i in range(args.pairs)]
    model = TranslationMatrix(s_kv, t_kv, pairs, random_state=1)
    words = [f"s{i}" for i in range(args.pairs, args.pairs + args.words)]
    tracemalloc.start()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.translate(
            words,
            topn=5,
            gc=gc,
            sample_num=args.sample if gc else None,
            source_lang_vec=s_kv,
            target_lang_vec=t_kv,
        )
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    right = sum(out[w][0] == "t" + w[1:] for w in words) / len(words)
    return {"seconds": seconds, "peak": peak, "accuracy": right, "out": out}


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--vocab", type=int, default=50_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--pairs", type=int, default=5_000)
    p.add_argument("--words", type=int, default=1_000)
    p.add_argument("--sample", type=int, default=1_000, help="sample_num with gc=1")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    import embedrs
    import gensim

    try:
        from threadpoolctl import threadpool_info

        blas = "; ".join(
            f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} "
            f"threads={i.get('num_threads')}"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        )
    except ImportError:
        blas = "threadpoolctl not installed"
    print(
        f"# embedrs {embedrs.__version__}, gensim {gensim.__version__}, python {sys.version.split()[0]}"
    )
    print(f"# BLAS (both libraries' matrix products): {blas}")
    print(
        f"# vocab {args.vocab} x {args.dim} per language, {args.pairs} training pairs, "
        f"{args.words} words translated (topn=5), sample_num={args.sample} with gc=1; "
        f"repeats={args.repeats}, alternating"
    )
    data = spaces(args.vocab, args.dim, args.seed)
    rows = []
    for gc in (0, 1):
        res: dict[str, list] = {"embedrs": [], "gensim": []}
        for r in range(args.repeats):
            order = ("embedrs", "gensim") if r % 2 == 0 else ("gensim", "embedrs")
            for lib in order:
                res[lib].append(run(lib, args, data, gc))
                x = res[lib][-1]
                print(
                    f"  gc={gc} {lib:8s} {x['seconds']:7.2f} s  peak {x['peak'] / 2**20:8.1f} MiB  "
                    f"top-1 {x['accuracy']:.3f}",
                    flush=True,
                )
        med = {
            lib: {k: statistics.median(x[k] for x in runs) for k in ("seconds", "peak", "accuracy")}
            for lib, runs in res.items()
        }
        same = ""
        if gc == 0:
            e, g = res["embedrs"][0]["out"], res["gensim"][0]["out"]
            same = f"{sum(e[w] == g[w] for w in e) / len(e):.3f}"
        rows.append((gc, med, same))
    print()
    print(
        "| gc | embedrs s | gensim s | speed ratio | embedrs peak MiB | gensim peak MiB "
        "| top-1 e / g | same top-5 as gensim |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|---:|")
    for gc, med, same in rows:
        e, g = med["embedrs"], med["gensim"]
        print(
            f"| {gc} | {e['seconds']:.2f} | {g['seconds']:.2f} | {g['seconds'] / e['seconds']:.1f}x "
            f"| {e['peak'] / 2**20:.0f} | {g['peak'] / 2**20:.0f} "
            f"| {e['accuracy']:.3f} / {g['accuracy']:.3f} | {same or 'n/a'} |"
        )


if __name__ == "__main__":
    main()
