"""What a service serves: one loaded model, and the holder that swaps it atomically."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Optional

from embedrs import _persist


@dataclass(frozen=True)
class Served:
    """One loaded model, as the application uses it.

    Attributes
    ----------
    path : str
        The file it was loaded from.
    kv : KeyedVectors
        The vectors that ``/similar`` and ``/vectors`` answer from (a full
        model's ``wv``).
    model : Doc2Vec or None
        The Doc2Vec model, when the file holds one (``/infer``).
    indexer : HnswIndexer or None
        The approximate index over ``kv``, when one was asked for.
    """

    path: str
    kv: Any
    model: Any = None
    indexer: Any = None


def _stored_class(path: str) -> Optional[str]:
    if not _persist.is_container(path):
        return None
    header, _ = _persist.read_header(path)
    cls = header.get("meta", {}).get("class")
    return cls if isinstance(cls, str) else None


def load_served(
    path: str | os.PathLike, index: Optional[str] = None, index_path: Optional[str] = None
) -> Served:
    """Load a model file for serving, memory-mapped read-only.

    Parameters
    ----------
    path : str or os.PathLike
        An embedrs or gensim ``save()`` file (Word2Vec, Doc2Vec, KeyedVectors,
        ...) or a word2vec text/binary file (read into memory: that format
        cannot be mapped).
    index : {None, 'hnsw'}
        Build (or, with ``index_path``, open) an approximate index.
    index_path : str, optional
        An :class:`~embedrs.similarities.HnswIndexer` file to open
        memory-mapped instead of building one.

    Returns
    -------
    Served
    """
    from embedrs._cli.projector import _load as load_vectors

    path = os.fspath(path)
    _persist.check_regular_file(path)
    from embedrs.models.doc2vec import Doc2Vec

    model = None
    stored = _stored_class(path)
    if stored == "Doc2Vec":
        model = Doc2Vec.load(path, mmap="r")
    elif stored is None and _persist._is_pickle(path):
        try:  # a gensim save(): Doc2Vec.load refuses other classes with ValueError
            model = Doc2Vec.load(path, mmap="r")
        except ValueError:
            model = None
    kv = model.wv if model is not None else load_vectors(path, "auto")
    indexer = None
    if index is not None:
        if index != "hnsw":
            raise ValueError(f"index must be 'hnsw' or None, got {index!r}")
        from embedrs.similarities import HnswIndexer

        if index_path is not None:
            indexer = HnswIndexer.load(index_path, mmap="r")
            if len(indexer) != len(kv):
                raise ValueError(
                    f"{index_path}: index holds {len(indexer)} vectors, the model {len(kv)}"
                )
        else:
            indexer = HnswIndexer(kv)
    return Served(path=path, kv=kv, model=model, indexer=indexer)


class ModelHolder:
    """Holds the served model; :meth:`swap` replaces it atomically.

    Readers take :attr:`current` once per request and use that object to the
    end: a swap never changes a model under a running request, and the old
    model is released when its last request finishes (reference counting).

    Parameters
    ----------
    served : Served
        The model to serve first.
    """

    def __init__(self, served: Served) -> None:
        self._current = served
        self._swap_lock = threading.Lock()

    @property
    def current(self) -> Served:
        """The model to answer the next request with."""
        return self._current

    def swap(self, path: str | os.PathLike, index: Optional[str] = None, **kwargs: Any) -> Served:
        """Load ``path`` (see :func:`load_served`) and serve it from now on.

        The new model is fully loaded (and its index built) before the
        reference is replaced; if loading fails, the old model stays and the
        exception is raised.

        Parameters
        ----------
        path : str or os.PathLike
            The new model file.
        index : {None, 'hnsw'}
            Whether the new model gets an approximate index.
        **kwargs
            Passed to :func:`load_served`.

        Returns
        -------
        Served
            The previous model.
        """
        with self._swap_lock:
            new = load_served(path, index=index, **kwargs)
            old, self._current = self._current, new
            return old
