"""Word2Vec and Doc2Vec training on a Ray cluster, and inference over Ray Data.

Install with ``pip install "embedrs[ray]"``. Every node runs the unchanged Rust
engine on its share of the corpus; only sparse row deltas cross the network;
the driver owns the vocabulary and the learning-rate schedule and returns an
ordinary model::

    from embedrs.distributed import train_word2vec
    model = train_word2vec(["shard-*.txt"], num_actors=4, vector_size=100, epochs=5)
    model.save("w2v.model")

See :mod:`embedrs.distributed._train` for the synchronisation design and
``benches/RESULTS.md`` ("Distributed training") for its measurements.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Union

from embedrs.distributed._sync import MAX_LR_SCALE
from embedrs.distributed._train import (
    DEFAULT_DOC_WORDS_PER_THREAD,
    DEFAULT_WORDS_PER_THREAD,
    SyncStats,
    default_words_per_thread,
    train,
)
from embedrs.distributed.inference import infer_vectors, lookup_vectors, most_similar

PathOrPaths = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]


def train_word2vec(
    corpus_files: PathOrPaths,
    *,
    num_actors: int | None = None,
    address: str | None = None,
    sync_every_words: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    workers_per_actor: int = 1,
    combine: str = "auto",
    sync_dtype: str = "float16",
    overlap: bool = False,
    max_concurrent_per_node: int | None = None,
    report_delay: float = 1.0,
    stats: SyncStats | None = None,
    trim_rule: Callable | None = None,
    **word2vec_params: Any,
) -> Any:
    """Train a :class:`~embedrs.models.word2vec.Word2Vec` on a Ray cluster.

    The vocabulary is counted by parallel Ray tasks and is the one single-process
    training builds on the concatenation of ``corpus_files`` (``min_count``,
    ``max_vocab_size``, ``max_final_vocab``, ``trim_rule`` and ``sample`` as in
    gensim). ``num_actors`` replicas then train their shares and synchronise
    sparse deltas every ``sync_every_words`` words.

    Parameters
    ----------
    corpus_files : path, or list of paths or globs
        Files in the ``corpus_file`` format (one sentence a line, tokens separated
        by whitespace; ``.gz``/``.bz2`` read whole), readable from every node.
    num_actors : int, optional
        Replicas to train; default: the cluster's CPUs divided by ``workers_per_actor``.
    address : str, optional
        The Ray cluster to join (``ray.init(address=...)``); default: the one this
        process is connected to, else ``RAY_ADDRESS``, else a new local one.
    sync_every_words : int, optional
        Words trained by all actors together between two synchronisations;
        default ``default_words_per_thread(combine, s, sg) * num_actors *
        workers_per_actor``: 4M words per engine thread with two actors; from
        four on 1M for skip-gram and 2M for CBOW (the replicas train at ``s``
        times the rate and drift apart faster, skip-gram fastest); 1M for the
        combines other than ``"scaled"``. Smaller: replicas closer (quality),
        more syncs (time). :func:`train_doc2vec` counts PV-DM as CBOW,
        ``dbow_words=1`` as skip-gram, and keeps pure PV-DBOW at 3M or more.
    checkpoint_dir : str or path, optional
        Save the model after each epoch here; a later call with the same folder
        resumes after the last saved epoch.
    workers_per_actor : int
        Threads of the Rust engine in each actor (each actor reserves that many CPUs).
    combine : {"auto", "scaled", "sum", "mean", "adaptive"}
        How the actors' deltas of one row are combined. ``"auto"`` is
        ``"scaled"``: the actors train at ``num_actors`` times ``alpha`` (at
        most ``MAX_LR_SCALE`` times) and each row gets the sum of the deltas
        divided by that factor or by the number of actors that changed it,
        whichever is larger; a row one actor trained moves as in one process,
        a row all actors trained moves by their average. ``"sum"`` adds the
        deltas (diverges from three actors on), ``"mean"`` averages over the
        actors that changed the row, ``"adaptive"`` scales the sum between the
        two by how alike the deltas are (see :mod:`embedrs.distributed._sync`).
    sync_dtype : {"float16", "float32"}
        Encoding of the delta values sent between nodes.
    overlap : bool
        Let each actor train its next chunk while the driver combines the last
        round and the combined delta travels: no actor waits for the sync, but
        the others' updates arrive one round later. Off by default: on the
        benchmark (benches/RESULTS.md) the extra round of staleness cost 1.4
        analogy points, and the sync is short next to a round's training.
    max_concurrent_per_node : int, optional
        At most this many actors train at once on one machine; the others take
        their turn within the round (each still trains from the same synced
        state, so the model is the same). Default: the CPUs the actors may use
        there (affinity mask and cgroup quota) divided by ``workers_per_actor``,
        which matters only when Ray was told a machine has more CPUs than that
        (``ray start --num-cpus``): four one-thread actors on two cores then run
        two at a time instead of contending for the cores (benches/RESULTS.md).
        Not applied with ``overlap=True``.
    report_delay : float
        Seconds between progress log lines (global words/s and ETA).
    stats : SyncStats, optional
        Filled with bytes exchanged, sync counts and times.
    trim_rule : callable, optional
        gensim's vocabulary trim rule.
    **word2vec_params
        Any :class:`~embedrs.models.word2vec.Word2Vec` parameter (``vector_size``,
        ``window``, ``sg``, ``epochs``, ...); ``workers``, if given, sets ``workers_per_actor``.

    Returns
    -------
    Word2Vec
        An ordinary model: save, load and query it as usual.

    Raises
    ------
    FileNotFoundError
        When a path or glob matches no file.
    TypeError, ValueError
        For bad parameters, as :class:`~embedrs.models.word2vec.Word2Vec` raises them.
    """
    from embedrs.models.word2vec import Word2Vec

    return _run(Word2Vec, corpus_files, locals(), word2vec_params)


def train_doc2vec(
    corpus_files: PathOrPaths,
    *,
    num_actors: int | None = None,
    address: str | None = None,
    sync_every_words: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    workers_per_actor: int = 1,
    combine: str = "auto",
    sync_dtype: str = "float16",
    overlap: bool = False,
    max_concurrent_per_node: int | None = None,
    report_delay: float = 1.0,
    stats: SyncStats | None = None,
    trim_rule: Callable | None = None,
    **doc2vec_params: Any,
) -> Any:
    """Train a :class:`~embedrs.models.doc2vec.Doc2Vec` on a Ray cluster.

    As :func:`train_word2vec`; each line of the concatenated ``corpus_files`` is a
    document tagged by its line number (gensim's ``corpus_file`` convention), so
    ``model.dv[i]`` is the vector of line ``i``. ``sync_every_words`` has the
    same default as for Word2Vec, PV-DM counting as CBOW and ``dbow_words=1``
    as skip-gram; pure PV-DBOW, whose replicas share only the output layer,
    keeps at least 3M words per thread (see
    :func:`~embedrs.distributed._train.default_words_per_thread`). ``combine="auto"`` is
    ``"scaled"`` as for Word2Vec: a document's row is trained by one actor, so it
    moves as in one process; with two PV-DBOW actors on IMDB the test error was
    within 0.05 points of a single process (benches/RESULTS.md).

    Returns
    -------
    Doc2Vec
        An ordinary model.
    """
    from embedrs.models.doc2vec import Doc2Vec

    return _run(Doc2Vec, corpus_files, locals(), doc2vec_params)


def _run(cls: type, corpus_files: Any, args: dict[str, Any], params: dict[str, Any]) -> Any:
    return train(
        cls,
        corpus_files,
        num_actors=args["num_actors"],
        address=args["address"],
        sync_every_words=args["sync_every_words"],
        checkpoint_dir=args["checkpoint_dir"],
        workers_per_actor=args["workers_per_actor"],
        combine=args["combine"],
        sync_dtype=args["sync_dtype"],
        overlap=bool(args["overlap"]),
        max_concurrent_per_node=args["max_concurrent_per_node"],
        report_delay=args["report_delay"],
        stats=args["stats"],
        trim_rule=args["trim_rule"],
        params=params,
    )


__all__ = [
    "DEFAULT_DOC_WORDS_PER_THREAD",
    "DEFAULT_WORDS_PER_THREAD",
    "MAX_LR_SCALE",
    "SyncStats",
    "default_words_per_thread",
    "infer_vectors",
    "lookup_vectors",
    "most_similar",
    "train_doc2vec",
    "train_word2vec",
]
