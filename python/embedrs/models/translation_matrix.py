"""Linear maps between two embedding spaces, with gensim's ``translation_matrix`` API.

Mikolov, Le and Sutskever ("Exploiting similarities among languages for
machine translation", 2013) observed that word vectors trained separately
on two languages are related by a linear map: given a few hundred known
translation pairs, the matrix ``W`` minimising ``Σ ||x_i W - z_i||²`` over the
pairs (source vector ``x_i``, target vector ``z_i``, both unit length) maps any
other source word near its translation. Dinu, Lazaridou and Baroni
("Improving zero-shot learning by mitigating the hubness problem", 2015)
correct the nearest-neighbour step for "hub" target words that are close to
everything (``gc=1`` here, as in gensim).

* :class:`TranslationMatrix` learns ``W`` between two
  :class:`~embedrs.models.KeyedVectors` and translates words with it.
* :class:`BackMappingTranslationMatrix` learns the map between the document
  vectors of two :class:`~embedrs.models.Doc2Vec` models trained on
  overlapping corpora, so that a document known only to the second model can
  be given a vector in the first's space.
* :class:`Space` is a matrix of vectors with its words.

Swapping ``gensim.models`` for ``embedrs.models`` is enough for code that uses
these classes; gensim's own ``test_translation_matrix.py`` runs that way in
``tests/test_gensim_suite.py``. Differences from gensim, each deliberate:

* ``save``/``load`` use embedrs' native container (no pickle; written
  atomically), and ``load`` also reads a ``TranslationMatrix`` saved by gensim,
  through the safe loader (no pickled code runs).
* Unknown words raise a ``KeyError`` that names the word and its side.
* A zero vector stays zero when normalised (gensim divides by zero and
  returns NaN).
* ``translate(..., gc=1)`` samples its extra source words without replacement
  and from the vocabulary's own order, so a given ``random_state`` gives the
  same translation in every process (gensim samples with replacement from a
  set, whose order changes with ``PYTHONHASHSEED``).
* The similarity matrix is never built whole: target words are taken in
  blocks, so translating many words against a large vocabulary needs memory
  for one block, not ``len(target) x len(words)`` floats.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np

from embedrs import _persist
from embedrs.models.keyedvectors import KeyedVectors
from embedrs.utils import LifecycleEvents

__all__ = ["BackMappingTranslationMatrix", "Space", "TranslationMatrix"]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike

#: Floats of one block of the similarity matrix in :meth:`TranslationMatrix.translate`.
_BLOCK_FLOATS = 1 << 20


def _random_state(seed: Any) -> np.random.RandomState:
    """A ``RandomState`` from ``None`` (fresh entropy), an int or an existing one."""
    if seed is None:
        return np.random.RandomState()
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.RandomState(int(seed))
    raise TypeError(
        f"random_state must be None, an int or a numpy RandomState, not {type(seed).__name__}"
    )


def _keyed_vectors(obj: Any, what: str) -> KeyedVectors:
    """``obj`` as keyed vectors (a model's ``wv`` is taken)."""
    kv = getattr(obj, "wv", obj)
    if not hasattr(kv, "vectors") or not hasattr(kv, "get_index"):
        raise TypeError(
            f"{what} must be a KeyedVectors (or a model with .wv), not {type(obj).__name__}"
        )
    return kv


def _unit_rows(mat: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; zero rows stay zero."""
    norms = np.sqrt(np.einsum("ij,ij->i", mat, mat, dtype=np.float64))
    norms[norms == 0.0] = 1.0
    return (mat / norms[:, None].astype(mat.dtype, copy=False)).astype(mat.dtype, copy=False)


class Space:
    """Vectors of words, one row per word of ``index2word``.

    Parameters
    ----------
    matrix : array_like
        The vectors, ``len(index2word)`` rows.
    index2word : list
        The word of each row.
    """

    def __init__(self, matrix: Any, index2word: Sequence[Hashable]) -> None:
        words = list(index2word)
        mat = np.asarray(matrix)
        if mat.ndim == 1 and mat.size == 0:
            mat = mat.reshape(0, 0)
        if mat.ndim != 2 or mat.shape[0] != len(words):
            raise ValueError(
                f"a Space needs one vector per word: {len(words)} words, "
                f"matrix of shape {mat.shape}"
            )
        self.mat = mat
        self.index2word = words
        self.word2index = {w: i for i, w in enumerate(words)}

    @classmethod
    def build(cls, lang_vec: Any, lexicon: Iterable[Hashable] | None = None) -> Space:
        """The space of ``lexicon``'s words in ``lang_vec`` (all its words when ``None``).

        Raises
        ------
        KeyError
            If a word of ``lexicon`` has no vector.
        """
        kv = _keyed_vectors(lang_vec, "lang_vec")
        words = list(kv.index_to_key) if lexicon is None else list(lexicon)
        rows = [kv.get_index(w) for w in words]
        return cls(np.asarray(kv.vectors)[rows], words)

    def normalize(self) -> None:
        """Scale every vector to unit length (zero vectors stay zero)."""
        self.mat = _unit_rows(np.asarray(self.mat))

    def __len__(self) -> int:
        return len(self.index2word)

    def __repr__(self) -> str:
        return f"Space({len(self)} words x {self.mat.shape[1] if self.mat.ndim == 2 else 0})"


def _pairs(word_pairs: Any) -> tuple[tuple, tuple]:
    """The source and target words of ``word_pairs``, checked."""
    if isinstance(word_pairs, (str, bytes)) or not isinstance(word_pairs, Iterable):
        raise TypeError("word_pairs must be a list of (source word, target word) pairs")
    pairs = list(word_pairs)
    if not pairs:
        raise ValueError("word_pairs is empty: a translation matrix needs known pairs")
    for i, p in enumerate(pairs):
        if isinstance(p, (str, bytes)) or not isinstance(p, Sequence) or len(p) != 2:
            raise ValueError(
                "Each training data item must contain two different language words "
                f"(item {i} is {p!r:.80})"
            )
    src, tgt = zip(*pairs)
    return tuple(src), tuple(tgt)


def _rows_of(kv: KeyedVectors, words: Sequence, side: str) -> np.ndarray:
    """Unit-length vectors of ``words`` in ``kv``, in order."""
    idx = []
    for w in words:
        try:
            idx.append(kv.get_index(w))
        except KeyError:
            raise KeyError(
                f"{side} word {w!r} has no vector in the {side} language's vectors"
            ) from None
    return _unit_rows(np.asarray(kv.vectors)[idx])


def _first_seen(words: Iterable) -> list:
    """``words`` without repeats, in order of first appearance."""
    return list(dict.fromkeys(words))


class TranslationMatrix(LifecycleEvents):
    """A linear map from one word-vector space to another, learnt from known word pairs.

    Parameters
    ----------
    source_lang_vec, target_lang_vec : KeyedVectors
        The two spaces (a model's ``.wv`` is taken from a model).
    word_pairs : list of (source word, target word), optional
        Trains at once when given (:meth:`train`).
    random_state : None, int or numpy.random.RandomState, optional
        Randomness of ``translate(..., gc=1)``'s sampling.

    Attributes
    ----------
    translation_matrix : numpy.ndarray or None
        ``W``, ``(source size, target size)``: a unit source vector ``x``
        maps to ``x @ W``.
    source_word, target_word : tuple
        The training pairs' words.
    source_space, target_space : Space or None
        The training words' unit vectors (not saved).
    """

    def __init__(
        self,
        source_lang_vec: Any,
        target_lang_vec: Any,
        word_pairs: Any = None,
        random_state: Any = None,
    ) -> None:
        self.source_word: tuple | None = None
        self.target_word: tuple | None = None
        self.source_lang_vec = _keyed_vectors(source_lang_vec, "source_lang_vec")
        self.target_lang_vec = _keyed_vectors(target_lang_vec, "target_lang_vec")
        self.random_state = _random_state(random_state)
        self.translation_matrix: np.ndarray | None = None
        self.source_space: Space | None = None
        self.target_space: Space | None = None
        if word_pairs is not None:
            self.train(word_pairs)

    def __repr__(self) -> str:
        shape = None if self.translation_matrix is None else self.translation_matrix.shape
        return f"TranslationMatrix(matrix={shape}, pairs={len(self.source_word or ())})"

    def train(self, word_pairs: Any) -> None:
        """Learn ``W`` from ``word_pairs`` by least squares on unit vectors.

        Raises
        ------
        ValueError
            If ``word_pairs`` is empty or an item is not a pair.
        KeyError
            If a word has no vector on its side (naming it).
        """
        src, tgt = _pairs(word_pairs)
        m1 = _rows_of(self.source_lang_vec, src, "source")
        m2 = _rows_of(self.target_lang_vec, tgt, "target")
        solution = np.linalg.lstsq(m1.astype(np.float64), m2.astype(np.float64), rcond=None)[0]
        self.translation_matrix = solution.astype(np.result_type(m1.dtype, m2.dtype))
        self.source_word, self.target_word = src, tgt
        self.source_space = Space.build(self.source_lang_vec, _first_seen(src))
        self.target_space = Space.build(self.target_lang_vec, _first_seen(tgt))
        self.source_space.normalize()
        self.target_space.normalize()
        logger.info(
            "trained a %s translation matrix on %d word pairs",
            "x".join(map(str, self.translation_matrix.shape)),
            len(src),
        )

    def _matrix(self) -> np.ndarray:
        if self.translation_matrix is None:
            raise RuntimeError("the translation matrix is not trained yet: call train(word_pairs)")
        return self.translation_matrix

    def apply_transmat(self, words_space: Space) -> Space:
        """``words_space``'s vectors mapped by the matrix, as a new :class:`Space`.

        Raises
        ------
        ValueError
            If the vectors' size is not the matrix's source size.
        """
        w = self._matrix()
        mat = np.asarray(words_space.mat)
        if mat.ndim != 2 or mat.shape[1] != w.shape[0]:
            raise ValueError(
                f"vectors of size {mat.shape[-1] if mat.ndim else 0} cannot be mapped by a "
                f"{w.shape[0]}x{w.shape[1]} translation matrix"
            )
        return Space(mat @ w, words_space.index2word)

    def translate(
        self,
        source_words: Any,
        topn: int = 5,
        gc: int = 0,
        sample_num: int | None = None,
        source_lang_vec: Any = None,
        target_lang_vec: Any = None,
    ) -> OrderedDict:
        """The ``topn`` nearest target words of each source word once mapped.

        Parameters
        ----------
        source_words : word or list of words
            What to translate.
        topn : int
            Translations per word, best first.
        gc : int
            ``0``: nearest neighbours by cosine. Otherwise the globally corrected
            retrieval (Dinu et al. 2015): a target word ranks by how many of
            the (mapped) source words it is closer to than to this one, then by
            similarity, which demotes hubs; the source words are joined by
            ``sample_num`` words drawn from the source vocabulary.
        sample_num : int, optional
            Required with ``gc``.
        source_lang_vec, target_lang_vec : KeyedVectors, optional
            Other vectors to translate between (default: the model's own, with
            gensim's warning).

        Returns
        -------
        collections.OrderedDict
            ``{source word: [target words]}``.

        Raises
        ------
        KeyError
            If a source word has no vector.
        RuntimeError
            If the matrix is not trained, or ``gc`` is set without ``sample_num``.
        """
        w = self._matrix()
        if isinstance(source_words, (str, bytes)) or not isinstance(source_words, Iterable):
            source_words = [source_words]
        words = list(source_words)
        if isinstance(topn, bool) or not isinstance(topn, (int, np.integer)) or topn < 0:
            raise ValueError(f"topn must be a non-negative int, not {topn!r}")
        if source_lang_vec is None:
            warnings.warn(
                "The parameter source_lang_vec isn't specified, "
                "use the model's source language word vector as default.",
                stacklevel=2,
            )
            source_lang_vec = self.source_lang_vec
        if target_lang_vec is None:
            warnings.warn(
                "The parameter target_lang_vec isn't specified, "
                "use the model's target language word vector as default.",
                stacklevel=2,
            )
            target_lang_vec = self.target_lang_vec
        src_kv = _keyed_vectors(source_lang_vec, "source_lang_vec")
        tgt_kv = _keyed_vectors(target_lang_vec, "target_lang_vec")
        lexicon = _first_seen(words)
        if gc:
            if sample_num is None:
                raise RuntimeError(
                    "When using the globally corrected neighbour retrieval method, "
                    "the `sample_num` parameter(i.e. the number of words sampled from "
                    "source space) must be provided."
                )
            asked = set(lexicon)
            others = [k for k in src_kv.index_to_key if k not in asked]
            extra = min(int(sample_num), len(others))
            if extra > 0:
                picked = self.random_state.choice(len(others), extra, replace=False)
                lexicon += [others[i] for i in np.sort(picked)]
        source = _rows_of(src_kv, lexicon, "source") if lexicon else None
        tgt = np.asarray(tgt_kv.vectors)
        out: OrderedDict = OrderedDict()
        if source is None:
            return out
        mapped = source @ w
        if mapped.shape[1] != tgt.shape[1]:
            raise ValueError(
                f"the matrix maps to vectors of size {mapped.shape[1]}, the target vectors "
                f"have size {tgt.shape[1]}"
            )
        best = self._nearest(tgt, mapped, min(int(topn), len(tgt)), bool(gc), len(set(words)))
        column = {word: j for j, word in enumerate(lexicon)}
        keys = tgt_kv.index_to_key
        for word in words:
            out[word] = [keys[i] for i in best[:, column[word]]]
        return out

    @staticmethod
    def _nearest(
        tgt: np.ndarray, mapped: np.ndarray, topn: int, gc: bool, asked: int
    ) -> np.ndarray:
        """Row indices of the ``topn`` best target words for each of the first ``asked``
        columns of ``mapped`` (``topn x asked``), best first; block by block over the
        target rows, each block normalised as it is used."""
        n_cols = mapped.shape[0]
        if topn == 0 or len(tgt) == 0:
            return np.zeros((0, asked), dtype=np.int64)
        block = max(1, _BLOCK_FLOATS // max(1, n_cols))
        best_score = np.full((0, asked), np.inf)
        best_idx = np.zeros((0, asked), dtype=np.int64)
        mt = mapped.T
        positions = np.arange(n_cols, dtype=np.float64)[None, :]
        for start in range(0, len(tgt), block):
            rows = _unit_rows(tgt[start : start + block])
            # lower is better, as in gensim: minus the similarity
            score = (rows @ mt).astype(np.float64)
            np.negative(score, out=score)
            if gc:
                # each target word's rank among all the columns (one sort and
                # its inverse permutation), plus the score
                order = np.argsort(score, axis=1)
                rank = np.empty_like(score)
                np.put_along_axis(rank, order, positions, axis=1)
                rank += score
                score = rank
            score = score[:, :asked]
            # this block's best topn per column, then merged with the best so far
            if len(score) > topn:
                part = np.argpartition(score, topn - 1, axis=0)[:topn]
                block_score = np.take_along_axis(score, part, axis=0)
                block_idx = part + start
            else:
                block_score = score
                block_idx = np.broadcast_to(
                    np.arange(start, start + len(score))[:, None], score.shape
                )
            cand_score = np.concatenate([best_score, block_score])
            cand_idx = np.concatenate([best_idx, block_idx])
            if len(cand_score) > topn:
                keep = np.argpartition(cand_score, topn - 1, axis=0)[:topn]
                cand_score = np.take_along_axis(cand_score, keep, axis=0)
                cand_idx = np.take_along_axis(cand_idx, keep, axis=0)
            best_score, best_idx = cand_score, cand_idx
        # best first; equal scores by target row, as a stable sort of the whole column
        order = np.lexsort((best_idx, best_score), axis=0)
        return np.take_along_axis(best_idx, order, axis=0)

    # ------------------------------------------------------------------
    # persistence
    # ------------------------------------------------------------------

    def save(self, fname: PathLike, *args: Any, **kwargs: Any) -> None:
        """Save the matrix, the training pairs and both vector spaces, atomically.

        The embedrs native format (no pickle); ``source_space`` and
        ``target_space`` are not stored, as in gensim. gensim's other
        ``SaveLoad.save`` arguments are accepted and have no effect.

        Raises
        ------
        TypeError
            If a word has a type the format cannot store (nothing is written).
        """
        pairs_meta: dict[str, Any] = {}
        arrays: dict[str, np.ndarray] = {}
        if self.source_word is not None:
            for side, words in (
                ("source_word", self.source_word),
                ("target_word", self.target_word),
            ):
                m, a = _persist.encode_keys(list(words or ()), prefix=f"{side}.")
                pairs_meta[side] = {**m, "n": len(words or ())}
                arrays.update(a)
        kind, keys, pos, has_gauss, gauss = self.random_state.get_state()
        arrays["random_state"] = np.asarray(keys, dtype=np.uint32)
        extra = {
            "pairs": pairs_meta,
            "random_state": [str(kind), int(pos), int(has_gauss), float(gauss)],
        }
        _save_pair(fname, self, self.source_lang_vec, self.target_lang_vec, extra, arrays)

    @classmethod
    def load(cls, fname: PathLike, *args: Any, **kwargs: Any) -> TranslationMatrix:
        """Load a matrix saved by :meth:`save`, or by gensim (through the safe loader).

        Raises
        ------
        ValueError
            Naming the file, if it holds something else or is damaged.
        """
        fname = os.fspath(fname)
        _persist.check_regular_file(fname)
        if not _persist.is_container(fname):
            return cls._from_gensim(_persist.load_gensim_pickle(fname), fname)
        model = cls.__new__(cls)
        meta, arrays, model.source_lang_vec, model.target_lang_vec, w = _read_pair(fname, cls)
        model.translation_matrix = w
        model.source_space = model.target_space = None
        model.source_word = model.target_word = None
        pairs = meta.get("pairs")
        if not isinstance(pairs, dict):
            raise ValueError(f"{fname}: corrupt model: pairs")  # noqa: TRY004
        for side in ("source_word", "target_word"):
            if side in pairs:
                m = pairs[side]
                n = m.get("n") if isinstance(m, dict) else None
                if not isinstance(n, int) or n < 0:
                    raise ValueError(f"{fname}: corrupt model: {side}")
                words = _persist.decode_keys(m, arrays, n, prefix=f"{side}.", fname=fname)
                setattr(model, side, tuple(words() if callable(words) else words))
        model.random_state = _restored_state(meta.get("random_state"), arrays, fname)
        return model

    @classmethod
    def _from_gensim(cls, obj: Any, fname: str) -> TranslationMatrix:
        if not obj.gensim_class.endswith(".TranslationMatrix"):
            raise ValueError(f"{fname}: holds a gensim {obj.gensim_class}, not a TranslationMatrix")
        st = obj.state
        model = cls.__new__(cls)
        for side in ("source_lang_vec", "target_lang_vec"):
            kv = st.get(side)
            if not isinstance(kv, _persist.GensimObject):
                raise ValueError(f"{fname}: gensim TranslationMatrix without its {side}")  # noqa: TRY004
            setattr(model, side, KeyedVectors._from_gensim(kv, fname))
        for side in ("source_word", "target_word"):
            words = st.get(side)
            if words is not None and not isinstance(words, (tuple, list)):
                raise ValueError(f"{fname}: corrupt model: {side} is not a list of words")
            setattr(model, side, None if words is None else tuple(words))
        w = st.get("translation_matrix")
        model.translation_matrix = (
            None
            if w is None
            else _checked_matrix(
                w, model.source_lang_vec.vector_size, model.target_lang_vec.vector_size, fname
            )
        )
        model.source_space = model.target_space = None
        model.random_state = np.random.RandomState()
        return model


def _checked_matrix(w: Any, rows: int, cols: int, fname: str) -> np.ndarray:
    """A stored translation matrix, checked to be a finite ``rows x cols`` float array."""
    if (
        not isinstance(w, np.ndarray)
        or w.dtype.kind != "f"
        or w.shape != (rows, cols)
        or not np.isfinite(w).all()
    ):
        raise ValueError(
            f"{fname}: corrupt model: the translation matrix must be a finite "
            f"{rows}x{cols} float array"
        )
    return np.array(w)


def _save_pair(
    fname: PathLike,
    model: Any,
    source: KeyedVectors,
    target: KeyedVectors,
    meta: dict,
    arrays: dict[str, np.ndarray],
) -> None:
    """Write ``model``'s two vector spaces, its matrix and ``meta``/``arrays`` atomically."""
    if not isinstance(fname, (str, os.PathLike)):
        raise TypeError("save() takes a file path")
    src_meta, src_arrays = source._to_persist(prefix="source.")
    tgt_meta, tgt_arrays = target._to_persist(prefix="target.")
    arrays = {**arrays, **src_arrays, **tgt_arrays}
    if model.translation_matrix is not None:
        arrays["translation_matrix"] = np.asarray(model.translation_matrix)
    meta = {**meta, "class": type(model).__name__, "source": src_meta, "target": tgt_meta}
    _persist.write_container(fname, meta, arrays)


def _read_pair(
    fname: str, cls: type, transposed: bool = False
) -> tuple[dict, dict, KeyedVectors, KeyedVectors, np.ndarray | None]:
    """What :func:`_save_pair` wrote for a ``cls``: meta, arrays, both spaces and the
    matrix (``source x target`` sizes, or ``target x source`` when ``transposed``)."""
    meta, arrays = _persist.read_container(fname)
    if meta.get("class") != cls.__name__:
        raise ValueError(f"{fname}: holds a {str(meta.get('class'))[:40]!r}, not a {cls.__name__}")
    src = KeyedVectors._from_persist(meta.get("source"), arrays, "source.", fname)
    tgt = KeyedVectors._from_persist(meta.get("target"), arrays, "target.", fname)
    shape = (src.vector_size, tgt.vector_size)
    if transposed:
        shape = shape[::-1]
    w = arrays.get("translation_matrix")
    return meta, arrays, src, tgt, None if w is None else _checked_matrix(w, *shape, fname)


def _restored_state(spec: Any, arrays: dict, fname: str) -> np.random.RandomState:
    """The ``RandomState`` saved by :meth:`TranslationMatrix.save`."""
    keys = arrays.get("random_state")
    rs = np.random.RandomState()
    ok = (
        isinstance(spec, list)
        and len(spec) == 4
        and spec[0] == "MT19937"
        and isinstance(keys, np.ndarray)
        and keys.dtype == np.uint32
        and keys.shape == (624,)
    )
    if not ok:
        raise ValueError(f"{fname}: corrupt model: random state")
    try:
        rs.set_state(("MT19937", keys, int(spec[1]), int(spec[2]), float(spec[3])))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{fname}: corrupt model: random state ({exc})") from None
    return rs


def _doc_vector(model: Any, doc: Any, side: str) -> np.ndarray:
    """The flattened document vector(s) of ``doc``'s tags in ``model.dv``."""
    tags = getattr(doc, "tags", None)
    if tags is None:
        raise TypeError(f"documents must have .tags (TaggedDocument), not {type(doc).__name__}")
    try:
        return np.asarray(model.dv[tags]).ravel()
    except KeyError:
        raise KeyError(f"tag(s) {tags!r:.80} have no vector in the {side} model") from None


class BackMappingTranslationMatrix(LifecycleEvents):
    """A linear map from a Doc2Vec model's document vectors back to another's.

    The target model is trained on a superset of the source model's corpus;
    the map, learnt on the documents both know, gives a document only the
    target knows a vector in the source's space (:meth:`infer_vector`).

    Parameters
    ----------
    source_lang_vec, target_lang_vec : Doc2Vec
        The models (anything with a ``.dv`` of document vectors).
    tagged_docs : list of TaggedDocument, optional
        Trains at once when given (:meth:`train`).
    random_state : None, int or numpy.random.RandomState, optional
        Kept for gensim's signature (nothing here is random).
    """

    def __init__(
        self,
        source_lang_vec: Any,
        target_lang_vec: Any,
        tagged_docs: Any = None,
        random_state: Any = None,
    ) -> None:
        for what, m in (("source_lang_vec", source_lang_vec), ("target_lang_vec", target_lang_vec)):
            if not hasattr(m, "dv"):
                raise TypeError(f"{what} must be a Doc2Vec model, not {type(m).__name__}")
        self.tagged_docs = tagged_docs
        self.source_lang_vec = source_lang_vec
        self.target_lang_vec = target_lang_vec
        self.random_state = _random_state(random_state)
        self.translation_matrix: np.ndarray | None = None
        if tagged_docs is not None:
            self.train(tagged_docs)

    def train(self, tagged_docs: Any) -> np.ndarray:
        """Learn the map from the target's vectors of ``tagged_docs`` to the source's.

        Returns
        -------
        numpy.ndarray
            The matrix, ``(target size, source size)``.

        Raises
        ------
        ValueError
            If there are no documents.
        KeyError
            If a document's tags have no vector in one of the models.
        """
        docs = list(tagged_docs)
        if not docs:
            raise ValueError("tagged_docs is empty: the map needs documents both models know")
        m1 = np.stack([_doc_vector(self.source_lang_vec, d, "source") for d in docs])
        m2 = np.stack([_doc_vector(self.target_lang_vec, d, "target") for d in docs])
        solution = np.linalg.lstsq(m2.astype(np.float64), m1.astype(np.float64), rcond=None)[0]
        self.translation_matrix = solution.astype(np.result_type(m1.dtype, m2.dtype))
        return self.translation_matrix

    def save(self, fname: PathLike, *args: Any, **kwargs: Any) -> None:
        """Save the map and both models' document vectors, atomically (no pickle).

        The models' other weights are not stored: after :meth:`load`,
        ``source_lang_vec`` and ``target_lang_vec`` hold only their ``dv``,
        which is all that :meth:`train` and :meth:`infer_vector` use.
        gensim's other ``SaveLoad.save`` arguments are accepted and ignored.
        """
        _save_pair(fname, self, self.source_lang_vec.dv, self.target_lang_vec.dv, {}, {})

    @classmethod
    def load(cls, fname: PathLike, *args: Any, **kwargs: Any) -> BackMappingTranslationMatrix:
        """Load a map saved by :meth:`save`.

        Raises
        ------
        ValueError
            Naming the file, if it holds something else or is damaged.
        """
        fname = os.fspath(fname)
        _persist.check_regular_file(fname)
        if not _persist.is_container(fname):
            raise ValueError(f"{fname}: not an embedrs BackMappingTranslationMatrix file")
        model = cls.__new__(cls)
        _, _, src, tgt, w = _read_pair(fname, cls, transposed=True)
        model.source_lang_vec, model.target_lang_vec = _SavedDocVectors(src), _SavedDocVectors(tgt)
        model.translation_matrix = w
        model.tagged_docs = None
        model.random_state = np.random.RandomState()
        return model

    def infer_vector(self, target_doc_vec: Any) -> np.ndarray:
        """``target_doc_vec`` (a target-model document vector) in the source model's space.

        Raises
        ------
        RuntimeError
            If the map is not trained.
        ValueError
            If the vector's size is not the target model's.
        """
        if self.translation_matrix is None:
            raise RuntimeError("the map is not trained yet: call train(tagged_docs)")
        v = np.asarray(target_doc_vec)
        if v.shape[-1:] != self.translation_matrix.shape[:1]:
            raise ValueError(
                f"a vector of shape {v.shape} cannot be mapped: the target model's vectors "
                f"have size {self.translation_matrix.shape[0]}"
            )
        return v @ self.translation_matrix


class _SavedDocVectors:
    """A loaded :class:`BackMappingTranslationMatrix`'s model: its document vectors only."""

    def __init__(self, dv: KeyedVectors) -> None:
        self.dv = dv

    def __repr__(self) -> str:
        return f"<document vectors of a saved model: {len(self.dv)} tags>"
