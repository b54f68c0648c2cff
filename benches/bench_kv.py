"""KeyedVectors benchmark: embedrs vs gensim, side by side in one run.

Figures (each printed with the embedrs/gensim ratio):

* load time of a generated N x D float32 model in word2vec binary and text
  format, native ``load`` and ``load(mmap='r')`` open time (gensim: its own
  ``save``/``load``);
* ``most_similar`` latency, p50/p99 over many single-key queries, on the large
  model and on a text8-sized 30,000 x 100 model, with the large model's
  memory-bandwidth bound (one full read of the matrix by all cores);
* batched throughput: 100 query keys in one ``most_similar_batch`` call versus
  gensim answering them one by one;
* query throughput from 1, 2, 4 and 8 Python threads on the small model;
* with ``--trained PATH``: the same latency and batch figures on trained word
  vectors (any file ``KeyedVectors.load`` or ``load_word2vec_format`` reads),
  whose rare words crowd together (their ten nearest neighbours at cosine
  0.95 and above), the hard case for an exact search that prunes by bounds.

Quality check: the top-10 neighbours of embedrs and gensim must agree.

Usage::

    python benches/bench_kv.py                # 1,000,000 x 300 (needs ~8 GB RAM, ~5 GB disk)
    python benches/bench_kv.py --quick        # 100,000 x 300
    python benches/bench_kv.py --n 500000 --dim 300 --skip-gensim-text
    python benches/bench_kv.py --parts trained --trained words.kv
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import threading
import time

import numpy as np


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def alternate(label, runs, ours_fn, theirs_fn):
    """Run ours/theirs alternately ``runs`` times; return medians (seconds)."""
    t_ours, t_theirs = [], []
    for _ in range(runs):
        gc.collect()
        t, res = timed(ours_fn)
        t_ours.append(t)
        del res
        gc.collect()
        if theirs_fn is not None:
            t, res = timed(theirs_fn)
            t_theirs.append(t)
            del res
    mo = statistics.median(t_ours)
    mt = statistics.median(t_theirs) if t_theirs else float("nan")
    print(
        f"{label:<38} embedrs {mo * 1e3:10.1f} ms   gensim {mt * 1e3:10.1f} ms   "
        f"speed-up {mt / mo:7.1f}x   (runs={runs})",
        flush=True,
    )
    return mo, mt


def latencies(fn, keys):
    out = []
    for k in keys:
        t0 = time.perf_counter()
        fn(k)
        out.append(time.perf_counter() - t0)
    return np.array(out)


def query_latency(label, ours, theirs, n_queries, rng):
    keys = [ours.index_to_key[i] for i in rng.integers(0, len(ours), n_queries)]
    for k in keys[:5]:  # warm up (norms, pools, caches)
        ours.most_similar(k)
        theirs.most_similar(k)
    lo, lt = [], []
    block = max(1, n_queries // 10)
    for b in range(0, n_queries, block):  # alternate blocks of queries
        lo.append(latencies(ours.most_similar, keys[b : b + block]))
        lt.append(latencies(theirs.most_similar, keys[b : b + block]))
    lo, lt = np.concatenate(lo), np.concatenate(lt)
    po50, po99 = np.percentile(lo, 50), np.percentile(lo, 99)
    pt50, pt99 = np.percentile(lt, 50), np.percentile(lt, 99)
    print(
        f"{label:<38} embedrs p50 {po50 * 1e3:8.3f} ms p99 {po99 * 1e3:8.3f} ms | "
        f"gensim p50 {pt50 * 1e3:8.3f} ms p99 {pt99 * 1e3:8.3f} ms | p50 speed-up {pt50 / po50:5.1f}x",
        flush=True,
    )
    agree = np.mean(
        [
            [w for w, _ in ours.most_similar(k)] == [w for w, _ in theirs.most_similar(k)]
            for k in keys[:20]
        ]
    )
    print(f"{'':<38} top-10 lists identical to gensim for {agree * 100:.0f}% of 20 checked queries")
    return po50, po99, pt50, pt99


def batch_throughput(label, ours, theirs, rng, n_keys=100, runs=3):
    keys = [ours.index_to_key[i] for i in rng.integers(0, len(ours), n_keys)]
    ours.most_similar_batch(keys[:2])
    mo, mt = alternate(
        label,
        runs,
        lambda: ours.most_similar_batch(keys, topn=10),
        lambda: [theirs.most_similar(k, topn=10) for k in keys],
    )
    batch = ours.most_similar_batch(keys, topn=10)
    same = np.mean(
        [
            [w for w, _ in b] == [w for w, _ in theirs.most_similar(k)]
            for b, k in zip(batch[:20], keys[:20])
        ]
    )
    print(
        f"{'':<38} throughput embedrs {n_keys / mo:9.0f} q/s, gensim {n_keys / mt:9.0f} q/s; "
        f"{same * 100:.0f}% identical top-10 lists"
    )
    return mo, mt


def thread_scaling(kv, rng, per_thread=200):
    keys = [kv.index_to_key[i] for i in rng.integers(0, len(kv), per_thread)]
    res = {}
    for n in (1, 2, 4, 8):

        def work():
            for k in keys:
                kv.most_similar(k)

        ts = [threading.Thread(target=work) for _ in range(n)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        dt = time.perf_counter() - t0
        res[n] = n * per_thread / dt
        print(f"  {n} Python threads: {res[n]:9.0f} queries/s", flush=True)
    return res


def make_model(n, dim, seed):
    from embedrs.models import KeyedVectors

    rng = np.random.default_rng(seed)
    kv = KeyedVectors(dim)
    vecs = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for i in range(0, n, step):
        vecs[i : i + step] = rng.standard_normal((min(step, n - i), dim), dtype=np.float32)
    kv.index_to_key = [f"w{i}" for i in range(n)]
    kv.key_to_index = {k: i for i, k in enumerate(kv.index_to_key)}
    kv.vectors = vecs
    return kv


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--small-n", type=int, default=30_000)
    ap.add_argument("--small-dim", type=int, default=100)
    ap.add_argument("--queries", type=int, default=200, help="single queries on the large model")
    ap.add_argument("--small-queries", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3, help="alternating runs for load timings")
    ap.add_argument("--quick", action="store_true", help="100,000 x 300 large model")
    ap.add_argument("--skip-gensim-text", action="store_true", help="gensim's text load is slow")
    ap.add_argument(
        "--text-n",
        type=int,
        default=None,
        help="rows of the text-format file (default: --n; gensim needs ~1 min per 100k x 300)",
    )
    ap.add_argument("--workdir", default=None)
    ap.add_argument(
        "--parts",
        default="load,large,small",
        help="comma list of parts to run: load (large-model loads), large (large-model "
        "queries), small (30k x 100 queries, threads)",
    )
    ap.add_argument(
        "--trained",
        default=None,
        help="trained word vectors for the 'trained' part (native, gensim or word2vec file)",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.n = 100_000

    import embedrs
    import gensim
    from embedrs.models import KeyedVectors
    from gensim.models import KeyedVectors as GKV

    print(
        f"embedrs {embedrs.__version__}, gensim {gensim.__version__}, numpy {np.__version__}, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    rng = np.random.default_rng(0)
    work = args.workdir or tempfile.mkdtemp(prefix="bench_kv_")
    os.makedirs(work, exist_ok=True)

    parts = set(args.parts.split(","))
    results = {}
    paths = {k: os.path.join(work, f"big.{k}") for k in ("bin", "txt", "kv", "gensim")}
    text_n = min(args.text_n or args.n, args.n)
    # ---------------------------------------------------------------- large model
    if parts & {"load", "large"}:
        print(f"\n== large model {args.n:,} x {args.dim} (files in {work})")
        if not all(os.path.exists(p) for p in paths.values()):
            t, big = timed(make_model, args.n, args.dim, 1)
            t_bin, _ = timed(big.save_word2vec_format, paths["bin"], binary=True)
            if text_n < args.n:
                part = KeyedVectors(args.dim)
                part.index_to_key = big.index_to_key[:text_n]
                part.vectors = big.vectors[:text_n]
                t_txt, _ = timed(part.save_word2vec_format, paths["txt"], binary=False)
                del part
            else:
                t_txt, _ = timed(big.save_word2vec_format, paths["txt"], binary=False)
            t_nat, _ = timed(big.save, paths["kv"])
            print(
                f"generated in {t:.1f}s; embedrs wrote binary in {t_bin:.1f}s, text in {t_txt:.1f}s "
                f"({os.path.getsize(paths['txt']) / 1e9:.2f} GB), native in {t_nat:.1f}s"
            )
            g = GKV(args.dim)
            g.index_to_key = big.index_to_key
            g.key_to_index = big.key_to_index
            g.vectors = big.vectors
            g.save(paths["gensim"])
            del g, big
            gc.collect()
        else:
            print("reusing the model files already in the work directory")
        with open(paths["txt"], "rb") as fh:
            text_n = int(fh.readline().split()[0])
    if "load" in parts:
        results["bin"] = alternate(
            "load binary word2vec",
            args.runs,
            lambda: KeyedVectors.load_word2vec_format(paths["bin"], binary=True),
            lambda: GKV.load_word2vec_format(paths["bin"], binary=True),
        )
        results["txt"] = alternate(
            f"load text word2vec ({text_n:,} rows)",
            1 if not args.quick else args.runs,
            lambda: KeyedVectors.load_word2vec_format(paths["txt"]),
            None if args.skip_gensim_text else (lambda: GKV.load_word2vec_format(paths["txt"])),
        )
        results["native"] = alternate(
            "load native (into RAM)",
            args.runs,
            lambda: KeyedVectors.load(paths["kv"]),
            lambda: GKV.load(paths["gensim"]),
        )
        results["mmap"] = alternate(
            "open with mmap='r'",
            max(args.runs, 5),
            lambda: KeyedVectors.load(paths["kv"], mmap="r"),
            lambda: GKV.load(paths["gensim"], mmap="r"),
        )
        t_first, kvm = timed(KeyedVectors.load, paths["kv"], mmap="r")
        t_q, _ = timed(kvm.most_similar, "w123")
        print(
            f"{'':<38} mmap open {t_first * 1e3:.1f} ms, then first query (builds key index, "
            f"norms, int8 copy, pages the matrix in) {t_q * 1e3:.0f} ms"
        )
        del kvm

    if "large" in parts:
        ours = KeyedVectors.load(paths["kv"])
        theirs = GKV.load(paths["gensim"])
        ours.fill_norms()
        theirs.fill_norms()
        # bound: one full pass over the matrix by all cores (norms = read + dot)
        ts = [timed(ours._get_searcher().row_norms, ours.vectors)[0] for _ in range(3)]
        bound = min(ts)
        gbps = ours.vectors.nbytes / bound / 1e9
        print(
            f"memory-read bound: one full read of the {ours.vectors.nbytes / 1e9:.2f} GB matrix "
            f"by all cores takes {bound * 1e3:.1f} ms ({gbps:.1f} GB/s)"
        )
        results["lat_big"] = query_latency(
            "most_similar, large model", ours, theirs, args.queries, rng
        )
        print(
            f"{'':<38} embedrs p50 = {results['lat_big'][0] / bound:.2f}x the float32 read bound; "
            f"its int8 first pass reads a quarter of the bytes: "
            f"{results['lat_big'][0] / (bound / 4):.2f}x that bound"
        )
        results["batch_big"] = batch_throughput(
            "100 keys batched, large model", ours, theirs, rng, runs=2
        )
        del ours, theirs
        gc.collect()

    if "small" in parts:
        print(f"\n== text8-sized model {args.small_n:,} x {args.small_dim}")
        small = make_model(args.small_n, args.small_dim, 2)
        gs = GKV(args.small_dim)
        gs.add_vectors(small.index_to_key, small.vectors.copy())
        small.fill_norms()
        gs.fill_norms()
        results["lat_small"] = query_latency(
            "most_similar, 30k x 100", small, gs, args.small_queries, rng
        )
        results["batch_small"] = batch_throughput(
            "100 keys batched, 30k x 100", small, gs, rng, runs=5
        )
        print("thread scaling (embedrs, most_similar on 30k x 100):")
        results["threads"] = thread_scaling(small, rng)

    if "trained" in parts:
        if args.trained is None:
            ap.error("the 'trained' part needs --trained PATH")
        try:
            ours = KeyedVectors.load(args.trained)
        except (ValueError, OSError):
            ours = KeyedVectors.load_word2vec_format(args.trained, binary=True)
        theirs = GKV(ours.vector_size)
        theirs.add_vectors(list(ours.index_to_key), np.array(ours.vectors))
        ours.fill_norms()
        theirs.fill_norms()
        n, d = ours.vectors.shape
        print(f"\n== trained vectors {os.path.basename(args.trained)}: {n:,} x {d}")
        results["lat_trained"] = query_latency(
            "most_similar, trained, any word", ours, theirs, args.small_queries, rng
        )
        # the 10,000 most frequent words (rows are by frequency) as the queries,
        # searched over the whole vocabulary: the keys a service is asked most
        sub = np.random.default_rng(1).integers(0, min(n, 10_000), args.small_queries)
        keys = [ours.index_to_key[i] for i in sub]
        lo = latencies(ours.most_similar, keys)
        lt = latencies(theirs.most_similar, keys)
        lo2 = latencies(ours.most_similar, keys)
        lt2 = latencies(theirs.most_similar, keys)
        po50 = np.percentile(np.concatenate([lo, lo2]), 50)
        pt50 = np.percentile(np.concatenate([lt, lt2]), 50)
        print(
            f"{'most_similar, trained, top 10k words':<38} embedrs p50 {po50 * 1e3:8.3f} ms | "
            f"gensim p50 {pt50 * 1e3:8.3f} ms | p50 speed-up {pt50 / po50:5.1f}x",
            flush=True,
        )
        results["lat_trained_top"] = (po50, None, pt50, None)
        results["batch_trained"] = batch_throughput(
            "100 keys batched, trained", ours, theirs, rng, runs=5
        )
        del ours, theirs
        gc.collect()

    print("\n== summary (speed-up = gensim time / embedrs time)")
    for key, label in (
        ("bin", "binary load"),
        ("txt", "text load"),
        ("native", "native load"),
        ("lat_big", "most_similar p50, large"),
        ("lat_small", "most_similar p50, 30k x 100"),
        ("batch_big", "batched, large"),
        ("batch_small", "batched, 30k x 100"),
        ("lat_trained", "most_similar p50, trained"),
        ("lat_trained_top", "most_similar p50, trained top 10k"),
        ("batch_trained", "batched, trained"),
    ):
        if key in results:
            r = results[key]
            ratio = r[2] / r[0] if key.startswith("lat") else r[1] / r[0]
            print(f"  {label:<30} {ratio:6.1f}x")
    if "mmap" in results:
        print(f"  {'mmap open':<30} {results['mmap'][0] * 1e3:6.1f} ms")
    if not args.workdir:
        for p in paths.values():
            for f in (p, p + ".vectors.npy"):
                if os.path.exists(f):
                    os.unlink(f)
        os.rmdir(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
