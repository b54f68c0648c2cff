"""Sparse row deltas: what a replica changed since the last synchronisation.

A replica keeps a snapshot of each weight matrix as it was at the last sync
point. Its delta is ``W - snapshot`` restricted to the rows that changed (any
element differs), encoded as ``int32`` row ids plus the rows' differences in
``float16`` (default) or ``float32``. A training chunk of ``w`` words touches
far fewer rows than the vocabulary holds (the rows of the words it reads and
of the negatives it draws), so the payload is a fraction of the matrix.

The driver combines the actors' deltas row by row:

* ``"sum"`` adds them: every update any replica made is kept, as in shared-
  memory Hogwild where all threads write the same matrix; replicas only see
  each other's updates up to one sync interval late.
* ``"mean"`` divides each row's sum by the number of replicas that changed
  that row (model averaging restricted to touched rows).

Every replica then sets ``W[rows] = snapshot[rows] + combined`` and takes that
as its new snapshot; the driver applies the same arithmetic to its master
copy, so all replicas and the master stay bit-identical at every sync point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def diff(current: np.ndarray, snapshot: np.ndarray, dtype: type) -> RowDelta:
    """The rows where ``current`` differs from ``snapshot``, and their differences."""
    d = current - snapshot
    rows = np.flatnonzero(np.any(d != 0, axis=1)).astype(np.int32)
    return RowDelta(rows, d[rows].astype(dtype))


def combine(deltas: list[RowDelta], n_rows: int, width: int, mode: str) -> RowDelta:
    """Combine the deltas of one matrix from all replicas (``"sum"`` or ``"mean"``)."""
    deltas = [d for d in deltas if len(d.rows)]
    if not deltas:
        return RowDelta(np.zeros(0, np.int32), np.zeros((0, width), np.float32))
    if len(deltas) == 1:
        d = deltas[0]
        return RowDelta(d.rows, d.values.astype(np.float32))
    rows = np.unique(np.concatenate([d.rows for d in deltas]))
    acc = np.zeros((len(rows), width), dtype=np.float32)
    hits = np.zeros(len(rows), dtype=np.float32)
    for d in deltas:
        pos = np.searchsorted(rows, d.rows)
        acc[pos] += d.values.astype(np.float32)
        hits[pos] += 1.0
    if mode == "mean":
        acc /= hits[:, None]
    return RowDelta(rows.astype(np.int32), acc)


def encode(delta: RowDelta, dtype: type) -> RowDelta:
    """The combined delta as sent back to the replicas (values in ``dtype``)."""
    return RowDelta(delta.rows, delta.values.astype(dtype))


def apply(weights: np.ndarray, snapshot: np.ndarray, delta: RowDelta) -> None:
    """``W[rows] = snapshot[rows] + delta`` and the snapshot follows (in place)."""
    if not len(delta.rows):
        return
    rows = delta.rows
    new = snapshot[rows] + delta.values.astype(np.float32)
    snapshot[rows] = new
    weights[rows] = new
