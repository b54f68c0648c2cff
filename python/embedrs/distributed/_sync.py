"""Sparse row deltas: what a replica changed since the last synchronisation.

A replica keeps, beside each weight matrix ``W`` it trains, ``base``: what it
has told the others of it so far. Its delta is ``W - base`` restricted to the
rows that changed (any element differs), encoded as ``int32`` row ids plus the rows' differences in
``float16`` (default) or ``float32``. A training chunk of ``w`` words touches
far fewer rows than the vocabulary holds (the rows of the words it reads and
of the negatives it draws), so the payload is a fraction of the matrix.

The driver combines the actors' deltas row by row:

* ``"sum"`` adds them: every update any replica made is kept, as in shared-
  memory Hogwild where all threads write the same matrix; replicas see each
  other's updates one sync interval late (two with the driver's overlap).
* ``"mean"`` divides each row's sum by the number of replicas that changed
  that row (model averaging restricted to touched rows).

The driver adds the combined delta to its master copy and every replica adds
it to its copy of the master (see :mod:`embedrs.distributed._replica`) with
the same float32 arithmetic, so they stay bit-identical. The row work is done
in Rust (``embedrs._embedrs.delta_*``), one pass per matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embedrs import _embedrs

COMBINE_MODES = ("sum", "mean")
DTYPES = {"float16": np.float16, "float32": np.float32}


@dataclass
class RowDelta:
    """Changed rows of one matrix: sorted ``rows`` (int32) and their ``values``."""

    rows: np.ndarray
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.values.nbytes)


def take(weights: np.ndarray, base: np.ndarray, dtype: type) -> RowDelta:
    """The rows where ``weights`` differs from ``base``, and their differences in
    ``dtype``; both matrices then hold ``base + difference`` (as encoded) on those
    rows, so they are equal on return (one pass, in Rust)."""
    half = np.dtype(dtype) == np.float16
    rows, values = _embedrs.delta_take(weights, base, half)
    if half:
        values = values.view(np.float16)
    return RowDelta(rows, values.reshape(-1, weights.shape[1]))


def add_rows(
    matrix: np.ndarray, delta: RowDelta, sign: float = 1.0, mirror: np.ndarray | None = None
) -> None:
    """``matrix[delta.rows] += sign * delta.values`` (float32 arithmetic, in place);
    with ``mirror``, also ``mirror[delta.rows] = matrix[delta.rows]``."""
    if not len(delta.rows):
        return
    v = delta.values
    flat = v.view(np.uint16) if v.dtype == np.float16 else v.astype(np.float32, copy=False)
    _embedrs.delta_add_rows(
        matrix, delta.rows, np.ascontiguousarray(flat).reshape(-1), sign, mirror
    )


def combine(deltas: list[RowDelta], n_rows: int, width: int, mode: str) -> RowDelta:
    """Combine the deltas of one matrix from all replicas (``"sum"`` or ``"mean"``)."""
    deltas = [d for d in deltas if len(d.rows)]
    if not deltas:
        return RowDelta(np.zeros(0, np.int32), np.zeros((0, width), np.float32))
    if len(deltas) == 1:
        d = deltas[0]
        return RowDelta(d.rows, d.values.astype(np.float32))
    acc = np.zeros((n_rows, width), dtype=np.float32)
    for d in deltas:
        add_rows(acc, d)
    touched = np.zeros(n_rows, dtype=bool)
    for d in deltas:
        touched[d.rows] = True
    rows = np.flatnonzero(touched).astype(np.int32)
    values = acc[rows]
    if mode == "mean":
        hits = np.bincount(np.concatenate([d.rows for d in deltas]), minlength=n_rows)
        values /= hits[rows].astype(np.float32)[:, None]
    return RowDelta(rows, values)


def encode(delta: RowDelta, dtype: type) -> RowDelta:
    """The combined delta as sent back to the replicas (values in ``dtype``)."""
    if np.dtype(dtype) != np.float16:
        return RowDelta(delta.rows, delta.values.astype(dtype, copy=False))
    flat = np.ascontiguousarray(delta.values, dtype=np.float32).reshape(-1)
    half = _embedrs.delta_encode_half(flat).view(np.float16)
    return RowDelta(delta.rows, half.reshape(delta.values.shape))


def apply(master: np.ndarray, delta: RowDelta) -> None:
    """Apply a combined delta to the master copy (the replicas' arithmetic)."""
    add_rows(master, delta)
