"""Distributed Word2Vec on Ray vs single-process embedrs (issue 17).

Splits ``enwik_text8like.gz`` (its first ``--words`` tokens) into ``--shards``
files of 10,000-token lines (the sentences single-process corpus_file training
reads), then trains, in one run and alternating: single-process embedrs
(``workers=1``, and Hogwild threads on as many cores as the actors use) on
the concatenated shards, and ``train_word2vec`` with each ``--actors`` count
(1 thread per actor) on a local Ray instance. Prints, per configuration: wall
time of the training loop, words/s, words/s per core used (cores =
min(actors, CPUs)), that against 1-thread single-process ("vs 1p", the issue's
measure) and against single-process Hogwild on the same cores ("vs HW": the
cost of distribution alone), analogy accuracy (30k), WordSim-353 Spearman,
bytes exchanged per sync and per epoch.

    python benches/bench_distributed.py --words 17000000 --epochs 3 --actors 2 4 \
        --sync-every 2000000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _distributed_configs import add_arguments, configs
from bench_word2vec import DATA, blas_report, evaluate, load_tokens


def write_shards(tokens: list[str], n: int, dirname: str) -> tuple[list[str], str]:
    lines = [" ".join(tokens[i : i + 10000]) + "\n" for i in range(0, len(tokens), 10000)]
    paths = []
    per = -(-len(lines) // n)
    for k in range(n):
        p = os.path.join(dirname, f"shard{k:03d}.txt")
        with open(p, "w", encoding="utf-8") as fh:
            fh.writelines(lines[k * per : (k + 1) * per])
        paths.append(p)
    whole = os.path.join(dirname, "all.txt")
    with open(whole, "w", encoding="utf-8") as fh:
        fh.writelines(lines)
    return paths, whole


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=2_000_000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--shards", type=int, default=8)
    add_arguments(ap, actors=[2, 4])
    ap.add_argument("--combine", default="auto")
    ap.add_argument("--dtype", default="float16")
    ap.add_argument(
        "--overlap", action="store_true", help="actors train the next chunk during the sync"
    )
    ap.add_argument("--sg", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    import ray
    from embedrs.distributed import SyncStats, train_word2vec
    from embedrs.models.word2vec import Word2Vec

    logging.basicConfig(level=logging.WARNING)
    params = dict(vector_size=100, window=5, min_count=5, sg=args.sg, negative=5, seed=1)
    params["epochs"] = args.epochs
    tokens = load_tokens(DATA / "enwik_text8like.gz", args.words)
    cpus = os.cpu_count() or 1
    print(f"corpus: {len(tokens)} tokens, {args.shards} shards; {cpus} CPUs; params {params}")
    print(blas_report())
    print(
        f"sync every {' / '.join(args.sync_every)} words (all actors), combine={args.combine}, "
        f"dtype={args.dtype}, overlap={args.overlap}; machine shared and noisy: medians of {args.repeat} run(s)"
    )
    rows: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        shards, whole = write_shards(tokens, args.shards, tmp)
        ray.init(num_cpus=max(args.actors), include_dashboard=False, log_to_driver=False)
        for _ in range(args.repeat):
            for threads in sorted({1, min(max(args.actors), cpus)}):
                t = time.perf_counter()
                m = Word2Vec(workers=threads, **params)
                m.build_vocab(corpus_file=whole)
                t_train = time.perf_counter()
                m.train(
                    corpus_file=whole,
                    total_words=m.corpus_total_words,
                    epochs=m.epochs,
                )
                sec = time.perf_counter() - t_train
                acc, ws = evaluate(m.wv.index_to_key, m.wv.vectors)
                words = m.corpus_total_words * args.epochs
                name = "single" if threads == 1 else f"single x{threads}"
                rows.setdefault(name, []).append(
                    dict(
                        cores=threads,
                        sec=sec,
                        wps=words / sec,
                        acc=acc,
                        ws=ws,
                        total=time.perf_counter() - t,
                    )
                )
            for c in configs(args):
                st = SyncStats()
                t = time.perf_counter()
                d = train_word2vec(
                    shards,
                    num_actors=c.actors,
                    sync_every_words=c.sync_every_words,
                    combine=args.combine,
                    sync_dtype=args.dtype,
                    overlap=args.overlap,
                    max_concurrent_per_node=c.max_concurrent_per_node,
                    stats=st,
                    **params,
                )
                total = time.perf_counter() - t
                sec = sum(e["seconds"] for e in st.per_epoch)
                acc, ws = evaluate(d.wv.index_to_key, d.wv.vectors)
                cores = min(c.actors, cpus)
                name = c.name
                rows.setdefault(name, []).append(
                    dict(
                        cores=cores,
                        sec=sec,
                        wps=st.words / sec,
                        acc=acc,
                        ws=ws,
                        total=total,
                        sync_share=st.sync_seconds / max(sec, 1e-9),
                        bytes_per_sync=(st.bytes_up + st.bytes_down) / max(st.syncs, 1),
                        bytes_per_epoch=statistics.median(e["bytes"] for e in st.per_epoch),
                        syncs=st.syncs,
                        at_once=st.max_concurrent,
                    )
                )
        ray.shutdown()
    base = statistics.median(r["wps"] for r in rows["single"])
    hog = {
        r[0]["cores"]: statistics.median(x["wps"] / x["cores"] for x in r)
        for name, r in rows.items()
        if name.startswith("single")
    }
    print(
        f"\n{'config':<18} {'train s':>8} {'words/s':>9} {'/core':>9} {'vs 1p':>6} {'vs HW':>6} "
        f"{'analogy':>8} {'WS353':>6} {'MB/sync':>8} {'MB/epoch':>9} {'sync%':>6} {'at once':>7}"
    )
    for name, rs in rows.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        per_core = med["wps"] / med["cores"]
        vs_hw = per_core / hog.get(med["cores"], float("nan"))
        print(
            f"{name:<18} {med['sec']:>8.1f} {med['wps']:>9.0f} {per_core:>9.0f} "
            f"{per_core / base:>6.2f} {vs_hw:>6.2f} "
            f"{100 * med['acc']:>7.1f}% {med['ws']:>6.3f} "
            f"{med.get('bytes_per_sync', 0) / 1e6:>8.2f} {med.get('bytes_per_epoch', 0) / 1e6:>9.1f} "
            f"{100 * med.get('sync_share', 0):>5.1f}% {med.get('at_once', 0):>7.0f}"
        )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
