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
* ``"adaptive"`` scales each row's sum ``S`` of ``k`` deltas ``d_i`` by
  ``min(1, sum |d_i|^2 / |S|^2)``: 1 (the sum) when the deltas are orthogonal
  (the replicas learned different things of the row, or one replica touched
  it), ``1/k`` (the mean) when they are equal.
* ``"scaled"``: the replicas train at ``s`` times the learning rate (``s``
  the number of replicas, at most :data:`MAX_LR_SCALE`) and each row's sum is
  divided by ``max(s, replicas that changed the row)``. A row one replica
  moved (a rare word, a document) gets that move at the plain rate, as if
  one process had trained it; a row every replica moved gets the average of
  moves made at ``s`` times the rate: about ``s`` plain moves while the
  replicas push it the same way, and the common point when each brought it
  to the same place. This is the linear scaling rule of data-parallel SGD
  applied per row.
* ``"auto"`` (the default): ``"scaled"`` for two or more replicas. Why: a row
  that converges within a round (the output rows of frequent words do) is
  moved by each replica from ``x`` to about the same ``x*``; the sum puts it
  at ``x + k (x* - x)``, so its error is multiplied by ``1 - k`` every round:
  an oscillation of constant size for two replicas, growth for three or more
  (measured: 4 replicas with ``"sum"`` reach NaN within 3 epochs).
  ``"adaptive"`` moves such rows by the mean, which is stable, but it also
  gives the mean to rows the replicas push the same way without converging,
  a quarter of their progress with four replicas. ``"scaled"`` keeps both:
  on the benchmark (CBOW, 17M words, 3 epochs, rounds of 2M words;
  benches/RESULTS.md) two replicas reached 22.3% analogy accuracy against
  20.1% with the sum, four 22.7% against 13.8% with ``"adaptive"``, and one
  process 20.5%.

The driver adds the combined delta to its master copy and every replica adds
it to its copy of the master (see :mod:`embedrs.distributed._replica`) with
the same float32 arithmetic, so they stay bit-identical. The row work (take,
combine, apply) is done in Rust (``embedrs._embedrs.delta_*``), one pass each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embedrs import _embedrs

COMBINE_MODES = ("auto", "sum", "mean", "adaptive", "scaled")

#: Largest learning-rate factor of ``"scaled"``: with more replicas they train
#: at this factor and rows every replica moved get the mean of their moves.
MAX_LR_SCALE = 4
DTYPES = {"float16": np.float16, "float32": np.float32}


@dataclass
class RowDelta:
    """Changed rows of one matrix: sorted ``rows`` (int32) and their ``values``."""

    rows: np.ndarray
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.values.nbytes)


def take(
    weights: np.ndarray,
    base: np.ndarray,
    dtype: type,
    adopt: bool = True,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> RowDelta:
    """The rows where ``weights`` differs from ``base``, and their differences in
    ``dtype``; with ``adopt``, both matrices then hold ``base + difference`` (as
    encoded) on those rows, so they are equal on return; without it neither is
    written (one pass, in Rust).

    With ``out`` (from :func:`take_buffer`), the delta is written to the start of
    those buffers and the result is a view of them, valid until the next call
    with the same buffers: a replica that takes its delta every round into one
    pair pays no page faults for fresh arrays (12,000 a round, a quarter of the
    take's time, for IMDB PV-DBOW's 265,000-row output layer).
    """
    half = np.dtype(dtype) == np.float16
    rows, values, k = _embedrs.delta_take(weights, base, half, adopt, out)
    width = weights.shape[1]
    rows, values = rows[:k], values[: k * width]
    if half:
        values = values.view(np.float16)
    return RowDelta(rows, values.reshape(-1, width))


def take_buffer(n_rows: int, width: int, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Buffers :func:`take` can write any delta of an ``n_rows x width`` matrix
    into (``out``), for values in ``dtype``."""
    half = np.dtype(dtype) == np.float16
    return _touched(n_rows, np.int32), _touched(n_rows * width, np.uint16 if half else np.float32)


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


def combine(
    deltas: list[RowDelta],
    n_rows: int,
    width: int,
    mode: str,
    scale: int = 1,
    dtype: type = np.float32,
    threads: int = 1,
    out: np.ndarray | None = None,
) -> RowDelta:
    """Combine the deltas of one matrix from all replicas (``"sum"``, ``"mean"``,
    ``"adaptive"`` or ``"scaled"`` with the replicas' learning-rate factor
    ``scale``, see the module docs), with values in ``dtype``: one pass in Rust
    over the deltas, on ``threads`` threads (the result does not depend on it).

    With ``out`` (from :func:`combine_buffer`), the values are written to its
    start and the result's ``values`` are a view of it, valid until the next
    call with the same buffer. The driver combines every round into one buffer
    per matrix: a fresh 50 MB array each round cost up to 0.2 s of page faults
    on a virtual machine while every replica waited for the round.

    Raises
    ------
    FloatingPointError
        When a combined value is not finite in ``dtype`` (an infinity or NaN
        from a diverging replica, or a float16 overflow).
    """
    if mode not in COMBINE_MODES[1:]:
        raise ValueError(f"combine must be one of {COMBINE_MODES[1:]} here, got {mode!r}")
    half = np.dtype(dtype) == np.float16
    deltas = [d for d in deltas if len(d.rows)]
    if not deltas:
        return RowDelta(np.zeros(0, np.int32), np.zeros((0, width), dtype))
    half_in = all(d.values.dtype == np.float16 for d in deltas)
    parts = [
        (
            np.ascontiguousarray(d.rows, dtype=np.int32),
            np.ascontiguousarray(d.values).view(np.uint16).reshape(-1)
            if half_in
            else np.ascontiguousarray(d.values, dtype=np.float32).reshape(-1),
        )
        for d in deltas
    ]
    rows, values, finite = _embedrs.delta_combine(
        parts, n_rows, width, mode, scale, half=half, threads=max(1, int(threads)), out=out
    )
    if not finite:
        raise FloatingPointError("a combined delta holds values that are not finite")
    if out is not None:
        values = values[: len(rows) * width].reshape(len(rows), width)
    return RowDelta(rows, values.view(np.float16) if half else values)


def combine_buffer(n_rows: int, width: int, dtype: type) -> np.ndarray:
    """A buffer :func:`combine` can write any combined delta of an ``n_rows x width``
    matrix into (``out``), for values in ``dtype``."""
    half = np.dtype(dtype) == np.float16
    return _touched(n_rows * width, np.uint16 if half else np.float32)


def _touched(size: int, dtype: type) -> np.ndarray:
    """A zeroed array with every page written once (``np.zeros`` maps zero pages
    lazily). The buffers are made when a replica or the driver is set up, so the
    first round does not pay their page faults: in a CBOW run of six rounds, each
    take of the first round took 0.1-0.2 s against 0.013 s after, and the
    driver's first combine 0.135 s against 0.015 s."""
    return np.full(size, 0, dtype)


def resolve(mode: str, replicas: int) -> str:
    """The combine mode ``"auto"`` stands for with ``replicas`` replicas (the same
    for Word2Vec and Doc2Vec)."""
    if mode != "auto":
        return mode
    return "scaled" if replicas > 1 else "sum"


def lr_scale(mode: str, replicas: int) -> int:
    """The factor on the learning rate the replicas train at under ``mode``
    (``"scaled"``: the number of replicas, at most :data:`MAX_LR_SCALE`; else 1)."""
    return max(1, min(replicas, MAX_LR_SCALE)) if mode == "scaled" else 1


def apply(master: np.ndarray, delta: RowDelta) -> None:
    """Apply a combined delta to the master copy (the replicas' arithmetic)."""
    add_rows(master, delta)
