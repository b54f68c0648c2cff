"""Keyed vectors: a key (word, tag, node) to vector map with gensim 4's query API.

:class:`KeyedVectors` follows ``gensim.models.keyedvectors.KeyedVectors``:
same attributes (``vectors``, ``index_to_key``, ``key_to_index``, ``norms``,
``expandos``), methods, return types and exceptions. Similarity search runs in
Rust over the row norms with the GIL released, on a per-model thread pool, so
one model can be queried from many Python threads at once; batches of queries
have their own call, :meth:`KeyedVectors.most_similar_batch`.

Search: ``most_similar`` scans every row (exact, as gensim). For matrices of at
least ``KeyedVectors.int8_min_size`` values it first scans an int8 copy of the
unit rows (a quarter of the memory traffic), then re-scores in float32 every
row whose proven error bound can still reach the top k: the answer is the same
as the float32 scan. ``most_similar_batch`` does the same for all its queries
in one pass over the int8 copy. The copy (one byte per value) is built on the first query
and dropped by ``fill_norms(force=True)``, ``norms = None`` or a new ``vectors``;
set ``kv.int8_search = False`` to disable it. Processes serving one
memory-mapped model share one copy with :meth:`KeyedVectors.use_int8_file`
(``embedrs serve --workers N`` does this). After changing ``vectors`` in place, call
``fill_norms(force=True)``, as in gensim.

Persistence:

* :meth:`KeyedVectors.save` / :meth:`KeyedVectors.load`: the embedrs native
  single-file format (JSON metadata plus raw arrays, written atomically, opened
  with ``mmap='r'`` in milliseconds); ``load`` also opens models saved by
  gensim 4 (pickle plus ``.npy`` side files) through a restricted unpickler.
* :meth:`KeyedVectors.load_word2vec_format` /
  :meth:`KeyedVectors.save_word2vec_format`: the word2vec C text and binary
  formats, parsed and written in Rust.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import threading
import warnings
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from embedrs import _persist
from embedrs._compat import unsupported_class
from embedrs._validate import check_int, check_topn
from embedrs.utils import LifecycleEvents, deprecated

logger = logging.getLogger(__name__)

_MIGRATING = "See https://github.com/RaRe-Technologies/gensim/wiki/Migrating-from-Gensim-3.x-to-4"

REAL = np.float32
_KEY_TYPES = (str, int, np.integer)
_EXTENDED_KEY_TYPES = (str, int, np.integer, np.ndarray)
_UTF8_NAMES = {"utf8", "utf-8", "utf_8", "u8"}


class UnexpectedEndOfFileError(EOFError, ValueError):
    """A word2vec file ended before the count its header declares.

    Subclasses both ``EOFError`` (what gensim raises) and ``ValueError``.
    """


class _ArrayStamp:
    """Identifies one state of a ``vectors`` array for the norms and int8 caches.

    Holds a weak reference to the array (so neither a replaced matrix is kept
    alive nor a recycled ``id()`` mistaken for it) plus its shape, dtype,
    strides and data address (which ``ndarray.resize`` changes in place).
    In-place writes to the values are not seen: call ``fill_norms(force=True)``
    after them, as in gensim.
    """

    __slots__ = ("_layout", "_ref")

    def __init__(self, v: np.ndarray) -> None:
        self._ref = weakref.ref(v)
        self._layout = _layout(v)

    def matches(self, v: Any) -> bool:
        """Whether ``v`` is the very array this stamp was taken of, unchanged in layout."""
        return self._ref() is v and _layout(v) == self._layout


def _layout(v: np.ndarray) -> tuple:
    return (v.shape, v.dtype.str, v.strides, v.__array_interface__["data"][0])


def _float_dtype(dtype: Any, name: str) -> np.dtype:
    """``numpy.dtype(dtype)`` if it is float16, float32 or float64, else ``TypeError`` naming ``name``."""
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a floating-point dtype (float16, float32 or float64), "
            f"not {dtype!r} ({exc})"
        ) from None
    if dt.kind != "f" or dt.itemsize not in (2, 4, 8):
        raise TypeError(
            f"{name} must be a floating-point dtype (float16, float32 or float64), not {dt}"
        )
    return dt


def _real_values(values: Any, name: str) -> Any:
    """``values`` unchanged unless complex, which raises ``TypeError`` (the imaginary part would be lost)."""
    if np.iscomplexobj(values):
        raise TypeError(
            f"{name} must be real numbers: complex values would lose their imaginary part"
        )
    return values


def _check_rows(v: np.ndarray, rows: Sequence[int], what: Any) -> None:
    """``KeyError`` if a row is past the snapshot ``v`` (a key whose vector another thread is adding)."""
    n = len(v)
    if any(r >= n for r in rows):
        raise KeyError(f"Key {what!r} not present (its vector is still being added)")


#: A ``limit`` at least this large reads the whole file (no file has that many vectors).
_NO_LIMIT = 1 << 62


def _is_fast(v: np.ndarray) -> bool:
    """Whether the Rust search can read ``v`` directly (C-contiguous, aligned float32 matrix)."""
    return v.dtype == np.float32 and v.ndim == 2 and v.flags.c_contiguous and v.flags.aligned


def _ensure_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, _KEY_TYPES) or (isinstance(value, np.ndarray) and value.ndim == 1):
        return [value]
    if isinstance(value, np.ndarray) and value.ndim == 2:
        return list(value)
    return list(value)


def _unitvec(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if n > 0:
        return (v / n).astype(v.dtype if np.issubdtype(v.dtype, np.floating) else REAL, copy=False)
    return v


def _unitvec_exact(v: np.ndarray) -> np.ndarray:
    """Unit vector computed as gensim's ``matutils.unitvec`` does (BLAS nrm2/scal)."""
    try:
        from scipy.linalg.blas import get_blas_funcs
    except ImportError:  # pragma: no cover
        return _unitvec(v)
    v = np.asarray(v)
    if v.size == 0:
        return v
    nrm2 = get_blas_funcs("nrm2", (v,))
    veclen = nrm2(v)
    if veclen > 0.0:
        scal = get_blas_funcs("scal", (v,))
        return scal(1.0 / veclen, v).astype(v.dtype)
    return v


def _vectors_identity(v: np.ndarray, searcher: Any) -> int:
    """What a saved int8 copy of ``v`` is tied to: for a read-only map of a model
    file (``load(mmap='r')``), that file (device, inode, size, modification
    time) and the place in it, without reading the values; else a fingerprint
    of the shape and values (reads them all)."""
    source = getattr(v, "_embedrs_source", None)
    if isinstance(v, np.memmap) and source is not None and not v.flags.writeable:
        text = repr(("embedrs-mapped-file", source, v.shape, v.dtype.str)).encode()
        return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")
    return int(searcher.fingerprint(v))


def _rust() -> Any:
    from embedrs import _embedrs

    return _embedrs


def _translate_format_error(exc: ValueError) -> Exception:
    msg = str(exc)
    if "unexpected end of file" in msg:
        return UnexpectedEndOfFileError(msg)
    return exc


class KeyedVectors(LifecycleEvents):
    """Mapping between keys (words, tags, nodes) and vectors, as gensim's.

    Parameters
    ----------
    vector_size : int
        Dimensionality of the vectors.
    count : int, optional
        Pre-allocate room for this many vectors (filled by :meth:`add_vector`).
    dtype : numpy dtype, optional
        Element type of ``vectors`` (float32 by default; the Rust search needs
        float32, other types use a NumPy fallback).
    mapfile_path : str, optional
        Unused; kept for gensim compatibility.

    Attributes
    ----------
    vectors : numpy.ndarray
        ``(len(self), vector_size)`` matrix, one row per key.
    index_to_key : list
        Key of each row.
    key_to_index : dict
        Row of each key.
    norms : numpy.ndarray or None
        Cached row norms; recomputed automatically when ``vectors`` is replaced
        or resized, and by ``fill_norms(force=True)`` after in-place changes.
    expandos : dict of str to numpy.ndarray
        Per-key extra attributes such as ``'count'`` (see :meth:`set_vecattr`).
    """

    #: Use the exact int8-prefiltered search (a quarter of the memory traffic,
    #: identical results) for single queries on matrices of at least
    #: ``int8_min_size`` values; costs one byte per value, built on first query.
    int8_search: bool = True
    int8_min_size: int = 1 << 21

    def __init__(
        self, vector_size: int, count: int = 0, dtype: Any = REAL, mapfile_path: str | None = None
    ) -> None:
        vector_size = check_int(vector_size, "vector_size", low=0)
        count = check_int(count, "count", low=0)
        self.vector_size = vector_size
        self._index_to_key: list | None = [None] * int(count)
        self._key_to_index: dict | None = {}
        # the keys of a loaded model, looked up in their stored blob until
        # ``index_to_key`` or ``key_to_index`` is first used (then dropped)
        self._keytab: Any = None
        self.next_index = 0
        self.vectors = np.zeros((int(count), self.vector_size), dtype=_float_dtype(dtype, "dtype"))
        self._norms: np.ndarray | None = None
        self._norms_for: Any = None
        self.expandos: dict[str, np.ndarray] = {}
        self.mapfile_path = mapfile_path
        self._searcher: Any = None
        self._searcher_lock = threading.RLock()
        self._int8: Any = None
        self._live_writers = 0

    # ------------------------------------------------------------------
    # state, lazily materialised keys, norms cache
    # ------------------------------------------------------------------

    @property
    def index_to_key(self) -> list:
        """Key of each row of ``vectors`` (gensim's ``index_to_key``)."""
        if self._index_to_key is None:
            # the list may be changed in place from now on: the table of the
            # stored keys no longer answers for it
            self._index_to_key = self._keytab.keys()
            self._keytab = None
        return self._index_to_key

    @index_to_key.setter
    def index_to_key(self, value: Sequence) -> None:
        self._index_to_key = value if isinstance(value, list) else list(value)
        self._keytab = None

    @property
    def key_to_index(self) -> dict:
        """Row of each key (gensim's ``key_to_index``), built on first use after a load."""
        if self._key_to_index is None:
            keys = self.index_to_key
            d = dict(zip(keys, range(len(keys))))
            if len(d) != len(keys):  # duplicates: the first occurrence wins, as in gensim
                d = {}
                for i, k in enumerate(keys):
                    d.setdefault(k, i)
            self._key_to_index = d
        return self._key_to_index

    @key_to_index.setter
    def key_to_index(self, value: dict) -> None:
        if self._keytab is not None:
            self.index_to_key  # noqa: B018 - the dict is authoritative from now on
        self._key_to_index = value

    def _key_lookup(self) -> Any:
        """``key_to_index``, or for a loaded model whose keys were not listed yet,
        the table of its stored keys (the Rust calls take either)."""
        kt = self._keytab
        return kt if kt is not None else self.key_to_index

    def _keys_by_row(self) -> Any:
        """``index_to_key``, or for a loaded model whose keys were not listed yet,
        the table of its stored keys (indexable by row the same way)."""
        kt = self._keytab
        return kt if kt is not None else self.index_to_key

    @property
    def vectors(self) -> np.ndarray:
        """The ``(len(self), vector_size)`` matrix, one row per key."""
        return self._vectors

    @vectors.setter
    def vectors(self, value: Any) -> None:
        if not isinstance(value, np.ndarray):
            try:
                value = np.asarray(_real_values(np.asarray(value), "vectors"), dtype=REAL)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"vectors must be a 2-D array of numbers ({exc})") from None
            if value.ndim != 2:
                raise ValueError(f"vectors must be a 2-D array, got shape {value.shape}")
        elif value.dtype.kind == "c" or value.dtype.hasobject:
            raise TypeError(f"vectors must be a real floating-point array, not {value.dtype}")
        self._vectors = value
        # everything derived from the old matrix goes with it: the row norms
        # and the int8 index built from them (the stamps would refuse them
        # anyway; dropping them frees their memory at once)
        if "_norms_for" in self.__dict__:
            self._store_norms(value, None)

    @property
    def norms(self) -> np.ndarray | None:
        """Row norms if computed for the current ``vectors``, else ``None``."""
        return self._cached_norms(self.vectors)

    @norms.setter
    def norms(self, value: np.ndarray | None) -> None:
        self._store_norms(self.vectors, value)

    def _store_norms(self, v: np.ndarray, value: np.ndarray | None) -> None:
        """Cache ``value`` as the norms of ``v``.

        The stamp is cleared first and set last (a new object each time), so
        :meth:`_cached_norms`, which reads stamp, norms, stamp without a lock,
        never pairs norms with a stamp they were not computed for.
        """
        self._norms_for = None
        self._int8 = None
        self._norms = value
        self._norms_for = _ArrayStamp(v) if value is not None else None

    def _cached_norms(self, v: np.ndarray) -> np.ndarray | None:
        """The cached norms if they were computed for the array ``v``, else ``None``."""
        s1 = self._norms_for
        n = self._norms
        s2 = self._norms_for
        if s1 is None or s1 is not s2 or n is None or len(n) != len(v) or not s1.matches(v):
            return None
        return n

    def _snapshot(self, need_norms: bool = True) -> tuple[np.ndarray, np.ndarray | None, bool]:
        """``(vectors, norms, fast)`` of ONE state of the matrix, for one query.

        ``vectors`` is read once; ``norms`` belong to exactly that array
        (the cached ones if their stamp matches it, else computed now, and
        cached only if ``vectors`` has not been replaced meanwhile). Another
        thread may add vectors or assign a new matrix during the query: the
        query answers from the snapshot. While training writes the rows
        (``_live_writers``), norms are always recomputed and never cached;
        pass ``need_norms=False`` for the live search, which computes them in
        its own pass.
        """
        gen = getattr(self, "_norms_gen", 0)
        v = self.vectors
        fast = _is_fast(v)
        live = getattr(self, "_live_writers", 0)
        norms = None if live else self._cached_norms(v)
        if norms is None and need_norms:
            norms = self._get_searcher().row_norms(v) if fast else np.linalg.norm(v, axis=1)
            # cached only if no training started or ended while they were computed
            if not live and self.vectors is v and getattr(self, "_norms_gen", 0) == gen:
                self._store_norms(v, norms)
        return v, norms, fast

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_searcher"] = None
        state["_int8"] = None
        state.pop("_searcher_lock", None)
        if state.get("_index_to_key") is None:
            state["_index_to_key"] = self.index_to_key
            state["_key_to_index"] = None
        state["_keytab"] = None
        state["_norms"] = None
        state["_norms_for"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        if "vectors" in state:  # pickled before ``vectors`` became a property
            state = dict(state)
            state["_vectors"] = state.pop("vectors")
        self.__dict__.update(state)
        self.__dict__.pop("_lazy_keys", None)  # pickled by embedrs <= 0.1
        self._keytab = None
        self._searcher_lock = threading.RLock()
        self._searcher = None
        self._int8 = None
        self._live_writers = 0

    @contextlib.contextmanager
    def _being_trained(self) -> Iterator[None]:
        """Marks ``vectors`` as being written by training for the duration.

        Queries from other threads keep working meanwhile (training shares the
        buffer, as gensim's does), but cached norms and the int8 index would
        describe rows that have since moved, and give cosines above 1. So
        while any trainer is active, every query recomputes the norms from the
        rows as they are (one extra pass, multi-threaded) and uses the exact
        float32 scan; the caches are rebuilt once training ends.
        """
        with self._searcher_lock:
            self._live_writers = getattr(self, "_live_writers", 0) + 1
            self._norms_gen = getattr(self, "_norms_gen", 0) + 1
            self._store_norms(self.vectors, None)
        try:
            yield
        finally:
            with self._searcher_lock:
                # norms cached before training (or computed by a query that
                # started before it) describe rows that have since moved:
                # dropped before queries may use the cache again
                self._norms_gen += 1
                self._store_norms(self.vectors, None)
                self._live_writers -= 1

    def _get_searcher_unlocked(self) -> Any:
        if self._searcher is None:
            self._searcher = _rust().KvSearcher(0)
        return self._searcher

    def _get_searcher(self) -> Any:
        s = self._searcher
        if s is None:
            with self._searcher_lock:
                s = self._get_searcher_unlocked()
        return s

    def _fast(self) -> bool:
        return _is_fast(self.vectors)

    def fill_norms(self, force: bool = False) -> None:
        """Make sure ``norms`` holds the row norms of the current ``vectors``.

        Parameters
        ----------
        force : bool, optional
            Recompute even if cached (needed after changing ``vectors`` in place,
            e.g. after training).
        """
        v = self.vectors
        if (
            not force
            and self._cached_norms(v) is not None
            and not getattr(self, "_live_writers", 0)
        ):
            return
        self._int8 = None
        if _is_fast(v):
            norms = self._get_searcher().row_norms(v)
        else:
            norms = np.linalg.norm(v, axis=1)
        self._store_norms(v, norms)

    def get_normed_vectors(self) -> np.ndarray:
        """All vectors scaled to unit length (a new array; zero rows stay zero)."""
        v, norms, _ = self._snapshot()
        with np.errstate(divide="ignore", invalid="ignore"):
            out = v / norms[:, np.newaxis]
        out[norms == 0] = 0
        return out

    def unit_normalize_all(self) -> None:
        """Destructively scale all vectors to unit length."""
        self.fill_norms()
        norms = np.where(self.norms > 0, self.norms, 1)
        self.vectors /= norms[:, np.newaxis].astype(self.vectors.dtype)
        self.fill_norms(force=True)

    def init_sims(self, replace: bool = False) -> None:
        """Deprecated gensim alias of :meth:`fill_norms` (``replace`` normalises in place)."""
        warnings.warn(
            "init_sims() is deprecated; use fill_norms()", DeprecationWarning, stacklevel=2
        )
        self.fill_norms()
        if replace:
            self.unit_normalize_all()

    def __str__(self) -> str:
        return f"{self.__class__.__name__}<vector_size={self.vector_size}, {len(self)} keys>"

    __repr__ = __str__

    # ------------------------------------------------------------------
    # per-key attributes
    # ------------------------------------------------------------------

    def allocate_vecattrs(
        self, attrs: Iterable[str] | None = None, types: Iterable[Any] | None = None
    ) -> None:
        """Make sure the ``expandos`` arrays exist and have one entry per key."""
        if attrs is None:
            attrs = list(self.expandos.keys())
            types = [self.expandos[a].dtype for a in attrs]
        target = len(self.index_to_key)
        for attr, t in zip(attrs, types or []):
            if t is int or t is bool:
                t = np.int64 if t is int else np.bool_
            elif t is float:
                t = np.float64
            elif t is str or t is type(None):
                t = object
            if attr not in self.expandos:
                self.expandos[attr] = np.zeros(target, dtype=t)
                continue
            prev = self.expandos[attr]
            if not np.issubdtype(np.dtype(t), prev.dtype) and not np.can_cast(t, prev.dtype):
                raise TypeError(
                    f"Can't allocate type {t} for attribute {attr}, "
                    f"conflicts with its existing type {prev.dtype}"
                )
            if len(prev) == target:
                continue
            new = np.zeros(target, dtype=prev.dtype)
            m = min(len(prev), target)
            new[:m] = prev[:m]
            self.expandos[attr] = new

    def set_vecattr(self, key: Any, attr: str, val: Any) -> None:
        """Set the extra attribute ``attr`` (e.g. ``'count'``) of ``key`` to ``val``."""
        self.allocate_vecattrs(attrs=[attr], types=[type(val)])
        self.expandos[attr][self.get_index(key)] = val

    def get_vecattr(self, key: Any, attr: str) -> Any:
        """The extra attribute ``attr`` of ``key``; ``KeyError`` if either is missing."""
        index = self.get_index(key)
        if attr not in self.expandos:
            raise KeyError(f"attribute '{attr}' was never set")
        return self.expandos[attr][index]

    def resize_vectors(self, seed: int = 0) -> None:
        """Grow or shrink ``vectors`` to ``len(index_to_key)`` rows; new rows are random.

        New rows are uniform in ``[-1, 1) / vector_size`` from ``numpy.random.default_rng(seed)``,
        as gensim's ``prep_vectors`` (used for online vocabulary updates).
        """
        target = (len(self.index_to_key), self.vector_size)
        prior = self.vectors
        if prior.shape != target:
            rng = np.random.default_rng(seed=seed)
            dt = prior.dtype if np.issubdtype(prior.dtype, np.floating) else REAL
            new = rng.random(target, dtype=dt if dt in (np.float32, np.float64) else REAL).astype(
                dt
            )
            new *= 2.0
            new -= 1.0
            new /= max(self.vector_size, 1)
            rows = min(prior.shape[0], target[0])
            cols = min(prior.shape[1] if prior.ndim == 2 else 0, target[1])
            new[:rows, :cols] = prior[:rows, :cols]
            self.vectors = new
        self.allocate_vecattrs()
        self.norms = None

    def sort_by_descending_frequency(self) -> None:
        """Reorder keys (and vectors, attributes) by descending ``'count'``."""
        if not len(self):
            return
        counts = np.asarray(self.expandos["count"], dtype=np.int64)
        order = np.lexsort((np.arange(len(counts)), -counts))
        self.index_to_key = [self.index_to_key[i] for i in order]
        self.allocate_vecattrs()
        for k in self.expandos:
            self.expandos[k] = self.expandos[k][order]
        if len(self.vectors):
            logger.warning("sorting after vectors have been allocated is expensive & error-prone")
            self.vectors = np.ascontiguousarray(self.vectors[order])
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}

    # ------------------------------------------------------------------
    # lookup
    # ------------------------------------------------------------------

    def __len__(self) -> int:
        kt = self._keytab
        return len(kt) if kt is not None else len(self.index_to_key)

    def get_index(self, key: Any, default: int | None = None) -> int:
        """Row of ``key``; an int key in range is its own row; else ``default`` or ``KeyError``."""
        kt = self._keytab
        if kt is None:
            val = self.key_to_index.get(key, -1)
        elif isinstance(key, str):
            val = kt.index(key)
        else:
            hash(key)  # an unhashable key raises TypeError, as the dict does
            val = -1  # the table holds str keys only
        if val >= 0:
            return val
        if (
            isinstance(key, (int, np.integer))
            and not isinstance(key, bool)
            and 0 <= key < len(self)
        ):
            return int(key)
        if default is not None:
            return default
        raise KeyError(f"Key '{key}' not present")

    def has_index_for(self, key: Any) -> bool:
        """Whether ``key`` has a row of its own."""
        return self.get_index(key, -1) >= 0

    def __contains__(self, key: Any) -> bool:
        return self.has_index_for(key)

    def get_vector(self, key: Any, norm: bool = False) -> np.ndarray:
        """The (read-only) vector of ``key``, unit length if ``norm``; ``KeyError`` if absent."""
        index = self.get_index(key)
        if norm:
            v, norms, _ = self._snapshot()
            _check_rows(v, [index], key)
            n = norms[index]
            result = v[index] / n if n > 0 else v[index].copy()
        else:
            result = self.vectors[index]
        result.setflags(write=False)
        return result

    def word_vec(self, *args: Any, **kwargs: Any) -> np.ndarray:
        """Deprecated alias of :meth:`get_vector`."""
        return self.get_vector(*args, **kwargs)

    # ------------------------------------------------------------------
    # gensim 3 attributes: gensim 4's messages on read, its setters kept for old pickles
    # ------------------------------------------------------------------

    @property
    def vocab(self) -> Any:
        """Removed in gensim 4: raises ``AttributeError`` saying what to use instead."""
        raise AttributeError(
            "The vocab attribute was removed from KeyedVector in Gensim 4.0.0.\n"
            "Use KeyedVector's .key_to_index dict, .index_to_key list, and methods "
            ".get_vecattr(key, attr) and .set_vecattr(key, attr, new_val) instead.\n" + _MIGRATING
        )

    @vocab.setter
    def vocab(self, value: Any) -> None:
        self.vocab  # noqa: B018  (raises, as gensim's setter does)

    @property
    def index2word(self) -> Any:
        """Replaced by ``index_to_key`` in gensim 4 (setting it still sets ``index_to_key``)."""
        raise AttributeError(
            "The index2word attribute has been replaced by index_to_key since Gensim 4.0.0.\n"
            + _MIGRATING
        )

    @index2word.setter
    def index2word(self, value: Sequence) -> None:
        self.index_to_key = value

    @property
    def index2entity(self) -> Any:
        """Replaced by ``index_to_key`` in gensim 4 (setting it still sets ``index_to_key``)."""
        raise AttributeError(
            "The index2entity attribute has been replaced by index_to_key since Gensim 4.0.0.\n"
            + _MIGRATING
        )

    @index2entity.setter
    def index2entity(self, value: Sequence) -> None:
        self.index_to_key = value

    @property
    def vectors_norm(self) -> Any:
        """Computed on demand since gensim 4: use :meth:`get_normed_vectors`."""
        raise AttributeError(
            "The `.vectors_norm` attribute is computed dynamically since Gensim 4.0.0. "
            "Use `.get_normed_vectors()` instead.\n" + _MIGRATING
        )

    @vectors_norm.setter
    def vectors_norm(self, value: Any) -> None:
        pass  # ignored, as gensim's (old pickles set it)

    def __getitem__(self, key_or_keys: Any) -> np.ndarray:
        if isinstance(key_or_keys, _KEY_TYPES):
            return self.get_vector(key_or_keys)
        idx = [self.get_index(k) for k in key_or_keys]
        return self.vectors[idx]

    def __setitem__(self, keys: Any, weights: Any) -> None:
        if not isinstance(keys, list):
            keys = [keys]
            weights = np.asarray(weights).reshape(1, -1)
        self.add_vectors(keys, weights, replace=True)

    def add_vector(self, key: Any, vector: Any) -> int:
        """Add one vector; fills a pre-allocated slot if any. Returns its row."""
        target = self.next_index
        if target >= len(self) or self.index_to_key[target] is not None:
            target = len(self)
            warnings.warn(
                "Adding single vectors to a KeyedVectors which grows by one each time can be costly. "
                "Consider adding in batches or preallocating to the required size.",
                UserWarning,
            )
            self.add_vectors([key], [vector])
            self.allocate_vecattrs()
            self.next_index = target + 1
        else:
            vec = np.asarray(_real_values(np.asarray(vector), "vector"), dtype=self.vectors.dtype)
            if vec.shape != (self.vector_size,):
                raise ValueError(
                    f"vector for {key!r} has shape {vec.shape}, expected ({self.vector_size},)"
                )
            self.index_to_key[target] = key
            self.key_to_index[key] = target
            self.vectors[target] = vec
            self.next_index += 1
            self._norms = None
        return target

    def add_vectors(
        self, keys: Any, weights: Any, extras: dict | None = None, replace: bool = False
    ) -> None:
        """Append keys and their vectors; existing keys are kept unless ``replace``."""
        if isinstance(keys, _KEY_TYPES):
            keys = [keys]
            weights = np.asarray(weights).reshape(1, -1)
        weights = np.asarray(_real_values(np.asarray(weights), "weights"), dtype=self.vectors.dtype)
        if weights.ndim == 1 and len(keys) == 1:
            weights = weights.reshape(1, -1)
        if weights.ndim != 2 or weights.shape != (len(keys), self.vector_size):
            raise ValueError(
                f"weights must have shape ({len(keys)}, {self.vector_size}), got {weights.shape}"
            )
        extras = extras or {}
        self.allocate_vecattrs(extras.keys(), [np.asarray(extras[k]).dtype for k in extras])
        in_vocab = np.array([k in self.key_to_index for k in keys], dtype=bool)
        new_idx = np.nonzero(~in_vocab)[0]
        seen = set()
        fresh = []
        for i in new_idx:
            k = keys[i]
            if k in seen:
                continue
            seen.add(k)
            fresh.append(i)
            self.key_to_index[k] = len(self.index_to_key)
            self.index_to_key.append(k)
        fresh = np.asarray(fresh, dtype=np.int64)
        self.vectors = np.ascontiguousarray(np.vstack((self.vectors, weights[fresh])))
        self.allocate_vecattrs()
        start = len(self.index_to_key) - len(fresh)
        for attr, extra in extras.items():
            self.expandos[attr][start:] = np.asarray(extra)[fresh]
        if replace and in_vocab.any():
            rows = [self.get_index(keys[i]) for i in np.nonzero(in_vocab)[0]]
            self.vectors[rows] = weights[in_vocab]
            for attr, extra in extras.items():
                self.expandos[attr][rows] = np.asarray(extra)[in_vocab]
            self._norms = None

    # ------------------------------------------------------------------
    # similarity queries
    # ------------------------------------------------------------------

    def get_mean_vector(
        self,
        keys: Sequence[Any],
        weights: Any = None,
        pre_normalize: bool = True,
        post_normalize: bool = False,
        ignore_missing: bool = True,
    ) -> np.ndarray:
        """Weighted mean of the vectors of ``keys`` (keys or raw vectors), as gensim's."""
        if len(keys) == 0:
            raise ValueError("cannot compute mean with no input")
        if isinstance(weights, list):
            weights = np.array(weights, dtype=self.vectors.dtype)
        if weights is None:
            weights = np.ones(len(keys), dtype=self.vectors.dtype)
        if len(keys) != weights.shape[0]:
            raise ValueError("keys and weights array must have same number of elements")
        mean = np.zeros(self.vector_size, self.vectors.dtype)
        total = 0.0
        for idx, key in enumerate(keys):
            if isinstance(key, np.ndarray):
                if key.shape != (self.vector_size,):
                    raise ValueError(
                        f"vector has shape {key.shape}, expected ({self.vector_size},)"
                    )
                mean += weights[idx] * key
                total += abs(weights[idx])
            elif key in self:
                mean += weights[idx] * self.get_vector(key, norm=pre_normalize)
                total += abs(weights[idx])
            elif not ignore_missing:
                raise KeyError(f"Key '{key}' not present in vocabulary")
        if total > 0:
            mean = mean / total
        if post_normalize:
            mean = _unitvec(mean).astype(REAL)
        return mean

    def _clip(
        self, clip_start: Any, clip_end: Any, restrict_vocab: Any, n: int | None = None
    ) -> tuple:
        """Rows ``[start, end)`` of ``n`` (default: all rows) to search; checks the three arguments."""
        n = len(self.vectors) if n is None else n
        restrict_vocab = check_int(restrict_vocab, "restrict_vocab", low=0, allow_none=True)
        clip_start = check_int(clip_start, "clip_start", low=0, allow_none=True)
        clip_end = check_int(clip_end, "clip_end", low=0, allow_none=True)
        if restrict_vocab:
            clip_start, clip_end = 0, restrict_vocab
        end = n if not clip_end else min(clip_end, n)
        start = min(clip_start or 0, end)
        return start, end

    def _scores(
        self, query: np.ndarray, start: int, end: int, snap: tuple | None = None
    ) -> np.ndarray:
        """Cosine similarity of ``query`` (any length; normalised here) with rows ``start:end``.

        The one place a query meets the matrix: the Rust search normalises
        the query itself, the NumPy fallback (non-float32 or non-contiguous
        ``vectors``) does it here, so both return cosines. ``snap`` is the
        query's :meth:`_snapshot` (taken here if not given).
        """
        v, all_norms, fast = snap if snap is not None else self._snapshot()
        end = min(end, len(v))
        start = min(start, end)
        if fast:
            q = np.require(query, np.float32, ["C", "A"])
            return self._get_searcher().all_scores(v, all_norms, q, start, end)
        q = np.asarray(query)
        q_norm = float(np.linalg.norm(q))
        if q_norm > 0:
            q = q / q_norm
        norms = all_norms[start:end]
        with np.errstate(divide="ignore", invalid="ignore"):
            dists = np.dot(v[start:end], q) / norms
        dists[norms == 0] = 0
        return dists

    def use_int8_file(self, path: str | os.PathLike, build: bool = True) -> bool:
        """Search through the int8 copy saved at ``path``, read memory-mapped.

        Every process that maps the same file shares its pages, so N server
        workers hold one int8 copy instead of N. The file also holds the row
        norms, and carries the identity of the vectors it was built from: for
        vectors loaded with ``mmap='r'``, the model file and place they are
        mapped from (so a process that maps the copy never reads the float32
        matrix except the few rows each query re-scores); otherwise a
        fingerprint of the values. It is used only for those vectors (answers
        stay exact). When it is missing, unreadable or built from other
        vectors, ``build=True`` builds the copy and saves it at ``path``
        atomically first; ``build=False`` raises instead.

        Parameters
        ----------
        path : str or os.PathLike
            The int8 file (a cache: safe to delete; rebuilt when stale).
        build : bool
            Build and save the copy when ``path`` does not hold a matching one.

        Returns
        -------
        bool
            True if the copy was built (and saved), False if it was mapped as found.

        Raises
        ------
        ValueError
            With ``build=False``, if ``path`` is not an int8 file of these vectors;
            or if ``vectors`` are not C-contiguous float32 (the int8 search needs them).
        FileNotFoundError
            With ``build=False``, if ``path`` does not exist.
        RuntimeError
            While the vectors are being trained.
        """
        path = os.fspath(path)
        v = self.vectors
        if not _is_fast(v):
            raise ValueError(
                "the int8 search needs C-contiguous float32 vectors; these are "
                f"{v.dtype} {'C-contiguous' if v.flags.c_contiguous else 'strided'}"
            )
        if getattr(self, "_live_writers", 0):
            raise RuntimeError("the vectors are being trained: attach the int8 file afterwards")
        searcher = self._get_searcher()
        fp = _vectors_identity(v, searcher)
        rows, dim = v.shape
        built = False
        try:
            index = _rust().KvInt8Index.open(path, rows, dim, fp)
        except (FileNotFoundError, ValueError):
            if not build:
                raise
            _, norms, _ = self._snapshot(need_norms=True)
            searcher.build_int8(v, norms).save(path, fp, norms)
            index = _rust().KvInt8Index.open(path, rows, dim, fp)  # shared pages, not ours
            built = True
        norms = np.memmap(path, dtype="<f4", mode="r", offset=index.norms_offset, shape=(rows,))
        with self._searcher_lock:
            if self.vectors is not v or getattr(self, "_live_writers", 0):
                raise RuntimeError(
                    "the vectors changed while the int8 file was attached; attach it again"
                )
            self._store_norms(v, norms)
            self._int8 = (self._norms_for, index)
        return built

    def _int8_index(self, v: np.ndarray, norms: np.ndarray) -> Any:
        """The int8 search index of the snapshot ``(v, norms)``, built on first use for large models.

        Used only when ``norms`` are the cached norms of ``v`` (the index is
        cached under their stamp); otherwise ``None`` (exact search).
        """
        if not self.int8_search or v.size < self.int8_min_size:
            return None
        sig = self._norms_for
        if (
            sig is None
            or self._norms is not norms
            or not sig.matches(v)
            or getattr(self, "_live_writers", 0)
        ):
            return None
        idx = self._int8
        if idx is not None and idx[0] is sig:
            return idx[1]
        with self._searcher_lock:
            idx = self._int8
            if idx is not None and idx[0] is sig:
                return idx[1]
            built = self._get_searcher_unlocked().build_int8(v, norms)
            if self._norms_for is sig:
                self._int8 = (sig, built)
        return built

    def _top(
        self, query: np.ndarray, start: int, end: int, k: int, snap: tuple | None = None
    ) -> list:
        """The ``k`` best ``(row, cosine)`` of rows ``start:end`` (``k`` clamped to the rows).

        ``snap`` is the query's :meth:`_snapshot` (taken here if not given).
        """
        live = getattr(self, "_live_writers", 0)
        if snap is None:
            snap = self._snapshot(need_norms=not (live and _is_fast(self.vectors)))
        v, norms, fast = snap
        end = min(end, len(v))
        start = min(start, end)
        k = min(k, end - start)
        if k <= 0:
            return []
        if fast:
            q = np.require(query, np.float32, ["C", "A"])
            s = self._get_searcher()
            if live or norms is None:
                # training is writing the rows: norms computed in the same pass
                return s.top_k_live(v, q, start, end, k)
            idx = (
                self._int8_index(v, norms)
                if (end - start) * self.vector_size >= self.int8_min_size
                else None
            )
            if idx is not None:
                return s.top_k_int8(idx, v, norms, q, start, end, k)
            return s.top_k(v, norms, q, start, end, k)
        if norms is None:
            snap = (v, np.linalg.norm(v, axis=1), fast)
        dists = self._scores(query, start, end, snap)
        dists = np.nan_to_num(dists, nan=-np.inf)
        k = min(k, len(dists))
        if k <= 0:
            return []
        best = np.argpartition(-dists, k - 1)[:k] if k < len(dists) else np.arange(len(dists))
        best = best[np.lexsort((best, -dists[best]))]
        return [(int(i) + start, float(dists[i])) for i in best]

    def most_similar(
        self,
        positive: Any = None,
        negative: Any = None,
        topn: int | None = 10,
        clip_start: int = 0,
        clip_end: int | None = None,
        restrict_vocab: int | None = None,
        indexer: Any = None,
    ) -> Any:
        """The ``topn`` keys most cosine-similar to the weighted mean of the inputs.

        Parameters
        ----------
        positive, negative : key, vector, or list of keys / vectors / (key, weight) pairs
            Inputs that count positively (weight 1.0) or negatively (-1.0).
        topn : int or None
            Number of results; ``None`` returns the similarities of all keys.
        clip_start, clip_end : int
            Only search rows ``clip_start:clip_end``.
        restrict_vocab : int, optional
            Only search the first ``restrict_vocab`` rows (overrides clipping).
        indexer : object, optional
            An approximate index with ``most_similar(vector, topn)``.

        Returns
        -------
        list of (key, float) or numpy.ndarray
            Most similar keys first; the inputs themselves are left out.
        """
        topn = check_topn(topn, len(self.vectors))
        self._clip(clip_start, clip_end, restrict_vocab)  # checks the arguments first
        if topn == 0:
            return []
        positive = _ensure_list(positive)
        negative = _ensure_list(negative)
        live = getattr(self, "_live_writers", 0)
        if len(positive) == 1 and not negative and isinstance(positive[0], _KEY_TYPES):
            # fast path: one key; the search normalises the query itself
            row = self.get_index(positive[0])
            snap = self._snapshot(need_norms=not (live and _is_fast(self.vectors)))
            _check_rows(snap[0], [row], positive[0])
            mean = snap[0][row]
            all_keys = [row]
        else:
            items = positive + negative
            weight = np.concatenate((np.ones(len(positive)), -1.0 * np.ones(len(negative))))
            keys = []
            for idx, item in enumerate(items):
                if isinstance(item, _EXTENDED_KEY_TYPES):
                    keys.append(item)
                else:
                    keys.append(item[0])
                    weight[idx] = item[1]
            mean = self.get_mean_vector(
                keys, weight, pre_normalize=True, post_normalize=True, ignore_missing=False
            )
            all_keys = [
                self.get_index(k)
                for k in keys
                if isinstance(k, _KEY_TYPES) and self.has_index_for(k)
            ]
            snap = None
        if indexer is not None and isinstance(topn, (int, np.integer)):
            # gensim's indexer protocol: the unit-length query and the count,
            # the index's answer returned as it is
            return indexer.most_similar(_unitvec(np.asarray(mean, dtype=REAL)), int(topn))
        if snap is None or (not topn and snap[1] is None):
            snap = self._snapshot(
                need_norms=bool(not topn or not (live and _is_fast(self.vectors)))
            )
        start, end = self._clip(clip_start, clip_end, restrict_vocab, len(snap[0]))
        if not topn:
            return self._scores(_unitvec(np.asarray(mean, dtype=REAL)), start, end, snap)
        best = self._top(mean, start, end, topn + len(all_keys), snap)
        itk = self._keys_by_row()
        excl = set(all_keys)
        return [(itk[i], float(s)) for i, s in best if i not in excl][:topn]

    def most_similar_batch(
        self,
        keys_or_vectors: Any,
        topn: int = 10,
        clip_start: int = 0,
        clip_end: int | None = None,
        restrict_vocab: int | None = None,
    ) -> list:
        """Answer many single queries in one call (one pass over the matrix, GIL released).

        Unlike ``most_similar(positive=[a, b])``, which makes ONE query from the
        mean of its inputs, each key or vector here is its own query.

        Parameters
        ----------
        keys_or_vectors : list of keys, or numpy.ndarray of shape (n, vector_size)
            The queries. For a key, the key itself is left out of its results.
        topn : int
            Results per query.
        clip_start, clip_end, restrict_vocab : int, optional
            As in :meth:`most_similar`.

        Returns
        -------
        list of list of (key, float)
            One result list per query, most similar first.
        """
        topn = check_topn(topn, len(self.vectors), allow_none=False)
        self._clip(clip_start, clip_end, restrict_vocab)  # checks the arguments first
        if topn == 0:
            return [[] for _ in range(len(keys_or_vectors))]
        rows: list = []
        if isinstance(keys_or_vectors, np.ndarray) and keys_or_vectors.ndim == 2:
            if keys_or_vectors.shape[1] != self.vector_size:
                raise ValueError(
                    f"query vectors have {keys_or_vectors.shape[1]} dimensions, "
                    f"the model has {self.vector_size}"
                )
            queries = np.require(keys_or_vectors, np.float32, ["C", "A"])
            excl = [-1] * len(queries)
        elif isinstance(keys_or_vectors, (str, np.ndarray)):
            raise TypeError("most_similar_batch takes a list of keys or a 2-D array of vectors")
        else:
            rows = [self.get_index(k) for k in keys_or_vectors]
            queries = None
            excl = rows
        live = getattr(self, "_live_writers", 0)
        snap = self._snapshot(need_norms=not (live and _is_fast(self.vectors)))
        v, norms, fast = snap
        if queries is None:
            for r, key in zip(rows, keys_or_vectors):
                _check_rows(v, [r], key)
            queries = np.require(v[rows], np.float32, ["C", "A"])
        start, end = self._clip(clip_start, clip_end, restrict_vocab, len(v))
        k = min(topn + 1, end - start)
        if k <= 0:
            return [[] for _ in range(len(queries))]
        if fast and not live and norms is not None:
            s = self._get_searcher()
            index = (
                self._int8_index(v, norms)
                if (end - start) * self.vector_size >= self.int8_min_size
                else None
            )
            if index is not None:
                idx, scores = s.top_k_batch_int8(index, v, norms, queries, start, end, k)
            else:
                idx, scores = s.top_k_batch(v, norms, queries, start, end, k)
            idx = idx.tolist()
            scores = scores.tolist()
        else:
            res = [self._top(q, start, end, k, snap) for q in queries]
            idx = [[i for i, _ in r] for r in res]
            scores = [[s for _, s in r] for r in res]
        itk = self._keys_by_row()
        out = []
        for rows_j, sc_j, ex in zip(idx, scores, excl):
            out.append([(itk[i], s) for i, s in zip(rows_j, sc_j) if i >= 0 and i != ex][:topn])
        return out

    def similar_by_word(
        self, word: Any, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> Any:
        """Alias of ``most_similar(positive=[word], ...)``."""
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_key = similar_by_word

    def similar_by_vector(
        self, vector: np.ndarray, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> Any:
        """The ``topn`` keys most similar to ``vector``."""
        return self.most_similar(positive=[vector], topn=topn, restrict_vocab=restrict_vocab)

    def most_similar_cosmul(
        self,
        positive: Any = None,
        negative: Any = None,
        topn: int | None = 10,
        restrict_vocab: int | None = None,
    ) -> Any:
        """Levy & Goldberg's multiplicative combination (3CosMul), as gensim's."""
        topn = check_topn(topn, len(self.vectors))
        self._clip(0, None, restrict_vocab)  # checks the argument first
        if topn == 0:
            return []
        positive = _ensure_list(positive)
        negative = _ensure_list(negative)
        all_words = {
            self.get_index(w)
            for w in positive + negative
            if not isinstance(w, np.ndarray) and w in self.key_to_index
        }
        positive = [
            self.get_vector(w, norm=True) if isinstance(w, _KEY_TYPES) else w for w in positive
        ]
        negative = [
            self.get_vector(w, norm=True) if isinstance(w, _KEY_TYPES) else w for w in negative
        ]
        if not positive:
            raise ValueError("cannot compute similarity with no input")
        snap = self._snapshot()  # one matrix for every term
        _, end = self._clip(0, None, restrict_vocab, len(snap[0]))
        pos = [
            (1 + self._scores(np.asarray(t, dtype=REAL), 0, end, snap) * np.linalg.norm(t)) / 2
            for t in positive
        ]
        neg = [
            (1 + self._scores(np.asarray(t, dtype=REAL), 0, end, snap) * np.linalg.norm(t)) / 2
            for t in negative
        ]
        dists = np.prod(pos, axis=0) / (np.prod(neg, axis=0) + 0.000001)
        if not topn:
            return dists
        k = min(topn + len(all_words), len(dists))
        best = np.argsort(-dists, kind="stable")[:k]
        result = [(self.index_to_key[i], float(dists[i])) for i in best if i not in all_words]
        return result[:topn]

    def similarity(self, w1: Any, w2: Any) -> np.floating:
        """Cosine similarity of two keys.

        A key compared with itself gives exactly 1 (0 for an all-zero vector),
        not a value rounded below 1.
        """
        v1, v2 = self[w1], self[w2]
        same = isinstance(w1, _KEY_TYPES) and isinstance(w2, _KEY_TYPES)
        if same and self.get_index(w1) == self.get_index(w2):
            return np.result_type(v1.dtype, v2.dtype).type(1.0 if np.any(v1) else 0.0)
        return np.dot(_unitvec(v1), _unitvec(v2))

    def distance(self, w1: Any, w2: Any) -> np.floating:
        """Cosine distance (1 - similarity) of two keys; exactly 0 for a key and itself."""
        return 1 - self.similarity(w1, w2)

    def n_similarity(self, ws1: Sequence[Any], ws2: Sequence[Any]) -> np.floating:
        """Cosine similarity of the means of two sets of keys."""
        if not (len(ws1) and len(ws2)):
            raise ZeroDivisionError("At least one of the passed list is empty.")
        m1 = self.get_mean_vector(ws1, pre_normalize=False)
        m2 = self.get_mean_vector(ws2, pre_normalize=False)
        return np.dot(_unitvec(m1), _unitvec(m2))

    @staticmethod
    def cosine_similarities(vector_1: np.ndarray, vectors_all: np.ndarray) -> np.ndarray:
        """Cosine similarity of ``vector_1`` with each row of ``vectors_all``."""
        norm = np.linalg.norm(vector_1)
        all_norms = np.linalg.norm(vectors_all, axis=1)
        return np.dot(vectors_all, vector_1) / (norm * all_norms)

    def wmdistance(
        self, document1: Sequence[Any], document2: Sequence[Any], norm: bool = True
    ) -> float:
        """Word Mover's Distance between two documents (Kusner et al. 2015), as gensim's.

        Needs the optional package `POT <https://pypi.org/project/POT/>`_
        (``pip install POT``), which solves the transport problem.

        Parameters
        ----------
        document1, document2 : list of str
            The documents; keys not in the vocabulary are dropped first.
        norm : bool
            Use unit-length vectors (gensim's default).

        Returns
        -------
        float
            The distance; ``inf`` if a document has no known key or all the
            vectors coincide, ``0.0`` if both documents hold the same single key.

        Raises
        ------
        ImportError
            If POT is not installed.
        """
        try:
            from ot import emd2
        except ImportError as exc:
            raise ModuleNotFoundError(
                "wmdistance needs the optional package POT (Python Optimal Transport): "
                "pip install POT",
                name="ot",
            ) from exc
        doc1 = [k for k in document1 if k in self]
        doc2 = [k for k in document2 if k in self]
        dropped1, dropped2 = len(document1) - len(doc1), len(document2) - len(doc2)
        if dropped1 or dropped2:
            logger.info(
                "Removed %d and %d OOV words from document 1 and 2 (respectively).",
                dropped1,
                dropped2,
            )
        if not doc1 or not doc2:
            logger.warning(
                "At least one of the documents had no words that were in the vocabulary."
            )
            return float("inf")
        uniq1 = list(dict.fromkeys(doc1))
        uniq2 = list(dict.fromkeys(doc2))
        if len(set(uniq1) | set(uniq2)) == 1:
            return 0.0
        v1 = np.array([self.get_vector(k, norm=norm) for k in uniq1], dtype=np.float64)
        v2 = np.array([self.get_vector(k, norm=norm) for k in uniq2], dtype=np.float64)
        # pairwise Euclidean distances, computed directly (no scipy needed)
        cost = np.sqrt(np.maximum(((v1[:, None, :] - v2[None, :, :]) ** 2).sum(axis=2), 0.0))
        if abs(cost.sum()) < 1e-8:
            logger.info("The distance matrix is all zeros. Aborting (returning inf).")
            return float("inf")
        # normalised bag-of-words weights of each document's distinct keys
        n1, n2 = Counter(doc1), Counter(doc2)
        w1 = np.array([n1[k] / len(doc1) for k in uniq1], dtype=np.float64)
        w2 = np.array([n2[k] / len(doc2) for k in uniq2], dtype=np.float64)
        return float(emd2(w1, w2, cost))

    def vectors_for_all(
        self, keys: Iterable[Any], allow_inference: bool = True, copy_vecattrs: bool = False
    ) -> KeyedVectors:
        """A new :class:`KeyedVectors` holding the vectors of ``keys`` (as gensim's).

        Parameters
        ----------
        keys : iterable
            Keys to look up; duplicates and unknown keys are skipped, the first
            occurrence's order is kept.
        allow_inference : bool
            Kept for gensim compatibility (subclasses that infer vectors for
            unknown keys use it); plain keyed vectors only know their own keys.
        copy_vecattrs : bool
            Copy the per-key attributes (``expandos``, e.g. ``count``) too.

        Returns
        -------
        KeyedVectors
            The selected keys in first-seen order, with copies of their vectors.
        """
        chosen: list = []
        seen: set = set()
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            if (key in self) if allow_inference else (key in self.key_to_index):
                chosen.append(key)
        kv = KeyedVectors(self.vector_size, len(chosen), dtype=self.vectors.dtype)
        if chosen:
            rows = [self.get_index(k) for k in chosen]
            kv.vectors[:] = self.vectors[rows]
            kv.index_to_key = list(chosen)
            kv.key_to_index = {k: i for i, k in enumerate(chosen)}
            kv.next_index = len(chosen)
            # made-up descending counts, as gensim's (overwritten by copy_vecattrs)
            kv.allocate_vecattrs(["count"], [np.int64])
            kv.expandos["count"][:] = np.arange(len(chosen), 0, -1)
            if copy_vecattrs:
                for attr, values in self.expandos.items():
                    kv.allocate_vecattrs([attr], [values.dtype])
                    kv.expandos[attr][:] = values[rows]
        return kv

    def distances(self, word_or_vector: Any, other_words: Sequence[Any] = ()) -> np.ndarray:
        """Cosine distances from a key or vector to ``other_words`` (default: all keys)."""
        if isinstance(word_or_vector, _KEY_TYPES):
            v = self.get_vector(word_or_vector)
        else:
            v = np.asarray(word_or_vector)
        if not other_words:
            snap = self._snapshot()
            if snap[2] and v.shape == (self.vector_size,):
                return 1 - self._scores(_unitvec(v.astype(REAL)), 0, len(snap[0]), snap)
            others = snap[0]
        else:
            others = self.vectors[[self.get_index(w) for w in other_words]]
        return 1 - self.cosine_similarities(v, others)

    def closer_than(self, key1: Any, key2: Any) -> list:
        """All keys closer to ``key1`` than ``key2`` is."""
        d = self.distances(key1)
        i1, i2 = self.get_index(key1), self.get_index(key2)
        return [self.index_to_key[i] for i in np.where(d < d[i2])[0] if i != i1]

    words_closer_than = closer_than

    def rank(self, key1: Any, key2: Any) -> int:
        """Rank of ``key2`` among the neighbours of ``key1`` (1 = nearest)."""
        return len(self.closer_than(key1, key2)) + 1

    def most_similar_to_given(self, key1: Any, keys_list: Sequence[Any]) -> Any:
        """The key of ``keys_list`` most similar to ``key1``."""
        return keys_list[int(np.argmax([self.similarity(key1, k) for k in keys_list]))]

    def rank_by_centrality(self, words: Sequence[Any], use_norm: bool = True) -> list:
        """``(similarity, key)`` pairs sorted by similarity to the centroid of ``words``."""
        used = [w for w in words if w in self]
        if len(used) != len(words):
            logger.warning(
                "vectors for words %s are not present in the model, ignoring these words",
                set(words) - set(used),
            )
        if not used:
            raise ValueError("cannot select a word from an empty list")
        vecs = np.vstack([self.get_vector(w, norm=use_norm) for w in used]).astype(REAL)
        mean = self.get_mean_vector(vecs, post_normalize=True)
        return sorted(zip(np.dot(vecs, mean), used), reverse=True)

    def doesnt_match(self, words: Sequence[Any]) -> Any:
        """The key of ``words`` furthest from their mean."""
        return self.rank_by_centrality(words)[-1][1]

    def relative_cosine_similarity(self, wa: Any, wb: Any, topn: int = 10) -> float:
        """Relative cosine similarity of ``wb`` to ``wa`` among ``wa``'s ``topn`` neighbours."""
        sims = self.similar_by_word(wa, topn)
        if not sims:
            raise ValueError(
                "Cannot calculate relative cosine similarity without any similar words."
            )
        return float(self.similarity(wa, wb)) / sum(s for _, s in sims)

    # ------------------------------------------------------------------
    # evaluation
    # ------------------------------------------------------------------

    @staticmethod
    def log_accuracy(section: dict) -> None:
        """Log one analogy section's accuracy, ``"<section>: 61.5% (8/13)"`` (gensim's).

        Parameters
        ----------
        section : dict
            A section as ``evaluate_word_analogies`` returns them: ``'section'``
            (its name), ``'correct'`` and ``'incorrect'`` (lists of questions).
            Sections without questions are not logged.
        """
        KeyedVectors._log_evaluate_word_analogies(section)

    @staticmethod
    def _log_evaluate_word_analogies(section: dict) -> float:
        correct, incorrect = len(section["correct"]), len(section["incorrect"])
        if correct + incorrect == 0:
            return 0.0
        score = correct / (correct + incorrect)
        logger.info(
            "%s: %.1f%% (%i/%i)", section["section"], 100.0 * score, correct, correct + incorrect
        )
        return score

    def _unit_row(self, row: int, snap: tuple) -> np.ndarray:
        v, norms, _ = snap
        n = norms[row]
        return v[row] / n if n > 0 else v[row]

    def _ok_vocab(self, restrict_vocab: int, case_insensitive: bool) -> dict:
        ok_keys = self.index_to_key[:restrict_vocab]
        if case_insensitive:
            return {k.upper(): self.get_index(k) for k in reversed(ok_keys)}
        return {k: self.get_index(k) for k in reversed(ok_keys)}

    def evaluate_word_analogies(
        self,
        analogies: str | os.PathLike,
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
        similarity_function: str = "most_similar",
    ) -> tuple:
        """Accuracy on an analogy set in the Google ``questions-words.txt`` format.

        Same rules and numbers as gensim: 3CosAdd over the first ``restrict_vocab``
        keys, inputs excluded, sections split by ``: name`` lines.

        Returns
        -------
        score : float
            Overall accuracy.
        sections : list of dict
            ``{'section', 'correct', 'incorrect'}`` per section, then ``'Total accuracy'``.
        """
        restrict_vocab = check_int(restrict_vocab, "restrict_vocab", low=1)
        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        snap = self._snapshot()  # one matrix for the whole evaluation
        start, end = self._clip(0, None, restrict_vocab, len(snap[0]))
        oov = 0
        logger.info(
            "Evaluating word analogies for top %i words in the model on %s",
            restrict_vocab,
            analogies,
        )
        sections: list = []
        section: dict | None = None
        quadruplets = 0
        itk = self.index_to_key
        with open(analogies, "rb") as fin:
            for line_no, raw in enumerate(fin):
                line = raw.decode("utf8")
                if line.startswith(": "):
                    if section:
                        sections.append(section)
                        self._log_evaluate_word_analogies(section)
                    section = {"section": line.lstrip(": ").strip(), "correct": [], "incorrect": []}
                    continue
                if not section:
                    raise ValueError(
                        f"Missing section header before line #{line_no} in {analogies}"
                    )
                words = line.split()
                if len(words) != 4:
                    logger.info("Skipping invalid line #%i in %s", line_no, analogies)
                    continue
                if case_insensitive:
                    words = [w.upper() for w in words]
                a, b, c, expected = words
                quadruplets += 1
                if (
                    a not in ok_vocab
                    or b not in ok_vocab
                    or c not in ok_vocab
                    or expected not in ok_vocab
                ):
                    oov += 1
                    if dummy4unknown:
                        section["incorrect"].append((a, b, c, expected))
                    continue
                ia, ib, ic = ok_vocab[a], ok_vocab[b], ok_vocab[c]
                mean = np.zeros(self.vector_size, self.vectors.dtype)
                for row, w in ((ib, 1.0), (ic, 1.0), (ia, -1.0)):
                    mean += w * self._unit_row(row, snap)
                mean = _unitvec_exact(mean / 3.0).astype(REAL)
                excl = {ia, ib, ic}
                best = self._top(mean, start, end, 5 + len(excl), snap)
                sims = [(itk[i], s) for i, s in best if i not in excl][:5]
                ignore = {a, b, c}
                predicted = None
                for element in sims:
                    predicted = element[0].upper() if case_insensitive else element[0]
                    if predicted in ok_vocab and predicted not in ignore:
                        break
                if predicted == expected:
                    section["correct"].append((a, b, c, expected))
                else:
                    section["incorrect"].append((a, b, c, expected))
        if section:
            sections.append(section)
            self._log_evaluate_word_analogies(section)
        total = {
            "section": "Total accuracy",
            "correct": list(itertools.chain.from_iterable(s["correct"] for s in sections)),
            "incorrect": list(itertools.chain.from_iterable(s["incorrect"] for s in sections)),
        }
        if quadruplets:
            logger.info(
                "Quadruplets with out-of-vocabulary words: %.1f%%", 100.0 * oov / quadruplets
            )
        score = self._log_evaluate_word_analogies(total)
        sections.append(total)
        return score, sections

    @staticmethod
    def log_evaluate_word_pairs(pearson: Any, spearman: Any, oov: float, pairs: Any) -> None:
        """Log the figures of :meth:`evaluate_word_pairs`."""
        logger.info("Pearson correlation coefficient against %s: %.4f", pairs, pearson[0])
        logger.info(
            "Spearman rank-order correlation coefficient against %s: %.4f", pairs, spearman[0]
        )
        logger.info("Pairs with unknown words ratio: %.1f%%", oov)

    def evaluate_word_pairs(
        self,
        pairs: str | os.PathLike,
        delimiter: str = "\t",
        encoding: str = "utf8",
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
    ) -> tuple:
        """Correlation of the model's similarities with human judgements (needs scipy).

        Returns
        -------
        pearson : tuple of (float, float)
            Pearson's r and its two-tailed p-value.
        spearman : tuple of (float, float)
            Spearman's rho and its p-value.
        oov_ratio : float
            Percentage of pairs with unknown words.
        """
        restrict_vocab = check_int(restrict_vocab, "restrict_vocab", low=1)
        from scipy import stats

        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        gold: list = []
        model: list = []
        oov = 0
        with open(pairs, encoding=encoding) as fin:
            for line_no, line in enumerate(fin):
                if not line or line.startswith("#"):
                    continue
                try:
                    parts = line.split(delimiter)
                    if case_insensitive:
                        parts = [w.upper() for w in parts]
                    a, b, sim = parts
                    sim = float(sim)
                except (ValueError, TypeError):
                    logger.info("Skipping invalid line #%d in %s", line_no, pairs)
                    continue
                if a not in ok_vocab or b not in ok_vocab:
                    oov += 1
                    if dummy4unknown:
                        model.append(0.0)
                        gold.append(sim)
                    continue
                gold.append(sim)
                va, vb = self.vectors[ok_vocab[a]], self.vectors[ok_vocab[b]]
                model.append(np.dot(_unitvec_exact(va), _unitvec_exact(vb)))
        if not gold:
            raise ValueError(
                f"No valid similarity judgements found in {pairs}: either invalid format or "
                f"all are out-of-vocabulary in {self}"
            )
        spearman = stats.spearmanr(gold, model)
        pearson = stats.pearsonr(gold, model)
        if dummy4unknown:
            oov_ratio = float(oov) / len(gold) * 100
        else:
            oov_ratio = float(oov) / (len(gold) + oov) * 100
        self.log_evaluate_word_pairs(pearson, spearman, oov_ratio, pairs)
        return pearson, spearman, oov_ratio

    # ------------------------------------------------------------------
    # word2vec C formats
    # ------------------------------------------------------------------

    @classmethod
    def load_word2vec_format(
        cls,
        fname: str | os.PathLike,
        fvocab: str | None = None,
        binary: bool = False,
        encoding: str = "utf8",
        unicode_errors: str = "strict",
        limit: int | None = None,
        datatype: Any = REAL,
        no_header: bool = False,
        allow_nonfinite: bool = False,
    ) -> KeyedVectors:
        """Load vectors from the word2vec C text or binary format (parsed in Rust).

        Parameters are gensim's; ``allow_nonfinite`` (embedrs) accepts NaN/inf
        values, which are refused by default. Errors name the line or byte offset;
        a file shorter than its header raises :class:`UnexpectedEndOfFileError`
        (an ``EOFError``, like gensim, and a ``ValueError``). Duplicate keys keep
        their first vector, with a warning, as in gensim.
        """
        if no_header and binary:
            raise NotImplementedError("no_header only available for text-format files")
        if unicode_errors not in ("strict", "ignore", "replace"):
            raise ValueError(
                f"unicode_errors must be 'strict', 'ignore' or 'replace', not {unicode_errors!r}"
            )
        datatype = _float_dtype(datatype, "datatype")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
                raise TypeError(
                    f"limit must be an integer or None, not {type(limit).__name__} ({limit!r})"
                )
            if limit < 0:
                raise ValueError("limit must be non-negative")
        # gensim: limit=0 means no limit; so does one past any possible file
        limit = int(limit) if limit and limit < _NO_LIMIT else None
        counts = None
        if fvocab is not None:
            logger.info("loading word counts from %s", fvocab)
            counts = {}
            with open(fvocab, "rb") as fin:
                for line_no, line in enumerate(fin, 1):
                    try:
                        parts = line.decode(encoding, errors=unicode_errors).strip().split()
                    except UnicodeDecodeError as exc:
                        # gensim's exception type (a ValueError), naming the file and line
                        raise UnicodeDecodeError(
                            exc.encoding,
                            exc.object,
                            exc.start,
                            exc.end,
                            f"{exc.reason}; {fvocab}: line {line_no}: not valid {encoding} text",
                        ) from None
                    if not parts:
                        continue
                    if len(parts) != 2:
                        raise ValueError(
                            f"{fvocab}: line {line_no}: expected 'WORD COUNT', found {line!r}"
                        )
                    try:
                        counts[parts[0]] = int(parts[1])
                    except ValueError:
                        raise ValueError(
                            f"{fvocab}: line {line_no}: count {parts[1][:40]!r} is not an integer"
                        ) from None
        keys, vectors, declared, trailing = _read_word2vec(
            fname, binary, encoding, unicode_errors, limit, no_header, allow_nonfinite, datatype
        )
        if trailing:
            logger.warning(
                "%s holds more data after the %d vectors its header declares; "
                "ignored (as gensim does)",
                fname,
                declared,
            )
        n = len(keys)
        k2i = dict(zip(keys, range(n)))
        if len(k2i) != n:
            keep = []
            seen: dict = {}
            for i, k in enumerate(keys):
                if k in seen:
                    logger.warning(
                        "duplicate word '%s' in word2vec file, ignoring all but first", k
                    )
                    continue
                seen[k] = len(keep)
                keep.append(i)
            logger.info(
                "duplicate words detected, shrinking matrix size from %i to %i", n, len(keep)
            )
            vectors = np.ascontiguousarray(vectors[keep])
            keys = [keys[i] for i in keep]
            k2i = seen
        n_expected = min(declared, limit) if limit is not None else declared
        kv = cls(vectors.shape[1], 0, dtype=datatype)
        kv.vectors = vectors if datatype == vectors.dtype else vectors.astype(datatype)
        kv._index_to_key = keys
        kv._key_to_index = k2i
        kv.next_index = len(keys)
        if counts is None:
            cnt = n_expected - np.arange(len(keys), dtype=np.int64)
            # rows after a dropped duplicate keep gensim's numbering (declared - slot)
            kv.expandos["count"] = cnt
        else:
            arr = np.zeros(len(keys), dtype=object)
            missing = 0
            for i, k in enumerate(keys):
                c = counts.get(k)
                if c is None:
                    missing += 1
                arr[i] = c
            if missing:
                logger.warning("vocabulary file is incomplete: %d keys are missing", missing)
                kv.expandos["count"] = arr
            else:
                kv.expandos["count"] = arr.astype(np.int64)
        return kv

    def intersect_word2vec_format(
        self,
        fname: str | os.PathLike,
        lockf: float = 0.0,
        binary: bool = False,
        encoding: str = "utf8",
        unicode_errors: str = "strict",
    ) -> int:
        """Take the vectors of a word2vec C-format file for the keys already here.

        gensim's transfer-learning step: no key is added; each key of this
        object that the file also holds gets the file's vector, and its row of
        ``vectors_lockf`` is set to ``lockf`` (0.0: training leaves the vector
        as loaded; 1.0: trains it as usual). Keys the file does not hold keep
        their vectors. A key given twice in the file takes its last vector, as
        in gensim.

        Unlike gensim 4, which raises ``IndexError`` unless ``vectors_lockf``
        was first replaced by one value per key, a ``vectors_lockf`` that is
        missing or holds a single value is expanded to one value per key (that
        value, or 1.0) before the file's keys are locked. The file is parsed in
        Rust with :meth:`load_word2vec_format`'s checks (its whole matrix is
        read into memory first); non-finite values are refused.

        Parameters
        ----------
        fname : str or PathLike
            The word2vec text or binary file.
        lockf : float, optional
            Lock factor for the keys taken from the file.
        binary : bool, optional
            Whether the file is in the binary format.
        encoding, unicode_errors : str, optional
            How the file's keys are decoded (as in :meth:`load_word2vec_format`).

        Returns
        -------
        int
            The number of keys that took a vector from the file.

        Raises
        ------
        ValueError
            If the file's vectors are not ``vector_size`` long, or the file is
            malformed (the error names the line or byte offset).
        """
        if isinstance(lockf, (bool, np.bool_)) or not isinstance(
            lockf, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"lockf must be a number, not {type(lockf).__name__} ({lockf!r})")
        lockf = float(lockf)
        if not np.isfinite(lockf):
            raise ValueError(f"lockf must be a finite number, not {lockf!r}")
        if unicode_errors not in ("strict", "ignore", "replace"):
            raise ValueError(
                f"unicode_errors must be 'strict', 'ignore' or 'replace', not {unicode_errors!r}"
            )
        keys, vectors, _, _ = _read_word2vec(
            fname, binary, encoding, unicode_errors, None, False, False, self.vectors.dtype
        )
        if vectors.shape[1] != self.vector_size:
            raise ValueError(
                f"incompatible vector size {vectors.shape[1]} in file {os.fspath(fname)} "
                f"(these vectors have {self.vector_size})"
            )
        n = len(self.index_to_key)
        current = getattr(self, "vectors_lockf", None)
        current = None if current is None else np.asarray(current, dtype=REAL).reshape(-1)
        if current is None or current.size != n:
            fill = float(current[0]) if current is not None and current.size == 1 else 1.0
            current = np.full(n, fill, dtype=REAL)
        rows, src = [], []
        for i, key in enumerate(keys):
            j = self.key_to_index.get(key)
            if j is not None:
                rows.append(j)
                src.append(i)
        if rows:
            # in file order, so that a key given twice keeps its last vector
            for j, i in zip(rows, src):
                self.vectors[j] = vectors[i]
            current[rows] = lockf
            self.norms = None
        self.vectors_lockf = current
        msg = f"merged {len(rows)} vectors into {self.vectors.shape} matrix from {os.fspath(fname)}"
        logger.info(msg)
        return len(rows)

    def similarity_unseen_docs(self, *args: Any, **kwargs: Any) -> float:
        """Not available on word vectors (gensim's behaviour): use ``Doc2Vec.similarity_unseen_docs``."""
        raise NotImplementedError("Call similarity_unseen_docs on a Doc2Vec model instead.")

    def save_word2vec_format(
        self,
        fname: str | os.PathLike,
        fvocab: str | None = None,
        binary: bool = False,
        total_vec: int | None = None,
        write_header: bool = True,
        prefix: str = "",
        append: bool = False,
        sort_attr: str = "count",
    ) -> None:
        """Store the vectors in the word2vec C text or binary format (written in Rust).

        Same options and byte output as gensim's; the files are written
        atomically through :func:`embedrs._persist.atomic_write` (temporary
        file + rename, through symbolic links, with ``open()``'s permissions)
        unless ``append``; ``.gz`` / ``.bz2`` names are compressed.
        """
        if total_vec is None:
            total_vec = len(self.index_to_key)
        if sort_attr in self.expandos:
            attr = self.expandos[sort_attr]
            k2i = self.key_to_index
            keys_in_order = list(k2i.keys())
            rows = np.fromiter(k2i.values(), dtype=np.int64, count=len(k2i))
            vals = np.asarray(attr[rows])
            try:
                order = np.argsort(-vals.astype(np.float64), kind="stable")
            except (TypeError, ValueError):
                order = np.asarray(sorted(range(len(rows)), key=lambda i: -vals[i]), dtype=np.int64)
            store_keys = [keys_in_order[i] for i in order]
            store_rows = rows[order]
        else:
            if fvocab is not None:
                raise ValueError(
                    f"Cannot store vocabulary with '{sort_attr}' because that attribute does not exist"
                )
            logger.warning(
                "attribute %s not present in %s; will store in internal index_to_key order",
                sort_attr,
                self,
            )
            store_keys = list(self.index_to_key)
            store_rows = np.arange(len(store_keys), dtype=np.int64)
        logger.info("storing %sx%s projection weights into %s", total_vec, self.vector_size, fname)
        if (len(self.index_to_key), self.vector_size) != self.vectors.shape:
            raise ValueError(
                f"vectors has shape {self.vectors.shape} but there are "
                f"{len(self.index_to_key)} keys of size {self.vector_size}"
            )
        # float64 rows are written at full precision in text (as gensim's
        # str() of each value); binary rows are float32, as the format is
        wide = self.vectors.dtype == np.float64
        vectors = np.ascontiguousarray(self.vectors, dtype=np.float64 if wide else np.float32)
        keys = [f"{prefix}{k}" for k in store_keys]
        vocab_lines = None
        if fvocab is not None:  # formatted before any file is touched
            vocab_lines = [
                f"{prefix}{k} {self.get_vecattr(k, sort_attr)}\n".encode() for k in store_keys
            ]
        _write_word2vec(
            os.fspath(fname),
            keys,
            vectors,
            store_rows.tolist(),
            binary,
            write_header=write_header,
            total_vec=int(total_vec),
            append=append,
        )
        if fvocab is not None:
            logger.info("storing vocabulary in %s", fvocab)
            if append:
                with open(fvocab, "ab") as vout:
                    vout.writelines(vocab_lines)
            else:
                with _persist.atomic_open(fvocab, "wb", compress=None) as vout:
                    vout.writelines(vocab_lines)

    # ------------------------------------------------------------------
    # native persistence and gensim models
    # ------------------------------------------------------------------

    def _to_persist(self, prefix: str = "") -> tuple[dict, dict]:
        """Metadata and arrays describing this object (for composite models).

        Keys keep their type (str, int, float, bool, None, tuples of those);
        other key types raise ``TypeError`` before anything is written. Norms
        are not stored: they are recomputed from the vectors when needed.
        """
        keys = self.index_to_key
        arrays: dict[str, np.ndarray] = {f"{prefix}vectors": np.asarray(self.vectors)}
        meta: dict[str, Any] = {
            "vector_size": self.vector_size,
            "next_index": self.next_index,
            "n_keys": len(keys),
        }
        key_meta, key_arrays = _persist.encode_keys(keys, prefix)
        meta.update(key_meta)
        arrays.update(key_arrays)
        expando_meta = {}
        for name, arr in self.expandos.items():
            if name in ("code", "point"):
                continue  # hierarchical-softmax paths: rebuilt from the counts on load
            a = np.asarray(arr)
            if a.dtype.hasobject:
                expando_meta[name] = [
                    None if v is None else (v.item() if hasattr(v, "item") else v)
                    for v in a.tolist()
                ]
            else:
                arrays[f"{prefix}expandos.{name}"] = a
        meta["object_expandos"] = expando_meta
        meta["lifecycle_events"] = self._events_for_file()
        return meta, arrays

    @classmethod
    def _from_persist(
        cls, meta: dict, arrays: dict, prefix: str = "", fname: str = "?"
    ) -> KeyedVectors:
        """Rebuild from :meth:`_to_persist`'s output, validating every field.

        Raises
        ------
        ValueError
            Naming ``fname``, if a field is missing, of the wrong type or
            inconsistent with the arrays.
        """

        def bad(msg: str) -> ValueError:
            return ValueError(f"{fname}: corrupt model: {msg}")

        if not isinstance(meta, dict):
            raise bad("keyed-vectors metadata is not an object")
        vectors = arrays.get(f"{prefix}vectors")
        n = meta.get("n_keys")
        size = meta.get("vector_size")
        for name, v in (
            ("n_keys", n),
            ("vector_size", size),
            ("next_index", meta.get("next_index", 0)),
        ):
            if type(v) is not int or v < 0:
                raise bad(f"{name} must be a non-negative integer, got {str(v)[:40]}")
        if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or vectors.dtype.kind != "f":
            raise bad("vectors must be a 2-D floating-point array")
        if vectors.shape != (n, size):
            raise bad(f"{n} keys of size {size} but vectors of shape {vectors.shape}")
        table = _persist.key_table(meta, arrays, n, prefix, fname)
        kv = cls(size, 0, dtype=vectors.dtype)
        kv.vectors = vectors
        if table is not None:  # looked up in place: no list or dict per process
            kv._index_to_key = None
            kv._key_to_index = None
            kv._keytab = table
        else:
            keys = _persist.decode_keys(meta, arrays, n, prefix, fname)
            kv.index_to_key = keys() if callable(keys) else keys
            kv._key_to_index = None
        kv.next_index = int(meta.get("next_index", n))
        legacy_counts = arrays.get(f"{prefix}counts")  # PoincareKeyedVectors of embedrs <= 0.1
        if legacy_counts is not None and f"{prefix}expandos.count" not in arrays:
            if (
                legacy_counts.shape != (n,)
                or legacy_counts.dtype.kind not in "iu"
                or (n and int(legacy_counts.min()) < 0)
            ):
                raise bad(f"counts must be {n} non-negative integers")
            kv.expandos["count"] = np.asarray(legacy_counts, dtype=np.int64)
        for name, arr in arrays.items():
            if name.startswith(f"{prefix}expandos."):
                if arr.ndim < 1 or arr.shape[0] != n:
                    raise bad(f"attribute {name!r} has shape {arr.shape}, expected {n} rows")
                kv.expandos[name[len(prefix) + len("expandos.") :]] = arr
        objx = meta.get("object_expandos") or {}
        if not isinstance(objx, dict):
            raise bad("object_expandos is not an object")
        for name, values in objx.items():
            if (
                not isinstance(values, list)
                or len(values) != n
                or not all(v is None or isinstance(v, (str, int, float)) for v in values)
            ):
                raise bad(f"attribute {name!r} must be a list of {n} plain values")
            a = np.empty(len(values), dtype=object)
            a[:] = values
            kv.expandos[name] = a
        kv._events_from_file(meta.get("lifecycle_events", []))
        # stored norms (written by embedrs <= 0.1) are never trusted: they are
        # recomputed from the vectors on first use
        return kv

    def save(self, fname_or_handle: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
        """Save in the embedrs native format (atomic; arrays + JSON; never pickled).

        Parameters
        ----------
        fname_or_handle : str or os.PathLike
            Target file. Extra gensim arguments (``separately``, ``sep_limit``,
            ``pickle_protocol``...) are accepted and ignored.
        """
        if not isinstance(fname_or_handle, (str, os.PathLike)):
            raise TypeError("save() takes a file path")
        self.add_lifecycle_event("saving", fname_or_handle=os.fspath(fname_or_handle))
        meta, arrays = self._to_persist()
        meta = {"class": type(self).__name__, **meta}
        _persist.write_container(fname_or_handle, meta, arrays)

    @classmethod
    def load(cls, fname: str | os.PathLike, mmap: str | None = None) -> KeyedVectors:
        """Load a model saved by :meth:`save`, or by gensim 4's ``save()``.

        Parameters
        ----------
        fname : str or os.PathLike
            The file.
        mmap : {None, 'r', 'r+', 'c'}
            Memory-map the arrays (``'r'``: read-only, opens in milliseconds and
            shares pages between processes).

        Returns
        -------
        KeyedVectors
            For a full model (e.g. ``Word2Vec``, ``PoincareModel``), its
            vectors. Vectors saved from a subclass that changes their meaning
            (:class:`~embedrs.models.poincare.PoincareKeyedVectors`) load as
            that subclass, as a gensim pickle would.

        Raises
        ------
        ValueError
            If the file is damaged, or, for such a subclass, holds other vectors.
        """
        fname = os.fspath(fname)
        _persist.check_regular_file(fname)
        if _persist.is_container(fname):
            meta, arrays = _persist.read_container(fname, mmap=mmap)
            target = cls._class_for(meta.get("class"), fname)
            for part in ("wv", "kv"):  # the vectors of a full model
                if part in meta and "vector_size" not in meta:
                    # (PoincareKeyedVectors of embedrs <= 0.1 nested their
                    # metadata under "kv" with unprefixed arrays)
                    prefix = f"{part}." if f"{part}.vectors" in arrays else ""
                    kv = target._from_persist(meta[part], arrays, prefix=prefix, fname=fname)
                    break
            else:
                kv = target._from_persist(meta, arrays, fname=fname)
        else:
            if not os.path.exists(fname):
                raise FileNotFoundError(f"{fname}: no such file")
            obj = _persist.load_gensim_pickle(fname, mmap=mmap)
            target = cls._class_for(str(obj.gensim_class).rsplit(".", 1)[-1], fname)
            kv = target._from_gensim(obj, fname)
        kv.add_lifecycle_event("loaded", fname=fname)
        return kv

    #: Names of the saved classes (embedrs or gensim) whose vectors this class
    #: loads as itself; empty: any vectors. A subclass that changes what the
    #: vectors mean lists its own, so that :meth:`load` refuses others and
    #: ``KeyedVectors.load`` returns it for them (as a gensim pickle would).
    _stored_as: tuple[str, ...] = ()

    @classmethod
    def _class_for(cls, stored: Any, fname: str) -> type[KeyedVectors]:
        """The class :meth:`load` builds for a file holding a saved ``stored`` class."""
        if cls._stored_as:
            if stored not in cls._stored_as:
                raise ValueError(
                    f"{fname}: holds a {str(stored)[:40]!r}, not a {cls.__name__} "
                    f"(one of {', '.join(cls._stored_as)})"
                )
            return cls
        todo = list(cls.__subclasses__())
        while todo:
            sub = todo.pop()
            if stored in sub._stored_as:
                return sub
            todo.extend(sub.__subclasses__())
        return cls

    @classmethod
    def _from_gensim(cls, obj: Any, fname: str) -> KeyedVectors:
        """Keyed vectors of an inert gensim object, validating every field used."""
        st = obj.state
        if "wv" in st and isinstance(st["wv"], _persist.GensimObject):
            st = st["wv"].state
        elif "kv" in st and isinstance(st["kv"], _persist.GensimObject):
            st = st["kv"].state
        if "vectors" not in st and "syn0" in st:
            st["vectors"] = st["syn0"]
        vectors = st.get("vectors")
        if vectors is None:
            raise ValueError(f"{fname}: gensim {obj.gensim_class} holds no vectors")
        if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or vectors.dtype.kind != "f":
            raise ValueError(f"{fname}: gensim vectors must be a 2-D floating-point array")
        index_to_key = st.get("index_to_key")
        if index_to_key is None:
            index_to_key = st.get("index2word", st.get("index2entity"))
        if index_to_key is None:
            raise ValueError(
                f"{fname}: gensim model from before 4.0 (no index_to_key); re-save it with gensim 4"
            )
        if not isinstance(index_to_key, list) or len(index_to_key) != vectors.shape[0]:
            raise ValueError(f"{fname}: index_to_key must be a list of {vectors.shape[0]} keys")
        try:
            {hash(k) for k in index_to_key}
        except TypeError:
            raise ValueError(f"{fname}: unhashable key in index_to_key") from None
        size = st.get("vector_size", vectors.shape[1])
        if type(size) is not int or size != vectors.shape[1]:
            raise ValueError(
                f"{fname}: vector_size {str(size)[:20]} does not match vectors {vectors.shape}"
            )
        kv = cls(size, 0, dtype=vectors.dtype)
        kv.vectors = vectors
        kv.index_to_key = list(index_to_key)
        kv.key_to_index = None  # rebuilt from index_to_key, never trusted
        nxt = st.get("next_index", len(index_to_key))
        kv.next_index = nxt if type(nxt) is int and nxt >= 0 else len(index_to_key)
        expandos = st.get("expandos") or {}
        if not isinstance(expandos, dict):
            raise ValueError(f"{fname}: expandos must be a dict")  # noqa: TRY004
        for name, arr in expandos.items():
            if (
                isinstance(arr, np.ndarray)
                and isinstance(name, str)
                and arr.ndim >= 1
                and arr.shape[0] == len(index_to_key)
            ):
                kv.expandos[name] = arr
            else:  # e.g. hierarchical-softmax codes (lists); embedrs rebuilds them from counts
                logger.debug("%s: skipping attribute %r of the gensim model", fname, name)
        kv._events_from_file(st.get("lifecycle_events", []))
        return kv


def _write_word2vec(
    fname: str,
    keys: list,
    vectors: np.ndarray,
    rows: list,
    binary: bool,
    write_header: bool,
    total_vec: int,
    append: bool,
) -> None:
    """Write word2vec text/binary through the package's one atomic writer.

    Rust formats the rows into a temporary file (its ``append`` mode writes
    straight to the path it is given, without a rename of its own);
    :func:`embedrs._persist.atomic_write` then moves it over ``fname``. For
    ``.gz`` / ``.bz2`` names Rust writes plain text to a scratch file and the
    compressed stream is produced and finished here, so an error on its last
    block is raised instead of leaving a truncated archive. ``append=True``
    adds to the existing file (a new gzip member for ``.gz``), like gensim.
    """
    kind = "gz" if fname.endswith(".gz") else "bz2" if fname.endswith(".bz2") else None
    rust = _rust()

    def rust_write(path: str) -> None:
        rust.w2v_write(
            path,
            keys,
            vectors,
            rows,
            binary,
            write_header=write_header,
            total_vec=total_vec,
            append=True,
        )

    if kind is None:
        if append:
            rust_write(fname)
            return
        with _persist.atomic_write(fname) as tmp:
            rust_write(tmp)
        return
    plain = _persist.scratch_path(fname)
    try:
        rust_write(plain)
        if append:
            with open(fname, "ab") as out:
                _persist.compress_file(plain, out, kind)
        else:
            with _persist.atomic_write(fname) as tmp, open(tmp, "wb") as out:
                _persist.compress_file(plain, out, kind)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(plain)


def _read_word2vec(
    fname: str | os.PathLike,
    binary: bool,
    encoding: str,
    unicode_errors: str,
    limit: int | None,
    no_header: bool,
    allow_nonfinite: bool,
    datatype: Any,
) -> tuple[list, np.ndarray, int, bool]:
    """Keys (decoded), vectors, declared count and whether data trails, of a
    word2vec C-format file, parsed in Rust (every key kept, duplicates too)."""
    utf8 = encoding.lower().replace("-", "_").replace("_", "") in {"utf8", "u8"}
    logger.info("loading projection weights from %s", fname)
    try:
        keys, vectors, declared, trailing = _rust().w2v_read(
            os.fspath(fname),
            binary,
            limit=None if limit is None else int(limit),
            no_header=no_header,
            unicode_errors=unicode_errors if utf8 else "raw",
            allow_nonfinite=allow_nonfinite,
            dtype="float64" if datatype == np.float64 else "float32",
        )
    except ValueError as exc:
        raise _translate_format_error(exc) from None
    if not utf8:
        keys = [k.decode(encoding, errors=unicode_errors) for k in keys]
    return keys, vectors, declared, trailing


def load_word2vec_format(*args: Any, **kwargs: Any) -> KeyedVectors:
    """Alias of :meth:`KeyedVectors.load_word2vec_format`."""
    return KeyedVectors.load_word2vec_format(*args, **kwargs)


def pseudorandom_weak_vector(
    size: int, seed_string: Any = None, hashfxn: Callable[[Any], int] = hash
) -> np.ndarray:
    """A small random float32 vector, uniform in ``[-0.5/size, 0.5/size)``, as gensim's.

    With ``seed_string``, the vector is derived from ``hashfxn(seed_string)``
    (the same numbers as gensim for the same hash); without one, it comes from
    a process-wide generator.

    Parameters
    ----------
    size : int
        Length of the vector.
    seed_string : object, optional
        Seed material (usually the key).
    hashfxn : callable
        Maps ``seed_string`` to an int (``hash`` by default, so salted per process for str).
    """
    if seed_string:
        rng = np.random.Generator(np.random.SFC64(hashfxn(seed_string) & 0xFFFFFFFF))
    else:
        rng = _DEFAULT_PRNG
    return (rng.random(size).astype(REAL) - 0.5) / size


def prep_vectors(
    target_shape: tuple[int, int],
    prior_vectors: np.ndarray | None = None,
    seed: int = 0,
    dtype: Any = REAL,
) -> np.ndarray:
    """An array of ``target_shape``: ``prior_vectors`` itself if it already has that shape,
    else new values uniform in ``[-1/dim, 1/dim)`` with the old values copied into
    their corner (gensim's rule and random numbers for the same ``seed``).

    Parameters
    ----------
    target_shape : (int, int)
        ``(count, vector_size)``.
    prior_vectors : numpy.ndarray, optional
        Values to keep.
    seed : int
        Seed of ``numpy.random.default_rng`` for the new values.
    dtype : numpy dtype
        Element type of a new array.
    """
    if prior_vectors is None:
        prior_vectors = np.zeros((0, 0))
    if prior_vectors.shape == tuple(target_shape):
        return prior_vectors
    _, vector_size = target_shape
    rng = np.random.default_rng(seed=seed)
    fresh = rng.random(target_shape, dtype=dtype)
    fresh *= 2.0
    fresh -= 1.0
    fresh /= vector_size
    fresh[: prior_vectors.shape[0], : prior_vectors.shape[1]] = prior_vectors
    return fresh


_DEFAULT_PRNG = np.random.default_rng()


class CompatVocab:
    """One vocabulary entry of gensim 3 (``count``, ``index``, ...), kept so that
    code and old pickles naming it keep working; gensim 4 and embedrs store these
    per key with :meth:`KeyedVectors.set_vecattr`.

    Parameters
    ----------
    **kwargs
        Attributes to set (``count`` defaults to 0).
    """

    def __init__(self, **kwargs: Any) -> None:
        self.count = 0
        self.__dict__.update(kwargs)

    def __lt__(self, other: CompatVocab) -> bool:
        return self.count < other.count

    def __str__(self) -> str:
        vals = [f"{k}:{self.__dict__[k]!r}" for k in sorted(self.__dict__) if not k.startswith("_")]
        return f"{type(self).__name__}<{', '.join(vals)}>"


Vocab = CompatVocab


def _load_word2vec_format(
    cls: type[KeyedVectors],
    fname: str | os.PathLike,
    fvocab: str | os.PathLike | None = None,
    binary: bool = False,
    encoding: str = "utf8",
    unicode_errors: str = "strict",
    limit: int | None = None,
    datatype: Any = REAL,
    no_header: bool = False,
    binary_chunk_size: int = 100 * 1024,
) -> KeyedVectors:
    """gensim's module-level loader: ``cls.load_word2vec_format`` with the same arguments.

    ``binary_chunk_size`` is checked and otherwise unused: the Rust reader
    memory-maps or streams the file itself.
    """
    check_int(binary_chunk_size, "binary_chunk_size", low=1)
    return cls.load_word2vec_format(
        fname,
        fvocab=fvocab,
        binary=binary,
        encoding=encoding,
        unicode_errors=unicode_errors,
        limit=limit,
        datatype=datatype,
        no_header=no_header,
    )


Word2VecKeyedVectors = KeyedVectors
Doc2VecKeyedVectors = KeyedVectors
EuclideanKeyedVectors = KeyedVectors
Dictionary = unsupported_class(
    "Dictionary",
    "gensim.corpora.Dictionary",
    "use gensim.corpora.Dictionary from gensim (embedrs.models.keyedvectors only needs it "
    "inside gensim's wmdistance, which embedrs computes without it)",
)
FastTextKeyedVectors = unsupported_class(
    "FastTextKeyedVectors",
    "gensim.models.fasttext.FastTextKeyedVectors",
    "FastText is not part of embedrs; use gensim.models.FastText",
)

__all__ = [
    "REAL",
    "CompatVocab",
    "Doc2VecKeyedVectors",
    "EuclideanKeyedVectors",
    "KeyedVectors",
    "UnexpectedEndOfFileError",
    "Vocab",
    "Word2VecKeyedVectors",
    "deprecated",
    "load_word2vec_format",
    "prep_vectors",
    "pseudorandom_weak_vector",
]
