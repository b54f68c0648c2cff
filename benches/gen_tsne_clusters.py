"""Generates the clustered synthetic set of the t-SNE scale benchmark (issue 16).

1,000,000 x 50 float32 by default, fixed seed: 40 Gaussian clusters whose
sizes follow a power law (the largest about 150x the smallest), each with its
own spread (0.3 to 3, so densities differ by three orders of magnitude), an
anisotropic covariance (random per-axis scales), and centres drawn in a
10-dimensional subspace, plus 1% uniform background noise. Labels are the
cluster ids (-1 for noise).

    python benches/gen_tsne_clusters.py --n 1000000 --out /tmp/clusters_1m.npz
"""

from __future__ import annotations

import argparse

import numpy as np


def generate(n: int, dim: int = 50, n_clusters: int = 40, seed: int = 20240616):
    """The data set: ``(x, labels)``, ``x`` float32 ``n x dim``."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_clusters + 1) ** 1.35
    n_noise = n // 100
    sizes = np.floor(weights / weights.sum() * (n - n_noise)).astype(np.int64)
    sizes[0] += n - n_noise - sizes.sum()
    basis = np.linalg.qr(rng.standard_normal((dim, 10)))[0]  # dim x 10, orthonormal
    centres = rng.uniform(-60, 60, size=(n_clusters, 10)) @ basis.T
    spreads = np.exp(rng.uniform(np.log(0.3), np.log(3.0), size=n_clusters))
    x = np.empty((n, dim), dtype=np.float32)
    labels = np.empty(n, dtype=np.int32)
    at = 0
    for c in range(n_clusters):
        m = int(sizes[c])
        axes = spreads[c] * rng.uniform(0.3, 1.0, size=dim)
        x[at : at + m] = centres[c] + rng.standard_normal((m, dim), dtype=np.float32) * axes
        labels[at : at + m] = c
        at += m
    lo, hi = x[:at].min(0), x[:at].max(0)
    x[at:] = rng.uniform(lo, hi, size=(n - at, dim))
    labels[at:] = -1
    order = rng.permutation(n)
    return np.ascontiguousarray(x[order]), labels[order]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--out", required=True, help="an .npz file (arrays x and labels)")
    args = ap.parse_args()
    x, labels = generate(args.n)
    np.savez(args.out, x=x, labels=labels)
    print(f"wrote {args.out}: x {x.shape} {x.dtype}, {len(set(labels.tolist()))} labels")


if __name__ == "__main__":
    main()
