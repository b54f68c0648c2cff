"""HNSW side by side: embedrs.similarities.HnswIndexer vs hnswlib vs faiss-cpu IndexHNSWFlat.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benches/bench_ann.py \
        --data words --data clustered --n 1000000 --repeats 3

Same vectors, same ``M`` / ``ef_construction`` / ``ef`` for all three, cosine
similarity (unit rows and inner product for hnswlib and faiss, as embedrs
does internally). For each library: build time on ``--threads`` threads,
index size (the saved file), then for each ``ef`` in ``--ef``: recall@10
against exact search and single-thread queries one at a time (queries/s and
p50 latency, Python call included, as a service would call it). The three
indexes are built first and then queried in turn, ``--rounds`` passes per
``ef`` in alternating order, so their query timings come from the same
minutes of a shared machine. The summary gives, per library, the smallest
``ef`` reaching recall@10 >= 0.95 and its throughput. Libraries alternate
order between repeats; medians are printed.

Data sets:

* ``words``: word vectors trained on ``../shared/data/enwik_text8like.gz`` by
  embedrs (skip-gram, 100 dimensions, min_count 5, 1 epoch; cached in
  ``--cache``), queries are 1000 random words' vectors.
* ``clustered``: ``--n`` x 100 vectors from ``benches/gen_clustered.py``
  (fixed seed), 1000 held-out points of the same distribution as queries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DATA = HERE.parent.parent / "shared" / "data"


def unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=1, keepdims=True)
    n[n == 0] = 1
    return np.ascontiguousarray(v / n, dtype=np.float32)


def exact_top10(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    out = np.empty((len(queries), 10), dtype=np.int64)
    for s in range(0, len(queries), 100):
        sims = queries[s : s + 100] @ base.T
        part = np.argpartition(-sims, 10, axis=1)[:, :10]
        order = np.take_along_axis(-sims, part, axis=1).argsort(axis=1)
        out[s : s + 100] = np.take_along_axis(part, order, axis=1)
    return out


def word_vectors(cache: Path) -> np.ndarray:
    from embedrs.corpora import LineSentence
    from embedrs.models import KeyedVectors, Word2Vec

    path = cache / "bench_ann_words.kv"
    if path.exists():
        return np.asarray(KeyedVectors.load(str(path)).vectors)
    src = DATA / "enwik_text8like.gz"
    model = Word2Vec(
        LineSentence(str(src)), vector_size=100, min_count=5, sg=1, epochs=1, workers=2, seed=1
    )
    model.wv.save(str(path))
    return np.asarray(model.wv.vectors)


class Embedrs:
    name = "embedrs"

    def build(self, x, m, efc, threads):
        from embedrs.similarities import HnswIndexer

        self.idx = HnswIndexer.from_vectors(x, m=m, ef_construction=efc, workers=threads)

    def set_ef(self, ef):
        self.idx.ef_search = ef

    def query(self, q):
        return [k for k, _ in self.idx.most_similar(q, 10)]

    def size(self, path):
        self.idx.save(path)


class Hnswlib:
    name = "hnswlib"

    def build(self, x, m, efc, threads):
        import hnswlib

        self.idx = hnswlib.Index(space="ip", dim=x.shape[1])
        self.idx.init_index(max_elements=len(x), M=m, ef_construction=efc, random_seed=1)
        self.idx.set_num_threads(threads)
        self.idx.add_items(x, np.arange(len(x)))
        self.idx.set_num_threads(1)

    def set_ef(self, ef):
        self.idx.set_ef(ef)

    def query(self, q):
        return list(self.idx.knn_query(q[None, :], k=10)[0][0])

    def size(self, path):
        self.idx.save_index(path)


class Faiss:
    name = "faiss"

    def build(self, x, m, efc, threads):
        import faiss

        faiss.omp_set_num_threads(threads)
        self.idx = faiss.IndexHNSWFlat(x.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        self.idx.hnsw.efConstruction = efc
        self.idx.add(x)
        faiss.omp_set_num_threads(1)

    def set_ef(self, ef):
        self.idx.hnsw.efSearch = ef

    def query(self, q):
        return list(self.idx.search(q[None, :], 10)[1][0])

    def size(self, path):
        import faiss

        faiss.write_index(self.idx, path)


def build_one(lib, base, args, tmp):
    """Build time (s) and saved size (MB) of one library's index."""
    t0 = time.perf_counter()
    lib.build(base, args.m, args.ef_construction, args.threads)
    build_s = time.perf_counter() - t0
    path = os.path.join(tmp, f"{lib.name}.idx")
    lib.size(path)
    size_mb = os.path.getsize(path) / 1e6
    os.remove(path)
    return build_s, size_mb


def query_one(lib, ef, queries, truth):
    """recall@10, queries/s and p50 latency (ms) of single queries at ``ef``."""
    lib.set_ef(ef)
    lat = []
    hits = 0
    for i, q in enumerate(queries):
        t = time.perf_counter()
        got = lib.query(q)
        lat.append(time.perf_counter() - t)
        hits += len({int(g) for g in got} & set(truth[i].tolist()))
    return hits / truth.size, len(queries) / sum(lat), statistics.median(lat) * 1e3


def run_repeat(names, libs, base, queries, truth, args, tmp):
    """One repeat: every library builds (in ``names`` order), then for each ef
    the libraries answer the queries in turn, ``--rounds`` times, so their
    query timings share the same minutes of a noisy machine."""
    built = {}
    out = {}
    for name in names:
        lib = libs[name]()
        build_s, size_mb = build_one(lib, base, args, tmp)
        built[name] = lib
        out[name] = (build_s, size_mb, [])
        print(f"    {name:8s} build {build_s:7.1f}s size {size_mb:7.1f}MB", flush=True)
    for ef in args.ef:
        runs = {name: [] for name in names}
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else list(reversed(names)):
                runs[name].append(query_one(built[name], ef, queries, truth))
        for name in names:
            rec = runs[name][0][0]
            qps = statistics.median(x[1] for x in runs[name])
            p50 = statistics.median(x[2] for x in runs[name])
            out[name][2].append((ef, rec, qps, p50))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", action="append", choices=["words", "clustered"])
    p.add_argument("--n", type=int, default=1_000_000, help="clustered vectors")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--ef", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1, help="builds per library")
    p.add_argument("--rounds", type=int, default=3, help="query passes per ef and build")
    p.add_argument("--libs", nargs="+", default=["embedrs", "hnswlib", "faiss"])
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    args = p.parse_args()
    from threadpoolctl import threadpool_info

    print("BLAS:", [(i["internal_api"], i.get("architecture")) for i in threadpool_info()])
    print(f"M={args.m} ef_construction={args.ef_construction} build threads={args.threads}")
    libs = {"embedrs": Embedrs, "hnswlib": Hnswlib, "faiss": Faiss}
    for data in args.data or ["words", "clustered"]:
        rng = np.random.default_rng(7)
        if data == "words":
            base = unit(word_vectors(args.cache))
            queries = base[rng.choice(len(base), args.queries, replace=False)]
        else:
            from gen_clustered import generate

            allv = unit(generate(args.n + args.queries, 100))
            base, queries = allv[: args.n], allv[args.n :]
        truth = exact_top10(base, queries)
        print(f"\n== {data}: {base.shape[0]} x {base.shape[1]}, {len(queries)} queries")
        results: dict[str, list] = {name: [] for name in args.libs}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.repeats):
                order = args.libs if r % 2 == 0 else list(reversed(args.libs))
                print(f"  run {r}", flush=True)
                res = run_repeat(order, libs, base, queries, truth, args, tmp)
                for name in args.libs:
                    results[name].append(res[name])
                    b, s, rows = res[name]
                    line = " ".join(
                        f"ef{ef}:{rc:.3f}/{q:.0f}qps/{lat:.3f}ms" for ef, rc, q, lat in rows
                    )
                    print(f"  run {r} {name:8s} build {b:7.1f}s size {s:7.1f}MB  {line}")
        print(
            f"\n  {'library':8s} {'build s':>8s} {'size MB':>8s} {'ef@.95':>6s} {'recall':>7s} {'q/s':>8s} {'p50 ms':>7s}"
        )
        for name, runs in results.items():
            build = statistics.median(r[0] for r in runs)
            size = statistics.median(r[1] for r in runs)
            best = None
            for i, ef in enumerate(args.ef):
                rec = statistics.median(r[2][i][1] for r in runs)
                if rec >= 0.95:
                    qps = statistics.median(r[2][i][2] for r in runs)
                    p50 = statistics.median(r[2][i][3] for r in runs)
                    best = (ef, rec, qps, p50)
                    break
            if best is None:
                print(f"  {name:8s} {build:8.1f} {size:8.1f}  recall@10 < 0.95 at every ef")
            else:
                print(
                    f"  {name:8s} {build:8.1f} {size:8.1f} {best[0]:6d} {best[1]:7.3f} {best[2]:8.0f} {best[3]:7.3f}"
                )


if __name__ == "__main__":
    main()
