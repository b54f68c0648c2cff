"""t-SNE at scale (issue 16): embedrs vs openTSNE FFT on the clustered synthetic set.

The data is made by ``gen_tsne_clusters.py`` (fixed seed; 1,000,000 x 50 by
default). Each library runs in its own child process, so that its peak
resident memory (``VmHWM``, the high-water mark of its own address space;
``ru_maxrss`` would not do: Linux carries it across ``exec`` from the parent,
which holds the data and the quality sample) is its own; the parent alternates the
libraries over ``--repeats`` and prints medians. Settings are the same for
both: perplexity 30, 1,000 iterations (250 early-exaggeration ones at 12),
learning rate ``max(N / 12 / 4, 50)``, PCA initialisation scaled to std
1e-4, the same thread count; each library's own neighbour search
(embedrs: ``neighbors='auto'``, approximate above 150k points; openTSNE:
Annoy).

The exact KL(P || Q) cannot be computed at 1M points here, so quality is
measured on a fixed random sample of ``--sample`` points: their 10 nearest
neighbours in the input (exact, against all N points) against their 10
nearest in the map (exact, against all N map points): 10-NN preservation;
and the majority label of the 10 map neighbours against the point's own
cluster: 10-NN accuracy. Each library's own KL is printed as it reports it.

    python benches/gen_tsne_clusters.py --n 1000000 --out /tmp/clusters_1m.npz
    python benches/bench_tsne_scale.py --data /tmp/clusters_1m.npz --threads 2 \\
        --libs embedrs,openTSNE-FFT --png benches/tsne_clusters_1m.png
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def pca_init(x: np.ndarray) -> np.ndarray:
    """PCA to 2-D of ``x``, scaled so the first axis has std 1e-4 (float64)."""
    from sklearn.decomposition import PCA

    emb = PCA(n_components=2, svd_solver="randomized", random_state=0).fit_transform(x)
    return np.ascontiguousarray(emb / np.std(emb[:, 0]) * 1e-4, dtype=np.float64)


def own_peak_gib() -> float:
    """This process's peak resident memory in GiB: ``VmHWM`` where /proc has it.

    ``ru_maxrss`` is a fallback only: on Linux it survives ``exec``, so a child
    started by a large parent reports at least the parent's peak.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2  # kB -> GiB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB


def child(lib: str, data: str, init_path: str, out: str, threads: int, max_iter: int) -> None:
    """Runs one library on the data and writes the map and a JSON line of figures."""
    x = np.load(data)["x"]
    init = np.load(init_path)
    n = len(x)
    lr = max(n / 12 / 4, 50)
    w0, c0 = time.perf_counter(), time.process_time()
    if lib == "embedrs":
        from embedrs.manifold import TSNE

        t = TSNE(
            perplexity=30.0,
            init=init,
            max_iter=max_iter,
            n_jobs=threads,
            learning_rate=lr,
            verbose=1,
        )
        emb = t.fit_transform(x)
        kl = float(t.kl_divergence_)
        phases = {k: round(float(v), 1) for k, v in t.timings_.items()}
        extra = {"method": t.method_, "neighbors": t.neighbors_}
    else:
        from openTSNE import TSNEEmbedding, affinity

        aff = affinity.PerplexityBasedNN(
            x, perplexity=30.0, n_jobs=threads, random_state=0, k_neighbors=91, verbose=True
        )
        t_aff = time.perf_counter() - w0
        e = TSNEEmbedding(
            init.copy(),
            aff,
            negative_gradient_method="fft",
            n_jobs=threads,
            random_state=0,
            verbose=True,
        )
        e.optimize(250, exaggeration=12, momentum=0.5, learning_rate=lr, inplace=True)
        e.optimize(max_iter - 250, momentum=0.8, learning_rate=lr, inplace=True)
        emb = np.asarray(e)
        kl = float(e.kl_divergence)
        phases = {"neighbors+affinities": round(t_aff, 1)}
        extra = {}
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    np.save(out + ".npy", np.asarray(emb, dtype=np.float64))
    peak = own_peak_gib()
    row = dict(lib=lib, wall=wall, cpu=cpu, peak_gib=peak, kl_own=kl, phases=phases, **extra)
    with open(out + ".json", "w") as fh:
        json.dump(row, fh)


class Sample:
    """Exact 10-NN of a fixed sample of points, in the input and in a map."""

    def __init__(self, x: np.ndarray, labels: np.ndarray, size: int) -> None:
        rng = np.random.default_rng(0)
        self.idx = np.sort(rng.choice(len(x), size=min(size, len(x)), replace=False))
        self.labels = labels
        self.nn_in = self._knn(x, x[self.idx])

    def _knn(self, base: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
        base = base.astype(np.float32)
        bsq = (base.astype(np.float64) ** 2).sum(1)
        out = np.empty((len(queries), k), dtype=np.int64)
        for a in range(0, len(queries), 256):
            q = queries[a : a + 256].astype(np.float32)
            d = bsq[None, :] - 2.0 * (q @ base.T)
            # the query itself is a point of base: drop it
            d[np.arange(len(q)), self.idx[a : a + 256]] = np.inf
            part = np.argpartition(d, k, axis=1)[:, :k]
            order = np.take_along_axis(d, part, 1).argsort(1)
            out[a : a + len(q)] = np.take_along_axis(part, order, 1)
        return out

    def scores(self, emb: np.ndarray) -> tuple[float, float]:
        nn = self._knn(emb, emb[self.idx])
        keep = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(self.nn_in, nn)]))
        votes = self.labels[nn]
        pred = np.array([np.bincount(v + 1, minlength=41).argmax() - 1 for v in votes])
        return keep, float((pred == self.labels[self.idx]).mean())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", required=True, help=".npz from gen_tsne_clusters.py")
    ap.add_argument("--libs", default="embedrs,openTSNE-FFT")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--sample", type=int, default=5000, help="points for the quality figures")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds per library run")
    ap.add_argument("--png", help="save embedrs' map here (coloured by cluster)")
    ap.add_argument("--child", nargs=4, metavar=("LIB", "INIT", "OUT", "_"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        lib, init_path, out, _ = args.child
        child(lib, args.data, init_path, out, args.threads, args.max_iter)
        return 0

    if args.png:
        # fail now, not after the first library's run
        from embedrs.viz import _matplotlib

        _matplotlib()
    d = np.load(args.data)
    x, labels = d["x"], d["labels"]
    from threadpoolctl import threadpool_info

    print("BLAS:", [(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info()])
    print(f"data {args.data}: {x.shape}, threads={args.threads}, max_iter={args.max_iter}")
    tmp = tempfile.mkdtemp(prefix="tsne_scale_")
    init_path = os.path.join(tmp, "init.npy")
    np.save(init_path, pca_init(x))
    t0 = time.perf_counter()
    sample = Sample(x, labels, args.sample)
    print(f"input 10-NN of {len(sample.idx)} sampled points in {time.perf_counter() - t0:.0f} s")
    del x
    rows: dict[str, list[dict]] = {lib: [] for lib in args.libs.split(",")}
    for rep in range(args.repeats):
        for lib, done_rows in rows.items():
            out = os.path.join(tmp, f"{lib}_{rep}")
            cmd = [sys.executable, __file__, "--data", args.data, "--threads", str(args.threads)]
            cmd += ["--max-iter", str(args.max_iter), "--child", lib, init_path, out, "-"]
            print(f"--- {lib} (repeat {rep}) load {os.getloadavg()[0]:.1f}", flush=True)
            try:
                rc = subprocess.run(cmd, check=False, timeout=args.timeout).returncode
            except subprocess.TimeoutExpired:
                print(f"{lib}: stopped after {args.timeout:.0f} s", flush=True)
                done_rows.append({"lib": lib, "wall": float("inf"), "timed_out": True})
                continue
            if rc != 0:
                print(f"{lib}: exit status {rc}", flush=True)
                continue
            with open(out + ".json") as fh:
                row = json.load(fh)
            emb = np.load(out + ".npy")
            row["nn10_preservation"], row["knn10_accuracy"] = sample.scores(emb)
            row["load_after"] = round(os.getloadavg()[0], 1)
            done_rows.append(row)
            print(json.dumps(row), flush=True)
            if lib == "embedrs" and args.png and rep == 0:
                from embedrs.viz import scatter_png

                scatter_png(
                    emb,
                    args.png,
                    labels=labels.tolist(),
                    figsize=(8, 8),
                    dpi=90,
                    point_size=0.05,
                    title=f"embedrs t-SNE of {len(emb):,} clustered points",
                )
    print(
        f"\n{'library':14s} {'wall s':>8s} {'cpu s':>8s} {'peak GiB':>8s} {'KL own':>7s} "
        f"{'10NN kept':>9s} {'10NN acc':>8s}"
    )
    med: dict[str, dict] = {}
    for lib, rs in rows.items():
        done = [r for r in rs if not r.get("timed_out")]
        if not done:
            print(f"{lib:14s} did not finish")
            continue
        med[lib] = {
            k: statistics.median(r[k] for r in done)
            for k in ("wall", "cpu", "peak_gib", "kl_own", "nn10_preservation", "knn10_accuracy")
        }
        m = med[lib]
        print(
            f"{lib:14s} {m['wall']:8.1f} {m['cpu']:8.1f} {m['peak_gib']:8.2f} "
            f"{m['kl_own']:7.3f} {m['nn10_preservation']:9.3f} {m['knn10_accuracy']:8.3f}"
        )
    if "embedrs" in med:
        for lib, m in med.items():
            if lib != "embedrs":
                print(f"embedrs vs {lib}: {m['wall'] / med['embedrs']['wall']:.2f}x wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
