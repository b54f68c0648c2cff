"""Type stubs for the private Rust extension module ``embedrs._embedrs``."""

__version__: str

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
