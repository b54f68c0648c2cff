"""Doc2Vec (paragraph vectors) with gensim 4's API, trained by the embedrs Rust core.

Replace ``from gensim.models.doc2vec import Doc2Vec, TaggedDocument`` with
``from embedrs.models.doc2vec import Doc2Vec, TaggedDocument``: parameters,
defaults, attributes (``dv``, ``wv``, ``syn1neg``...) and methods are gensim's.
PV-DBOW (``dm=0``, optionally with skip-gram word training, ``dbow_words=1``)
and PV-DM (mean or sum of the context, or concatenation with ``dm_concat=1``)
run on the same Rust engine as :class:`~embedrs.models.word2vec.Word2Vec`, on
``workers`` threads with the GIL released.

Beyond gensim:

* :meth:`Doc2Vec.infer_vector` is deterministic: the same document and
  ``seed`` give the same vector, in any thread, any number of times; it never
  writes the model, so any number of threads may infer at once.
* :meth:`Doc2Vec.infer_vectors` infers a batch of documents on all workers.
* Bad documents (a string as ``words``, no tags, tags of an unsupported type)
  raise a clear ``TypeError``/``ValueError`` naming the document.

Document tags are ints (tag ``i`` is row ``i`` of ``dv``) or str keys, or a mix;
``dv`` is laid out as gensim lays it out: rows ``0..max_int_tag`` for the int
tags, then the str tags in first-seen order.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from embedrs import _persist
from embedrs._compat import class_only_method, unsupported_class, unsupported_function
from embedrs._embedrs import CorpusFile, VocabCounter, init_vectors
from embedrs._validate import check_flag, check_float, check_int, check_seed, check_workers
from embedrs.corpora import (
    MAX_WORDS_IN_BATCH,
    TaggedDocument,
    TaggedLineDocument,
)
from embedrs.models.callbacks import CallbackAny2Vec
from embedrs.models.keyedvectors import KeyedVectors, pseudorandom_weak_vector
from embedrs.models.word2vec import (
    REAL,
    PathLike,
    Word2Vec,
    _native_file,
    keep_vocab_item,
)
from embedrs.utils import deprecated

logger = logging.getLogger(__name__)

__all__ = [
    "CORPUSFILE_VERSION",
    "FAST_VERSION",
    "Doc2Vec",
    "Doc2VecTrainables",
    "Doc2VecVocab",
    "Doctag",
    "TaggedBrownCorpus",
    "TaggedDocument",
    "TaggedLineDocument",
    "d2v_train_epoch_dbow",
    "d2v_train_epoch_dm",
    "d2v_train_epoch_dm_concat",
    "deprecated",
    "pseudorandom_weak_vector",
    "train_document_dbow",
    "train_document_dm",
    "train_document_dm_concat",
]

#: gensim's flags for its compiled routines and its ``corpus_file`` mode: embedrs
#: always has both (compiled float32 kernels, as in ``embedrs.models.word2vec``).
FAST_VERSION = 1
CORPUSFILE_VERSION = 1

#: Seed offset of the document vectors (gensim's: the 1000th prime), so that
#: they do not share the random stream of the word vectors.
_DV_SEED_OFFSET = 7919


def _core_class() -> Any:
    from embedrs import _embedrs

    try:
        return _embedrs.Doc2VecCore
    except AttributeError:  # pragma: no cover - an extension built without Doc2Vec
        raise RuntimeError(
            "this build of the embedrs extension has no Doc2Vec core; rebuild embedrs"
        ) from None


def _check_tag(tag: Any, doc_no: int) -> int | str:
    """A tag as Doc2Vec stores it: a non-negative int or a str; else a clear error."""
    if isinstance(tag, (bool, np.bool_)):
        raise TypeError(
            f"document #{doc_no}: tag {tag!r} is a bool; tags must be str or non-negative int"
        )
    if isinstance(tag, (int, np.integer)):
        if tag < 0:
            raise ValueError(
                f"document #{doc_no}: int tag {int(tag)} is negative; int tags are rows of "
                "model.dv and must be >= 0 (use a str tag for other keys)"
            )
        return int(tag)
    if isinstance(tag, str):
        return str(tag)
    raise TypeError(
        f"document #{doc_no}: tag {str(tag)[:40]!r} of type {type(tag).__name__}; tags must be "
        "str or non-negative int"
    )


def _check_words(words: Any, what: str) -> list | tuple:
    """``words`` if it is a list/tuple of tokens; a clear ``TypeError`` for a string or other."""
    if isinstance(words, (str, bytes)):
        raise TypeError(
            f"{what} must be a list of str tokens, got a single string {words[:40]!r} "
            "(split it first, e.g. text.split())"
        )
    if not isinstance(words, (list, tuple)):
        raise TypeError(f"{what} must be a list of str tokens, got {type(words).__name__}")
    return words


def _check_document(doc: Any, doc_no: int) -> tuple[list | tuple, list | tuple]:
    """``(words, tags)`` of one training document, checked."""
    try:
        words, tags = doc.words, doc.tags
    except AttributeError:
        raise TypeError(
            f"document #{doc_no} is a {type(doc).__name__} without .words and .tags; "
            "Doc2Vec takes TaggedDocument(words, tags) objects"
        ) from None
    _check_words(words, f"document #{doc_no}: words")
    if isinstance(tags, (str, bytes)):
        raise TypeError(
            f"document #{doc_no}: tags must be a list of tags, got the string {tags[:40]!r} "
            f"(write tags=[{tags[:40]!r}])"
        )
    if isinstance(tags, (int, np.integer)):
        raise TypeError(
            f"document #{doc_no}: tags must be a list of tags, got the int {tags!r} "
            f"(write tags=[{tags!r}])"
        )
    if not isinstance(tags, (list, tuple)):
        raise TypeError(
            f"document #{doc_no}: tags must be a list of tags, got {type(tags).__name__}"
        )
    if not tags:
        raise ValueError(f"document #{doc_no} has no tags; give each document at least one tag")
    return words, tags


class TaggedBrownCorpus:
    """The Brown corpus (NLTK's files, ``word/TAG`` tokens) as tagged documents.

    Each non-empty line of each file of ``dirname`` (in name order) becomes
    ``TaggedDocument(['word/PO', ...], ['<path>_SENT_<line>'])``: lower-cased
    words with the first two letters of alphabetic part-of-speech tags, as gensim's.
    """

    def __init__(self, dirname: PathLike) -> None:
        self.dirname = os.fspath(dirname)

    def __iter__(self) -> Iterator[TaggedDocument]:
        for name in sorted(os.listdir(self.dirname)):
            path = os.path.join(self.dirname, name)
            if not os.path.isfile(path):
                continue
            with open(path, encoding="utf8") as fin:
                for item_no, line in enumerate(fin):
                    pairs = [t.split("/") for t in line.split()]
                    words = [
                        f"{p[0].lower()}/{p[1][:2]}"
                        for p in pairs
                        if len(p) == 2 and p[1][:2].isalpha()
                    ]
                    if words:
                        yield TaggedDocument(words, [f"{path}_SENT_{item_no}"])


def _native_tagged_lines(documents: Any) -> CorpusFile | None:
    """The corpus file behind a plain ``TaggedLineDocument(path)``, when Rust reads its
    lines exactly as Python would (see :func:`embedrs.models.word2vec._native_file`).

    Doc2Vec then counts the file in Rust and trains each epoch from one Rust
    thread that reads it in order: the documents the Python feed would make,
    in the same batches (line ``i`` is document ``i``).
    """
    if type(documents) is not TaggedLineDocument:
        return None
    return _native_file(documents, documents.source, one_line=False)


class _TagScan:
    """Document tags met while scanning a corpus, laid out as gensim lays out ``dv``."""

    def __init__(self) -> None:
        self.max_int = -1
        self.str_tags: dict[str, list[int]] = {}  # tag -> [doc_count, word_count], first-seen order
        self.documents = 0

    def add(self, tags: Sequence[Any], n_words: int, doc_no: int) -> None:
        for raw in tags:
            tag = _check_tag(raw, doc_no)
            if isinstance(tag, int):
                self.max_int = max(self.max_int, tag)
            else:
                entry = self.str_tags.get(tag)
                if entry is None:
                    self.str_tags[tag] = [1, n_words]
                else:
                    entry[0] += 1
                    entry[1] += n_words

    def __len__(self) -> int:
        return self.max_int + 1 + len(self.str_tags)


class Doc2Vec(Word2Vec):
    """Paragraph vectors: PV-DBOW and PV-DM (gensim 4 compatible).

    Parameters
    ----------
    documents : iterable of TaggedDocument, optional
        A re-iterable corpus of ``TaggedDocument(words, tags)``. If given (or
        ``corpus_file``), the model is built and trained right away.
    corpus_file : str or path, optional
        One whitespace-tokenised document per line; the tag of line ``i``
        (from 0) is the int ``i``, as with :class:`TaggedLineDocument`.
    vector_size : int
        Dimensionality of word and document vectors.
    dm_mean : {0, 1}, optional
        PV-DM: 1 uses the mean of the context vectors, 0 their sum
        (default 1). Unlike gensim 4.4, where ``dm_mean=0`` is overridden by
        ``cbow_mean``'s default, ``dm_mean=0`` here means the sum.
    dm : {1, 0}
        1 for PV-DM ("distributed memory"), 0 for PV-DBOW ("distributed bag of words").
    dbow_words : {0, 1}
        PV-DBOW: also train word vectors, skip-gram style, interleaved.
    dm_concat : {0, 1}
        PV-DM: concatenate the tag and context vectors instead of averaging
        (a much larger output layer; the vocabulary gets the padding word ``\\0``).
    dm_tag_count : int
        PV-DM with ``dm_concat``: the number of tags of every document.
    concat_negative_reuse : int
        PV-DM with ``dm_concat`` and negative sampling: consecutive positions
        of a document that share one draw of noise words (embedrs only;
        ``1`` draws afresh for every position, as gensim does). The
        concatenated input's output rows are ``dm_tag_count + 2 * window``
        vectors wide, so this mode is bound by loading them; a shared draw
        loads fewer distinct rows. The default, 4, trains about 1.4x faster
        at the same IMDB sentiment error (``benches/RESULTS.md``).
    dv : KeyedVectors, optional
        Use these document vectors (gensim's option; normally left ``None``).
    dv_mapfile : str, optional
        Accepted for compatibility; unused.
    comment : str, optional
        Shown by ``str(model)``.
    trim_rule : callable, optional
        ``trim_rule(word, count, min_count)`` returning ``RULE_KEEP``,
        ``RULE_DISCARD`` or ``RULE_DEFAULT``.
    callbacks : sequence of CallbackAny2Vec
        Hooks called at training and epoch boundaries.
    window : int
        Maximum distance between the predicted word and its context words.
    epochs : int
        Passes over the corpus (10, gensim's Doc2Vec default).
    shrink_windows : bool
        Sample the effective window uniformly from ``[1, window]`` per word.
    alpha, min_alpha, seed, min_count, max_vocab_size, max_final_vocab, sample,
    workers, hs, negative, ns_exponent, hashfxn, sorted_vocab, batch_words,
    compute_loss, progress_bar
        As for :class:`~embedrs.models.word2vec.Word2Vec`.

    Attributes
    ----------
    dv : KeyedVectors
        One vector per document tag (``model.dv['doc3']``, ``model.dv[3]``).
    wv : KeyedVectors
        The word vectors.
    syn1neg, syn1 : numpy.ndarray
        Output weights, ``layer1_size`` columns (``vector_size``, or
        ``(dm_tag_count + 2 * window) * vector_size`` with ``dm_concat``).
    """

    def __init__(
        self,
        documents: Iterable[TaggedDocument] | None = None,
        corpus_file: PathLike | None = None,
        vector_size: int = 100,
        dm_mean: int | None = None,
        dm: int = 1,
        dbow_words: int = 0,
        dm_concat: int = 0,
        dm_tag_count: int = 1,
        concat_negative_reuse: int = 4,
        dv: KeyedVectors | None = None,
        dv_mapfile: str | None = None,
        comment: str | None = None,
        trim_rule: Callable | None = None,
        callbacks: Sequence[CallbackAny2Vec] = (),
        window: int = 5,
        epochs: int = 10,
        shrink_windows: bool = True,
        alpha: float = 0.025,
        min_alpha: float = 0.0001,
        seed: int = 1,
        min_count: int = 5,
        max_vocab_size: int | None = None,
        max_final_vocab: int | None = None,
        sample: float = 1e-3,
        workers: int = 3,
        hs: int = 0,
        negative: int = 5,
        ns_exponent: float = 0.75,
        hashfxn: Callable[[str], int] = hash,
        sorted_vocab: int = 1,
        batch_words: int = MAX_WORDS_IN_BATCH,
        compute_loss: bool = False,
        progress_bar: bool = False,
        **kwargs: Any,
    ) -> None:
        for name in ("sg", "null_word"):
            if name in kwargs:
                raise TypeError(
                    f"Doc2Vec() got an unexpected keyword argument {name!r} "
                    f"(it follows from {'dm' if name == 'sg' else 'dm_concat'})"
                )
        cbow_mean = kwargs.pop("cbow_mean", 1)
        if dm_mean is not None:
            cbow_mean = dm_mean
        dm = check_flag(dm, "dm")
        self.dbow_words = check_flag(dbow_words, "dbow_words")
        self.dm_concat = check_flag(dm_concat, "dm_concat")
        self.dm_tag_count = check_int(dm_tag_count, "dm_tag_count", low=1)
        self.concat_negative_reuse = check_int(
            concat_negative_reuse, "concat_negative_reuse", low=1
        )
        self.dv_mapfile = dv_mapfile
        if dv is not None and not isinstance(dv, KeyedVectors):
            raise TypeError(f"dv must be a KeyedVectors, not {type(dv).__name__}")
        self.dv = (
            dv if dv is not None else KeyedVectors(check_int(vector_size, "vector_size", low=1))
        )
        self.dv.vectors_lockf = np.ones(1, dtype=REAL)
        self._core_cache: tuple[Any, Any] | None = None
        self._core_lock = threading.Lock()
        self._plan: tuple | None = None
        super().__init__(
            sentences=documents,
            corpus_file=corpus_file,
            vector_size=vector_size,
            alpha=alpha,
            window=window,
            min_count=min_count,
            max_vocab_size=max_vocab_size,
            sample=sample,
            seed=seed,
            workers=workers,
            min_alpha=min_alpha,
            sg=(1 + dm) % 2,
            hs=hs,
            negative=negative,
            ns_exponent=ns_exponent,
            cbow_mean=cbow_mean,
            hashfxn=hashfxn,
            epochs=epochs,
            null_word=self.dm_concat,
            trim_rule=trim_rule,
            sorted_vocab=sorted_vocab,
            batch_words=batch_words,
            compute_loss=compute_loss,
            callbacks=callbacks,
            comment=comment,
            max_final_vocab=max_final_vocab,
            shrink_windows=shrink_windows,
            progress_bar=progress_bar,
            **kwargs,
        )
        self.layer1_size = self._layer1_size()

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_core_lock", None)
        state["_core_cache"] = None
        state.pop("_plan", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._core_lock = threading.Lock()
        self._core_cache = None
        self._plan = None

    # ------------------------------------------------------------------
    # gensim's derived attributes
    # ------------------------------------------------------------------

    @property
    def dm(self) -> bool:
        """Whether PV-DM ("distributed memory") is used, else PV-DBOW."""
        return not self.sg

    @property
    def dbow(self) -> int:
        """Whether PV-DBOW ("distributed bag of words") is used, else PV-DM."""
        return self.sg

    @property
    def dm_mean(self) -> int:
        """PV-DM averages (1) or sums (0) its context (the same setting as ``cbow_mean``)."""
        return self.cbow_mean

    @property
    def docvecs(self) -> KeyedVectors:
        """Deprecated name of :attr:`dv`."""
        warnings.warn(
            "The `docvecs` property has been renamed `dv`.", DeprecationWarning, stacklevel=2
        )
        return self.dv

    @docvecs.setter
    def docvecs(self, value: KeyedVectors) -> None:
        warnings.warn(
            "The `docvecs` property has been renamed `dv`.", DeprecationWarning, stacklevel=2
        )
        self.dv = value

    def _layer1_size(self) -> int:
        if self.dm_concat and not self.sg:
            return (self.dm_tag_count + 2 * self.window) * self.vector_size
        return self.vector_size

    def __str__(self) -> str:
        segments = []
        if self.comment:
            segments.append(f'"{self.comment}"')
        if self.sg:
            segments.append("dbow+w" if self.dbow_words else "dbow")
        elif self.dm_concat:
            segments.append("dm/c")
        else:
            segments.append("dm/m" if self.cbow_mean else "dm/s")
        segments.append(f"d{self.dv.vector_size}")
        if self.negative:
            segments.append(f"n{self.negative}")
        if self.hs:
            segments.append("hs")
        if not self.sg or self.dbow_words:
            segments.append(f"w{self.window}")
        if self.min_count > 1:
            segments.append(f"mc{self.min_count}")
        if self.sample > 0:
            segments.append(f"s{self.sample:g}")
        if self.workers > 1:
            segments.append(f"t{self.workers}")
        return f"{type(self).__name__}<{','.join(segments)}>"

    def __getitem__(self, tag: Any) -> np.ndarray:
        """The vector of a word if ``tag`` is one, else of the document tag (gensim's rule)."""
        if isinstance(tag, (str, int, np.integer)):
            if tag not in self.wv:
                return self.dv[tag]
            return self.wv[tag]
        return np.vstack([self[t] for t in tag])

    def estimated_lookup_memory(self) -> int:
        """Estimated bytes of the tag lookup (gensim's estimate: 200 per tag)."""
        return 60 * len(self.dv) + 140 * len(self.dv)

    def estimate_memory(self, vocab_size: int | None = None, report: dict | None = None) -> dict:
        """Estimated bytes of the model's arrays and lookups (gensim's figures)."""
        n = len(self.wv) if vocab_size is None else vocab_size
        layer1 = self._layer1_size()
        out = dict(report or {})
        out["doctag_lookup"] = self.estimated_lookup_memory()
        out["doctag_syn0"] = len(self.dv) * self.vector_size * 4
        out["vocab"] = n * (700 if self.hs else 500)
        out["vectors"] = n * self.vector_size * 4
        if self.hs:
            out["syn1"] = n * layer1 * 4
        if self.negative:
            out["syn1neg"] = n * layer1 * 4
        out["total"] = sum(out.values())
        logger.info(
            "estimated required memory for %i words and %i dimensions: %i bytes",
            n,
            self.vector_size,
            out["total"],
        )
        return out

    def init_sims(self, replace: bool = False) -> None:
        """Precompute normalised document vectors (kept for gensim compatibility)."""
        self.dv.fill_norms(force=True)

    def _clear_post_train(self) -> None:
        self.wv.fill_norms(force=True)
        self.dv.fill_norms(force=True)

    # ------------------------------------------------------------------
    # vocabulary
    # ------------------------------------------------------------------

    def scan_vocab(
        self,
        corpus_iterable: Iterable[TaggedDocument] | None = None,
        corpus_file: PathLike | None = None,
        progress_per: int = 100000,
        workers: int | None = None,
        trim_rule: Callable | None = None,
    ) -> tuple[int, int]:
        """Count words and tags into ``raw_vocab`` and ``dv``; returns ``(total_words, documents)``."""
        logger.info("collecting all words and their counts")
        start = time.perf_counter()
        tags = _TagScan()
        native = None
        if corpus_file is None and not self.max_vocab_size:
            # a TaggedLineDocument that Rust reads as Python does counts as its
            # file: the same words, one int tag per line (with max_vocab_size,
            # pruning after each empty line too, only Python's scan is exact)
            native = _native_tagged_lines(corpus_iterable)
            if native is not None:
                corpus_file, corpus_iterable = corpus_iterable.source, None  # type: ignore[union-attr]
        if corpus_file is not None and not (trim_rule is not None and self.max_vocab_size):
            corpus = native if native is not None else CorpusFile(os.fspath(corpus_file))
            items, _, total = corpus.count_words(
                check_workers(self.workers if workers is None else workers),
                1 << 62,
                self.max_vocab_size,
            )
            raw = dict(items)
            tags.documents = corpus.count_lines()
            tags.max_int = tags.documents - 1
        else:
            if corpus_iterable is None:
                corpus_iterable = TaggedLineDocument(corpus_file)  # type: ignore[arg-type]
            raw, total = self._scan_documents(corpus_iterable, progress_per, trim_rule, tags)
        self._pending_tags = tags
        self.raw_vocab = raw
        self.corpus_count = tags.documents
        self.corpus_total_words = int(total)
        if len(tags.str_tags) > tags.documents:
            logger.warning(
                "More unique tags (%i) than documents (%i).", len(tags.str_tags), tags.documents
            )
        if tags.max_int > tags.documents:
            logger.warning(
                "Highest int doctag (%i) larger than count of documents (%i). This means "
                "at least %i excess, unused slots (%i bytes) will be allocated for vectors.",
                tags.max_int,
                tags.documents,
                tags.max_int - tags.documents,
                (tags.max_int - tags.documents) * self.vector_size * 4,
            )
        logger.info(
            "collected %i word types and %i unique tags from a corpus of %i examples and %i words "
            "in %.2fs",
            len(raw),
            len(tags),
            tags.documents,
            total,
            time.perf_counter() - start,
        )
        return int(total), tags.documents

    def _scan_documents(
        self,
        documents: Iterable[TaggedDocument],
        progress_per: int,
        trim_rule: Callable | None,
        tags: _TagScan,
    ) -> tuple[dict[str, int], int]:
        """Count words (Rust counter, gensim's pruning) and tags of ``documents``."""
        rule = None
        if trim_rule is not None and self.max_vocab_size:

            def rule(word: str, count: int, min_reduce: int) -> bool:
                return keep_vocab_item(word, count, min_reduce, trim_rule)

        counter = VocabCounter(self.max_vocab_size, rule)

        def words_of() -> Iterable[Sequence[str]]:
            for doc_no, doc in enumerate(documents):
                words, doc_tags = _check_document(doc, doc_no)
                tags.add(doc_tags, len(words), doc_no)
                tags.documents = doc_no + 1
                yield words

        last = [time.perf_counter(), 0]

        def progress(doc_no: int, total: int, kept: int) -> None:
            now = time.perf_counter()
            if now - last[0] > 1.0:
                logger.info(
                    "PROGRESS: at example #%i, processed %i words (%i words/s), %i word types, "
                    "%i tags",
                    doc_no,
                    total,
                    (total - last[1]) / (now - last[0]),
                    kept,
                    len(tags),
                )
                last[0], last[1] = now, total

        counter.update(words_of(), max(int(progress_per or 0), 0), progress)
        return dict(counter.items()), counter.total_words

    def _set_tags(self, tags: _TagScan, update: bool) -> None:
        """Lay out ``dv``'s keys from a scan (gensim's layout), keeping old rows on ``update``."""
        dv = self.dv
        if not update or not len(dv.index_to_key):
            keys: list[Any] = list(range(tags.max_int + 1))
            keys.extend(tags.str_tags)
            word_count = np.zeros(len(keys), dtype=np.int64)
            doc_count = np.zeros(len(keys), dtype=np.int64)
            for i, (dc, wc) in enumerate(tags.str_tags.values(), tags.max_int + 1):
                doc_count[i] = dc
                word_count[i] = wc
            dv.index_to_key = keys
            dv.key_to_index = {k: i for i, k in enumerate(keys) if not isinstance(k, int)}
            dv.expandos = {"word_count": word_count, "doc_count": doc_count}
            dv.vectors = np.zeros((0, self.vector_size), dtype=REAL)
            return
        old = list(dv.index_to_key)
        n_int = 0
        while n_int < len(old) and isinstance(old[n_int], int) and old[n_int] == n_int:
            n_int += 1
        if tags.max_int >= n_int:
            if n_int < len(old):
                raise ValueError(
                    f"cannot add int tag {tags.max_int} to this model: its dv holds int tags "
                    f"0..{n_int - 1} followed by str tags, so new int tags cannot get their own "
                    "row; tag the new documents with str tags"
                )
            old = list(range(tags.max_int + 1))
        new_str = [t for t in tags.str_tags if t not in dv.key_to_index]
        keys = old + new_str
        counts = {}
        for name in ("word_count", "doc_count"):
            prev = np.asarray(dv.expandos.get(name, np.zeros(len(dv.index_to_key))), np.int64)
            arr = np.zeros(len(keys), dtype=np.int64)
            arr[: len(prev)] = prev[: len(keys)]
            counts[name] = arr
        index = {k: i for i, k in enumerate(keys) if not isinstance(k, int)}
        for tag, (dc, wc) in tags.str_tags.items():
            counts["doc_count"][index[tag]] += dc
            counts["word_count"][index[tag]] += wc
        dv.index_to_key = keys
        dv.key_to_index = index
        dv.expandos = counts
        logger.info("updating document tags: %i new tags", len(keys) - len(dv.vectors))

    def build_vocab(
        self,
        corpus_iterable: Iterable[TaggedDocument] | None = None,
        corpus_file: PathLike | None = None,
        update: bool = False,
        progress_per: int = 10000,
        keep_raw_vocab: bool = False,
        trim_rule: Callable | None = None,
        **kwargs: Any,
    ) -> None:
        """Build the word vocabulary and the document tags from a corpus.

        Parameters
        ----------
        corpus_iterable : iterable of TaggedDocument, optional
            The documents (``documents=`` is accepted too).
        corpus_file : str or path, optional
            One document per line, tagged by line number.
        update : bool
            Keep the existing words, tags and vectors; add the new words and
            tags (new int tags only while ``dv`` holds no str tags).
        progress_per : int
            Log progress every this many documents.
        keep_raw_vocab : bool
            Keep ``raw_vocab`` after building.
        trim_rule : callable, optional
            See :class:`Doc2Vec`.

        Raises
        ------
        TypeError
            For a document without ``words``/``tags``, ``words`` that is not
            a list of tokens, or a tag that is neither str nor int.
        ValueError
            For a document without tags or with a negative int tag.
        """
        if "documents" in kwargs and corpus_iterable is None:
            corpus_iterable = kwargs.pop("documents")
        super().build_vocab(
            corpus_iterable,
            corpus_file=corpus_file,
            update=update,
            progress_per=progress_per,
            keep_raw_vocab=keep_raw_vocab,
            trim_rule=trim_rule,
            **kwargs,
        )

    def prepare_vocab(self, update: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Apply ``min_count`` and friends to ``raw_vocab`` and lay out the scanned tags."""
        report = super().prepare_vocab(update=update, **kwargs)
        tags = getattr(self, "_pending_tags", None)
        if tags is not None and not kwargs.get("dry_run"):
            self._set_tags(tags, update)
            self._pending_tags = None
        report["memory"] = self.estimate_memory(vocab_size=report["num_retained_words"])
        return report

    def prepare_weights(self, update: bool = False) -> None:
        """Allocate (or, with ``update``, grow) word, document and output weights."""
        words = list(self.wv.index_to_key)
        n = len(words)
        self.layer1_size = layer1 = self._layer1_size()
        if self.dm_concat and not self.sg:
            logger.info("using concatenative %d-dimensional layer1", layer1)
        old = 0 if not update else self.wv.vectors.shape[0]
        new_rows = init_vectors(words[old:], self.vector_size, self.seed)
        if old:
            self.wv.vectors = np.ascontiguousarray(np.vstack([self.wv.vectors, new_rows]), REAL)
        else:
            self.wv.vectors = new_rows
        for name, used in (("syn1neg", self.negative), ("syn1", self.hs)):
            prev = getattr(self, name, None)
            if not used:
                setattr(self, name, np.zeros((0, layer1), dtype=REAL))
            elif old and isinstance(prev, np.ndarray) and prev.shape[1] == layer1:
                grown = np.zeros((n, layer1), dtype=REAL)
                grown[: len(prev)] = prev[:n]
                setattr(self, name, grown)
            else:
                setattr(self, name, np.zeros((n, layer1), dtype=REAL))
        if not update:
            self.dv.vectors = np.zeros((0, self.vector_size), dtype=REAL)
        self.dv.resize_vectors(seed=self.seed + _DV_SEED_OFFSET)
        self.dv.vectors = np.ascontiguousarray(self.dv.vectors, dtype=REAL)
        self.wv.vectors_lockf = np.ones(1, dtype=REAL)
        self.dv.vectors_lockf = np.ones(1, dtype=REAL)
        self._core_cache = None
        self.wv.fill_norms(force=True)
        self.dv.fill_norms(force=True)
        self._prepare_trainer()

    def build_vocab_from_freq(
        self,
        word_freq: dict[str, int],
        keep_raw_vocab: bool = False,
        corpus_count: int | None = None,
        trim_rule: Callable | None = None,
        update: bool = False,
    ) -> None:
        """Build the word vocabulary from ``{word: count}`` (no document tags are added)."""
        self._pending_tags = None
        super().build_vocab_from_freq(
            word_freq,
            keep_raw_vocab=keep_raw_vocab,
            corpus_count=corpus_count,
            trim_rule=trim_rule,
            update=update,
        )

    def reset_from(self, other_model: Doc2Vec) -> None:
        """Share the word vocabulary and document tags of ``other_model``; fresh weights."""
        self.wv.key_to_index = other_model.wv.key_to_index
        self.wv.index_to_key = other_model.wv.index_to_key
        self.wv.expandos = other_model.wv.expandos
        self.corpus_count = other_model.corpus_count
        self.dv.key_to_index = other_model.dv.key_to_index
        self.dv.index_to_key = other_model.dv.index_to_key
        self.dv.expandos = other_model.dv.expandos
        self.prepare_weights()

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------

    def _d2v_config(self) -> dict[str, Any]:
        config = self._training_config()
        return {
            "sample": config["sample"],
            "ns_exponent": config["ns_exponent"],
            "dm": not config["sg"],
            "dm_mean": config["cbow_mean"],
            "dm_concat": bool(check_flag(self.dm_concat, "dm_concat")),
            "dm_tag_count": check_int(self.dm_tag_count, "dm_tag_count", low=1),
            "concat_negative_reuse": check_int(
                self.concat_negative_reuse, "concat_negative_reuse", low=1
            ),
            "dbow_words": bool(check_flag(self.dbow_words, "dbow_words")),
            "hs": config["hs"],
            "negative": config["negative"],
            "window": config["window"],
            "shrink_windows": config["shrink_windows"],
        }

    def _make_d2v_core(self, compute_loss: bool, workers: int | None = None) -> Any:
        counts = np.asarray(self.wv.expandos.get("count", np.ones(len(self.wv))), dtype=np.int64)
        by_row = self.wv._keys_by_row()  # a loaded model's stored keys: a transient list
        return _core_class()(
            by_row.keys() if not isinstance(by_row, list) else list(by_row),
            counts.tolist(),
            **self._d2v_config(),
            compute_loss=bool(compute_loss),
            seed=check_seed(self.seed),
            workers=check_workers(self.workers if workers is None else workers),
        )

    def _core_key(self) -> tuple:
        """What the inference core is built from (see :meth:`_inference_core`)."""
        return (
            id(self.wv._keys_by_row()),
            len(self.wv),
            self.sample,
            self.ns_exponent,
            self.sg,
            self.cbow_mean,
            self.dm_concat,
            self.dm_tag_count,
            self.concat_negative_reuse,
            self.dbow_words,
            self.hs,
            self.negative,
            self.window,
            self.shrink_windows,
            self.seed,
            self.workers,
        )

    def _inference_core(self) -> Any:
        """The cached Rust core for inference; rebuilt when the vocabulary or settings change."""
        key = self._core_key()
        with self._core_lock:
            cached = self._core_cache
            if cached is not None and cached[0] == key:
                return cached[1]
            core = self._make_d2v_core(False)
            self._core_cache = (key, core)
            return core

    def _tag_rows(self) -> dict:
        """Every tag of ``dv`` (int tags included) to its row, for the Rust trainer."""
        return {k: i for i, k in enumerate(self.dv.index_to_key)}

    def _dv_weights(self) -> tuple[np.ndarray, np.ndarray | None]:
        dv = self.dv
        v = dv.vectors
        if (
            v.dtype != REAL
            or not v.flags.c_contiguous
            or not v.flags.writeable
            or not v.flags.aligned
        ):
            dv.vectors = np.ascontiguousarray(v, dtype=REAL).copy()
        lockf = getattr(dv, "vectors_lockf", None)
        if lockf is not None:
            lockf = np.asarray(lockf, dtype=REAL)
            if lockf.size != len(dv.index_to_key) or np.all(lockf == 1.0):
                lockf = None
            else:
                lockf = np.ascontiguousarray(lockf)
        return dv.vectors, lockf

    def _check_training_sanity(
        self, epochs: int | None, total_examples: int | None, total_words: int | None
    ) -> None:
        super()._check_training_sanity(epochs, total_examples, total_words)
        if self.dv.vectors.shape != (len(self.dv.index_to_key), self.vector_size):
            raise RuntimeError(
                f"dv.vectors has shape {self.dv.vectors.shape} but dv has "
                f"{len(self.dv.index_to_key)} tags of size {self.vector_size}; "
                "call build_vocab() after changing the tags"
            )
        layer1 = self._layer1_size()
        for name, used in (("syn1neg", self.negative), ("syn1", self.hs)):
            w = getattr(self, name)
            if used and w.shape != (len(self.wv), layer1):
                raise RuntimeError(
                    f"{name} has shape {w.shape}, expected ({len(self.wv)}, {layer1}); "
                    "call build_vocab() after changing window, vector_size or dm_concat"
                )

    def train(  # type: ignore[override]
        self,
        corpus_iterable: Iterable[TaggedDocument] | None = None,
        corpus_file: PathLike | None = None,
        total_examples: int | None = None,
        total_words: int | None = None,
        epochs: int | None = None,
        start_alpha: float | None = None,
        end_alpha: float | None = None,
        word_count: int = 0,
        queue_factor: int = 2,
        report_delay: float = 1.0,
        callbacks: Sequence[CallbackAny2Vec] = (),
        progress_bar: bool | None = None,
        **kwargs: Any,
    ) -> tuple[int, int]:
        """Train word, document and output weights; returns ``(effective_words, raw_words)``.

        Parameters
        ----------
        corpus_iterable, corpus_file
            The corpus, as for :meth:`build_vocab` (``documents=`` is accepted too).
        total_examples : int, optional
            Number of documents (``model.corpus_count`` after build_vocab).
        total_words : int, optional
            Number of raw words in the corpus.
        epochs : int
            Passes over the corpus (required, usually ``model.epochs``).
        start_alpha, end_alpha : float, optional
            Override the learning-rate schedule for this call.
        report_delay : float
            Seconds between progress log lines.
        callbacks : sequence of CallbackAny2Vec
            Hooks for this call.
        progress_bar : bool, optional
            Show a tqdm bar (embedrs extension).

        Raises
        ------
        KeyError
            For a document tag that :meth:`build_vocab` did not see.
        KeyboardInterrupt
            On Ctrl-C, after the workers stop; the model keeps what it learnt.
        """
        if "documents" in kwargs and corpus_iterable is None:
            corpus_iterable = kwargs.pop("documents")
        if "sentences" in kwargs and corpus_iterable is None:
            corpus_iterable = kwargs.pop("sentences")
        compute_loss = bool(kwargs.pop("compute_loss", self.compute_loss))
        return super().train(
            corpus_iterable=corpus_iterable,
            corpus_file=corpus_file,
            total_examples=total_examples,
            total_words=total_words,
            epochs=epochs,
            start_alpha=start_alpha,
            end_alpha=end_alpha,
            word_count=word_count,
            queue_factor=queue_factor,
            report_delay=report_delay,
            compute_loss=compute_loss,
            callbacks=callbacks,
            progress_bar=progress_bar,
            **kwargs,
        )

    # -- Word2Vec.train's hooks: the Doc2Vec trainer, tag rows and document vectors

    def _training_core(self, compute_loss: bool) -> Any:
        core = self._reused_core(compute_loss, self._make_d2v_core, self._d2v_config())
        self._core_cache = None
        return core

    def _epoch_context(self, corpus_iterable: Any) -> Any:
        return None if corpus_iterable is None else self._tag_rows()

    def _vectors_being_trained(self) -> list[KeyedVectors]:
        return [self.wv, self.dv]

    def _train_epoch(
        self,
        core: Any,
        corpus: Any,
        corpus_iterable: Any,
        context: Any,
        common: dict[str, Any],
    ) -> tuple[int, int, float, int | None]:
        syn0, syn1neg, syn1 = self._weights()
        dv, doc_lockf = self._dv_weights()
        weights = (syn0, dv, syn1neg, syn1, self._lockf(), doc_lockf)
        if corpus is not None:
            return core.train_epoch_file(*weights, corpus, **common)
        native = _native_tagged_lines(corpus_iterable)
        if native is not None and self._tags_are_line_numbers(native.count_lines()):
            return core.train_epoch_file(*weights, native, in_order=True, **common)
        return core.train_epoch_iterable(
            *weights, corpus_iterable, self.wv.key_to_index, context, **common
        )

    def _tags_are_line_numbers(self, lines: int) -> bool:
        """Whether rows ``0..lines`` of ``dv`` are the int tags ``0..lines`` (the rows
        the Rust reader gives the lines of a ``TaggedLineDocument``)."""
        keys = self.dv.index_to_key
        return len(keys) >= lines and list(keys[:lines]) == list(range(lines))

    def _after_epoch(self) -> None:
        pass

    def _after_training(self) -> None:
        self._clear_post_train()

    def train_pairs(self, *args: Any, **kwargs: Any) -> float:
        """Not available for Doc2Vec (it trains word-pair skip-gram only)."""
        raise NotImplementedError("train_pairs is a Word2Vec method; Doc2Vec trains documents")

    def predict_output_word(self, *args: Any, **kwargs: Any) -> list | None:
        """Not available for Doc2Vec: its output layer is trained on document contexts."""
        raise NotImplementedError("predict_output_word is a Word2Vec method")

    @classmethod
    def _get_offsets_and_start_doctags_for_corpusfile(
        cls, corpus_file: PathLike, workers: int
    ) -> tuple[list[int], list[int]]:
        """Byte offset and first line number of each worker's share of ``corpus_file``.

        gensim's helper (the Rust trainer splits the file itself): worker
        ``i`` starts at the line that holds byte ``size // workers * i``.
        """
        workers = check_int(workers, "workers", low=1)
        size = os.path.getsize(corpus_file)
        targets = [size // workers * i for i in range(workers)]
        offsets: list[int] = []
        start_doctags: list[int] = []
        pos = 0
        with open(corpus_file, "rb") as fin:
            for line_no, line in enumerate(fin):
                end = pos + len(line)
                while len(offsets) < workers and targets[len(offsets)] < end:
                    offsets.append(pos)
                    start_doctags.append(line_no)
                if len(offsets) == workers:
                    break
                pos = end
        return offsets, start_doctags

    # ------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------

    def _inference_args(
        self, alpha: float | None, min_alpha: float | None, epochs: int | None, seed: int | None
    ) -> dict[str, Any]:
        if not len(self.wv) or not len(self.wv.vectors):
            raise RuntimeError("the model has no vocabulary yet: build_vocab() and train() first")
        layer1 = self._layer1_size()
        for name, used in (("syn1neg", self.negative), ("syn1", self.hs)):
            w = getattr(self, name)
            if used and (w is None or w.shape != (len(self.wv), layer1)):
                raise RuntimeError(
                    f"the model's {name} has shape {getattr(w, 'shape', None)}, expected "
                    f"({len(self.wv)}, {layer1}): it cannot infer vectors"
                )
        return {
            "alpha": check_float(
                self.alpha if alpha is None else alpha, "alpha", low=0.0, low_open=True
            ),
            "min_alpha": check_float(
                self.min_alpha if min_alpha is None else min_alpha, "min_alpha", low=0.0
            ),
            "epochs": check_int(self.epochs if epochs is None else epochs, "epochs", low=1),
            "seed": check_seed(self.seed if seed is None else seed),
        }

    def _read_weights(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        def plain(a: np.ndarray) -> np.ndarray:
            if a.dtype != REAL or not a.flags.c_contiguous or not a.flags.aligned:
                return np.ascontiguousarray(a, dtype=REAL)
            return a

        syn1neg = plain(self.syn1neg) if self.negative else None
        syn1 = plain(self.syn1) if self.hs else None
        return plain(self.wv.vectors), syn1neg, syn1

    def _inference_plan(
        self, alpha: float | None, min_alpha: float | None, epochs: int | None, seed: int | None
    ) -> tuple[Any, tuple, Any, dict[str, Any]]:
        """``(core, weights, key lookup, keyword arguments)`` of an inference call.

        Checked in full (``_inference_args``, ``_read_weights``, ``_inference_core``)
        the first time, then reused while nothing they read has changed: on every
        call the settings are compared by value, and the weight arrays, the key
        tables and the cached core by identity (a request path pays a few
        attribute reads instead of the checks: 1.0 us instead of 4.5).
        """
        wv = self.wv
        settings = (
            alpha,
            min_alpha,
            epochs,
            seed,
            self.alpha,
            self.min_alpha,
            self.epochs,
            self.vector_size,
            self._core_key(),
        )
        plan = self._plan
        if plan is not None and plan[0] == settings:
            objects = plan[1]
            if (
                objects[0] is wv._vectors
                and objects[1] is self.syn1neg
                and objects[2] is self.syn1
                and objects[3] is wv._keytab
                and objects[4] is wv._key_to_index
                and objects[5] is wv._index_to_key
                and objects[6] is self._core_cache
            ):
                return plan[2]
        args = self._inference_args(alpha, min_alpha, epochs, seed)
        weights = self._read_weights()
        core = self._inference_core()  # may replace _core_cache: read objects after it
        lookup = wv._key_lookup()
        objects = (
            wv._vectors,
            self.syn1neg,
            self.syn1,
            wv._keytab,
            wv._key_to_index,
            wv._index_to_key,
        )
        if all(w is None or w is o for w, o in zip(weights, objects)):
            # (a converted copy of a weight would not follow later in-place changes)
            self._plan = (settings, (*objects, self._core_cache), (core, weights, lookup, args))
        return core, weights, lookup, args

    def infer_vector(
        self,
        doc_words: Sequence[str],
        alpha: float | None = None,
        min_alpha: float | None = None,
        epochs: int | None = None,
        seed: int | None = None,
    ) -> np.ndarray:
        """Infer the vector of a new document, with the trained weights frozen.

        Deterministic: the same ``doc_words`` and ``seed`` always give the same
        vector. Thread-safe, runs with the GIL released and never writes the
        model. Unknown words are ignored; a document without known words gets
        its (seeded random) initial vector.

        Parameters
        ----------
        doc_words : list of str
            The document's tokens.
        alpha, min_alpha : float, optional
            Learning rate, decayed linearly over the epochs (default: the model's).
        epochs : int, optional
            Training passes over the document (default: the model's ``epochs``).
        seed : int, optional
            embedrs extension: seed of the initial vector and of the random
            draws (default: the model's ``seed``).

        Returns
        -------
        numpy.ndarray
            float32 vector of ``vector_size``.

        Raises
        ------
        TypeError
            If ``doc_words`` is a string or not a list of tokens.
        """
        words = _check_words(doc_words, "doc_words of infer_vector()")
        core, weights, lookup, args = self._inference_plan(alpha, min_alpha, epochs, seed)
        if not isinstance(words, list):
            words = list(words)
        return core.infer_vector(*weights, words, lookup, **args)

    def infer_vectors(
        self,
        documents: Iterable[Sequence[str] | TaggedDocument],
        alpha: float | None = None,
        min_alpha: float | None = None,
        epochs: int | None = None,
        seed: int | None = None,
    ) -> np.ndarray:
        """Infer the vectors of many documents at once, spread over ``workers`` threads.

        Row ``i`` equals ``infer_vector(documents[i], ...)`` with the same arguments.

        Parameters
        ----------
        documents : iterable of list of str or TaggedDocument
            The documents' tokens (the ``words`` of TaggedDocuments).
        alpha, min_alpha, epochs, seed
            As for :meth:`infer_vector`.

        Returns
        -------
        numpy.ndarray
            float32 matrix of shape ``(len(documents), vector_size)``.
        """
        if isinstance(documents, (str, bytes)):
            raise TypeError("documents must be a list of token lists, not a string")
        docs = []
        for i, doc in enumerate(documents):
            if isinstance(doc, tuple) and hasattr(doc, "words") and hasattr(doc, "tags"):
                doc = doc.words  # a TaggedDocument (ours or gensim's)
            docs.append(list(_check_words(doc, f"document #{i}")))
        core, weights, lookup, args = self._inference_plan(alpha, min_alpha, epochs, seed)
        return core.infer_vectors(*weights, docs, lookup, **args)

    def similarity_unseen_docs(
        self,
        doc_words1: Sequence[str],
        doc_words2: Sequence[str],
        alpha: float | None = None,
        min_alpha: float | None = None,
        epochs: int | None = None,
    ) -> float:
        """Cosine similarity of the inferred vectors of two new documents."""
        d1 = self.infer_vector(doc_words1, alpha=alpha, min_alpha=min_alpha, epochs=epochs)
        d2 = self.infer_vector(doc_words2, alpha=alpha, min_alpha=min_alpha, epochs=epochs)
        n1 = float(np.linalg.norm(d1))
        n2 = float(np.linalg.norm(d2))
        if n1 == 0.0 or n2 == 0.0:
            return 0.0
        return float(np.dot(d1, d2) / (n1 * n2))

    # ------------------------------------------------------------------
    # export and persistence
    # ------------------------------------------------------------------

    def save_word2vec_format(
        self,
        fname: PathLike,
        doctag_vec: bool = False,
        word_vec: bool = True,
        prefix: str = "*dt_",
        fvocab: str | None = None,
        binary: bool = False,
    ) -> None:
        """Write word and/or document vectors in the word2vec C format (tags prefixed)."""
        total_vec = None
        if word_vec:
            if doctag_vec:
                total_vec = len(self.wv) + len(self.dv)
            self.wv.save_word2vec_format(fname, fvocab, binary, total_vec)
        if doctag_vec:
            self._save_doctags_word2vec(
                fname, prefix, fvocab, binary, write_header=not word_vec, append=bool(word_vec)
            )

    def _save_doctags_word2vec(
        self,
        fname: PathLike,
        prefix: str,
        fvocab: str | None,
        binary: bool,
        write_header: bool,
        append: bool,
    ) -> None:
        """Write ``dv`` as gensim does: int tags first, in order, then str tags by ``doc_count``."""
        dv = self.dv
        keys = dv.index_to_key
        n_int = 0
        while n_int < len(keys) and isinstance(keys[n_int], int) and keys[n_int] == n_int:
            n_int += 1
        str_keys = [k for k in keys[n_int:]]
        if "doc_count" in dv.expandos:
            str_keys.sort(key=lambda k: -int(dv.get_vecattr(k, "doc_count")))
        order = list(range(n_int)) + [dv.get_index(k) for k in str_keys]
        out = KeyedVectors(dv.vector_size, 0, dtype=dv.vectors.dtype)
        out.index_to_key = [keys[i] for i in order]
        out.key_to_index = {k: i for i, k in enumerate(out.index_to_key)}
        out.vectors = np.ascontiguousarray(dv.vectors[order])
        out.expandos["write_order"] = np.zeros(len(order), dtype=np.int64)  # keeps this order
        out.save_word2vec_format(
            fname,
            binary=binary,
            total_vec=len(self.wv) + len(dv) if append else len(dv),
            write_header=write_header,
            prefix=prefix,
            append=append,
            sort_attr="write_order",
        )
        if fvocab is not None:  # gensim lists the str tags only, with their doc_count
            lines = [f"{prefix}{k} {int(dv.get_vecattr(k, 'doc_count'))}\n" for k in str_keys]
            with open(fvocab, "ab" if append else "wb") as vout:
                vout.write("".join(lines).encode("utf8"))

    _PARAMS = tuple(p for p in Word2Vec._PARAMS if p not in ("sg", "cbow_mean", "null_word")) + (
        "dm",
        "dm_mean",
        "dm_concat",
        "dm_tag_count",
        "concat_negative_reuse",
        "dbow_words",
    )

    def save(self, fname: PathLike, *args: Any, **kwargs: Any) -> None:
        """Save the full model (word, document and output weights, parameters) atomically.

        The embedrs native format (see :meth:`Word2Vec.save`); gensim's extra
        arguments are accepted and ignored.
        """
        if not isinstance(fname, (str, os.PathLike)):
            raise TypeError("save() takes a file path")
        self.add_lifecycle_event("saving", fname_or_handle=os.fspath(fname))
        wv_meta, wv_arrays = self.wv._to_persist(prefix="wv.")
        dv_meta, dv_arrays = self.dv._to_persist(prefix="dv.")
        arrays = {**wv_arrays, **dv_arrays}
        arrays["syn1neg"] = np.asarray(self.syn1neg)
        arrays["syn1"] = np.asarray(self.syn1)
        params = {k: getattr(self, k) for k in self._PARAMS}
        params["dm"] = int(params["dm"])
        meta = {
            "class": "Doc2Vec",
            "wv": wv_meta,
            "dv": dv_meta,
            "params": params,
            "lifecycle_events": self._events_for_file(),
        }
        _persist.write_container(fname, meta, arrays)
        logger.info("saved %s to %s", self, os.fspath(fname))

    def _output_width(self) -> int:
        return self._layer1_size()

    def _check_loaded_weights(self, fname: str) -> None:
        super()._check_loaded_weights(fname)
        n_tags = len(self.dv.index_to_key)
        if self.dv.vectors.shape != (n_tags, self.vector_size):
            raise ValueError(
                f"{fname}: corrupt model: document vectors of shape {self.dv.vectors.shape} "
                f"for {n_tags} tags of size {self.vector_size}"
            )

    @staticmethod
    def _gensim_tag_layout(dv: KeyedVectors) -> None:
        """``key_to_index`` of str tags only, as gensim keeps it (int tags are their rows)."""
        keys = dv.index_to_key
        dv.key_to_index = {k: i for i, k in enumerate(keys) if not isinstance(k, int)}

    @class_only_method
    def load(cls, fname: PathLike, mmap: str | None = None) -> Doc2Vec:  # type: ignore[override]
        """Load a model saved by :meth:`save`, or a ``Doc2Vec`` saved by gensim 4.

        gensim's pickles are read by the safe loader (no code runs); every
        stored value is validated as by :meth:`Word2Vec.load`.

        Parameters
        ----------
        fname : str or path
            The file.
        mmap : {None, 'r', 'c'}
            Memory-map the arrays (``'r'`` read-only is enough for inference).

        Raises
        ------
        ValueError
            Naming the file, for a damaged, inconsistent or hostile file, or
            one that holds another kind of model.
        """
        fname = os.fspath(fname)
        _persist.check_regular_file(fname)
        if _persist.is_container(fname):
            meta, arrays = _persist.read_container(fname, mmap=mmap)
            if meta.get("class") != "Doc2Vec":
                raise ValueError(
                    f"{fname} holds a {str(meta.get('class'))[:40]!r}, not a Doc2Vec model"
                )
            model = cls._from_saved_params(meta.get("params"), fname)
            model.wv = KeyedVectors._from_persist(meta.get("wv"), arrays, prefix="wv.", fname=fname)
            model.dv = KeyedVectors._from_persist(meta.get("dv"), arrays, prefix="dv.", fname=fname)
            model.syn1neg = arrays.get("syn1neg")
            model.syn1 = arrays.get("syn1")
            events = meta.get("lifecycle_events", [])
        else:
            if not os.path.exists(fname):
                raise FileNotFoundError(f"{fname}: no such file")
            obj = _persist.load_gensim_pickle(fname, mmap=mmap)
            if not obj.gensim_class.endswith("Doc2Vec"):
                raise ValueError(f"{fname} holds a gensim {obj.gensim_class}, not a Doc2Vec")
            st = obj.state
            params = {
                k: st[k]
                for k in cls._PARAMS + ("sg", "cbow_mean")
                if k in st and not isinstance(st[k], _persist.GensimObject)
            }
            params = {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}
            if "sg" in params:
                params["dm"] = (1 + int(params.pop("sg"))) % 2
            if "cbow_mean" in params:
                params["dm_mean"] = params.pop("cbow_mean")
            for k in ("total_train_time", "running_training_loss", "min_alpha_yet_reached"):
                if type(params.get(k)) is int:
                    params[k] = float(params[k])
            model = cls._from_saved_params(params, fname)
            model.wv = KeyedVectors._from_gensim(obj, fname)
            dv_obj = st.get("dv")
            if not isinstance(dv_obj, _persist.GensimObject):
                raise ValueError(f"{fname}: gensim Doc2Vec without document vectors (dv)")
            model.dv = KeyedVectors._from_gensim(dv_obj, fname)
            empty = np.zeros((0, model._layer1_size()), REAL)
            model.syn1neg = st["syn1neg"] if st.get("syn1neg") is not None else empty
            model.syn1 = st["syn1"] if st.get("syn1") is not None else empty
            events = st.get("lifecycle_events", [])
        model._check_loaded_weights(fname)
        cls._gensim_tag_layout(model.dv)
        model.wv.vectors_lockf = np.ones(1, dtype=REAL)
        model.dv.vectors_lockf = np.ones(1, dtype=REAL)
        model.layer1_size = model._layer1_size()
        model.callbacks = []
        model.raw_vocab = {}
        model._events_from_file(events, fname)
        logger.info("loaded %s from %s", model, fname)
        return model


class Doctag:
    """gensim's record of a string document tag during the vocabulary scan.

    gensim 4 keeps it for code and old pickles that name it; a trained
    embedrs model stores these figures on ``model.dv`` instead
    (``dv.get_vecattr(tag, "doc_count")`` and ``"word_count"``).
    """

    __slots__ = ("doc_count", "index", "word_count")

    def __init__(self, doc_count: int = 0, index: int = 0, word_count: int = 0) -> None:
        self.doc_count = doc_count
        self.index = index
        self.word_count = word_count

    @property
    def count(self) -> int:
        """The number of documents with this tag (``doc_count``)."""
        return self.doc_count

    @count.setter
    def count(self, value: int) -> None:
        self.doc_count = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Doctag):
            return NotImplemented
        return (self.doc_count, self.index, self.word_count) == (
            other.doc_count,
            other.index,
            other.word_count,
        )

    def __repr__(self) -> str:
        return (
            f"Doctag(doc_count={self.doc_count}, index={self.index}, word_count={self.word_count})"
        )


Doc2VecVocab = unsupported_class(
    "Doc2VecVocab",
    "gensim.models.doc2vec.Doc2VecVocab (obsolete since gensim 4)",
    "use Doc2Vec.build_vocab; words are on model.wv, tags on model.dv",
)
Doc2VecTrainables = unsupported_class(
    "Doc2VecTrainables",
    "gensim.models.doc2vec.Doc2VecTrainables (obsolete since gensim 4)",
    "use model.wv.vectors, model.dv.vectors, model.syn1neg and model.syn1 (the weights)",
)
_D2V_TRAIN_INSTEAD = (
    "embedrs trains in Rust: use Doc2Vec.train(...), or Doc2Vec.infer_vector(...) "
    "for a new document"
)
train_document_dbow = unsupported_function(
    "train_document_dbow", "gensim.models.doc2vec_inner.train_document_dbow", _D2V_TRAIN_INSTEAD
)
train_document_dm = unsupported_function(
    "train_document_dm", "gensim.models.doc2vec_inner.train_document_dm", _D2V_TRAIN_INSTEAD
)
train_document_dm_concat = unsupported_function(
    "train_document_dm_concat",
    "gensim.models.doc2vec_inner.train_document_dm_concat",
    _D2V_TRAIN_INSTEAD,
)
d2v_train_epoch_dbow = unsupported_function(
    "d2v_train_epoch_dbow",
    "gensim.models.doc2vec_corpusfile.d2v_train_epoch_dbow",
    _D2V_TRAIN_INSTEAD,
)
d2v_train_epoch_dm = unsupported_function(
    "d2v_train_epoch_dm", "gensim.models.doc2vec_corpusfile.d2v_train_epoch_dm", _D2V_TRAIN_INSTEAD
)
d2v_train_epoch_dm_concat = unsupported_function(
    "d2v_train_epoch_dm_concat",
    "gensim.models.doc2vec_corpusfile.d2v_train_epoch_dm_concat",
    _D2V_TRAIN_INSTEAD,
)
