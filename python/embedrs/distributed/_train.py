"""The driver: vocabulary, replicas, synchronisation rounds, faults, checkpoints.

Design (measured in ``benches/bench_distributed.py``; see benches/RESULTS.md):

* The driver owns the vocabulary, the learning-rate schedule and a master copy
  of the weights; it is the hub of a star. Each round, every actor applies the
  previous round's combined delta, trains one chunk of about
  ``sync_every_words / num_actors`` words (its share cut into equal chunks,
  from the words the vocabulary tasks counted) and returns its sparse delta
  (:mod:`embedrs.distributed._sync`) through Ray's object store. The driver
  combines the deltas, applies them to the master and puts the combined delta
  in the object store once; every actor reads that one object at its next step.
* Overlap (``overlap=True``, off by default): each actor has two rounds
  queued, so it trains round ``g + 1`` while the driver combines round ``g``
  and the combined delta travels; the delta of round ``g`` is applied at the
  start of round ``g + 2``, one round staler than without overlap. It hides
  the sync on a slow network; on one machine the sync is short and the extra
  staleness cost quality (benches/RESULTS.md).
* Turns: a machine runs at most as many training steps at once as it has
  CPUs for (:class:`_Turns`); where Ray was told of more CPUs than that, the
  other actors of the round start as the first ones return their deltas.
* Learning rate: a chunk's rate falls linearly with the *global* word count.
  With ``n`` actors moving together, the global count while an actor has read
  ``d`` words of its chunk is about ``before + n*d``; the Rust schedule is
  handed ``words_before = before/n`` and ``total_words = total/n``, which is the
  same line.
* Faults: an actor that dies is replaced by a new one built from the master
  copy (the last sync point) and redoes that round's chunk, then the rounds it
  had queued; the others' deltas of the round are kept. With
  ``checkpoint_dir``, the master is saved after each epoch and a new driver
  resumes after the last saved epoch.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from embedrs._validate import check_int
from embedrs.distributed import _sync
from embedrs.distributed._plan import expand_files, plan_shares
from embedrs.distributed._replica import Replica, fingerprint, matrices, trains_word_vectors
from embedrs.distributed._vocab import count_parallel

logger = logging.getLogger("embedrs.distributed")

_STATE = "state.json"
#: Default words each engine thread trains between two synchronisations with
#: two actors and the scaled combine (about a second of work): a sync, whose
#: cost grows with the rows it moves and not with the words, stays a small
#: share of each round. ``sync_every_words`` defaults to this times
#: ``num_actors * workers_per_actor``, scaled by ``(2 / s) ** 2`` (skip-gram)
#: or ``2 / s`` (the others) for the learning-rate factor ``s`` of the scaled
#: combine (see :func:`default_words_per_thread`). Measured (benches/RESULTS.md, "The scaled
#: combine"), 2 actors: CBOW on 17M words, 3 epochs, 0.81 of one process's
#: words/s per core (1M: 0.64) at 21.5% analogy accuracy (one process 20.5%);
#: skip-gram, 1 epoch, 13.2% (12.9%); PV-DBOW on IMDB, 0.76 per core at one
#: process's test error.
DEFAULT_WORDS_PER_THREAD = 4_000_000
#: Doc2Vec's default round: the same as Word2Vec's since the scaled combine.
DEFAULT_DOC_WORDS_PER_THREAD = DEFAULT_WORDS_PER_THREAD
#: The least words per engine thread in a default round of pure PV-DBOW
#: (``Doc2Vec(dm=0)`` without ``dbow_words``), whatever the number of actors
#: (see :func:`default_words_per_thread`).
MIN_OUTPUT_ONLY_WORDS_PER_THREAD = 3_000_000
#: The default round for the other combines (``"sum"``, ``"mean"``,
#: ``"adaptive"``), whose replicas train at the plain rate: longer rounds cost
#: the sum 1.1 analogy points at 2M per actor.
PLAIN_WORDS_PER_THREAD = 1_000_000


def default_words_per_thread(
    combine: str, lr_scale: int, skip_gram: bool = True, output_only: bool = False
) -> int:
    """Words per engine thread between two syncs when ``sync_every_words`` is not given.

    With the scaled combine the replicas train at ``lr_scale`` times the
    learning rate, and drift apart faster the larger it is. Skip-gram
    (``skip_gram``: Word2Vec's ``sg=1``, Doc2Vec's ``dbow_words=1``) makes one
    update per context word, about six per word at ``window=5``: with four
    actors it lost 2.0 analogy points in one epoch at 2M words per actor and
    none at 1M, where two actors lost none at 4M. Its round shrinks with the
    square of the factor: 4M words per thread for two actors, 1M from four on.
    The others (CBOW, PV-DM, pure PV-DBOW) make one per word, so a word costs a
    fraction of the time and the sync is a larger share of a round of the same
    words; their round shrinks with the factor itself: 4M for two actors, 2M
    from four on. Measured with four actors (benches/RESULTS.md, "Distributed:
    no fresh arrays per round, and longer default rounds"): CBOW lost no
    analogy accuracy at 2M (21.5% against one process's 20.5%) and 0.9 points
    at 4M.

    Pure PV-DBOW (``output_only``: the replicas share only the output layer,
    since each document's vector is trained by the one actor whose share holds
    it) keeps at least :data:`MIN_OUTPUT_ONLY_WORDS_PER_THREAD` (3M). Its words
    are the cheapest of all (no context window), and every round still moves
    nearly the whole output layer, so its sync is the largest share of a round.
    Four actors on IMDB (benches/RESULTS.md, "Distributed: buffers touched when
    made"): at 2M, 0.77-0.78 of one process's words/s per core at its test
    error; at 3M, 0.81-0.82 and +0.20 / +0.07 points (seeds 1 / 2).
    """
    if combine != "scaled":
        return PLAIN_WORDS_PER_THREAD
    if skip_gram:
        return max(1, DEFAULT_WORDS_PER_THREAD * 4 // (lr_scale * lr_scale))
    per_thread = DEFAULT_WORDS_PER_THREAD * 2 // lr_scale
    if output_only:
        per_thread = max(per_thread, MIN_OUTPUT_ONLY_WORDS_PER_THREAD)
    return max(1, per_thread)


def trains_skip_gram(model: Any) -> bool:
    """Whether ``model`` trains word vectors by skip-gram (see :func:`default_words_per_thread`)."""
    if hasattr(model, "dv"):
        return bool(getattr(model, "dbow_words", 0)) and not model.dm
    return bool(model.sg)


#: Replacements of dead actors tolerated per run before giving up.
MAX_RESTARTS = 8


def _ray() -> Any:
    try:
        import ray
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "embedrs.distributed needs Ray; install it with: pip install 'embedrs[ray]'"
        ) from None
    return ray


def _connect(ray: Any, address: str | None) -> None:
    if ray.is_initialized():
        return
    # A driver joins the cluster named by `address` (or RAY_ADDRESS); with neither, Ray
    # starts a local one. The driver's embedrs must be importable on every node.
    ray.init(address=address, log_to_driver=False)


def _build_vocab(model: Any, counts: Any, documents: bool, trim_rule: Callable | None) -> None:
    """Finish ``build_vocab`` from merged counts: the steps after ``scan_vocab``."""
    model.raw_vocab = counts.raw
    model.corpus_total_words = counts.total_words
    if documents:
        from embedrs.models.doc2vec import _TagScan

        tags = _TagScan()
        tags.documents = sum(counts.lines)
        tags.max_int = tags.documents - 1
        model._pending_tags = tags
        model.corpus_count = tags.documents
    else:
        model.corpus_count = counts.sentences
    model.prepare_vocab(trim_rule=trim_rule)
    model.prepare_weights()


class _Checkpoints:
    """Epoch checkpoints under one folder: ``epoch-N/model`` plus ``state.json`` last."""

    def __init__(self, dirname: str | os.PathLike | None) -> None:
        self.dir = None if dirname is None else os.fspath(dirname)
        if self.dir is not None:
            os.makedirs(self.dir, exist_ok=True)

    def load(self, cls: type) -> tuple[Any, dict] | None:
        if self.dir is None or not os.path.exists(os.path.join(self.dir, _STATE)):
            return None
        with open(os.path.join(self.dir, _STATE), encoding="utf-8") as fh:
            state = json.load(fh)
        model = cls.load(os.path.join(self.dir, state["path"]))
        logger.info("resuming from %s after epoch %i", self.dir, state["epochs_done"])
        return model, state

    def save(self, model: Any, state: dict) -> None:
        if self.dir is None:
            return
        sub = f"epoch-{state['epochs_done']}"
        path = os.path.join(self.dir, sub)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        model.save(os.path.join(path, "model"))
        state = dict(state, path=os.path.join(sub, "model"))
        tmp = os.path.join(self.dir, _STATE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh)
        os.replace(tmp, os.path.join(self.dir, _STATE))
        for name in os.listdir(self.dir):
            if name.startswith("epoch-") and name != sub:
                shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)


class SyncStats:
    """Bytes moved and time spent by the synchronisation (read after a run)."""

    def __init__(self) -> None:
        self.syncs = 0
        self.bytes_up = 0  # actors -> object store (their deltas)
        self.bytes_down = 0  # combined deltas read by the actors
        self.rows_up = 0
        self.sync_seconds = 0.0
        self.train_seconds = 0.0
        self.words = 0
        self.restarts = 0
        # the most steps seen training at once on one machine (from the actors' clocks)
        self.max_concurrent = 0
        self.per_epoch: list[dict[str, float]] = []

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def train(
    cls: type,
    corpus_files: Any,
    *,
    num_actors: int | None,
    address: str | None,
    sync_every_words: int | None,
    checkpoint_dir: str | os.PathLike | None,
    workers_per_actor: int,
    combine: str,
    sync_dtype: str,
    report_delay: float,
    overlap: bool,
    stats: SyncStats | None,
    trim_rule: Callable | None,
    params: dict[str, Any],
    max_concurrent_per_node: int | None = None,
    _on_round: Callable[[int, list], None] | None = None,
) -> Any:
    """See :func:`embedrs.distributed.train_word2vec`."""
    for bad in ("sentences", "corpus_iterable", "documents", "corpus_file"):
        if bad in params:
            raise TypeError(
                f"{bad}= is not accepted here: give the corpus as corpus_files (paths in the "
                "corpus_file format, readable from every node)"
            )
    if combine not in _sync.COMBINE_MODES:
        raise ValueError(f"combine must be one of {_sync.COMBINE_MODES}, got {combine!r}")
    if sync_dtype not in _sync.DTYPES:
        raise ValueError(f"sync_dtype must be one of {tuple(_sync.DTYPES)}, got {sync_dtype!r}")
    if sync_every_words is not None:
        sync_every_words = check_int(sync_every_words, "sync_every_words", low=1)
    if "workers" in params:  # gensim's name for the threads: the threads of each actor
        workers_per_actor = params.pop("workers")
    workers_per_actor = check_int(workers_per_actor, "workers_per_actor", low=1)
    if max_concurrent_per_node is not None:
        max_concurrent_per_node = check_int(
            max_concurrent_per_node, "max_concurrent_per_node", low=1
        )
    paths = expand_files(corpus_files)
    documents = hasattr(cls, "infer_vector")
    # Check the parameters before any cluster work (the class raises gensim's errors).
    params = dict(params, workers=workers_per_actor)
    cls(**params)
    stats = stats if stats is not None else SyncStats()

    ray = _ray()
    _connect(ray, address)
    cpus = float(ray.cluster_resources().get("CPU", 0))
    if num_actors is None:
        num_actors = max(1, int(cpus) // workers_per_actor)
    num_actors = check_int(num_actors, "num_actors", low=1)
    if num_actors * workers_per_actor > cpus:
        # Ray would leave the actors it cannot place pending, and the run would
        # wait for them forever.
        raise ValueError(
            f"num_actors={num_actors} x workers_per_actor={workers_per_actor} needs "
            f"{num_actors * workers_per_actor} CPUs, but the Ray cluster has {cpus:g}: "
            "lower num_actors or workers_per_actor, or give the cluster more CPUs "
            "(ray start --num-cpus=N, or ray.init(num_cpus=N) for a local instance)"
        )
    shares = plan_shares(paths, num_actors)
    ranges = [r for share in shares for r in share]

    checkpoints = _Checkpoints(checkpoint_dir)
    resumed = checkpoints.load(cls)
    if resumed is not None:
        model, state = resumed
        model.workers = workers_per_actor
        lines = state["lines"]
        # checkpoints written before the words were kept: chunks cut every chunk_words
        range_words = state.get("words")
    else:
        state = {"epochs_done": 0, "words_done": 0}
        model = cls(**params)
        start = time.perf_counter()
        counts = count_parallel(
            ray, ranges, documents, model.max_vocab_size, lambda: cls(**params), trim_rule
        )
        _build_vocab(model, counts, documents, trim_rule)
        lines = counts.lines
        range_words = counts.words
        state["lines"] = lines
        state["words"] = range_words
        logger.info(
            "vocabulary: %i words kept of %i counted in %i ranges by Ray tasks in %.2fs",
            len(model.wv),
            len(counts.raw),
            len(ranges),
            time.perf_counter() - start,
        )
    if not len(model.wv):
        model._check_training_sanity(model.epochs, model.corpus_count, model.corpus_total_words)

    # Corpus line number of each share's first line (Doc2Vec tags), and its words.
    first_lines, share_words, k = [], [], 0
    for share in shares:
        first_lines.append(int(sum(lines[:k])))
        share_words.append(int(sum(range_words[k : k + len(share)])) if range_words else None)
        k += len(share)

    combine = _sync.resolve(combine, num_actors)
    lr_scale = _sync.lr_scale(combine, num_actors)
    if sync_every_words is None:
        per_thread = default_words_per_thread(
            combine, lr_scale, trains_skip_gram(model), not trains_word_vectors(model)
        )
        sync_every_words = per_thread * num_actors * workers_per_actor
    chunk_words = max(1, sync_every_words // num_actors)
    Actor = ray.remote(num_cpus=workers_per_actor, max_restarts=0)(Replica)

    def spawn(rank: int, synced_round: int, model_ref: Any) -> Any:
        return Actor.remote(
            model_ref,
            rank,
            shares[rank],
            first_lines[rank],
            chunk_words,
            workers_per_actor,
            sync_dtype,
            synced_round,
            bool(overlap),
            share_words[rank],
        )

    first_ref = ray.put(model)  # one copy in the object store for every actor
    actors = [spawn(r, -1, first_ref) for r in range(num_actors)]
    try:
        plans = ray.get([a.plan.remote() for a in actors])
        n_rounds = max((len(p) for p in plans), default=0)
        per_epoch = int(model.corpus_total_words)
        epochs = int(model.epochs)
        expected = per_epoch * epochs
        alpha, min_alpha = float(model.alpha), float(model.min_alpha)
        master = matrices(model)
        widths = {k: v.shape[1] for k, v in master.items()}
        # one buffer per matrix that every round's combined delta is written to
        # (it is copied into the object store before the next round)
        buffers = {
            k: _sync.combine_buffer(v.shape[0], v.shape[1], _sync.DTYPES[sync_dtype])
            for k, v in master.items()
        }
        # words of each chunk number (all actors), and every round of the run in
        # order, as (epoch, chunk number)
        round_words = [sum(p[rnd] for p in plans if rnd < len(p)) for rnd in range(n_rounds)]
        rounds = [
            (e, rnd) for e in range(int(state["epochs_done"]), epochs) for rnd in range(n_rounds)
        ]
        depth = 2 if overlap else 1
        turns = _Turns(ray, actors, workers_per_actor, max_concurrent_per_node, overlap)
        # Without overlap the actors wait while the driver combines their deltas,
        # so the combine may use as many cores as they train on (bounded by this
        # machine's); with overlap they train meanwhile and it keeps to one.
        combine_threads = (
            1 if overlap else max(1, min(os.cpu_count() or 1, num_actors * workers_per_actor))
        )
        logger.info(
            "training %s on %i actors x %i threads: %i rounds per epoch of ~%i words per actor%s",
            cls.__name__,
            num_actors,
            workers_per_actor,
            n_rounds,
            chunk_words,
            ", training overlapped with the sync" if depth > 1 else "",
        )

        words_done = int(state["words_done"])
        words_at_start = words_done
        # Learning rate: the global words trained before each round, from the plans
        # (the same line whether or not rounds overlap).
        before, acc = [], words_done
        for _, rnd in rounds:
            before.append(acc)
            acc += round_words[rnd]
        latest: Any = None  # the newest combined delta, (round, deltas), in the object store
        undelivered: list[Any] = []  # combined deltas no queued step carries
        queues: list[list[tuple[int, Any]]] = [[] for _ in range(num_actors)]

        def submit(rank: int, g: int) -> None:
            epoch, rnd = rounds[g]
            schedule = {
                "epoch": ((epoch * 1024 + rank) << 24) + rnd,
                "alpha": alpha * lr_scale,
                "min_alpha": min_alpha * lr_scale,
                "words_before": before[g] // num_actors,
                "total_words": max(expected // num_actors, 1),
            }
            queues[rank].append((g, actors[rank].step.remote(latest, rnd, schedule, g)))

        def finish(rank: int, ref: Any, g: int, rnd: int) -> Any:
            """Actor ``rank``'s result of round ``g``, replacing the actor if it died."""
            res = _get_or_restart(ray, ref, rank, rnd, stats)
            if res is None:
                # Replaced from the master copy (every round before g): it trains
                # round g again, then the rounds its predecessor had queued.
                actors[rank] = spawn(rank, g - 1, ray.put(model))
                queued = [q for q, _ in queues[rank]]
                queues[rank].clear()
                submit(rank, g)
                res = ray.get(queues[rank].pop(0)[1])
                for q in queued:
                    submit(rank, q)
            return res

        def start_round(g: int) -> None:
            for rank in turns.first(g):
                submit(rank, g)

        def collect(g: int, rnd: int) -> list[Any]:
            """Every actor's result of round ``g``, letting the waiting ones start in turn."""
            results: list[Any] = [None] * num_actors
            if not turns.active:
                for rank in range(num_actors):
                    _, ref = queues[rank].pop(0)
                    results[rank] = finish(rank, ref, g, rnd)
                return results
            in_flight = {queues[rank][0][1]: rank for rank in range(num_actors) if queues[rank]}
            while in_flight:
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                rank = in_flight.pop(ready[0])
                queues[rank].pop(0)
                results[rank] = finish(rank, ready[0], g, rnd)
                nxt = turns.next(rank)
                if nxt is not None:
                    submit(nxt, g)
                    in_flight[queues[nxt][0][1]] = nxt
            return results

        for g in range(min(depth, len(rounds))):
            start_round(g)
        t0 = time.perf_counter()
        last_log = ep_t0 = t0
        ep_bytes = 0
        for g, (epoch, rnd) in enumerate(rounds):
            if _on_round is not None:
                _on_round(rnd, actors)
            t_round = time.perf_counter()
            results = collect(g, rnd)
            stats.max_concurrent = max(
                stats.max_concurrent, turns.max_overlap([res[3] for res in results])
            )
            t_sync = time.perf_counter()
            stats.train_seconds += t_sync - t_round
            deltas = [res[0] for res in results]
            combined = {}
            for name in master:
                parts = [d[name] for d in deltas]
                stats.bytes_up += sum(p.nbytes for p in parts)
                stats.rows_up += sum(len(p.rows) for p in parts)
                try:
                    c = _sync.combine(
                        parts,
                        master[name].shape[0],
                        widths[name],
                        combine,
                        lr_scale,
                        _sync.DTYPES[sync_dtype],
                        threads=combine_threads,
                        out=buffers[name],
                    )
                except FloatingPointError:
                    raise RuntimeError(
                        f"training diverged in epoch {epoch} (non-finite {name} updates): "
                        "lower alpha, sync more often (sync_every_words) or use "
                        "combine='adaptive'"
                    ) from None
                combined[name] = c
            down = sum(c.nbytes for c in combined.values()) * num_actors
            stats.bytes_down += down
            ep_bytes += down + sum(p.nbytes for d in deltas for p in d.values())
            latest = ray.put((g, combined))
            undelivered.append(latest)
            if g + depth < len(rounds):
                start_round(g + depth)
                undelivered.pop(0)
            # The master copy takes the round while the actors train the next
            # one (nothing reads it before the next round's results are in).
            for name, c in combined.items():
                _sync.apply(master[name], c)
            stats.syncs += 1
            words_done += sum(res[1] for res in results)
            stats.sync_seconds += time.perf_counter() - t_sync
            now = time.perf_counter()
            if now - last_log >= report_delay:
                last_log = now
                rate = (words_done - words_at_start) / max(now - t0, 1e-9)
                left = expected - words_done
                logger.info(
                    "EPOCH %i - %.1f%%: %.0f global words/s, ETA %.0fs",
                    epoch,
                    100.0 * words_done / max(expected, 1),
                    rate,
                    left / max(rate, 1e-9),
                )
            if rnd < n_rounds - 1:
                continue
            # The master copy now holds the whole epoch.
            now = time.perf_counter()
            stats.per_epoch.append({"seconds": now - ep_t0, "bytes": float(ep_bytes)})
            logger.info(
                "EPOCH %i done in %.1fs, %.1f MB exchanged", epoch, now - ep_t0, ep_bytes / 1e6
            )
            ep_t0, ep_bytes = now, 0
            state = {
                "epochs_done": epoch + 1,
                "words_done": words_done,
                "lines": lines,
                "words": range_words,
            }
            model.min_alpha_yet_reached = max(
                min_alpha, alpha - (alpha - min_alpha) * words_done / max(expected, 1)
            )
            model.wv.fill_norms(force=True)
            checkpoints.save(model, state)
        stats.words = words_done - words_at_start
        # The replicas are identical to the master once they hold every combined delta.
        ray.get([a.apply.remote(c) for c in undelivered for a in actors])
        prints = set(ray.get([a.fingerprint.remote() for a in actors]))
        if prints != {fingerprint(model)}:
            raise RuntimeError("replicas diverged from the master copy (a bug in embedrs)")
    finally:
        for a in actors:
            ray.kill(a)
    elapsed = time.perf_counter() - t0
    model.train_count += 1
    model.total_train_time += elapsed
    model._after_training()
    model.add_lifecycle_event(
        "train",
        msg=(
            f"distributed training on {num_actors} actors: {stats.words} words in "
            f"{elapsed:.1f}s, {stats.syncs} syncs, {(stats.bytes_up + stats.bytes_down) / 1e6:.1f} MB"
        ),
    )
    return model


class _Turns:
    """Which actors train at once: at most ``limit`` per machine, the others in turn.

    Ray places an actor wherever its reserved CPUs fit, and a node's CPU count is
    whatever ``ray start --num-cpus`` declared: four one-thread actors on a
    two-core machine all train at once, and each round then runs at 0.69-0.70 of
    one process's words/s per core (benches/RESULTS.md, "Distributed, four actors
    on two cores"), against 0.75-0.87 for two actors. Each actor reports its
    machine and the CPUs it may use there (:func:`~embedrs.distributed._replica.usable_cpus`);
    on a machine with more actors than ``limit`` (default: those CPUs divided by
    ``workers_per_actor``), a round starts ``limit`` of them and starts a waiting
    one each time one of them returns its delta. Every actor still trains from
    the same synced state, so the result is the same bit for bit; only who waits
    changes. With ``overlap`` each actor has its next round queued, and the
    operating system shares the cores as before.
    """

    def __init__(
        self, ray: Any, actors: list, workers: int, limit: int | None, overlap: bool
    ) -> None:
        hosts = ray.get([a.host.remote() for a in actors])
        self.node = [ip for ip, _ in hosts]
        self.limit: dict[str, int] = {}
        count: dict[str, int] = {}
        for ip, cpus in hosts:
            own = limit if limit is not None else max(1, cpus // workers)
            self.limit[ip] = min(self.limit.get(ip, own), own)
            count[ip] = count.get(ip, 0) + 1
        crowded = {ip: n for ip, n in count.items() if n > self.limit[ip]}
        self.active = bool(crowded) and not overlap
        for ip, n in crowded.items():
            if overlap:
                logger.warning(
                    "%i actors share machine %s, which runs %i at once: with overlap=True "
                    "they all train at once",
                    n,
                    ip,
                    self.limit[ip],
                )
            else:
                logger.info(
                    "%i actors share machine %s: %i train at once, the others in turn",
                    n,
                    ip,
                    self.limit[ip],
                )
        self.waiting: dict[str, list[int]] = {}

    def first(self, g: int) -> list[int]:
        """The actors that start round ``g``; the rest wait for :meth:`next`."""
        if not self.active:
            return list(range(len(self.node)))
        started: dict[str, int] = {}
        first = []
        self.waiting = {}
        for rank, ip in enumerate(self.node):
            if started.get(ip, 0) < self.limit[ip]:
                started[ip] = started.get(ip, 0) + 1
                first.append(rank)
            else:
                self.waiting.setdefault(ip, []).append(rank)
        return first

    def next(self, done: int) -> int | None:
        """The actor that starts now that actor ``done`` returned, if one waits."""
        queue = self.waiting.get(self.node[done])
        return queue.pop(0) if queue else None

    def max_overlap(self, spans: list[tuple[float, float]]) -> int:
        """The most of ``spans`` (one per actor) that overlap on one machine."""
        most = 0
        for ip in set(self.node):
            events = sorted(
                (t, kind)
                for rank, (a, b) in enumerate(spans)
                if self.node[rank] == ip
                for t, kind in ((a, 1), (b, -1))
            )
            now = 0
            for _, kind in events:  # at equal times an end (-1) sorts before a start
                now += kind
                most = max(most, now)
        return most


def _get_or_restart(ray: Any, ref: Any, r: int, rnd: int, stats: SyncStats) -> Any:
    """The result of actor ``r``'s step, or None when the actor died (it must be replaced)."""
    from ray.exceptions import RayActorError

    try:
        return ray.get(ref)
    except RayActorError:
        stats.restarts += 1
        if stats.restarts > MAX_RESTARTS:
            raise
        logger.warning(
            "actor %i died during round %i; replacing it from the last sync point", r, rnd
        )
        return None


def check_arrays_equal(a: Any, b: Any) -> bool:
    """Whether two models hold identical trained weights (for tests and the benchmark)."""
    ma, mb = matrices(a), matrices(b)
    return ma.keys() == mb.keys() and all(np.array_equal(ma[k], mb[k]) for k in ma)
