"""Approximate nearest neighbours with an HNSW graph, behind gensim's indexer protocol.

:class:`HnswIndexer` plays the part of ``gensim.similarities.annoy.AnnoyIndexer``:
build it over a model's vectors and pass it as ``indexer=`` to
:meth:`KeyedVectors.most_similar <embedrs.models.keyedvectors.KeyedVectors.most_similar>`,
or call its own :meth:`~HnswIndexer.most_similar` with a vector.

The graph is built in Rust on all cores with the GIL released (see
``rust/ann/graph.rs``); every search releases the GIL, so one index serves
many Python threads. :meth:`~HnswIndexer.save` writes one embedrs native file
atomically (no pickle); :meth:`~HnswIndexer.load` with ``mmap='r'`` (the
default) searches that file in place, so worker processes share its pages.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from embedrs import _persist
from embedrs._embedrs import AnnHnsw
from embedrs._validate import check_choice, check_int, check_workers

_CLASS = "HnswIndexer"
_VERSION = 2
# version 1 files held a usearch graph; the index is derived data, so they are
# refused with a message to rebuild rather than kept readable by a second engine
_OLD_VERSIONS = (1,)


def _vectors_of(model: Any) -> Any:
    """The keyed vectors an index is built over: ``dv`` of a Doc2Vec model, ``wv``
    of another model, or the keyed vectors themselves (gensim's AnnoyIndexer rule)."""
    for attr in ("dv", "wv"):
        kv = getattr(model, attr, None)
        if kv is not None and hasattr(kv, "vectors"):
            return kv
    if hasattr(model, "vectors") and hasattr(model, "index_to_key"):
        return model
    raise TypeError(
        f"HnswIndexer needs a model with .wv or .dv, or KeyedVectors; got {type(model).__name__}"
    )


class HnswIndexer:
    """An HNSW approximate nearest-neighbour index over keyed vectors.

    Parameters
    ----------
    model : Word2Vec, Doc2Vec, KeyedVectors, or None
        What to index: a Doc2Vec model's document vectors (``model.dv``), another
        model's word vectors (``model.wv``), or keyed vectors. ``None`` leaves the
        index empty (use :meth:`from_vectors` or :meth:`load`).
    m : int
        Edges per node (hnswlib's and faiss' ``M``): more is slower to build,
        larger, and more accurate.
    ef_construction : int
        Candidate list size while building.
    ef_search : int
        Candidate list size while searching (at least ``num_neighbors`` is
        used); raise it for recall, lower it for speed. Settable later.
    metric : {'cosine', 'dot'}
        Rank by cosine similarity (gensim's ``most_similar``) or inner product.
    workers : int
        Threads for building and batch queries; 0 uses every core.

    Attributes
    ----------
    labels : list
        The key of each indexed row, in row order.

    Examples
    --------
    >>> from embedrs.similarities import HnswIndexer
    >>> indexer = HnswIndexer(model, m=16, ef_search=64)  # doctest: +SKIP
    >>> model.wv.most_similar("king", topn=10, indexer=indexer)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any = None,
        m: int = 16,
        ef_construction: int = 200,
        ef_search: int = 64,
        metric: str = "cosine",
        workers: int = 0,
    ) -> None:
        self.m = check_int(m, "m", low=2, high=2048, owner="HnswIndexer")
        self.ef_construction = check_int(
            ef_construction, "ef_construction", low=1, high=1 << 20, owner="HnswIndexer"
        )
        self._ef_search = check_int(ef_search, "ef_search", low=1, high=1 << 20)
        self.metric = check_choice(metric, "metric", ("cosine", "dot"), owner="HnswIndexer")
        self.workers = check_workers(workers, allow_zero=True)
        self.labels: list = []
        self._index: Any = None
        if model is not None:
            kv = _vectors_of(model)
            self._build(kv.vectors, list(kv.index_to_key))

    @classmethod
    def from_vectors(cls, vectors: Any, keys: Any = None, **kwargs: Any) -> HnswIndexer:
        """An index over the rows of any 2-d float matrix.

        Parameters
        ----------
        vectors : array_like of shape (n, dim)
            The vectors (converted to C-contiguous float32 if needed).
        keys : sequence, optional
            The key of each row; default: the row numbers.
        **kwargs
            The other parameters of :class:`HnswIndexer`.

        Returns
        -------
        HnswIndexer
        """
        me = cls(None, **kwargs)
        arr = np.asarray(vectors)
        if arr.ndim != 2:
            raise ValueError(f"vectors must be a 2-d matrix, got shape {arr.shape}")
        keys = list(range(len(arr))) if keys is None else list(keys)
        if len(keys) != len(arr):
            raise ValueError(f"{len(keys)} keys for {len(arr)} vectors")
        me._build(arr, keys)
        return me

    def _build(self, vectors: Any, keys: list) -> None:
        arr = np.asarray(vectors)
        if arr.ndim != 2:
            raise ValueError(f"vectors must be a 2-d matrix, got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise TypeError(f"vectors must be real numbers, got dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        self._index = AnnHnsw.build(
            arr, self.metric, self.m, self.ef_construction, self._ef_search, self.workers
        )
        self.labels = keys

    def _need_index(self) -> Any:
        if self._index is None:
            raise RuntimeError(
                "this HnswIndexer is empty: build it with a model or from_vectors(), or load() one"
            )
        return self._index

    @property
    def ef_search(self) -> int:
        """Candidate list size while searching."""
        return self._ef_search

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        self._ef_search = check_int(value, "ef_search", low=1, high=1 << 20)
        if self._index is not None:
            self._index.ef_search = self._ef_search

    def __len__(self) -> int:
        return 0 if self._index is None else len(self._index)

    def _query(self, vector: Any, dim: int) -> np.ndarray:
        q = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(-1))
        if q.shape[0] != dim:
            raise ValueError(f"vector has {q.shape[0]} values, the index holds vectors of {dim}")
        return q

    def most_similar(self, vector: Any, num_neighbors: int) -> list[tuple[Any, float]]:
        """The ``num_neighbors`` keys nearest to ``vector`` (gensim's indexer protocol).

        Parameters
        ----------
        vector : array_like of shape (dim,)
            The query.
        num_neighbors : int
            How many results.

        Returns
        -------
        list of (key, float)
            Keys with their cosine similarity (or inner product for
            ``metric='dot'``), most similar first. As with gensim's
            AnnoyIndexer, a query taken from the index finds itself.
        """
        idx = self._index
        if idx is None:
            self._need_index()
        # fast paths for what a service passes (a plain int, a float32
        # vector): the checks cost more than a small index's search
        if type(num_neighbors) is int and num_neighbors >= 0:
            k = num_neighbors
        else:
            k = check_int(num_neighbors, "num_neighbors", low=0)
        if (
            type(vector) is np.ndarray
            and vector.dtype == np.float32
            and vector.ndim == 1
            and vector.flags.c_contiguous
        ):
            q = vector  # the search checks its length and finiteness
        else:
            q = self._query(vector, idx.dim)
        labels = self.labels
        return [(labels[row], float(s)) for row, s in idx.search(q, k)]

    def most_similar_batch(self, vectors: Any, num_neighbors: int) -> list[list[tuple[Any, float]]]:
        """:meth:`most_similar` for each row of ``vectors``, in parallel.

        Parameters
        ----------
        vectors : array_like of shape (n, dim)
            The queries.
        num_neighbors : int
            How many results per query.

        Returns
        -------
        list of list of (key, float)
            One result list per query.
        """
        idx = self._need_index()
        k = check_int(num_neighbors, "num_neighbors", low=0)
        qs = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if qs.ndim != 2 or qs.shape[1] != idx.dim:
            raise ValueError(f"vectors must have shape (n, {idx.dim}), got {qs.shape}")
        rows, sims = idx.search_batch(qs, k)
        labels = self.labels
        return [
            [(labels[r], float(s)) for r, s in zip(rr, ss) if r >= 0] for rr, ss in zip(rows, sims)
        ]

    def save(self, fname: str | os.PathLike) -> None:
        """Write the index and its keys to one file, atomically (no pickle).

        Parameters
        ----------
        fname : str or os.PathLike
            Target file; an interrupted save leaves a previous file intact.
        """
        idx = self._need_index()
        graph = np.frombuffer(idx.to_bytes(), dtype=np.uint8)
        key_meta, key_arrays = _persist.encode_keys(list(self.labels))
        meta = {
            "class": _CLASS,
            "hnsw_version": _VERSION,
            "metric": self.metric,
            "m": self.m,
            "ef_construction": self.ef_construction,
            "ef_search": self._ef_search,
            "count": len(idx),
            "dim": idx.dim,
            **key_meta,
        }
        _persist.write_container(fname, meta, {"graph": graph, **key_arrays})

    @classmethod
    def load(
        cls, fname: str | os.PathLike, mmap: str | None = "r", workers: int = 0
    ) -> HnswIndexer:
        """Open an index written by :meth:`save`.

        Parameters
        ----------
        fname : str or os.PathLike
            The file.
        mmap : {'r', None}
            ``'r'`` (default) searches the file in place through a read-only
            memory map: opens in milliseconds, and processes that open the
            same file share its pages. ``None`` reads it into memory. Either
            way the checksums are verified and every neighbour list of the
            graph is checked before the first search (one pass over the
            file), so a damaged file raises ``ValueError``.
        workers : int
            Threads for batch queries; 0 uses every core.

        Returns
        -------
        HnswIndexer

        Raises
        ------
        ValueError
            If the file is not an HnswIndexer file or is damaged.
        """
        fname = os.fspath(fname)
        if mmap not in (None, "r"):
            raise ValueError(f"mmap must be 'r' or None, got {mmap!r}")
        meta, arrays = _persist.read_container(fname, mmap=mmap, verify=True)
        if meta.get("class") == _CLASS and meta.get("hnsw_version") in _OLD_VERSIONS:
            raise ValueError(
                f"{fname}: an HnswIndexer file from an older embedrs (graph format "
                f"{meta.get('hnsw_version')}), which this version no longer reads; rebuild it "
                "with HnswIndexer(model).save(...) (the index is derived from the vectors)"
            )
        if meta.get("class") != _CLASS or meta.get("hnsw_version") != _VERSION:
            raise ValueError(f"{fname}: not an HnswIndexer file (class {meta.get('class')!r})")
        try:
            me = cls(
                None,
                m=meta["m"],
                ef_construction=meta["ef_construction"],
                ef_search=meta["ef_search"],
                metric=meta["metric"],
                workers=workers,
            )
            count, dim = int(meta["count"]), int(meta["dim"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{fname}: corrupt HnswIndexer metadata ({exc})") from None
        graph = arrays.get("graph")
        if not isinstance(graph, np.ndarray) or graph.dtype != np.uint8 or graph.ndim != 1:
            raise ValueError(f"{fname}: corrupt HnswIndexer file: graph array missing")
        if mmap is None:
            index = AnnHnsw.from_bytes(graph, me.metric, me.workers)
        else:
            header, data_start = _persist.read_header(fname)
            entry = header["arrays"]["graph"]
            index = AnnHnsw.view_file(
                fname, data_start + int(entry["offset"]), graph.nbytes, me.metric, me.workers
            )
        if len(index) != count or index.dim != dim:
            raise ValueError(
                f"{fname}: corrupt HnswIndexer file: graph holds {len(index)} x {index.dim}, "
                f"metadata says {count} x {dim}"
            )
        index.ef_search = me._ef_search
        keys = _persist.decode_keys(meta, arrays, count, fname=fname)
        me.labels = keys() if callable(keys) else keys
        me._index = index
        return me

    def __repr__(self) -> str:
        return (
            f"HnswIndexer({len(self)} vectors, metric={self.metric!r}, m={self.m}, "
            f"ef_construction={self.ef_construction}, ef_search={self._ef_search})"
        )
