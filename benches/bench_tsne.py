"""Side-by-side t-SNE benchmark: embedrs vs scikit-learn vs openTSNE (BH, FFT).

MNIST (first ``--n`` of the 70,000 train+test images), PCA to 50 dimensions
(the same float32 input for everyone), the same initialisation (PCA of that
input scaled to std 1e-4, as scikit-learn does), perplexity 30, 250
early-exaggeration iterations (x12, momentum 0.5) then the rest at momentum
0.8, learning rate max(N / 12 / 4, 50), angle 0.5, the same thread count.

For each run: wall time split into neighbours / affinities / optimisation
(openTSNE reports neighbours and affinities together), CPU seconds (the
machine is shared, so CPU time is the fairer cost), the library's own KL,
a common KL(P || Q) computed here with scikit-learn's P and the exact Q,
10-NN preservation (input 50-D vs map), and the 10-NN classification
accuracy in the map. Runs alternate across repeats; medians are reported.

    python benches/bench_tsne.py --n 20000 --threads 2 --repeats 1
    python benches/bench_tsne.py --quick            # 5,000 points, smoke test
    # issue 16: all of MNIST, embedrs' automatic choice (FFT, approximate kNN)
    python benches/bench_tsne.py --n 70000 --libs embedrs,openTSNE-FFT
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import statistics
import sys
import time

import numpy as np

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
MNIST = os.path.join(DATA, "mnist.npz")
CORPUS = os.path.join(DATA, "enwik_text8like.gz")


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def load_mnist(n: int, path: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    d = np.load(path)
    x = np.concatenate([d["x_train"], d["x_test"]]).reshape(70000, 784)[:n].astype(np.float32)
    y = np.concatenate([d["y_train"], d["y_test"]])[:n].astype(np.int64)
    xp = PCA(n_components=50, random_state=0).fit_transform(x / 255.0).astype(np.float32)
    return np.ascontiguousarray(xp), y


def load_word_vectors(n_words: int, corpus: str, mbytes: int) -> tuple[np.ndarray, list[str]]:
    """Trains gensim Word2Vec (100-d, 5 epochs) on the first ``mbytes`` MB of the
    text8-format corpus and returns the ``n_words`` most frequent words' vectors,
    unit-normalised (so Euclidean t-SNE matches cosine neighbourhoods)."""
    import gzip

    from gensim.models import Word2Vec

    with gzip.open(corpus, "rt") as fh:
        text = fh.read(mbytes * 1_000_000)
    words = text.split()
    sentences = [words[i : i + 1000] for i in range(0, len(words), 1000)]
    model = Word2Vec(sentences, vector_size=100, window=5, min_count=5, workers=2, seed=1, epochs=5)
    keys = model.wv.index_to_key[:n_words]
    x = model.wv.vectors[:n_words].astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x), keys


def pca_init(x: np.ndarray) -> np.ndarray:
    from sklearn.decomposition import PCA

    emb = PCA(n_components=2, svd_solver="randomized", random_state=0).fit_transform(x)
    return np.ascontiguousarray(emb / np.std(emb[:, 0]) * 1e-4, dtype=np.float64)


# --------------------------------------------------------------------------- runners


def run_embedrs(x, init, args):
    from embedrs.manifold import TSNE

    t = TSNE(
        perplexity=args.perplexity,
        init=init,
        max_iter=args.max_iter,
        n_jobs=args.threads,
        angle=0.5,
        learning_rate=max(len(x) / 12 / 4, 50),
        method=args.method,
        neighbors=args.neighbors,
    )
    emb = t.fit_transform(x)
    print(f"embedrs used method={t.method_}, neighbors={t.neighbors_}", flush=True)
    tm = t.timings_
    return emb, t.kl_divergence_, (tm["neighbors"], tm["affinities"], tm["optimization"])


def run_sklearn(x, init, args):
    from sklearn.manifold import TSNE

    t = TSNE(
        perplexity=args.perplexity,
        init=init.astype(np.float32),
        max_iter=args.max_iter,
        n_jobs=args.threads,
        angle=0.5,
        learning_rate=max(len(x) / 12 / 4, 50),
        verbose=1,
    )
    buf = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        emb = t.fit_transform(x)
    total = time.perf_counter() - start
    out = buf.getvalue()
    nn = sum(float(v) for v in re.findall(r"Indexed \d+ samples in ([\d.]+)s", out))
    nn += sum(float(v) for v in re.findall(r"Computed neighbors for \d+ samples in ([\d.]+)s", out))
    aff = sum(float(v) for v in re.findall(r"conditional probabilities .*in ([\d.]+)s", out))
    return emb, t.kl_divergence_, (nn, aff, total - nn - aff)


def run_opentsne(x, init, args, method):
    from openTSNE import TSNEEmbedding, affinity

    start = time.perf_counter()
    aff = affinity.PerplexityBasedNN(
        x,
        perplexity=args.perplexity,
        n_jobs=args.threads,
        random_state=0,
        k_neighbors=int(3 * args.perplexity + 1),
    )
    t_aff = time.perf_counter() - start
    emb = TSNEEmbedding(
        init.copy(),
        aff,
        negative_gradient_method=method,
        n_jobs=args.threads,
        random_state=0,
        theta=0.5,
    )
    lr = max(len(x) / 12 / 4, 50)
    emb.optimize(250, exaggeration=12, momentum=0.5, learning_rate=lr, inplace=True)
    emb.optimize(args.max_iter - 250, momentum=0.8, learning_rate=lr, inplace=True)
    total = time.perf_counter() - start
    # neighbours+affinities are not separable in openTSNE's API: reported as neighbours
    return np.asarray(emb), emb.kl_divergence, (t_aff, 0.0, total - t_aff)


RUNNERS = {
    "embedrs": run_embedrs,
    "sklearn": run_sklearn,
    "openTSNE-BH": lambda x, i, a: run_opentsne(x, i, a, "bh"),
    "openTSNE-FFT": lambda x, i, a: run_opentsne(x, i, a, "fft"),
}


# --------------------------------------------------------------------------- quality


class Reference:
    """Shared quality measures: scikit-learn's P, input 10-NN, labels."""

    def __init__(self, x: np.ndarray, y: np.ndarray, perplexity: float) -> None:
        from sklearn.manifold._t_sne import _joint_probabilities_nn
        from sklearn.neighbors import NearestNeighbors

        k = min(len(x) - 1, int(3 * perplexity + 1))
        nn = NearestNeighbors(n_neighbors=k).fit(x)
        dist = nn.kneighbors_graph(mode="distance")
        dist.data **= 2
        self.P = _joint_probabilities_nn(dist, perplexity, 0).tocsr()
        self.nn10 = NearestNeighbors(n_neighbors=10).fit(x).kneighbors(return_distance=False)
        self.y = y

    def kl(self, emb: np.ndarray) -> float:
        e = emb.astype(np.float64)
        n = len(e)
        sq = (e**2).sum(1)
        z = 0.0
        step = max(1, 20_000_000 // n)
        for a in range(0, n, step):
            d2 = sq[a : a + step, None] + sq[None, :] - 2 * e[a : a + step] @ e.T
            w = 1.0 / (1.0 + np.maximum(d2, 0))
            z += w.sum() - len(w)  # minus the diagonal (w = 1)
        p = self.P.tocoo()
        d2 = ((e[p.row] - e[p.col]) ** 2).sum(1)
        q = 1.0 / (1.0 + d2) / z
        return float((p.data * np.log(np.maximum(p.data, 1e-300) / q)).sum())

    def scores(self, emb: np.ndarray) -> tuple[float, float]:
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=10).fit(emb).kneighbors(return_distance=False)
        keep = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(self.nn10, nn)])
        votes = self.y[nn]
        pred = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
        return float(keep), float((pred == self.y).mean())


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--quick", action="store_true", help="5,000 points")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--perplexity", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--libs", default="embedrs,sklearn,openTSNE-BH,openTSNE-FFT")
    ap.add_argument("--data", default=MNIST)
    ap.add_argument("--method", default="auto", help="embedrs' method (auto: fft above 10k)")
    ap.add_argument("--neighbors", default="auto", help="embedrs' neighbour search")
    ap.add_argument(
        "--words",
        type=int,
        default=0,
        help="instead of MNIST: t-SNE of this many most frequent words of a gensim "
        "Word2Vec trained on the first --corpus-mb MB of enwik_text8like.gz",
    )
    ap.add_argument("--corpus-mb", type=int, default=20)
    ap.add_argument("--png", help="save embedrs' map here (coloured by digit)")
    ap.add_argument("--json", help="append the result rows to this JSON-lines file")
    args = ap.parse_args()
    if args.quick:
        args.n = 5000
    libs = args.libs.split(",")
    if args.words:
        x, _keys = load_word_vectors(args.words, CORPUS, args.corpus_mb)
        y = np.zeros(len(x), dtype=np.int64)  # no classes: the accuracy column is meaningless
        args.n = len(x)
        what = f"word2vec top {len(x)} words (100-d, unit norm)"
    else:
        x, y = load_mnist(args.n, args.data)
        what = f"MNIST n={args.n} PCA-50"
    init = pca_init(x)
    from threadpoolctl import threadpool_info

    print("BLAS:", [(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info()])
    ref = Reference(x, y, args.perplexity)
    print(
        f"{what}, threads={args.threads}, max_iter={args.max_iter}, perplexity={args.perplexity}",
        flush=True,
    )
    rows: dict[str, list[dict]] = {lib: [] for lib in libs}
    for rep in range(args.repeats):
        for lib in libs:
            c0, w0 = cpu_seconds(), time.perf_counter()
            emb, kl, (t_nn, t_aff, t_opt) = RUNNERS[lib](x, init, args)
            wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
            keep, acc = ref.scores(emb)
            row = {
                "lib": lib,
                "rep": rep,
                "wall": wall,
                "cpu": cpu,
                "neighbors": t_nn,
                "affinities": t_aff,
                "optimization": t_opt,
                "kl_own": float(kl),
                "kl_common": ref.kl(emb),
                "nn10_preservation": keep,
                "knn10_accuracy": acc,
            }
            rows[lib].append(row)
            print(json.dumps(row), flush=True)
            if lib == "embedrs" and args.png and rep == 0:
                from embedrs.viz import scatter_png

                scatter_png(
                    emb,
                    args.png,
                    labels=y.tolist(),
                    figsize=(8, 8),
                    dpi=90,
                    title=f"embedrs t-SNE of MNIST ({args.n:,} points)",
                )
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps(dict(row, n=args.n, threads=args.threads)) + "\n")
    med = {
        lib: {k: statistics.median(r[k] for r in rs) for k in rs[0] if k not in ("lib", "rep")}
        for lib, rs in rows.items()
    }
    print(
        f"\n{'library':14s} {'wall s':>8s} {'cpu s':>8s} {'nn s':>7s} {'aff s':>7s} "
        f"{'opt s':>8s} {'KL own':>7s} {'KL P|Q':>7s} {'10NN kept':>9s} {'10NN acc':>8s}"
    )
    for lib, m in med.items():
        print(
            f"{lib:14s} {m['wall']:8.1f} {m['cpu']:8.1f} {m['neighbors']:7.2f} "
            f"{m['affinities']:7.2f} {m['optimization']:8.1f} {m['kl_own']:7.3f} "
            f"{m['kl_common']:7.3f} {m['nn10_preservation']:9.3f} {m['knn10_accuracy']:8.3f}"
        )
    if "embedrs" in med:
        ours = med["embedrs"]
        for lib, m in med.items():
            if lib != "embedrs":
                print(
                    f"embedrs vs {lib}: {m['wall'] / ours['wall']:.2f}x wall, "
                    f"{m['cpu'] / ours['cpu']:.2f}x cpu, KL ratio "
                    f"{ours['kl_common'] / m['kl_common']:.3f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
