"""Distributed PV-DBOW Doc2Vec on Ray vs single-process embedrs, IMDB sentiment (issue 17).

The IMDB reviews (train, test and unlabelled: 100,000 documents, one per line,
shuffled once, as ``bench_doc2vec.py`` prepares them) are split into
``--shards`` contiguous files. Single-process embedrs trains on the whole file
(``corpus_file``, 1 thread and Hogwild threads on as many cores as the actors
use); ``train_doc2vec`` trains on the shards with each ``--actors`` count (1
thread per actor) on a local Ray instance. Both tag a document by its line
number, so ``model.dv[i]`` is review ``i`` either way. Settings: gensim's
IMDB tutorial PV-DBOW (100 dimensions, negative 5, min_count 2, no
subsampling) for ``--epochs``. Quality: logistic regression fitted on the
25,000 train reviews' vectors, error on the 25,000 test reviews. Prints the
training loop's time, words/s, words/s per core, and the test error.

    python benches/bench_distributed_d2v.py --epochs 20 --actors 2 --workdir /work/benchcache
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _distributed_configs import add_arguments, configs
from bench_doc2vec import COMMON, MODES, SPLITS, blas_info, logistic_error, prepare_imdb


def write_shards(docs_path: Path, n: int, outdir: Path) -> list[str]:
    """``n`` files of contiguous lines of ``docs_path`` (their concatenation is it)."""
    with open(docs_path, encoding="utf8") as fh:
        lines = fh.readlines()
    per = -(-len(lines) // n)
    paths = []
    for k in range(n):
        p = outdir / f"imdb_shard{k:03d}.txt"
        with open(p, "w", encoding="utf8") as out:
            out.writelines(lines[k * per : (k + 1) * per])
        paths.append(str(p))
    return paths


def test_error(dv: np.ndarray, meta: np.ndarray) -> float:
    train, test = meta[:, 0] == SPLITS["train"], meta[:, 0] == SPLITS["test"]
    return logistic_error(dv[train], meta[train, 1], dv[test], meta[test, 1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--shards", type=int, default=8)
    add_arguments(ap, actors=[2])
    ap.add_argument("--combine", default="auto")
    ap.add_argument(
        "--overlap", action="store_true", help="actors train on during each sync (overlap=True)"
    )
    ap.add_argument("--max-docs", type=int, default=0, help="0: all 100,000 reviews")
    ap.add_argument("--shuffle-seed", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1, help="the models' seed")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp"))
    ap.add_argument(
        "--single",
        default="1,2",
        help="thread counts of the single-process runs (comma-separated; empty: none)",
    )
    args = ap.parse_args()

    import ray
    from embedrs.distributed import SyncStats, train_doc2vec
    from embedrs.models.doc2vec import Doc2Vec

    logging.basicConfig(level=logging.WARNING)
    args.workdir.mkdir(parents=True, exist_ok=True)
    docs_path, _, meta = prepare_imdb(args.workdir, args.max_docs, args.shuffle_seed)
    shards = write_shards(docs_path, args.shards, args.workdir)
    params = dict(COMMON, **MODES["dbow"], epochs=args.epochs, seed=args.seed)
    cpus = os.cpu_count() or 1
    print(f"IMDB: {len(meta):,} documents in {args.shards} shards; {cpus} CPUs; params {params}")
    print("BLAS (the quality figure's logistic regression; training uses none):", *blas_info())
    rows = []
    for threads in sorted({int(t) for t in args.single.split(",") if t}):
        m = Doc2Vec(workers=threads, **params)
        m.build_vocab(corpus_file=str(docs_path))
        t = time.perf_counter()
        m.train(corpus_file=str(docs_path), total_words=m.corpus_total_words, epochs=m.epochs)
        sec = time.perf_counter() - t
        dv = np.asarray(m.dv[list(range(len(meta)))], dtype=np.float32)
        rows.append(
            dict(
                config="single" if threads == 1 else f"single x{threads}",
                cores=threads,
                sec=sec,
                wps=m.corpus_total_words * args.epochs / sec,
                error=test_error(dv, meta),
            )
        )
        print(rows[-1], flush=True)
    ray.init(num_cpus=max(args.actors), include_dashboard=False, log_to_driver=False)
    try:
        for c in configs(args):
            st = SyncStats()
            d = train_doc2vec(
                shards,
                num_actors=c.actors,
                sync_every_words=c.sync_every_words,
                combine=args.combine,
                overlap=args.overlap,
                max_concurrent_per_node=c.max_concurrent_per_node,
                stats=st,
                **params,
            )
            sec = sum(e["seconds"] for e in st.per_epoch)
            dv = np.asarray(d.dv[list(range(len(meta)))], dtype=np.float32)
            rows.append(
                dict(
                    config=c.name,
                    cores=min(c.actors, cpus),
                    sec=sec,
                    wps=st.words / sec,
                    error=test_error(dv, meta),
                    mb_per_sync=(st.bytes_up + st.bytes_down) / max(st.syncs, 1) / 1e6,
                    syncs=st.syncs,
                    sync_share=st.sync_seconds / max(sec, 1e-9),
                    at_once=st.max_concurrent,
                )
            )
            print(rows[-1], flush=True)
    finally:
        ray.shutdown()
    base = rows[0]["wps"] if rows[0]["config"] == "single" else float("nan")
    hog = {r["cores"]: r["wps"] / r["cores"] for r in rows if r["config"].startswith("single")}
    print(
        f"\n{'config':<18} {'train s':>8} {'words/s':>10} {'/core':>10} {'vs 1p':>6} "
        f"{'vs HW':>6} {'test error':>10} {'MB/sync':>8}"
    )
    for r in rows:
        per_core = r["wps"] / r["cores"]
        print(
            f"{r['config']:<18} {r['sec']:>8.1f} {r['wps']:>10.0f} {per_core:>10.0f} "
            f"{per_core / base:>6.2f} {per_core / hog.get(r['cores'], float('nan')):>6.2f} "
            f"{100 * r['error']:>9.2f}% {r.get('mb_per_sync', 0):>8.1f}"
        )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
