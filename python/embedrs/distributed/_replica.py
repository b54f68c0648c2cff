"""One training replica: a model copy that trains its share chunk by chunk.

Run as a Ray actor (see :mod:`embedrs.distributed._train`); plain Python
otherwise, so its logic is testable without Ray. Each :meth:`Replica.step`
first applies the newest combined delta it has not applied yet, then trains
one chunk with the model's Rust core through ``train_epoch_file``, then
returns its own sparse delta.

With the driver's pipelining, a replica sends its delta of round ``g`` and
trains round ``g + 1`` before the combined delta of round ``g`` comes back.
It therefore keeps three copies of each matrix:

* ``mats`` (W), the weights it trains;
* ``snap`` (S), the master copy as of the last combined round it applied;
* ``base`` (B), ``S`` plus its own deltas that are sent but not yet combined
  (``pending``), i.e. what the replica has told the others so far.

A delta is ``W - B`` on the rows that differ, encoded in ``dtype``; the
replica then adopts the encoded values (``B += delta; W = B`` on those rows),
so that ``W == B`` after every step and the next delta holds exactly the rows
the next chunk touched. Applying the combined delta of round ``k`` (which
includes the replica's own delta of round ``k``) adds it to ``S`` and to ``B``,
takes the replica's own delta of round ``k`` out of ``B``, and copies those
rows of ``B`` into ``W``. When no delta is pending, ``B`` and ``W`` are set to
``S``, which equals the driver's master copy bit for bit: both add the same
float32 values of the same encoded deltas in the same order.

Without pipelining (the driver's default) every step's combined delta arrives
before the next chunk is trained, so ``B`` is always ``S`` when a delta is
taken and two copies do: the delta is ``W - S`` on the rows that differ, taken
without writing either matrix, and applying the combined delta adds it to
``S`` and copies its rows into ``W``. Every row ``W`` changed is in the
replica's own delta, hence in the combined one, so ``W == S`` after each apply,
as with three copies (the same values bit for bit), for a third less memory
and about half the memory traffic per round.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from embedrs._embedrs import CorpusFile
from embedrs.distributed import _sync
from embedrs.distributed._plan import Range, write_chunks


def matrices(model: Any) -> dict[str, np.ndarray]:
    """The trained weight matrices of a Word2Vec/Doc2Vec, by name (C-contiguous float32).

    The word vectors of a pure PV-DBOW Doc2Vec (``dm=0`` without ``dbow_words``)
    are left out: its training never writes them, so no replica has a delta
    of them, and copying and comparing them every round would only cost time.
    """
    syn0, syn1neg, syn1 = model._weights()
    out = {}
    if trains_word_vectors(model):
        out["syn0"] = syn0
    if syn1neg is not None:
        out["syn1neg"] = syn1neg
    if syn1 is not None:
        out["syn1"] = syn1
    if hasattr(model, "dv"):
        out["dv"] = model._dv_weights()[0]
    return out


def trains_word_vectors(model: Any) -> bool:
    """Whether training writes ``model``'s word vectors (all but pure PV-DBOW)."""
    if not hasattr(model, "dv"):
        return True
    return bool(model.dm) or bool(getattr(model, "dbow_words", 0))


def fingerprint(model: Any) -> str:
    """A hash of all trained weights (replicas are identical iff their fingerprints are)."""
    h = hashlib.sha256()
    for name, m in sorted(matrices(model).items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(m).tobytes())
    return h.hexdigest()


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask, capped by a cgroup quota.

    A container limited to a CPU quota (``docker run --cpus``, a Kubernetes
    limit) still sees every core of its host in its affinity mask; the quota in
    ``cpu.max`` (cgroup v2) or ``cpu.cfs_quota_us`` (v1) is what it may use.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    quota = None
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as fh:
            q, period = fh.read().split()[:2]
            if q != "max":
                quota = int(q) / int(period)
    except (OSError, ValueError):
        try:
            with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding="ascii") as fh:
                q = int(fh.read())
            with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding="ascii") as fh:
                period = int(fh.read())
            if q > 0 and period > 0:
                quota = q / period
        except (OSError, ValueError):
            pass
    if quota is not None:
        cpus = min(cpus, max(1, int(quota + 0.5)))
    return max(1, cpus)


class Replica:
    """A model replica training ``share`` in chunks of about ``chunk_words`` words.

    Parameters
    ----------
    model : Word2Vec or Doc2Vec
        The state at the last sync point (vocabulary built, weights set).
    rank : int
        This replica's number (its random streams differ from the others').
    share : list of Range
        The bytes this replica trains each epoch.
    first_line : int
        Corpus line number of the share's first line (Doc2Vec tags).
    chunk_words : int
        Words per chunk: one chunk is trained between two syncs.
    workers : int
        Threads of the Rust engine in this replica.
    dtype : str
        ``"float16"`` or ``"float32"`` for the delta values.
    synced_round : int
        The last round whose combined delta ``model`` already holds (-1: none).
    pipelined : bool
        Whether the driver queues a step before the previous round's combined
        delta exists (``overlap=True``); without it the replica keeps two copies
        of each matrix instead of three (see the module docs).
    share_words : int, optional
        The share's words as the vocabulary scan counted them: the share is
        then cut into equal chunks, about ``chunk_words`` each (see
        :func:`~embedrs.distributed._plan.write_chunks`).
    """

    def __init__(
        self,
        model: Any,
        rank: int,
        share: Sequence[Range],
        first_line: int,
        chunk_words: int,
        workers: int,
        dtype: str,
        synced_round: int = -1,
        pipelined: bool = True,
        share_words: int | None = None,
    ) -> None:
        self.model = model
        self.rank = int(rank)
        self.dtype = _sync.DTYPES[dtype]
        self.is_doc2vec = hasattr(model, "dv")
        model.workers = int(workers)
        self.core = model._training_core(False)
        self.mats = matrices(model)
        self.pipelined = bool(pipelined)
        self.snap = {k: v.copy() for k, v in self.mats.items()}
        # unpipelined, what the replica has told the others is always ``snap``
        self.base = {k: v.copy() for k, v in self.mats.items()} if pipelined else self.snap
        # Unpipelined, a step's delta is no longer needed once the step has
        # returned (Ray has copied it into the object store, and the next
        # combined delta holds it), so every step takes it into the same
        # buffers; pipelined, a delta stays pending across steps.
        self.buffers = (
            {}
            if pipelined
            else {k: _sync.take_buffer(*v.shape, self.dtype) for k, v in self.mats.items()}
        )
        # True while ``base`` and the weights equal ``snap`` on every row that no
        # delta since the last apply touched (see :meth:`apply`)
        self.exact = True
        # own deltas sent and not yet seen in a combined delta, by round
        self.pending: dict[int, dict[str, _sync.RowDelta]] = {}
        # the last round whose combined delta is in `snap` (-1: none); a replica
        # built from the master copy after round k starts at k
        self.synced_round = int(synced_round)
        tmp = tempfile.mkdtemp(prefix=f"embedrs-replica{rank}-")
        try:
            texts = write_chunks(
                share, first_line, chunk_words, tmp, not self.is_doc2vec, share_words
            )
            # The Rust reader maps (or reads) each file when opened; the files can go.
            self.chunks = [(CorpusFile(t.path), t) for t in texts]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def plan(self) -> list[int]:
        """Words of each chunk, in training order."""
        return [t.words for _, t in self.chunks]

    def apply(self, combined: tuple[int, dict[str, _sync.RowDelta]] | None) -> None:
        """Apply ``(round, combined delta)`` unless this replica already holds it."""
        if combined is None:
            return
        rnd, deltas = combined
        if rnd <= self.synced_round:
            return  # built from a master copy that has it
        own = self.pending.pop(rnd, {})
        in_flight = bool(self.pending)
        if not self.pipelined:
            if in_flight:
                raise RuntimeError(
                    f"round {rnd} was combined while rounds {sorted(self.pending)} are in "
                    "flight: this replica was built for unpipelined rounds"
                )
            # `W` differs from `S` only on rows of its own delta, all of them in the
            # combined one: adding it to `S` and copying its rows makes `W == S`.
            for name, c in deltas.items():
                _sync.add_rows(self.snap[name], c, mirror=self.mats[name])
            self.synced_round = rnd
            return
        # With nothing in flight `base` and the weights become the master copy,
        # ``snap``. Where they already equal it outside the combined rows (no
        # round was in flight since the last time they were set so: the rows this
        # replica changed are in its delta, hence in the combined one), only the
        # combined rows are copied; a replica's share of the document vectors is
        # a fraction of them, so copying whole matrices cost more than the round's
        # own rows.
        rows_only = not in_flight and self.exact
        for name, c in deltas.items():
            s, b, w = self.snap[name], self.base[name], self.mats[name]
            if rows_only:
                _sync.add_rows(s, c, mirror=b)
                if 2 * len(c.rows) >= len(w):
                    np.copyto(w, b)  # one pass beats gathering most rows
                elif len(c.rows):
                    w[c.rows] = b[c.rows]
                continue
            _sync.add_rows(s, c)
            if not in_flight:
                continue  # `base` and the weights are set from `snap` below
            _sync.add_rows(b, c, mirror=w)
            mine = own.get(name)
            if mine is not None:
                _sync.add_rows(b, mine, -1.0, mirror=w)
        if not in_flight and not rows_only:
            # Nothing in flight: `base` and the weights are the master copy exactly.
            for name, s in self.snap.items():
                np.copyto(self.base[name], s)
                np.copyto(self.mats[name], s)
        self.exact = not in_flight
        self.synced_round = rnd

    def step(
        self,
        combined: tuple[int, dict[str, _sync.RowDelta]] | None,
        chunk: int,
        schedule: dict[str, Any],
        rnd: int = 0,
    ) -> tuple[dict[str, _sync.RowDelta], int, int, tuple[float, float]]:
        """Apply ``combined``, train chunk number ``chunk`` (if it exists) and return
        ``(delta, raw_words, effective_words, (start, end))``; ``rnd`` numbers the
        round whose combined delta will include this one, and ``start``/``end``
        are the step's wall-clock times (``time.time()``) on this machine.
        Without pipelining the delta is a view of buffers the next step
        overwrites (Ray copies it into the object store as the step returns).

        ``schedule`` holds ``epoch`` (a number for the random streams), ``alpha``,
        ``min_alpha``, ``words_before`` and ``total_words`` of the chunk's learning rate.
        """
        start = time.time()
        self.apply(combined)
        raw = eff = 0
        docs = (0, 0)  # the document vectors the chunk may have written
        if 0 <= chunk < len(self.chunks):
            raw, eff = self._train_chunk(chunk, schedule)
            text = self.chunks[chunk][1]
            docs = (text.first_line, text.first_line + text.lines)
        delta = {}
        for name, w in self.mats.items():
            out = self.buffers.get(name)
            if name == "dv":
                # training writes only the chunk's own documents: compare those
                lo, hi = docs
                d = _sync.take(w[lo:hi], self.base[name][lo:hi], self.dtype, self.pipelined, out)
                d.rows += lo
            else:
                d = _sync.take(w, self.base[name], self.dtype, self.pipelined, out)
            delta[name] = d
        self.pending[int(rnd)] = delta
        return delta, raw, eff, (start, time.time())

    def _train_chunk(self, chunk: int, schedule: dict[str, Any]) -> tuple[int, int]:
        corpus, text = self.chunks[chunk]
        common = dict(schedule, batch_words=int(self.model.batch_words))
        m = self.mats
        # (pure PV-DBOW does not track the word vectors it never writes)
        syn0 = m["syn0"] if "syn0" in m else self.model._weights()[0]
        lockf = self.model._lockf()
        if self.is_doc2vec:
            lo, hi = text.first_line, text.first_line + text.lines
            dv = m["dv"][lo:hi]
            _, doc_lockf = self.model._dv_weights()
            if doc_lockf is not None:
                doc_lockf = np.ascontiguousarray(doc_lockf[lo:hi])
            raw, eff, _, _ = self.core.train_epoch_file(
                syn0, dv, m.get("syn1neg"), m.get("syn1"), lockf, doc_lockf, corpus, **common
            )
        else:
            raw, eff, _, _ = self.core.train_epoch_file(
                syn0, m.get("syn1neg"), m.get("syn1"), lockf, corpus, **common
            )
        return int(raw), int(eff)

    def host(self) -> tuple[str, int]:
        """This actor's machine (its IP address) and :func:`usable_cpus` there."""
        import ray

        return str(ray.util.get_node_ip_address()), usable_cpus()

    def fingerprint(self) -> str:
        """See :func:`fingerprint`."""
        return fingerprint(self.model)
