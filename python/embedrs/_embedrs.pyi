"""Type stubs for the private Rust extension module ``embedrs._embedrs``."""

__version__: str

# ---- KeyedVectors: similarity search and word2vec formats (rust/python/kv.rs) ----

import numpy as _np
import numpy.typing as _npt

class KvSearcher:
    """A per-model thread pool for similarity queries (0 threads = all cores)."""

    def __init__(self, threads: int = 0) -> None: ...
    @property
    def threads(self) -> int: ...
    def row_norms(self, vectors: _npt.NDArray[_np.float32]) -> _npt.NDArray[_np.float32]: ...
    def top_k(
        self,
        vectors: _npt.NDArray[_np.float32],
        norms: _npt.NDArray[_np.float32],
        query: _npt.NDArray[_np.float32],
        start: int,
        end: int,
        k: int,
    ) -> list[tuple[int, float]]: ...
    def all_scores(
        self,
        vectors: _npt.NDArray[_np.float32],
        norms: _npt.NDArray[_np.float32],
        query: _npt.NDArray[_np.float32],
        start: int,
        end: int,
    ) -> _npt.NDArray[_np.float32]: ...
    def top_k_batch(
        self,
        vectors: _npt.NDArray[_np.float32],
        norms: _npt.NDArray[_np.float32],
        queries: _npt.NDArray[_np.float32],
        start: int,
        end: int,
        k: int,
    ) -> tuple[_npt.NDArray[_np.int64], _npt.NDArray[_np.float32]]: ...

def w2v_read(
    path: str,
    binary: bool,
    limit: int | None = None,
    no_header: bool = False,
    unicode_errors: str = "strict",
    allow_nonfinite: bool = False,
    threads: int = 0,
) -> tuple[list[str] | list[bytes], _npt.NDArray[_np.float32], int, bool]: ...
def w2v_write(
    path: str,
    keys: list[str],
    vectors: _npt.NDArray[_np.float32],
    order: list[int],
    binary: bool,
    write_header: bool = True,
    total_vec: int | None = None,
    append: bool = False,
    threads: int = 0,
) -> None: ...
def format_f32(values: list[float]) -> list[str]: ...
# -- poincare ------------------------------------------------------------------------------
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

def poincare_train(
    vectors: npt.NDArray[np.floating[Any]],
    relations: npt.NDArray[np.uint32],
    *,
    epochs: int,
    alpha: float,
    negative: int,
    epsilon: float,
    regularization_coeff: float,
    batch_size: int,
    workers: int,
    seed: int,
    frequency_negatives: bool,
    first_epoch: int,
    check_gradients_every: int = 0,
    callback: Callable[[int, int, int], object] | None = None,
) -> dict[str, Any]:
    """Train ``vectors`` (C-contiguous float32/float64, n_nodes x size) in place."""
# --- t-SNE (rust/python/tsne.rs) ---------------------------------------------

import numpy as _np
import numpy.typing as _npt
from typing import Callable as _Callable, Optional as _Optional

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
    log: _Optional[_Callable[[int, float], None]] = None,
) -> tuple[_npt.NDArray[_np.float64], float, int, tuple[float, float, float]]:
    """Runs t-SNE on C-contiguous float32 ``x`` (features, or a square distance
    matrix with ``metric='precomputed'``) from ``init``; returns the embedding,
    the KL divergence, the last iteration index and the seconds spent in
    (neighbours, affinities, optimisation)."""
    ...
