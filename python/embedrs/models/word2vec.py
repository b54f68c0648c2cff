"""Word2Vec with gensim 4's API, trained by the embedrs Rust core.

Replace ``from gensim.models import Word2Vec`` with
``from embedrs.models import Word2Vec``: the constructor parameters,
defaults, methods and attributes are gensim's. Training runs on ``workers``
Rust threads with the GIL released, from any re-iterable of token lists
(``sentences``/``corpus_iterable``) or, faster, straight from a file
(``corpus_file``, one sentence per line, read and tokenised in Rust).

Beyond gensim: :meth:`Word2Vec.train_pairs` trains skip-gram negative
sampling on explicit (target, context) pairs, and ``progress_bar=True``
shows a tqdm bar.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import logging
import os
import threading
import time
import warnings
from collections import Counter, namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import GeneratorType
from typing import Any, ClassVar, Union

import numpy as np

from embedrs import _persist
from embedrs._compat import class_only_method, unsupported_class, unsupported_function
from embedrs._embedrs import (
    CorpusFile,
    VocabCounter,
    Word2VecCore,
    check_w2v_config,
    finalize_vocab,
    huffman_tree,
    init_vectors,
)
from embedrs._validate import (
    check_flag,
    check_float,
    check_int,
    check_seed,
    check_topn,
    check_workers,
)
from embedrs.corpora import MAX_WORDS_IN_BATCH, LineSentence, PathLineSentences, Text8Corpus
from embedrs.models.callbacks import CallbackAny2Vec
from embedrs.models.keyedvectors import KeyedVectors, Vocab, pseudorandom_weak_vector
from embedrs.models.word2vec_corpusfile import CORPUSFILE_VERSION, train_epoch_cbow, train_epoch_sg
from embedrs.utils import (
    RULE_DISCARD,
    RULE_KEEP,
    LifecycleEvents,
    call_on_class_only,
    deprecated,
)

logger = logging.getLogger(__name__)

REAL = np.float32
PathLike = Union[str, "os.PathLike[str]"]

_NO_SENTENCE = object()

__all__ = [
    "CORPUSFILE_VERSION",
    "FAST_VERSION",
    "MAX_WORDS_IN_BATCH",
    "REAL",
    "BrownCorpus",
    "CallbackAny2Vec",
    "Heapitem",
    "KeyedVectors",
    "LineSentence",
    "PathLineSentences",
    "Text8Corpus",
    "Vocab",
    "Word2Vec",
    "Word2VecTrainables",
    "Word2VecVocab",
    "call_on_class_only",
    "deprecated",
    "keep_vocab_item",
    "pseudorandom_weak_vector",
    "score_sentence_cbow",
    "score_sentence_sg",
    "train_batch_cbow",
    "train_batch_sg",
    "train_epoch_cbow",
    "train_epoch_sg",
]

#: gensim's flag for its compiled routines (-1: pure Python). embedrs always runs
#: compiled float32 kernels, gensim's 1.
FAST_VERSION = 1


def keep_vocab_item(
    word: str, count: int, min_count: int, trim_rule: Callable | None = None
) -> bool:
    """gensim's rule: keep ``word`` if ``trim_rule`` says so, else if ``count >= min_count``."""
    default = count >= min_count
    if trim_rule is None:
        return default
    rule = trim_rule(word, count, min_count)
    if rule == RULE_KEEP:
        return True
    if rule == RULE_DISCARD:
        return False
    return default


def _finalize(
    items: list,
    min_count: int,
    max_final_vocab: int | None,
    sort: bool,
    trim_rule: Callable | None = None,
) -> tuple[list[str], list[int], int]:
    """``finalize_vocab`` (Rust), with a clear error for tokens that are not valid UTF-8 text.

    Returns ``(words, counts, effective_min_count)``. Rust strings are UTF-8;
    a token holding a lone surrogate (``'\\ud800'``, e.g. from ``os.fsdecode``
    of undecodable bytes) cannot be handed over.

    Raises
    ------
    ValueError
        Naming the first such token.
    """
    rule = None
    if trim_rule is not None:

        def rule(word: str, count: int, min_count: int) -> bool:
            return keep_vocab_item(word, count, min_count, trim_rule)

    try:
        return finalize_vocab(items, min_count, max_final_vocab, sort, rule)
    except UnicodeEncodeError:
        for word, _ in items:
            if isinstance(word, str):
                try:
                    word.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise ValueError(
                        f"token {word[:80]!r} cannot be encoded as UTF-8 ({exc.reason}); tokens must be "
                        "valid Unicode text (decode bytes with errors='replace' rather than "
                        "'surrogateescape')"
                    ) from None
        raise


def _native_lines(corpus_iterable: Any) -> CorpusFile | None:
    """The corpus file behind a plain ``LineSentence(path)`` or ``Text8Corpus(path)``,
    when Rust reads it exactly as the Python reader would.

    Word2Vec then counts and trains on the file in Rust (the iterable path's
    semantics: the same sentences in the same order, one learning-rate
    schedule) instead of iterating the reader in Python. That holds for an
    exact ``LineSentence`` (not a subclass) without ``limit`` or an exact
    ``Text8Corpus`` over a file :func:`_native_file` accepts; for
    ``Text8Corpus`` the file must also have no newline before its last token
    (``Text8Corpus`` ignores lines). Anything else returns None and is read
    by Python.
    """
    kind = type(corpus_iterable)
    if kind is LineSentence and corpus_iterable.limit is None:
        return _native_file(corpus_iterable, corpus_iterable.source, one_line=False)
    if kind is Text8Corpus:
        return _native_file(corpus_iterable, corpus_iterable.fname, one_line=True)
    return None


def _native_file(reader: Any, source: Any, one_line: bool) -> CorpusFile | None:
    """``source`` opened for the Rust reader, if it reads as ``reader`` reads it in Python.

    The file must be uncompressed (it is memory-mapped, so never loaded
    whole) and valid UTF-8, and either use only the whitespace the Rust
    reader knows (``str.split()`` also splits at U+00A0 and others) or, with
    ``one_line``, split at ASCII whitespace only and have no newline before
    its last token. The answer is cached on ``reader`` until the file's size
    or modification time changes.
    """
    if not isinstance(source, (str, os.PathLike)):
        return None
    path = os.fspath(source)
    if not isinstance(path, str) or path.endswith((".gz", ".bz2")):
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None  # Python's reader raises the error the user should see
    key = (path, st.st_size, st.st_mtime_ns)
    cached = reader.__dict__.get("_embedrs_native")
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        corpus: CorpusFile | None = CorpusFile(path)
    except (OSError, ValueError):
        corpus = None
    if corpus is not None:
        same = corpus.is_one_line() if one_line else corpus.splits_like_python()
        corpus = corpus if same else None
    reader.__dict__["_embedrs_native"] = (key, corpus)
    return corpus


class Word2Vec(LifecycleEvents):
    """Train, use and evaluate word2vec embeddings (gensim 4 compatible).

    Parameters
    ----------
    sentences : iterable of list of str, optional
        A re-iterable corpus of token lists (a list of lists,
        :class:`LineSentence`, ...). If given (or ``corpus_file``), the model
        is built and trained right away.
    corpus_file : str or path, optional
        A text file with one whitespace-tokenised sentence per line (plain or
        ``.gz``), read by the Rust workers directly: the fastest path.
    vector_size : int
        Dimensionality of the vectors.
    alpha, min_alpha : float
        Learning rate, decayed linearly from ``alpha`` to ``min_alpha`` over
        all the words of all epochs.
    window : int
        Maximum distance between the current and predicted word.
    min_count : int
        Ignore words with total frequency below this.
    max_vocab_size : int, optional
        Limit RAM while counting: prune the rarest words whenever there are
        more distinct words than this.
    sample : float
        Threshold for downsampling frequent words (0 disables).
    seed : int
        Seed for initial vectors and all random draws, between 0 and
        ``2**32 - 1`` (gensim's range). With ``workers=1`` training is
        bit-for-bit reproducible.
    workers : int
        Number of worker threads, at least 1 (gensim silently trains nothing
        with 0). Counts above four per core (and above 64) are lowered to
        that with a ``UserWarning``.
    sg : {0, 1}
        1 for skip-gram, 0 for CBOW.
    hs : {0, 1}
        1 for hierarchical softmax.
    negative : int
        Number of negative samples (0 disables negative sampling).
    ns_exponent : float
        Exponent of the negative-sampling distribution (0.75 as in the paper).
    cbow_mean : {0, 1}
        Use the mean (1) or sum (0) of context vectors in CBOW.
    epochs : int
        Passes over the corpus.
    null_word : int
        If 1, add a null word ``\\0`` to the vocabulary (gensim's option).
    hashfxn : callable
        Accepted for compatibility and unused: initial vectors come from a
        fixed hash of each word and ``seed``, so they are the same in every
        process (gensim's ``hash`` default varies with ``PYTHONHASHSEED``).
    trim_rule : callable, optional
        ``trim_rule(word, count, min_count)`` returning ``RULE_KEEP``,
        ``RULE_DISCARD`` or ``RULE_DEFAULT``.
    sorted_vocab : {0, 1}
        Sort the vocabulary by descending frequency.
    batch_words : int
        Target size (in words) of the batches handed to workers.
    compute_loss : bool
        Track the training loss (see :meth:`get_latest_training_loss`).
    callbacks : sequence of CallbackAny2Vec
        Hooks called at training and epoch boundaries.
    max_final_vocab : int, optional
        Raise ``min_count`` automatically to keep at most this many words.
    shrink_windows : bool
        Sample the effective window size uniformly from ``[1, window]`` for
        each word (word2vec's behaviour).
    progress_bar : bool
        embedrs extension: show a tqdm progress bar during training (needs
        ``pip install embedrs[progress]``).

    Attributes
    ----------
    wv : KeyedVectors
        The trained word vectors.
    syn1neg, syn1 : numpy.ndarray
        Output weights for negative sampling / hierarchical softmax.
    corpus_count, corpus_total_words : int
        Sentences and raw words seen by the last :meth:`build_vocab`.
    """

    def __init__(
        self,
        sentences: Iterable[Sequence[str]] | None = None,
        corpus_file: PathLike | None = None,
        vector_size: int = 100,
        alpha: float = 0.025,
        window: int = 5,
        min_count: int = 5,
        max_vocab_size: int | None = None,
        sample: float = 1e-3,
        seed: int = 1,
        workers: int = 3,
        min_alpha: float = 0.0001,
        sg: int = 0,
        hs: int = 0,
        negative: int = 5,
        ns_exponent: float = 0.75,
        cbow_mean: int = 1,
        hashfxn: Callable[[str], int] = hash,
        epochs: int = 5,
        null_word: int = 0,
        trim_rule: Callable | None = None,
        sorted_vocab: int = 1,
        batch_words: int = MAX_WORDS_IN_BATCH,
        compute_loss: bool = False,
        callbacks: Sequence[CallbackAny2Vec] = (),
        comment: str | None = None,
        max_final_vocab: int | None = None,
        shrink_windows: bool = True,
        progress_bar: bool = False,
        **kwargs: Any,
    ) -> None:
        if "size" in kwargs:
            warnings.warn(
                "Word2Vec(size=...) is gensim 3.x's name; use vector_size=...",
                DeprecationWarning,
                stacklevel=2,
            )
            vector_size = kwargs.pop("size")
        if "iter" in kwargs:
            warnings.warn(
                "Word2Vec(iter=...) is gensim 3.x's name; use epochs=...",
                DeprecationWarning,
                stacklevel=2,
            )
            epochs = kwargs.pop("iter")
        if "corpus_iterable" in kwargs and sentences is None:
            sentences = kwargs.pop("corpus_iterable")
        if kwargs:
            raise TypeError(
                f"Word2Vec() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}"
            )
        self.vector_size = check_int(vector_size, "vector_size", low=1)
        self.window = check_int(window, "window", low=0)
        self.epochs = check_int(epochs, "epochs", low=1)
        self.workers = check_workers(workers)
        self.batch_words = check_int(batch_words, "batch_words", low=1)
        self.min_count = check_int(min_count, "min_count", low=0)
        self.negative = check_int(negative, "negative", low=0)
        self.sg = check_flag(sg, "sg")
        self.hs = check_flag(hs, "hs")
        self.cbow_mean = check_flag(cbow_mean, "cbow_mean")
        self.null_word = check_flag(null_word, "null_word")
        self.sorted_vocab = check_flag(sorted_vocab, "sorted_vocab")
        self.alpha = check_float(alpha, "alpha", low=0.0, low_open=True)
        self.min_alpha = check_float(min_alpha, "min_alpha", low=0.0)
        self.sample = check_float(sample, "sample", low=0.0)
        self.ns_exponent = check_float(ns_exponent, "ns_exponent")
        self.seed = check_seed(seed)
        # gensim's attribute (numpy's generator seeded with ``seed``); the Rust
        # engine draws from its own seeded streams and does not read it
        self.random = np.random.RandomState(self.seed)
        self.max_vocab_size = check_int(max_vocab_size, "max_vocab_size", low=1, allow_none=True)
        self.max_final_vocab = check_int(max_final_vocab, "max_final_vocab", low=1, allow_none=True)
        self.hashfxn = hashfxn
        self.compute_loss = bool(compute_loss)
        self.callbacks = list(callbacks)
        self.comment = comment
        self.shrink_windows = bool(shrink_windows)
        self._training_config()
        self.progress_bar = bool(progress_bar)
        self.train_count = 0
        self.total_train_time = 0.0
        self.running_training_loss = 0.0
        self.corpus_count = 0
        self.corpus_total_words = 0
        self.effective_min_count = self.min_count
        self.raw_vocab: dict[str, int] = {}
        self.min_alpha_yet_reached = self.alpha
        self.layer1_size = self.vector_size
        self.lifecycle_events: list[dict] = []

        self.wv = KeyedVectors(self.vector_size)
        self.wv.vectors_lockf = np.ones(1, dtype=REAL)
        self.syn1neg = np.zeros((0, self.vector_size), dtype=REAL)
        self.syn1 = np.zeros((0, self.vector_size), dtype=REAL)

        if sentences is not None or corpus_file is not None:
            self._check_corpus_sanity(sentences, corpus_file, passes=self.epochs + 1)
            self.build_vocab(sentences, corpus_file=corpus_file, trim_rule=trim_rule)
            self.train(
                sentences,
                corpus_file=corpus_file,
                total_examples=self.corpus_count,
                total_words=self.corpus_total_words,
                epochs=self.epochs,
                start_alpha=self.alpha,
                end_alpha=self.min_alpha,
                compute_loss=self.compute_loss,
                callbacks=self.callbacks,
            )
        elif trim_rule is not None:
            logger.warning(
                "The rule, if given, is only used to prune vocabulary during build_vocab() "
                "and is not stored as part of the model."
            )
        self.add_lifecycle_event("created", params=str(self))

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------

    def __str__(self) -> str:
        return (
            f"{type(self).__name__}<vocab={len(self.wv.index_to_key)}, "
            f"vector_size={self.vector_size}, alpha={self.alpha}>"
        )

    def __getattr__(self, name: str) -> Any:
        # only reached for missing attributes: gensim's AttributeError, plus where
        # a gensim 3 name went in gensim 4
        hint = _GENSIM3_NAMES.get(name)
        if hint is None and name in _WV_METHODS:
            hint = f"since Gensim 4.0.0 use model.wv.{name}(...)"
        msg = f"{type(self).__name__!r} object has no attribute {name!r}"
        raise AttributeError(msg + (f"; {hint}" if hint else ""))

    @staticmethod
    def _check_corpus_sanity(
        corpus_iterable: Any = None, corpus_file: Any = None, passes: int = 1
    ) -> None:
        if corpus_file is None and corpus_iterable is None:
            raise TypeError("Either one of corpus_file or corpus_iterable value must be provided")
        if corpus_file is not None and corpus_iterable is not None:
            raise TypeError(
                "Both corpus_file and corpus_iterable must not be provided at the same time"
            )
        if corpus_iterable is not None:
            if isinstance(corpus_iterable, (str, bytes)):
                raise TypeError(
                    "The corpus_iterable must be an iterable of lists of strings, got a single "
                    f"string {corpus_iterable[:40]!r}; for a file path use corpus_file=... or "
                    "LineSentence(path)"
                )
            if not hasattr(corpus_iterable, "__iter__"):
                raise TypeError(
                    "The corpus_iterable must be an iterable of lists of strings, got "
                    f"{type(corpus_iterable).__name__}"
                )
            one_shot = isinstance(corpus_iterable, GeneratorType) or (
                isinstance(corpus_iterable, Iterator) and iter(corpus_iterable) is corpus_iterable
            )
            if one_shot and passes > 1:
                kind = (
                    "a generator"
                    if isinstance(corpus_iterable, GeneratorType)
                    else f"a one-shot iterator ({type(corpus_iterable).__name__})"
                )
                raise TypeError(
                    f"Using {kind} as corpus_iterable can't support {passes} passes. "
                    "Try a re-iterable sequence (a list, or a class with __iter__ such as LineSentence)."
                )
        if corpus_file is not None and not isinstance(corpus_file, (str, os.PathLike)):
            raise TypeError(
                f"corpus_file must be a path (str or os.PathLike), got {type(corpus_file).__name__}"
            )

    # ------------------------------------------------------------------
    # vocabulary
    # ------------------------------------------------------------------

    def scan_vocab(
        self,
        corpus_iterable: Iterable[Sequence[str]] | None = None,
        corpus_file: PathLike | None = None,
        progress_per: int = 10000,
        workers: int | None = None,
        trim_rule: Callable | None = None,
    ) -> tuple[int, int]:
        """Count words of the corpus into ``raw_vocab``; returns ``(total_words, corpus_count)``."""
        start = time.perf_counter()
        native = _native_lines(corpus_iterable) if corpus_file is None else None
        python_rule = trim_rule is not None and self.max_vocab_size
        if (corpus_file is not None or native is not None) and not python_rule:
            if native is not None:
                corpus, max_len = native, corpus_iterable.max_sentence_length  # type: ignore[union-attr]
            else:
                corpus, max_len = CorpusFile(os.fspath(corpus_file)), MAX_WORDS_IN_BATCH
            items, sentences, total = corpus.count_words(
                check_workers(self.workers if workers is None else workers),
                max_len,
                self.max_vocab_size,
            )
            raw = dict(items)
        else:
            # A trim rule applies while pruning too (gensim's prune_vocab): it is
            # Python, so the file is then read by LineSentence, as gensim reads it.
            if corpus_iterable is None:
                corpus_iterable = LineSentence(corpus_file)
            raw, sentences, total = self._scan_iterable(corpus_iterable, progress_per, trim_rule)
        self.raw_vocab = raw
        self.corpus_count = int(sentences)
        self.corpus_total_words = int(total)
        elapsed = time.perf_counter() - start
        logger.info(
            "collected %i word types from a corpus of %i raw words and %i sentences in %.2fs",
            len(raw),
            total,
            sentences,
            elapsed,
        )
        return int(total), int(sentences)

    def _scan_iterable(
        self,
        corpus_iterable: Iterable[Sequence[str]],
        progress_per: int,
        trim_rule: Callable | None = None,
    ) -> tuple[dict[str, int], int, int]:
        """Count the words of ``corpus_iterable`` with the Rust counter (gensim's pruning rule)."""
        rule = None
        if trim_rule is not None and self.max_vocab_size:

            def rule(word: str, count: int, min_reduce: int) -> bool:
                return keep_vocab_item(word, count, min_reduce, trim_rule)

        counter = VocabCounter(self.max_vocab_size, rule)
        sentences = iter(corpus_iterable)
        first = next(sentences, _NO_SENTENCE)
        if first is _NO_SENTENCE:
            return {}, 0, 0
        if isinstance(first, str):
            logger.warning(
                "Each 'sentences' item should be a list of words (usually unicode "
                "strings). First item here is instead plain %s.",
                type(first),
            )
            warnings.warn(
                "Each 'sentences' item should be a list of words; the first one is a "
                "plain string, so its characters will be treated as words",
                UserWarning,
                stacklevel=4,
            )
        last = [time.perf_counter()]

        def progress(sentence_no: int, total: int, kept: int) -> None:
            now = time.perf_counter()
            if now - last[0] > 1.0:
                last[0] = now
                logger.info(
                    "PROGRESS: at sentence #%i, processed %i words, keeping %i word types",
                    sentence_no,
                    total,
                    kept,
                )

        counter.update(
            itertools.chain((first,), sentences), max(int(progress_per or 0), 0), progress
        )
        return dict(counter.items()), counter.sentences, counter.total_words

    def prepare_vocab(
        self,
        update: bool = False,
        keep_raw_vocab: bool = False,
        trim_rule: Callable | None = None,
        min_count: int | None = None,
        sample: float | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Apply ``min_count``/``max_final_vocab``/``trim_rule`` and sorting to ``raw_vocab``."""
        min_count = self.min_count if min_count is None else min_count
        self.sample = self.sample if sample is None else sample
        raw_items = list(self.raw_vocab.items())
        words, counts, eff = _finalize(
            raw_items, int(min_count), self.max_final_vocab, bool(self.sorted_vocab), trim_rule
        )
        self.effective_min_count = eff
        total_raw = sum(c for _, c in raw_items)
        retained = sum(counts)
        report = {
            "drop_unique": len(raw_items) - len(words),
            "retain_total": retained,
            "num_retained_words": len(words),
        }
        if dry_run:
            return report
        if not update:
            if not words:
                logger.warning(
                    "the vocabulary is empty after applying min_count=%i: every word occurs "
                    "fewer times; lower min_count or give a larger corpus",
                    eff,
                )
            if self.null_word and "\0" not in words:
                # gensim appends '\0' with count 1 before sorting; ties sort later-seen first
                pos = len(words)
                if self.sorted_vocab:
                    pos = next((i for i, c in enumerate(counts) if c <= 1), len(words))
                words = list(words[:pos]) + ["\0"] + list(words[pos:])
                counts = list(counts[:pos]) + [1] + list(counts[pos:])
            self.wv = KeyedVectors(self.vector_size)
            self.wv.index_to_key = list(words)
            self.wv.key_to_index = {w: i for i, w in enumerate(words)}
            self.wv.vectors = np.zeros((len(words), self.vector_size), dtype=REAL)
            self.wv.expandos["count"] = np.asarray(counts, dtype=np.int64)
            self.wv.vectors_lockf = np.ones(1, dtype=REAL)
            logger.info(
                "min_count=%i retains %i unique words (%.2f%% of original %i, drops %i)",
                eff,
                len(words),
                100.0 * len(words) / max(len(raw_items), 1),
                len(raw_items),
                report["drop_unique"],
            )
            logger.info(
                "min_count=%i leaves %i word corpus (%.2f%% of original %i)",
                eff,
                retained,
                100.0 * retained / max(total_raw, 1),
                total_raw,
            )
        else:
            k2i = self.wv.key_to_index
            new_words, new_counts = [], []
            old_counts = np.asarray(
                self.wv.expandos.get("count", np.zeros(len(k2i))), dtype=np.int64
            )
            for w, c in zip(words, counts):
                if w in k2i:
                    old_counts[k2i[w]] += c
                else:
                    new_words.append(w)
                    new_counts.append(c)
            logger.info(
                "updating vocabulary: %i new words, %i existing",
                len(new_words),
                len(words) - len(new_words),
            )
            report["new_words"] = len(new_words)
            all_words = list(self.wv.index_to_key) + new_words
            self.wv.index_to_key = all_words
            self.wv.key_to_index = {w: i for i, w in enumerate(all_words)}
            self.wv.expandos["count"] = np.concatenate(
                [old_counts, np.asarray(new_counts, dtype=np.int64)]
            )
            self._new_words = new_words
        if not keep_raw_vocab:
            self.raw_vocab = {}
        return report

    def prepare_weights(self, update: bool = False) -> None:
        """Allocate (or, with ``update``, grow) the input and output weights."""
        words = list(self.wv.index_to_key)
        n = len(words)
        if not update:
            self.wv.vectors = init_vectors(words, self.vector_size, self.seed)
            self.syn1neg = (
                np.zeros((n, self.vector_size), dtype=REAL)
                if self.negative
                else np.zeros((0, self.vector_size), dtype=REAL)
            )
            self.syn1 = (
                np.zeros((n, self.vector_size), dtype=REAL)
                if self.hs
                else np.zeros((0, self.vector_size), dtype=REAL)
            )
        else:
            old = self.wv.vectors.shape[0]
            new_rows = init_vectors(words[old:], self.vector_size, self.seed)
            self.wv.vectors = np.ascontiguousarray(
                np.vstack([self.wv.vectors, new_rows]), dtype=REAL
            )
            if self.negative:
                self.syn1neg = np.ascontiguousarray(
                    np.vstack(
                        [
                            self.syn1neg,
                            np.zeros((n - self.syn1neg.shape[0], self.vector_size), REAL),
                        ]
                    )
                )
            if self.hs:
                self.syn1 = np.ascontiguousarray(
                    np.vstack(
                        [self.syn1, np.zeros((n - self.syn1.shape[0], self.vector_size), REAL)]
                    )
                )
        self.wv.vectors_lockf = np.ones(1, dtype=REAL)
        self.wv.fill_norms(force=True)
        self._set_huffman_attrs()
        self._prepare_trainer()

    def _set_huffman_attrs(self) -> None:
        """Store each word's hierarchical-softmax path in ``wv`` as gensim does.

        ``wv.get_vecattr(word, 'code')`` gives the branch bits and ``'point'``
        the inner nodes (rows of ``syn1``), root first. They are derived from the
        counts by the Rust core's tree, which is gensim's, so they are rebuilt
        rather than saved.
        """
        for attr in ("code", "point"):
            self.wv.expandos.pop(attr, None)
        n = len(self.wv.index_to_key)
        if not self.hs or not n or "count" not in self.wv.expandos:
            return
        counts = np.asarray(self.wv.expandos["count"], dtype=np.int64).tolist()
        codes, points, lengths = huffman_tree(counts)
        bounds = np.cumsum(lengths, dtype=np.int64)[:-1]
        for attr, flat in (("code", codes), ("point", points)):
            arr = np.empty(n, dtype=object)
            for i, part in enumerate(np.split(flat, bounds)):
                arr[i] = part
            self.wv.expandos[attr] = arr

    def build_vocab(
        self,
        corpus_iterable: Iterable[Sequence[str]] | None = None,
        corpus_file: PathLike | None = None,
        update: bool = False,
        progress_per: int = 10000,
        keep_raw_vocab: bool = False,
        trim_rule: Callable | None = None,
        **kwargs: Any,
    ) -> None:
        """Build the vocabulary from a corpus (``update=True`` adds new words to a trained model).

        Parameters
        ----------
        corpus_iterable : iterable of list of str, optional
            Sentences as token lists (``sentences=`` is accepted too).
        corpus_file : str or path, optional
            A LineSentence-format file, counted in parallel by Rust.
        update : bool
            Keep the existing vocabulary and vectors; add the new words.
        progress_per : int
            Log progress every this many sentences.
        keep_raw_vocab : bool
            Keep ``raw_vocab`` (the raw counts) after building.
        trim_rule : callable, optional
            See the class docstring.
        """
        if "sentences" in kwargs and corpus_iterable is None:
            corpus_iterable = kwargs.pop("sentences")
        if kwargs:
            raise TypeError(
                f"build_vocab() got unexpected keyword argument(s): {', '.join(kwargs)}"
            )
        if update and not len(self.wv.index_to_key):
            raise RuntimeError(
                "You cannot do an online vocabulary-update of a model which has no prior vocabulary. "
                "First build the vocabulary of your model with a corpus before doing an online update."
            )
        self._check_corpus_sanity(corpus_iterable, corpus_file, passes=1)
        total_words, corpus_count = self.scan_vocab(
            corpus_iterable=corpus_iterable,
            corpus_file=corpus_file,
            progress_per=progress_per,
            trim_rule=trim_rule,
        )
        self.corpus_count = corpus_count
        self.corpus_total_words = total_words
        report = self.prepare_vocab(
            update=update, keep_raw_vocab=keep_raw_vocab, trim_rule=trim_rule
        )
        self.prepare_weights(update=update)
        self.add_lifecycle_event("build_vocab", update=update, trim_rule=str(trim_rule), **report)

    def build_vocab_from_freq(
        self,
        word_freq: dict[str, int],
        keep_raw_vocab: bool = False,
        corpus_count: int | None = None,
        trim_rule: Callable | None = None,
        update: bool = False,
    ) -> None:
        """Build the vocabulary from a ``{word: count}`` mapping instead of a corpus."""
        if not hasattr(word_freq, "items"):
            raise TypeError("word_freq must be a mapping of word -> count")
        if update and not len(self.wv.index_to_key):
            raise RuntimeError(
                "You cannot do an online vocabulary-update of a model which has no prior vocabulary."
            )
        logger.info("processing provided word frequencies")
        self.raw_vocab = {str(w): int(c) for w, c in word_freq.items()}
        self.corpus_count = int(corpus_count or 0)
        self.corpus_total_words = int(sum(self.raw_vocab.values()))
        self.prepare_vocab(update=update, keep_raw_vocab=keep_raw_vocab, trim_rule=trim_rule)
        self.prepare_weights(update=update)

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------

    def _training_config(self) -> dict[str, Any]:
        """The training parameters as the Rust core takes them, checked by its rule.

        Types are converted here (the Python edge); value ranges are decided
        once, by the core's ``W2vConfig::validate``, which raises ``ValueError``
        naming the parameter. Called by ``__init__`` and again for each
        ``train()``, because the parameters can be set as attributes or come
        from a saved model.
        """
        config = {
            "sample": check_float(self.sample, "sample", low=0.0),
            "ns_exponent": check_float(self.ns_exponent, "ns_exponent"),
            "sg": bool(check_flag(self.sg, "sg")),
            "hs": bool(check_flag(self.hs, "hs")),
            "negative": check_int(self.negative, "negative", low=0),
            "cbow_mean": bool(check_flag(self.cbow_mean, "cbow_mean")),
            "window": check_int(self.window, "window", low=0),
            "shrink_windows": bool(self.shrink_windows),
        }
        check_w2v_config(**config)
        return config

    def _make_core(self, compute_loss: bool, workers: int | None = None) -> Word2VecCore:
        """The Rust trainer for the current vocabulary and parameters."""
        counts = np.asarray(self.wv.expandos.get("count", np.ones(len(self.wv))), dtype=np.int64)
        return Word2VecCore(
            list(self.wv.index_to_key),
            counts.tolist(),
            **self._training_config(),
            compute_loss=bool(compute_loss),
            seed=check_seed(self.seed),
            workers=check_workers(self.workers if workers is None else workers),
        )

    def _check_training_sanity(
        self, epochs: int | None, total_examples: int | None, total_words: int | None
    ) -> None:
        if not self.wv.key_to_index:
            if not self.corpus_total_words:
                why = ": the corpus holds no words"
            elif self.effective_min_count > 1:
                why = (
                    f": no word occurs min_count={self.effective_min_count} times or more in "
                    f"the corpus of {self.corpus_total_words} words, so the vocabulary is "
                    "empty; lower min_count"
                )
            else:
                why = ""
            raise RuntimeError("you must first build vocabulary before training the model" + why)
        if not len(self.wv.vectors):
            raise RuntimeError("you must initialize vectors before training the model")
        if total_words is None and total_examples is None:
            raise ValueError(
                "You must specify either total_examples or total_words, for proper learning-rate "
                "and progress calculations. If you've just built the vocabulary using the same "
                "corpus, using the count cached in the model is sufficient: "
                "total_examples=model.corpus_count."
            )
        if epochs is None:
            raise ValueError(
                "You must specify an explicit epochs count (a positive integer). "
                "The usual value is epochs=model.epochs."
            )
        check_int(epochs, "epochs", low=1)
        check_int(total_examples, "total_examples", low=0, allow_none=True)
        check_int(total_words, "total_words", low=0, allow_none=True)
        if self.wv.vectors.shape != (len(self.wv.index_to_key), self.vector_size):
            raise RuntimeError(
                f"wv.vectors has shape {self.wv.vectors.shape} but the vocabulary has "
                f"{len(self.wv.index_to_key)} words of size {self.vector_size}; "
                "call build_vocab() after changing the vocabulary"
            )

    def _weights(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        def contiguous(a: np.ndarray) -> np.ndarray:
            if (
                a.dtype != REAL
                or not a.flags.c_contiguous
                or not a.flags.writeable
                or not a.flags.aligned
            ):
                a = np.ascontiguousarray(a, dtype=REAL).copy()
            return a

        self.wv.vectors = contiguous(self.wv.vectors)
        syn1neg = syn1 = None
        if self.negative:
            self.syn1neg = contiguous(self.syn1neg)
            syn1neg = self.syn1neg
        if self.hs:
            self.syn1 = contiguous(self.syn1)
            syn1 = self.syn1
        return self.wv.vectors, syn1neg, syn1

    def _lockf(self) -> np.ndarray | None:
        lockf = getattr(self.wv, "vectors_lockf", None)
        if lockf is None:
            return None
        lockf = np.asarray(lockf, dtype=REAL)
        if lockf.size == len(self.wv.index_to_key) and not np.all(lockf == 1.0):
            return np.ascontiguousarray(lockf)
        return None

    def train(
        self,
        corpus_iterable: Iterable[Sequence[str]] | None = None,
        corpus_file: PathLike | None = None,
        total_examples: int | None = None,
        total_words: int | None = None,
        epochs: int | None = None,
        start_alpha: float | None = None,
        end_alpha: float | None = None,
        word_count: int = 0,
        queue_factor: int = 2,
        report_delay: float = 1.0,
        compute_loss: bool = False,
        callbacks: Sequence[CallbackAny2Vec] = (),
        progress_bar: bool | None = None,
        **kwargs: Any,
    ) -> tuple[int, int]:
        """Train the model; returns ``(effective_words, raw_words)`` trained on.

        Parameters
        ----------
        corpus_iterable, corpus_file
            The corpus, as for :meth:`build_vocab` (``sentences=`` is accepted too).
        total_examples : int, optional
            Number of sentences in the corpus (``model.corpus_count`` after build_vocab).
        total_words : int, optional
            Number of raw words in the corpus.
        epochs : int
            Passes over the corpus (required, usually ``model.epochs``).
        start_alpha, end_alpha : float, optional
            Override the learning-rate schedule for this call.
        report_delay : float
            Seconds between progress log lines.
        compute_loss : bool
            Track the training loss.
        callbacks : sequence of CallbackAny2Vec
            Hooks for this call.
        progress_bar : bool, optional
            Show a tqdm bar (embedrs extension).

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C, after the workers stop (within a second); the vectors hold
            what was learnt so far and the model stays usable.
        """
        if "sentences" in kwargs and corpus_iterable is None:
            corpus_iterable = kwargs.pop("sentences")
        if kwargs:
            raise TypeError(f"train() got unexpected keyword argument(s): {', '.join(kwargs)}")
        self._check_corpus_sanity(corpus_iterable, corpus_file, passes=epochs or 1)
        self._check_training_sanity(epochs, total_examples, total_words)
        epochs = int(epochs)  # type: ignore[arg-type]
        self.alpha = check_float(
            self.alpha if start_alpha is None else start_alpha,
            "start_alpha" if start_alpha is not None else "alpha",
            low=0.0,
            low_open=True,
        )
        self.min_alpha = check_float(
            self.min_alpha if end_alpha is None else end_alpha,
            "end_alpha" if end_alpha is not None else "min_alpha",
            low=0.0,
        )
        if self.hs and self.negative:
            logger.warning(
                "Both hierarchical softmax and negative sampling are activated. "
                "This is probably a mistake. You should set either 'hs=0' "
                "or 'negative=0' to disable one of them. "
            )
        if self.alpha > self.min_alpha_yet_reached:
            logger.warning("Effective 'alpha' higher than previous training cycles")
        self.batch_words = check_int(self.batch_words, "batch_words", low=1)
        self.epochs = epochs
        self.compute_loss = bool(compute_loss)
        self.running_training_loss = 0.0
        callbacks = list(callbacks)
        show_bar = self.progress_bar if progress_bar is None else progress_bar

        corpus: CorpusFile | None = None
        if corpus_file is not None:
            corpus = CorpusFile(os.fspath(corpus_file))
            per_epoch = int(total_words or self.corpus_total_words or 0)
            if not per_epoch:
                raise ValueError(
                    "corpus_file training needs total_words (model.corpus_total_words)"
                )
        elif total_words:
            per_epoch = int(total_words)
        else:
            # Estimate words from examples, with the average sentence length of build_vocab.
            words = self.corpus_total_words or 0  # None for models of gensim < 3.x
            avg = words / max(self.corpus_count, 1) if self.corpus_count else 0
            per_epoch = round(int(total_examples or 0) * avg) or int(total_examples or 1)
        expected = per_epoch * epochs

        core = self._training_core(self.compute_loss)
        context = self._epoch_context(corpus_iterable if corpus is None else None)
        self.add_lifecycle_event(
            "train",
            msg=(
                f"training model with {self.workers} workers on {len(self.wv)} vocabulary and "
                f"{self.layer1_size} features, using sg={self.sg} hs={self.hs} sample={self.sample} "
                f"negative={self.negative} window={self.window} shrink_windows={self.shrink_windows}"
            ),
        )
        bar = _make_bar(show_bar, expected)
        for cb in callbacks:
            cb.on_train_begin(self)
        start = time.perf_counter()
        trained_raw = trained_eff = 0
        words_before = 0
        interrupted = False
        live = [kv._being_trained() for kv in self._vectors_being_trained()]
        for ctx in live:
            ctx.__enter__()
        try:
            for epoch in range(epochs):
                for cb in callbacks:
                    cb.on_epoch_begin(self)
                ep_start = time.perf_counter()
                reporter = _Reporter(epoch, per_epoch, report_delay, bar, words_before)
                raw, eff, loss, n_sent = self._train_epoch(
                    core,
                    corpus,
                    corpus_iterable,
                    context,
                    {
                        "epoch": epoch,
                        "alpha": self.alpha,
                        "min_alpha": self.min_alpha,
                        "words_before": words_before,
                        "total_words": expected,
                        "batch_words": self.batch_words,
                        "progress": reporter,
                        "report_every": 0.2,
                    },
                )
                if n_sent is not None:
                    if total_examples and n_sent != total_examples:
                        logger.warning(
                            "EPOCH - %i : supplied example count (%i) did not equal expected count (%i)",
                            epoch,
                            n_sent,
                            total_examples,
                        )
                    elif total_words and raw != total_words:
                        logger.warning(
                            "EPOCH - %i : supplied raw word count (%i) did not equal expected count (%i)",
                            epoch,
                            raw,
                            total_words,
                        )
                words_before += per_epoch
                trained_raw += raw
                trained_eff += eff
                self.running_training_loss += loss
                elapsed = time.perf_counter() - ep_start
                logger.info(
                    "EPOCH %i: training on %i raw words (%i effective words) took %.1fs, "
                    "%.0f effective words/s",
                    epoch,
                    raw,
                    eff,
                    elapsed,
                    eff / max(elapsed, 1e-9),
                )
                self.min_alpha_yet_reached = max(
                    self.min_alpha,
                    self.alpha - (self.alpha - self.min_alpha) * words_before / max(expected, 1),
                )
                self._after_epoch()
                for cb in callbacks:
                    cb.on_epoch_end(self)
        except KeyboardInterrupt:
            interrupted = True
            logger.warning("training interrupted; the model keeps what it learnt so far")
            raise
        finally:
            for ctx in reversed(live):
                ctx.__exit__(None, None, None)
            if bar is not None:
                bar.close()
            self._after_training()
            total_elapsed = time.perf_counter() - start
            self.total_train_time += total_elapsed
            self.train_count += 1
            self.add_lifecycle_event(
                "train",
                msg=(
                    f"training on {trained_raw} raw words ({trained_eff} effective words) took "
                    f"{total_elapsed:.1f}s, {trained_eff / max(total_elapsed, 1e-9):.0f} effective words/s"
                    + (" (interrupted)" if interrupted else "")
                ),
            )
            for cb in callbacks:
                cb.on_train_end(self)
        return trained_eff, trained_raw

    # -- the hooks through which models built on Word2Vec (Doc2Vec) share train()

    def _training_core(self, compute_loss: bool) -> Any:
        """The Rust trainer for one ``train()`` call."""
        return self._reused_core(compute_loss, self._make_core, self._training_config())

    def _reused_core(self, compute_loss: bool, make: Callable[[bool], Any], config: dict) -> Any:
        """``make(compute_loss)``, or the trainer it made last for the same inputs.

        A trainer holds the tables built from the vocabulary (the Huffman tree,
        the noise and subsampling tables) and its worker threads, and keeps no
        state between epochs (each epoch's random streams come from the seed
        and the epoch), so one built for the same words, counts and settings
        trains exactly as a new one. Building it costs about 10 ms per 30,000
        words; ``build_vocab`` builds it, as gensim builds its tree there, and
        every later ``train()`` reuses it until the vocabulary or a setting
        changes. The words and counts are compared by value, so a vocabulary
        edited in place is noticed too.
        """
        words = self.wv.index_to_key
        counts = self.wv.expandos.get("count")
        settings = (
            tuple(sorted(config.items())),
            bool(compute_loss),
            self.seed,
            self.workers,
            make.__name__,
        )
        cached = self.__dict__.get("_trainer_cache")
        if (
            cached is not None
            and cached[0] == settings
            and cached[1] == words
            and (counts is None) == (cached[2] is None)
            and (counts is None or np.array_equal(cached[2], counts))
        ):
            return cached[3]
        core = make(compute_loss)
        saved = None if counts is None else np.array(counts, copy=True)
        self._trainer_cache = (settings, list(words), saved, core)
        return core

    def _prepare_trainer(self) -> None:
        """Build the trainer for the new vocabulary now (see :meth:`_reused_core`).

        Settings that the trainer rejects are left for ``train()`` to report.
        """
        self.__dict__.pop("_trainer_cache", None)
        if len(self.wv.index_to_key) and (self.hs or self.negative):
            with contextlib.suppress(ValueError, RuntimeError, TypeError, OverflowError):
                self._training_core(self.compute_loss)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_trainer_cache", None)  # Rust threads and tables: rebuilt on demand
        return state

    def _epoch_context(self, corpus_iterable: Any) -> Any:
        """What every epoch of one ``train()`` call needs besides the weights (None here)."""
        return None

    def _vectors_being_trained(self) -> list[KeyedVectors]:
        """The keyed vectors that ``train()`` writes (queries on them see it live)."""
        return [self.wv]

    def _train_epoch(
        self,
        core: Any,
        corpus: CorpusFile | None,
        corpus_iterable: Any,
        context: Any,
        common: dict[str, Any],
    ) -> tuple[int, int, float, int | None]:
        """One epoch through the Rust trainer: ``(raw, effective, loss, examples read)``.

        ``examples read`` is None on the ``corpus_file`` path.
        """
        syn0, syn1neg, syn1 = self._weights()
        if corpus is not None:
            return core.train_epoch_file(syn0, syn1neg, syn1, self._lockf(), corpus, **common)
        native = _native_lines(corpus_iterable)
        if native is not None:
            return core.train_epoch_file(
                syn0,
                syn1neg,
                syn1,
                self._lockf(),
                native,
                max_sentence_length=corpus_iterable.max_sentence_length,
                in_order=True,
                **common,
            )
        return core.train_epoch_iterable(
            syn0, syn1neg, syn1, self._lockf(), corpus_iterable, self.wv.key_to_index, **common
        )

    def _after_epoch(self) -> None:
        """Called after each epoch (the norms are recomputed for queries during training)."""
        self.wv.fill_norms(force=True)

    def _after_training(self) -> None:
        """Called once a ``train()`` call ends, normally or not."""
        self.wv.fill_norms(force=True)

    def train_pairs(
        self,
        pairs: Any,
        epochs: int | None = None,
        start_alpha: float | None = None,
        end_alpha: float | None = None,
        update_vocab: bool = True,
        compute_loss: bool = False,
    ) -> float:
        """Train skip-gram negative sampling on explicit ``(target, context)`` pairs.

        For data that is not running text: items and their tags, users and
        artists, edges of a graph. The vector of ``target`` learns to predict
        ``context`` exactly as one skip-gram example, so targets that share
        contexts end up close in ``wv``.

        Parameters
        ----------
        pairs : sequence of (key, key) or (n, 2) integer array
            Token pairs (keys of ``wv``; with ``update_vocab`` unknown keys are
            added) or, as an integer array, row ids of ``wv``.
        epochs : int, optional
            Passes over the pairs (default ``self.epochs``).
        start_alpha, end_alpha : float, optional
            Learning-rate schedule (default ``alpha``/``min_alpha``).
        update_vocab : bool
            Add unseen keys of token pairs to the vocabulary first.
        compute_loss : bool
            Return the summed loss of the last epoch instead of 0.

        Returns
        -------
        float
            The loss of the last epoch (0 unless ``compute_loss``).
        """
        if not self.negative:
            raise ValueError("train_pairs trains negative sampling: set negative > 0")
        epochs = check_int(self.epochs if epochs is None else epochs, "epochs", low=1)
        alpha = check_float(
            self.alpha if start_alpha is None else start_alpha,
            "start_alpha",
            low=0.0,
            low_open=True,
        )
        min_alpha = check_float(
            self.min_alpha if end_alpha is None else end_alpha, "end_alpha", low=0.0
        )
        arr = np.asarray(pairs) if not isinstance(pairs, np.ndarray) else pairs
        if arr.dtype.kind in "iu":
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise ValueError(f"pairs must have shape (n, 2), got {arr.shape}")
            if arr.size and (arr.min() < 0 or arr.max() >= len(self.wv)):
                raise ValueError(
                    f"pair ids must lie in [0, {len(self.wv)}); build the vocabulary first"
                )
            ids = np.ascontiguousarray(arr, dtype=np.uint32)
        else:
            token_pairs = [tuple(p) for p in pairs]
            if any(len(p) != 2 for p in token_pairs):
                raise ValueError("each pair must hold exactly two keys: (target, context)")
            if update_vocab:
                freq: Counter[str] = Counter()
                for t, c in token_pairs:
                    freq[t] += 1
                    freq[c] += 1
                if not len(self.wv):
                    self.raw_vocab = dict(freq)
                    self.corpus_total_words = sum(freq.values())
                    self.prepare_vocab(min_count=1)
                    self.prepare_weights()
                else:
                    unseen = {w: c for w, c in freq.items() if w not in self.wv.key_to_index}
                    if unseen:
                        self.raw_vocab = unseen
                        self.prepare_vocab(update=True, min_count=1)
                        self.prepare_weights(update=True)
            k2i = self.wv.key_to_index
            try:
                ids = np.array([(k2i[t], k2i[c]) for t, c in token_pairs], dtype=np.uint32).reshape(
                    -1, 2
                )
            except KeyError as exc:
                raise KeyError(f"key {exc.args[0]!r} not present in vocabulary") from None
        if not len(ids):
            raise ValueError("pairs is empty")
        core = self._make_core(compute_loss)
        loss = 0.0
        total = len(ids) * epochs
        for epoch in range(epochs):
            syn0, syn1neg, _ = self._weights()
            loss = core.train_epoch_pairs(
                syn0,
                syn1neg,
                self._lockf(),
                ids,
                epoch=epoch,
                alpha=alpha,
                min_alpha=min_alpha,
                words_before=epoch * len(ids),
                total_words=total,
            )
        self.wv.fill_norms(force=True)
        return float(loss)

    def score(
        self,
        sentences: Iterable[Sequence[str]],
        total_sentences: int = int(1e6),
        chunksize: int = 100,
        queue_factor: int = 2,
        report_delay: float = 1,
    ) -> np.ndarray:
        """Log-likelihood of each sentence under the model, as gensim's ``score``.

        Needs hierarchical softmax (``hs=1``). Each sentence scores the sum of
        ``log P(word | context)`` over its in-vocabulary words: skip-gram sums
        over every word of the full window, CBOW predicts each word from its
        window's sum or mean. Unknown words are dropped and a sentence is cut at
        10,000 words, as gensim does. The model is not changed; the scoring runs
        in Rust on ``workers`` threads with the GIL released.

        Parameters
        ----------
        sentences : iterable of list of str
            The sentences to score.
        total_sentences : int, optional
            Score at most this many sentences (gensim warns and stops there).
        chunksize, queue_factor, report_delay
            Accepted for gensim compatibility; sentences are scored in batches.

        Returns
        -------
        numpy.ndarray
            float32 log-likelihood of each sentence scored.

        Raises
        ------
        RuntimeError
            If the vocabulary is empty or the model has no hierarchical softmax layer.
        """
        logger.info(
            "scoring sentences with %i workers on %i vocabulary and %i features, "
            "using sg=%s hs=%s sample=%s and negative=%s",
            self.workers,
            len(self.wv),
            self.layer1_size,
            self.sg,
            self.hs,
            self.sample,
            self.negative,
        )
        if not self.wv.key_to_index:
            raise RuntimeError("you must first build vocabulary before scoring new data")
        if not self.hs:
            raise RuntimeError(
                "We have currently only implemented score for the hierarchical softmax scheme, "
                "so you need to have run word2vec with hs=1 and negative=0 for this to work."
            )
        total = check_int(total_sentences, "total_sentences", low=0)
        if isinstance(sentences, (str, bytes)):
            raise TypeError("sentences must be an iterable of lists of str tokens, not a string")
        syn1 = getattr(self, "syn1", None)
        if syn1 is None or syn1.shape != self.wv.vectors.shape:
            raise RuntimeError(
                f"the model's syn1 has shape {getattr(syn1, 'shape', None)}, expected "
                f"{self.wv.vectors.shape}: it cannot be scored"
            )
        syn0 = np.ascontiguousarray(self.wv.vectors, dtype=REAL)
        syn1 = np.ascontiguousarray(syn1, dtype=REAL)
        core = self._make_core(False)
        key_to_index = self.wv.key_to_index
        batch = max(int(chunksize), 10_000)
        parts: list[np.ndarray] = []
        ids: list[int] = []
        lengths: list[int] = []
        start = time.perf_counter()
        done = 0

        def flush() -> None:
            parts.append(
                core.score(
                    syn0,
                    syn1,
                    np.asarray(ids, dtype=np.uint32),
                    np.asarray(lengths, dtype=np.uint64),
                )
            )
            ids.clear()
            lengths.clear()

        for n, sentence in enumerate(sentences):
            if n >= total:
                logger.warning(
                    "terminating after %i sentences (set higher total_sentences if you want more).",
                    total,
                )
                break
            known = [key_to_index[w] for w in sentence if w in key_to_index]
            known = known[:MAX_WORDS_IN_BATCH]
            ids.extend(known)
            lengths.append(len(known))
            done += 1
            if len(lengths) >= batch:
                flush()
        if lengths:
            flush()
        logger.info(
            "scoring %i sentences took %.1fs, %.0f sentences/s",
            done,
            time.perf_counter() - start,
            done / max(time.perf_counter() - start, 1e-9),
        )
        return np.concatenate(parts) if parts else np.zeros(0, dtype=REAL)

    def get_latest_training_loss(self) -> float:
        """Loss summed over the last :meth:`train` call (0 unless ``compute_loss``)."""
        return self.running_training_loss

    def predict_output_word(self, context_words_list: Sequence[str], topn: int = 10) -> list | None:
        """Most probable centre words for a bag of context words (negative-sampling models).

        Returns ``None`` (with a warning) when every context word is unknown.
        """
        topn = check_topn(topn, len(self.wv), allow_none=False)
        if not self.negative:
            raise RuntimeError(
                "We have currently only implemented predict_output_word for the negative sampling "
                "scheme, so you need to have run word2vec with negative > 0 for this to work."
            )
        if not len(self.syn1neg):
            raise RuntimeError("Parameters required for predicting the output words not found.")
        idx = [self.wv.get_index(w) for w in context_words_list if w in self.wv]
        if not idx:
            logger.warning(
                "All the input context words are out-of-vocabulary for the current model."
            )
            return None
        l1 = np.sum(self.wv.vectors[idx], axis=0)
        if self.cbow_mean:
            l1 /= len(idx)
        scores = self.syn1neg @ l1
        scores = np.exp(scores - scores.max())
        prob = scores / scores.sum()
        top = np.argsort(-prob, kind="stable")[:topn]
        return [(self.wv.index_to_key[i], prob[i]) for i in top]

    def estimate_memory(self, vocab_size: int | None = None, report: dict | None = None) -> dict:
        """Estimated bytes of the model's arrays (as gensim reports before training)."""
        n = len(self.wv) if vocab_size is None else vocab_size
        out = {
            "vocab": n * 500,
            "vectors": n * self.vector_size * 4,
            "syn1neg": n * self.vector_size * 4 if self.negative else 0,
            "syn1": n * self.vector_size * 4 if self.hs else 0,
        }
        out["total"] = sum(out.values())
        logger.info(
            "estimated required memory for %i words and %i dimensions: %i bytes",
            n,
            self.vector_size,
            out["total"],
        )
        return out

    @property
    def cum_table(self) -> np.ndarray:
        """gensim's negative-sampling table: cumulative ``count**ns_exponent``, scaled to a domain.

        Entry ``i`` is ``round(D * sum(c[:i+1]**e) / sum(c**e))`` (uint32), with
        ``D = 2**31 - 1`` unless :meth:`make_cum_table` set another (not saved
        with the model),
        the numbers gensim's ``make_cum_table`` stores; embedrs's engine samples
        from the same distribution and builds its own table, so this one is
        made on request, for code that reads gensim's.
        """
        counts = self.wv.expandos.get("count")
        if counts is None or not len(counts):
            return np.zeros(0, dtype=np.uint32)
        cumulative = np.cumsum(np.asarray(counts, dtype=np.float64) ** float(self.ns_exponent))
        domain = getattr(self, "_cum_domain", 2**31 - 1)
        return np.round(cumulative / cumulative[-1] * domain).astype(np.uint32)

    def make_cum_table(self, domain: int = 2**31 - 1) -> None:
        """Set the scale of :attr:`cum_table` (gensim's ``make_cum_table``).

        embedrs draws noise words from its own table, built from the current
        counts at each ``train``; :attr:`cum_table` is computed from the same
        counts when read, so there is nothing to rebuild. ``domain`` is the
        value of its last entry.

        Parameters
        ----------
        domain : int
            Last value of the table, 1 to 2**32 - 1 (the table is ``uint32``).
        """
        domain = check_int(domain, "domain", low=1)
        if domain > 2**32 - 1:
            raise ValueError(
                f"domain must fit the table's uint32 entries (at most 2**32 - 1), got {domain}"
            )
        self._cum_domain = domain

    def create_binary_tree(self) -> None:
        """Build the Huffman tree of the vocabulary from its counts (gensim's ``create_binary_tree``).

        Stores each word's branch bits and inner nodes as ``wv`` attributes
        ``'code'`` and ``'point'``. ``build_vocab`` already does this; call it after
        changing ``wv``'s counts by hand. Does nothing when ``hs=0``.
        """
        self._set_huffman_attrs()

    def add_null_word(self) -> None:
        """Add gensim's null word ``'\\0'`` (count 1) at the end of the vocabulary.

        What ``null_word=1`` does in ``build_vocab``, for code that assembles the
        vocabulary itself; make the weights afterwards (:meth:`init_weights`). A
        vocabulary that already holds the null word is left as it is.
        """
        word = "\0"
        if word in self.wv.key_to_index:
            return
        self.wv.key_to_index[word] = len(self.wv.index_to_key)
        self.wv.index_to_key.append(word)
        self.wv.set_vecattr(word, "count", 1)

    def seeded_vector(self, seed_string: str, vector_size: int) -> np.ndarray:
        """A small random float32 vector derived from ``seed_string`` through ``hashfxn``.

        The same numbers as gensim's ``seeded_vector`` for the same hash
        (:func:`~embedrs.models.keyedvectors.pseudorandom_weak_vector`).

        Parameters
        ----------
        seed_string : str
            Seed material, usually a word.
        vector_size : int
            Length of the vector.
        """
        return pseudorandom_weak_vector(
            check_int(vector_size, "vector_size", low=0),
            seed_string=seed_string,
            hashfxn=self.hashfxn,
        )

    def init_weights(self) -> None:
        """Reset the input and output weights to their untrained state, keeping the vocabulary.

        gensim's ``init_weights``: each word's vector starts from the same
        deterministic value as after ``build_vocab`` with this ``seed``; the
        output layers are zeroed.
        """
        logger.info("resetting layer weights")
        self.prepare_weights(update=False)

    def update_weights(self) -> None:
        """Keep the trained weights and add fresh ones for words added to the vocabulary since.

        gensim's ``update_weights``; ``build_vocab(update=True)`` already grows the
        weights this way, so a second call changes nothing.

        Raises
        ------
        RuntimeError
            If the model has no weights yet: build a vocabulary first.
        """
        if not len(self.wv.vectors):
            raise RuntimeError(
                "You cannot do an online vocabulary-update of a model which has no prior "
                "vocabulary. First build the vocabulary of your model with a corpus before "
                "doing an online update."
            )
        logger.info("updating layer weights")
        self.prepare_weights(update=True)

    def reset_from(self, other_model: Word2Vec) -> None:
        """Take ``other_model``'s vocabulary and start from fresh weights (gensim's ``reset_from``).

        As in gensim the vocabulary structures (``index_to_key``,
        ``key_to_index``, the per-word attributes) are shared, not copied:
        neither model should grow its vocabulary afterwards.

        Parameters
        ----------
        other_model : Word2Vec
            The model whose vocabulary and corpus counts are borrowed.
        """
        self.wv = KeyedVectors(self.vector_size)
        self.wv.index_to_key = other_model.wv.index_to_key
        self.wv.key_to_index = other_model.wv.key_to_index
        self.wv.expandos = other_model.wv.expandos
        self.corpus_count = other_model.corpus_count
        self.corpus_total_words = other_model.corpus_total_words
        self.prepare_weights()

    def init_sims(self, replace: bool = False) -> None:
        """Precompute normalised vectors (kept for gensim compatibility)."""
        self.wv.fill_norms(force=True)

    # ------------------------------------------------------------------
    # persistence
    # ------------------------------------------------------------------

    _PARAMS = (
        "vector_size",
        "alpha",
        "window",
        "min_count",
        "max_vocab_size",
        "sample",
        "seed",
        "workers",
        "min_alpha",
        "sg",
        "hs",
        "negative",
        "ns_exponent",
        "cbow_mean",
        "epochs",
        "null_word",
        "sorted_vocab",
        "batch_words",
        "compute_loss",
        "max_final_vocab",
        "shrink_windows",
        "train_count",
        "total_train_time",
        "running_training_loss",
        "corpus_count",
        "corpus_total_words",
        "effective_min_count",
        "min_alpha_yet_reached",
        "comment",
    )

    def save(self, fname: PathLike, *args: Any, **kwargs: Any) -> None:
        """Save the full model (vectors, output weights, parameters) atomically.

        The embedrs native format: arrays plus JSON metadata in one file, never
        pickled, written to a temporary file and renamed into place. Extra gensim
        arguments (``separately``, ``pickle_protocol``...) are accepted and ignored.
        """
        if not isinstance(fname, (str, os.PathLike)):
            raise TypeError("save() takes a file path")
        self.add_lifecycle_event("saving", fname_or_handle=os.fspath(fname))
        kv_meta, kv_arrays = self.wv._to_persist(prefix="wv.")
        arrays = dict(kv_arrays)
        arrays["syn1neg"] = np.asarray(self.syn1neg)
        arrays["syn1"] = np.asarray(self.syn1)
        params = {k: getattr(self, k) for k in self._PARAMS}
        meta = {
            "class": "Word2Vec",
            "wv": kv_meta,
            "params": params,
            "lifecycle_events": self._events_for_file(),
        }
        _persist.write_container(fname, meta, arrays)
        logger.info("saved %s to %s", self, os.fspath(fname))

    #: Saved state that is not a constructor parameter, with its rule:
    #: (integer?, minimum or None).
    _STATE_RULES: ClassVar[dict[str, tuple[bool, float | None]]] = {
        "train_count": (True, 0),
        "total_train_time": (False, 0),
        "running_training_loss": (False, None),
        "corpus_count": (True, 0),
        "corpus_total_words": (True, 0),
        "effective_min_count": (True, 0),
        "min_alpha_yet_reached": (False, None),
    }

    @classmethod
    def _from_saved_params(cls, params: Any, fname: str) -> Word2Vec:
        """A new model built by the constructor from saved parameters.

        Every constructor parameter goes through ``__init__`` itself, so a
        value the constructor would refuse (``workers=0``, ``alpha=-1``, a
        string for ``window``...) is refused on load too, with the
        constructor's message prefixed by the file name. The other saved
        fields (counters, timers) are checked against :attr:`_STATE_RULES`.
        """
        if not isinstance(params, dict):
            raise ValueError(f"{fname}: corrupt model: 'params' is not an object")  # noqa: TRY004
        accepted = set(inspect.signature(cls.__init__).parameters) - {
            "self",
            "sentences",
            "corpus_file",
            "callbacks",
            "trim_rule",
            "hashfxn",
            "kwargs",
            "progress_bar",
        }
        ctor = {k: v for k, v in params.items() if k in accepted}
        model = cls.__new__(cls)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                cls.__init__(model, **ctor)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"{fname}: invalid saved parameter: {exc}") from None
        for k, (integer, minimum) in cls._STATE_RULES.items():
            if k == "corpus_total_words" and k in params and params[k] is None:
                model.corpus_total_words = None  # not counted by gensim < 3.x: gensim keeps None
            elif k in params:
                try:
                    _persist.check_finite_number(params[k], k, minimum=minimum, integer=integer)
                except ValueError as exc:
                    raise ValueError(f"{fname}: invalid saved state: {exc}") from None
                setattr(model, k, params[k])
        return model

    def _output_width(self) -> int:
        """Entries of an output-layer row (Doc2Vec's concatenated input makes it wider)."""
        return self.vector_size

    def _check_loaded_weights(self, fname: str) -> None:
        """Shapes and types of the loaded weights agree with the parameters."""
        wv = self.wv
        n = len(wv)
        if wv.vectors.shape != (n, self.vector_size):
            raise ValueError(
                f"{fname}: corrupt model: vectors of shape {wv.vectors.shape} for "
                f"{n} words of size {self.vector_size}"
            )
        width = self._output_width()
        for name, needed in (("syn1neg", self.negative > 0), ("syn1", bool(self.hs))):
            w = getattr(self, name)
            if (
                not isinstance(w, np.ndarray)
                or w.ndim != 2
                or w.dtype.kind != "f"
                or w.shape[1] != width
                or w.shape[0] not in ((n,) if needed and n else (0, n))
            ):
                raise ValueError(
                    f"{fname}: corrupt model: {name} of shape "
                    f"{getattr(w, 'shape', None)} for {n} words and output rows of {width}"
                )
        counts = wv.expandos.get("count")
        if counts is not None:
            c = np.asarray(counts)
            if c.shape != (n,) or c.dtype.kind not in "iu" or (c.size and int(c.min()) < 0):
                raise ValueError(
                    f"{fname}: corrupt model: word counts must be {n} non-negative integers"
                )

    @class_only_method
    def load(cls, fname: PathLike, mmap: str | None = None) -> Word2Vec:
        """Load a model saved by :meth:`save`, or a ``Word2Vec`` saved by gensim 4.

        Every stored value is validated: parameters by the constructor's own
        rules, counters, array shapes and word counts against the vocabulary;
        the file's checksums are verified (see :mod:`embedrs._persist`).

        Parameters
        ----------
        fname : str or path
            The file.
        mmap : {None, 'r', 'c'}
            Memory-map the arrays (``'r'`` read-only; use ``'c'`` to keep training).

        Raises
        ------
        ValueError
            Naming the file, for a damaged, inconsistent or hostile file.
        """
        fname = os.fspath(fname)
        _persist.check_regular_file(fname)
        if _persist.is_container(fname):
            meta, arrays = _persist.read_container(fname, mmap=mmap)
            if meta.get("class") != "Word2Vec":
                raise _persist.WrongModelError(
                    f"{fname} holds a {str(meta.get('class'))[:40]!r}, not a Word2Vec model; "
                    "use KeyedVectors.load() for vectors"
                )
            model = cls._from_saved_params(meta.get("params"), fname)
            model.wv = KeyedVectors._from_persist(meta.get("wv"), arrays, prefix="wv.", fname=fname)
            model.syn1neg = arrays.get("syn1neg")
            model.syn1 = arrays.get("syn1")
            events = meta.get("lifecycle_events", [])
        else:
            if not os.path.exists(fname):
                raise FileNotFoundError(f"{fname}: no such file")
            obj = _persist.load_gensim_pickle(fname, mmap=mmap)
            if not obj.gensim_class.endswith("Word2Vec"):
                raise _persist.WrongModelError(
                    f"{fname} holds a gensim {obj.gensim_class}, not a Word2Vec"
                )
            st = obj.state
            params = {
                k: st[k]
                for k in cls._PARAMS
                if k in st and not isinstance(st[k], _persist.GensimObject)
            }
            params = {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}
            params.setdefault("corpus_total_words", None)  # gensim < 3.x did not count them
            for k in ("total_train_time", "running_training_loss", "min_alpha_yet_reached"):
                if type(params.get(k)) is int:
                    params[k] = float(params[k])
            model = cls._from_saved_params(params, fname)
            model.wv = KeyedVectors._from_gensim(obj, fname)
            empty = np.zeros((0, model.vector_size), REAL)
            model.syn1neg = st.get("syn1neg", empty) if st.get("syn1neg") is not None else empty
            model.syn1 = st.get("syn1", empty) if st.get("syn1") is not None else empty
            events = st.get("lifecycle_events", [])
        model._check_loaded_weights(fname)
        model.wv.vectors_lockf = np.ones(1, dtype=REAL)
        model.layer1_size = model.vector_size
        model.callbacks = []
        model.raw_vocab = {}
        model._set_huffman_attrs()
        model._events_from_file(events, fname)
        logger.info("loaded %s from %s", model, fname)
        return model


class BrownCorpus:
    """Iterate over the Brown corpus format: ``word/TAG`` tokens, one sentence per line,
    yielding ``word/POS`` strings of alphabetic words (gensim's ``BrownCorpus``)."""

    def __init__(self, dirname: PathLike) -> None:
        self.dirname = os.fspath(dirname)

    def __iter__(self) -> Any:
        for fname in sorted(os.listdir(self.dirname)):
            path = os.path.join(self.dirname, fname)
            if not os.path.isfile(path):
                continue
            with open(path, encoding="utf8") as fin:
                for line in fin:
                    words = []
                    for token in line.split():
                        parts = token.lower().rsplit("/", 1)
                        if len(parts) == 2 and parts[0].isalpha():
                            words.append(f"{parts[0]}/{parts[1][:2]}")
                    if words:
                        yield words


class _Reporter:
    """Progress callback from Rust: logs like gensim and feeds the tqdm bar."""

    def __init__(self, epoch: int, per_epoch: int, delay: float, bar: Any, before: int) -> None:
        self.epoch = epoch
        self.per_epoch = max(per_epoch, 1)
        self.delay = delay
        self.bar = bar
        self.before = before
        self.start = time.perf_counter()
        self.last_log = self.start
        self.bar_done = 0
        self.lock = threading.Lock()

    def __call__(self, done: int, total: int, epoch: int, metric: float | None) -> None:
        now = time.perf_counter()
        if self.bar is not None:
            self.bar.update(max(done - self.bar_done, 0))
            self.bar_done = max(done, self.bar_done)
        if now - self.last_log >= self.delay:
            self.last_log = now
            rate = done / max(now - self.start, 1e-9)
            logger.info(
                "EPOCH %i - PROGRESS: at %.2f%% words, %.0f words/s",
                self.epoch,
                100.0 * min(done / self.per_epoch, 1.0),
                rate,
            )


def _make_bar(show: bool, total: int) -> Any:
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            "progress_bar=True needs tqdm: pip install 'embedrs[progress]' (or pip install tqdm)"
        ) from None
    return tqdm(total=total, unit="word", unit_scale=True, desc="word2vec")


# ----------------------------------------------------------------------
# gensim 3 names and gensim internals that gensim code imports from this module
# ----------------------------------------------------------------------

_MIGRATING = "see https://github.com/RaRe-Technologies/gensim/wiki/Migrating-from-Gensim-3.x-to-4"
_GENSIM3_NAMES = {
    "vocab": "since Gensim 4.0.0 use model.wv.key_to_index, model.wv.index_to_key and "
    "model.wv.get_vecattr(key, 'count'); " + _MIGRATING,
    "index2word": "since Gensim 4.0.0 use model.wv.index_to_key; " + _MIGRATING,
    "index2entity": "since Gensim 4.0.0 use model.wv.index_to_key; " + _MIGRATING,
    "syn0": "since Gensim 4.0.0 use model.wv.vectors; " + _MIGRATING,
    "syn0norm": "since Gensim 4.0.0 use model.wv.get_normed_vectors(); " + _MIGRATING,
    "syn0_lockf": "since Gensim 4.0.0 use model.wv.vectors_lockf; " + _MIGRATING,
    "iter": "since Gensim 4.0.0 the number of epochs is model.epochs; " + _MIGRATING,
    "size": "since Gensim 4.0.0 the dimensionality is model.vector_size; " + _MIGRATING,
    "vocabulary": "since Gensim 4.0.0 the vocabulary lives on model.wv; " + _MIGRATING,
    "trainables": "since Gensim 4.0.0 the weights are model.wv.vectors, model.syn1neg and "
    "model.syn1; " + _MIGRATING,
}
_WV_METHODS = frozenset(
    {
        "most_similar",
        "most_similar_cosmul",
        "similar_by_word",
        "similar_by_vector",
        "similarity",
        "n_similarity",
        "distance",
        "distances",
        "doesnt_match",
        "wmdistance",
        "evaluate_word_pairs",
        "evaluate_word_analogies",
        "accuracy",
        "word_vec",
        "get_vector",
        "words_closer_than",
        "rank",
        "closer_than",
    }
)


class Heapitem(namedtuple("Heapitem", "count, index, left, right")):
    """One node of the Huffman tree build, ``(count, index, left, right)``, ordered by count."""

    def __lt__(self, other: tuple) -> bool:
        return self.count < other[0]


Word2VecVocab = unsupported_class(
    "Word2VecVocab",
    "gensim.models.word2vec.Word2VecVocab (obsolete since gensim 4)",
    "use Word2Vec.build_vocab; the vocabulary is stored on model.wv",
)
Word2VecTrainables = unsupported_class(
    "Word2VecTrainables",
    "gensim.models.word2vec.Word2VecTrainables (obsolete since gensim 4)",
    "use model.wv.vectors, model.syn1neg and model.syn1 (the weights)",
)
_TRAIN_INSTEAD = "embedrs trains in Rust: use Word2Vec.train(...)"
train_batch_sg = unsupported_function(
    "train_batch_sg", "gensim.models.word2vec_inner.train_batch_sg", _TRAIN_INSTEAD
)
train_batch_cbow = unsupported_function(
    "train_batch_cbow", "gensim.models.word2vec_inner.train_batch_cbow", _TRAIN_INSTEAD
)
_SCORE_INSTEAD = "use Word2Vec.score(...) to score sentences"
score_sentence_sg = unsupported_function(
    "score_sentence_sg", "gensim.models.word2vec_inner.score_sentence_sg", _SCORE_INSTEAD
)
score_sentence_cbow = unsupported_function(
    "score_sentence_cbow", "gensim.models.word2vec_inner.score_sentence_cbow", _SCORE_INSTEAD
)
