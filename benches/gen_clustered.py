"""Clustered synthetic float32 vectors for the ANN benchmark (fixed seed, reproducible).

    python benches/gen_clustered.py --n 1000000 --dim 100 --out /tmp/clustered_1m_100.npy

``--clusters`` Gaussian centres (standard normal), each with its own spread
drawn from [0.2, 0.6), cluster sizes from a Zipf-like law (a few large
clusters, many small ones, as word and document vectors are); every point is
its centre plus isotropic Gaussian noise. Generated in blocks, so 1M x 100
needs little more memory than the 400 MB result.
"""

from __future__ import annotations

import argparse

import numpy as np


def generate(n: int, dim: int, clusters: int = 1000, seed: int = 20261202) -> np.ndarray:
    """``n`` x ``dim`` float32 clustered vectors; the same arguments give the same array."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    spread = rng.uniform(0.2, 0.6, size=clusters).astype(np.float32)
    weights = 1.0 / np.arange(1, clusters + 1) ** 0.8
    which = rng.choice(clusters, size=n, p=weights / weights.sum())
    out = np.empty((n, dim), dtype=np.float32)
    block = 100_000
    for start in range(0, n, block):
        w = which[start : start + block]
        noise = rng.normal(size=(len(w), dim)).astype(np.float32)
        out[start : start + block] = centres[w] + spread[w, None] * noise
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--clusters", type=int, default=1000)
    p.add_argument("--seed", type=int, default=20261202)
    p.add_argument("--out", required=True, help="a .npy file to write")
    a = p.parse_args()
    np.save(a.out, generate(a.n, a.dim, a.clusters, a.seed))


if __name__ == "__main__":
    main()
