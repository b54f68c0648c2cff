"""Type stubs for the private Rust extension module ``embedrs._embedrs``."""

__version__: str

# --- t-SNE (rust/python/tsne.rs) ---------------------------------------------

from collections.abc import Callable as _Callable

import numpy as _np
import numpy.typing as _npt

def tsne_fit(
    x: _npt.NDArray[_np.float32],
    init: _npt.NDArray[_np.float64],
    *,
    perplexity: float,
    early_exaggeration: float,
    learning_rate: float,
    max_iter: int,
    exploration_iter: int,
    n_iter_without_progress: int,
    min_grad_norm: float,
    metric: str,
    method: str,
    angle: float,
    n_jobs: int,
    log: _Callable[[int, float], None] | None = None,
) -> tuple[_npt.NDArray[_np.float64], float, int, tuple[float, float, float]]:
    """Runs t-SNE on C-contiguous float32 ``x`` (features, or a square distance
    matrix with ``metric='precomputed'``) from ``init``; returns the embedding,
    the KL divergence, the last iteration index and the seconds spent in
    (neighbours, affinities, optimisation)."""
