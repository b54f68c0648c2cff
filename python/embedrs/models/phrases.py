"""Detect phrases (multi-word expressions, collocations) in a stream of sentences.

gensim 4's :mod:`gensim.models.phrases` with the same names, parameters,
scores and phrases; unigram and bigram counting, phrase application and
export run in Rust (counting in parallel with the GIL released, with
gensim's pruning under ``max_vocab_size``).

Examples
--------
>>> from embedrs.models.phrases import Phrases, ENGLISH_CONNECTOR_WORDS
>>> from embedrs.test.utils import common_texts
>>> model = Phrases(common_texts, min_count=1, threshold=1, connector_words=ENGLISH_CONNECTOR_WORDS)
>>> model[['trees', 'graph', 'minors']]
['trees_graph', 'minors']
>>> frozen = model.freeze()
>>> frozen[['trees', 'graph', 'minors']]
['trees_graph', 'minors']
"""

from __future__ import annotations

import inspect
import itertools
import logging
import math
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from embedrs import _embedrs, _persist
from embedrs.utils import LifecycleEvents

logger = logging.getLogger(__name__)

NEGATIVE_INFINITY = float("-inf")

#: Words that may sit inside a phrase but never start or end one
#: (``bank_of_america``, ``eye_of_the_beholder``): gensim's English set.
ENGLISH_CONNECTOR_WORDS = frozenset(
    [
        *("a", "an", "the"),  # articles
        *("for", "of", "with", "without", "at", "from", "to", "in", "on", "by"),  # prepositions
        *("and", "or"),  # conjunctions
    ]
)

_SCORING_PARAMS = [
    "worda_count",
    "wordb_count",
    "bigram_count",
    "len_vocab",
    "min_count",
    "corpus_word_count",
]
_FORMAT_TAG = "embedrs-phrases"
#: Tokens per batch handed to Rust while counting a Python iterable.
_BATCH_WORDS = 1 << 18
#: Largest ``max_vocab_size`` passed to Rust (larger values never prune).
_VOCAB_LIMIT_CAP = 1 << 62


def original_scorer(
    worda_count: int,
    wordb_count: int,
    bigram_count: int,
    len_vocab: int,
    min_count: float,
    corpus_word_count: int,
) -> float:
    r"""Bigram score of Mikolov et al. (2013), gensim's ``scoring='default'``.

    Parameters
    ----------
    worda_count, wordb_count : int
        Occurrences of the first and the last word.
    bigram_count : int
        Occurrences of the phrase.
    len_vocab : int
        Number of entries (unigrams and bigrams) counted.
    min_count : float
        The model's ``min_count``.
    corpus_word_count : int
        Not used.

    Returns
    -------
    float
        :math:`(bigram\_count - min\_count) / (worda\_count \cdot wordb\_count) \cdot len\_vocab`;
        ``-inf`` when a word count is zero. Can be negative.
    """
    denom = worda_count * wordb_count
    if denom == 0:
        return NEGATIVE_INFINITY
    return (bigram_count - min_count) / float(denom) * len_vocab


def npmi_scorer(
    worda_count: int,
    wordb_count: int,
    bigram_count: int,
    len_vocab: int,
    min_count: float,
    corpus_word_count: int,
) -> float:
    r"""Normalised pointwise mutual information (Bouma, 2009), gensim's ``scoring='npmi'``.

    Parameters
    ----------
    worda_count, wordb_count : int
        Occurrences of the first and the last word.
    bigram_count : int
        Occurrences of the phrase.
    len_vocab : int
        Not used.
    min_count : float
        Phrases seen fewer times score ``-inf``.
    corpus_word_count : int
        Number of tokens in the corpus.

    Returns
    -------
    float
        :math:`\ln(p_{ab} / (p_a p_b)) / -\ln p_{ab}` with :math:`p_x = count_x / corpus\_word\_count`,
        in ``[-1, 1]``; ``-inf`` below ``min_count``.
    """
    if bigram_count >= min_count:
        n = float(corpus_word_count)
        pa, pb, pab = worda_count / n, wordb_count / n, bigram_count / n
        try:
            return math.log(pab / (pa * pb)) / -math.log(pab)
        except ValueError:
            return NEGATIVE_INFINITY
    return NEGATIVE_INFINITY


def _builtin_name(scoring: Any) -> str | None:
    """``'default'``/``'npmi'`` when ``scoring`` is a built-in scorer (ours or gensim's)."""
    if scoring is original_scorer:
        return "default"
    if scoring is npmi_scorer:
        return "npmi"
    if getattr(scoring, "__module__", None) == "gensim.models.phrases":
        return {"original_scorer": "default", "npmi_scorer": "npmi"}.get(
            getattr(scoring, "__name__", "")
        )
    return None


def _is_single(obj: Any) -> tuple[bool, Any]:
    """Whether ``obj`` is one sentence (``True``) or a corpus, and ``obj`` ready to use.

    A sentence is an iterable whose first item is a ``str`` (or an empty one);
    an iterator is consumed by the peek, so a chained copy is returned for it.
    """
    obj_iter = iter(obj)
    is_iterator = obj_iter is obj
    try:
        peek = next(obj_iter)
    except StopIteration:
        return True, obj
    chained = itertools.chain([peek], obj_iter)
    if isinstance(peek, str):
        return True, chained
    return False, (chained if is_iterator else obj)


class _PhrasedCorpus:
    """A corpus with phrases applied lazily, re-iterable when the corpus is."""

    def __init__(self, model: _PhrasesTransformation, corpus: Iterable) -> None:
        self.model = model
        self.corpus = corpus

    def __iter__(self) -> Iterator[list[str]]:
        for sentence in self.corpus:
            yield self.model[sentence]

    def __len__(self) -> int:
        return len(self.corpus)  # type: ignore[arg-type]


class _PhrasesTransformation(LifecycleEvents):
    """Base class of :class:`Phrases` and :class:`FrozenPhrases` (gensim's).

    Subclasses implement :meth:`score_candidate`; everything else (phrase
    application to a sentence or a corpus, :meth:`find_phrases`, load/save)
    is shared.
    """

    def __init__(self, connector_words: Iterable[str]) -> None:
        self.connector_words = frozenset(connector_words)

    def score_candidate(
        self, word_a: str, word_b: str, in_between: list[str]
    ) -> tuple[str | None, float | None]:
        """Score one phrase candidate.

        Returns
        -------
        (str, float) or (None, None)
            The delimiter-joined phrase and its score, or ``(None, None)``.
        """
        raise NotImplementedError("ABC: override this method in child classes")

    def _fast_analyze(self, sentence: Any, with_scores: bool) -> list | None:
        """The Rust walk for this sentence, or None when Python must do it."""
        return None

    def analyze_sentence(self, sentence: Iterable[str]) -> Iterator[tuple[str, float | None]]:
        """Walk a sentence, joining detected phrases into single tokens.

        Parameters
        ----------
        sentence : iterable of str
            The tokens.

        Yields
        ------
        (str, float or None)
            ``(phrase, score)`` for a phrase, ``(word, None)`` for a token outside one.
        """
        fast = self._fast_analyze(sentence, True)
        if fast is not None:
            yield from fast
            return
        start_token: str | None = None
        in_between: list[str] = []
        for word in sentence:
            if word not in self.connector_words:
                if start_token:
                    phrase, score = self.score_candidate(start_token, word, in_between)
                    if score is not None:
                        yield phrase, score  # type: ignore[misc]
                        start_token, in_between = None, []
                    else:
                        yield start_token, None
                        for w in in_between:
                            yield w, None
                        start_token, in_between = word, []
                else:
                    start_token, in_between = word, []
            elif start_token:
                in_between.append(word)
            else:
                yield word, None
        if start_token:
            yield start_token, None
            for w in in_between:
                yield w, None

    def __getitem__(self, sentence: Any) -> Any:
        """Apply phrases to one sentence (a list of str), or lazily to a corpus.

        Parameters
        ----------
        sentence : list of str or iterable of list of str
            A sentence, or a corpus of sentences.

        Returns
        -------
        list of str or iterable of list of str
            The sentence with phrases joined by ``self.delimiter``, or a
            re-iterable stream of such sentences for a corpus.
        """
        is_single, sentence = _is_single(sentence)
        if not is_single:
            return _PhrasedCorpus(self, sentence)
        fast = self._fast_analyze(sentence, False)
        if fast is not None:
            return fast
        return [token for token, _ in self.analyze_sentence(sentence)]

    def find_phrases(self, sentences: Iterable[Iterable[str]]) -> dict[str, float]:
        """All distinct phrases detected in ``sentences``, with their scores.

        Parameters
        ----------
        sentences : iterable of list of str
            The corpus.

        Returns
        -------
        dict of (str, float)
        """
        result: dict[str, float] = {}
        for sentence in sentences:
            for phrase, score in self.analyze_sentence(sentence):
                if score is not None:
                    result[phrase] = score
        return result

    # --- persistence -------------------------------------------------------

    def save(self, fname: Any, *args: Any, **kwargs: Any) -> None:
        """Save the model in embedrs's native format (one file, no pickle, atomic).

        gensim's extra arguments (``separately``, ``pickle_protocol``, ...)
        are accepted and ignored.

        Parameters
        ----------
        fname : str or os.PathLike
            Target file.

        Raises
        ------
        ValueError
            If a custom scoring function cannot be found again by name
            (a lambda or a nested function).
        """
        meta, arrays = self._to_persist()
        meta["format"] = _FORMAT_TAG
        meta["class"] = type(self).__name__ if isinstance(self, FrozenPhrases) else "Phrases"
        meta["scoring"] = _scoring_ref(self.scoring)  # type: ignore[attr-defined]
        meta["params"].update(
            threshold=float(self.threshold),  # type: ignore[attr-defined]
            min_count=self.min_count,  # type: ignore[attr-defined]
            delimiter=self.delimiter,  # type: ignore[attr-defined]
            connector_words=sorted(self.connector_words),
        )
        _persist.write_container(fname, meta, arrays)

    def _to_persist(self) -> tuple[dict, dict]:
        raise NotImplementedError

    @classmethod
    def load(cls, fname: Any, *args: Any, **kwargs: Any) -> Any:
        """Load a model saved by :meth:`save`, or a pickle saved by gensim (any version).

        gensim pickles are read by embedrs's restricted unpickler: no code
        runs and only gensim's own scorers are accepted as ``scoring``. A
        custom scorer saved by embedrs is looked up by name in modules already
        imported; import the module that defines it before loading.

        Parameters
        ----------
        fname : str or os.PathLike
            The file.

        Returns
        -------
        Phrases or FrozenPhrases
            The class that was saved.

        Raises
        ------
        ValueError
            If the file is not a phrases model, is damaged, or names an
            unknown scorer.
        """
        fname = os.fspath(fname)
        _persist.check_regular_file(fname)
        if _persist.is_container(fname):
            meta, arrays = _persist.read_container(fname)
            if meta.get("format") != _FORMAT_TAG:
                raise ValueError(f"{fname}: not an embedrs phrases model")
            kind = FrozenPhrases if meta.get("class") == "FrozenPhrases" else Phrases
            return kind._from_persist(meta, arrays, fname)
        obj = _persist.load_gensim_pickle(fname)
        return _from_gensim(obj, fname, cls.__name__)


def _scoring_ref(scoring: Any) -> dict:
    name = _builtin_name(scoring)
    if name is not None:
        return {"builtin": name}
    module = getattr(scoring, "__module__", None)
    qualname = getattr(scoring, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise ValueError(
            f"cannot save the scoring function {scoring!r}: it has no importable name "
            "(define it at module level)"
        )
    return {"function": [module, qualname]}


def _resolve_scoring(ref: Any, fname: str) -> Callable:
    if not isinstance(ref, dict):
        raise ValueError(f"{fname}: corrupt phrases model: bad scoring entry")  # noqa: TRY004
    if ref.get("builtin") == "default":
        return original_scorer
    if ref.get("builtin") == "npmi":
        return npmi_scorer
    fn = ref.get("function")
    if not (isinstance(fn, list) and len(fn) == 2 and all(isinstance(x, str) for x in fn)):
        raise ValueError(f"{fname}: corrupt phrases model: bad scoring entry")
    module, qualname = fn
    obj: Any = sys.modules.get(module)
    for part in qualname.split(".") if obj is not None else ():
        obj = getattr(obj, part, None)
    if obj is None or not callable(obj):
        raise ValueError(
            f"{fname}: the model uses the scoring function {module}.{qualname}; "
            f"import {module} before loading (modules are never imported by load)"
        )
    return obj


def _check_scoring(scoring: Any) -> Callable:
    """gensim's checks of ``scoring``: a known name, or a pickle-able callable with its parameters."""
    if isinstance(scoring, str):
        if scoring == "default":
            return original_scorer
        if scoring == "npmi":
            return npmi_scorer
        raise ValueError(f"unknown scoring method string {scoring} specified")
    if not callable(scoring):
        raise TypeError(
            f"scoring must be 'default', 'npmi' or a function, got {type(scoring).__name__}"
        )
    try:
        params = inspect.getfullargspec(scoring)[0]
    except TypeError:
        params = []
    missing = [p for p in _SCORING_PARAMS if p not in params]
    if missing:
        raise ValueError(f"scoring function missing expected parameters {missing}")
    try:
        pickle.loads(pickle.dumps(scoring))
    except (pickle.PickleError, AttributeError, TypeError) as exc:
        raise pickle.PickleError(
            f"Custom scoring function in Phrases must be pickle-able ({exc})"
        ) from None
    return scoring


def _str_keys(meta: dict, arrays: dict, n: int, prefix: str, fname: str) -> list[str]:
    keys = _persist.decode_keys(meta, arrays, n, prefix=prefix, fname=fname)
    keys = keys() if callable(keys) else keys
    if len(keys) != n or not all(isinstance(k, str) for k in keys):
        raise ValueError("keys must be strings")
    return keys


def _vocab_limit(max_vocab_size: Any) -> int:
    """``max_vocab_size`` as the integer Rust compares with (``len > limit``)."""
    if isinstance(max_vocab_size, bool) or not isinstance(
        max_vocab_size, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"max_vocab_size must be a number, got {type(max_vocab_size).__name__}")
    if math.isnan(max_vocab_size):
        raise ValueError("max_vocab_size must be a number, got nan")
    if max_vocab_size >= _VOCAB_LIMIT_CAP:
        return _VOCAB_LIMIT_CAP
    return max(math.floor(max_vocab_size), -1)


class _Vocab(Mapping):
    """Read-only view of a :class:`Phrases` model's counts (gensim's ``vocab`` dict).

    Keys are unigrams and delimiter-joined bigrams in gensim's dict order;
    missing keys raise ``KeyError`` (``get`` returns the default).
    """

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getitem__(self, key: Any) -> int:
        if isinstance(key, str):
            c = self._table.get(key)
            if c:
                return c
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        if isinstance(key, str):
            c = self._table.get(key)
            if c:
                return c
        return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._table.get(key) > 0

    def __len__(self) -> int:
        return len(self._table)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.keys())

    def items(self) -> Any:
        return self._table.items()

    def __repr__(self) -> str:
        return f"<phrases vocab of {len(self)} entries>"


class Phrases(_PhrasesTransformation):
    """Detect phrases from collocation counts (gensim's ``Phrases``).

    Parameters
    ----------
    sentences : iterable of list of str, optional
        The corpus to learn from (a list, or a restartable stream such as
        :class:`embedrs.models.word2vec.LineSentence`).
    min_count : float, optional
        Ignore words and phrases seen fewer times.
    threshold : float, optional
        A phrase needs a score above this (see ``scoring``).
    max_vocab_size : int, optional
        While counting, when more unigrams and bigrams than this are held,
        the rarest are pruned (gensim's rule).
    delimiter : str, optional
        Joins the words of a phrase.
    progress_per : int, optional
        Log progress every this many sentences (at batch granularity).
    scoring : {'default', 'npmi'} or callable, optional
        ``'default'`` (:func:`original_scorer`), ``'npmi'``
        (:func:`npmi_scorer`), or a pickle-able function taking
        ``worda_count, wordb_count, bigram_count, len_vocab, min_count,
        corpus_word_count`` (evaluated in Python, so slower).
    connector_words : set of str, optional
        Words allowed inside a phrase but never at its ends; use
        :data:`ENGLISH_CONNECTOR_WORDS` for English.
    corpus_file : str or os.PathLike, optional
        embedrs extension: learn from a text file (one sentence per line,
        ``.gz`` allowed, lines cut every 10,000 tokens as ``LineSentence`` and
        ``Text8Corpus`` do), read in Rust without Python in the loop.
    workers : int, optional
        embedrs extension: threads for counting (0: one per core).

    Raises
    ------
    ValueError
        For a ``min_count`` below 1 (or not positive), a threshold outside the
        scorer's range, an unknown scoring name or a scoring function without
        the expected parameters.
    pickle.PickleError
        If a custom scoring function cannot be pickled.
    """

    def __init__(
        self,
        sentences: Iterable[Iterable[str]] | None = None,
        min_count: float = 5,
        threshold: float = 10.0,
        max_vocab_size: int = 40000000,
        delimiter: str = "_",
        progress_per: int = 10000,
        scoring: str | Callable = "default",
        connector_words: Iterable[str] = frozenset(),
        *,
        corpus_file: str | os.PathLike | None = None,
        workers: int = 0,
    ) -> None:
        super().__init__(connector_words=connector_words)
        if min_count <= 0:
            raise ValueError("min_count should be at least 1")
        if threshold <= 0 and scoring == "default":
            raise ValueError("threshold should be positive for default scoring")
        if scoring == "npmi" and (threshold < -1 or threshold > 1):
            raise ValueError("threshold should be between -1 and 1 for npmi scoring")
        if not isinstance(delimiter, str):
            raise TypeError(f"delimiter must be a str, got {type(delimiter).__name__}")
        if not all(isinstance(w, str) for w in self.connector_words):
            raise TypeError("connector_words must be str")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(f"workers must be a non-negative int, got {workers!r}")
        self.scoring = _check_scoring(scoring)
        self.min_count = min_count
        self.threshold = threshold
        self.max_vocab_size = max_vocab_size
        self.delimiter = delimiter
        self.progress_per = progress_per
        self.corpus_word_count = 0
        self.workers = workers
        self._table = self._new_table()
        if sentences is not None or corpus_file is not None:
            start = time.time()
            self.add_vocab(sentences, corpus_file=corpus_file)
            self.add_lifecycle_event("created", msg=f"built {self} in {time.time() - start:.2f}s")

    def __str__(self) -> str:
        return (
            f"{self.__class__.__name__}<{len(self._table)} vocab, min_count={self.min_count}, "
            f"threshold={self.threshold}, max_vocab_size={self.max_vocab_size}>"
        )

    # --- the Rust table ----------------------------------------------------

    def _settings(self) -> tuple:
        return (self.delimiter, self.connector_words, self.max_vocab_size)

    def _new_table(self) -> Any:
        t = _embedrs.PhraseTable(
            self.delimiter,
            list(self.connector_words),
            _vocab_limit(self.max_vocab_size),
            getattr(self, "workers", 0),
        )
        self._table_settings = self._settings()
        return t

    def _sync(self) -> Any:
        """The Rust table, told about changed ``delimiter``/``connector_words``/``max_vocab_size``."""
        if self._table_settings != self._settings():
            self.connector_words = frozenset(self.connector_words)
            self._table.set_settings(
                self.delimiter, list(self.connector_words), _vocab_limit(self.max_vocab_size)
            )
            self._table_settings = self._settings()
        return self._table

    @property
    def vocab(self) -> _Vocab:
        """Unigram and bigram counts (a read-only mapping, gensim's ``vocab`` dict)."""
        return _Vocab(self._table)

    @vocab.setter
    def vocab(self, value: Mapping[str, int]) -> None:
        self._sync().load_items([(str(k), int(v)) for k, v in value.items()], self.min_reduce)

    @property
    def min_reduce(self) -> int:
        """Counts below this are dropped by the next prune (gensim's ``min_reduce``)."""
        return self._table.min_reduce

    # --- learning ----------------------------------------------------------

    def _learn_vocab(self, sentences: Any, corpus_file: Any) -> Any:
        """Count ``sentences`` (or ``corpus_file``) into a fresh table."""
        logger.info("collecting all words and their counts")
        table = self._new_table()
        if corpus_file is not None:
            table.count_file(os.fspath(corpus_file))
        else:
            step = max(int(self.progress_per), 1)
            logged = [-1]

            def progress(n_sentences: int, n_words: int, n_types: int) -> None:
                if n_sentences // step > logged[0]:
                    logged[0] = n_sentences // step
                    logger.info(
                        "PROGRESS: at sentence #%i, processed %i words and %i word types",
                        n_sentences,
                        n_words,
                        n_types,
                    )

            table.count_sentences(sentences, _BATCH_WORDS, progress)
        logger.info(
            "collected %i token types (unigram + bigrams) from a corpus of %i words and %i sentences",
            len(table),
            table.total_words,
            table.sentences,
        )
        return table

    def add_vocab(
        self,
        sentences: Iterable[Iterable[str]] | None = None,
        *,
        corpus_file: str | os.PathLike | None = None,
    ) -> None:
        """Update the counts with more sentences (gensim's ``add_vocab``).

        The new sentences are counted on their own (pruned under
        ``max_vocab_size`` as they are read), then added to the model's
        counts, followed by one prune if the total is over the limit.

        Parameters
        ----------
        sentences : iterable of list of str
            More text.
        corpus_file : str or os.PathLike, optional
            Or a text file, as in the constructor.
        """
        if sentences is None and corpus_file is None:
            raise TypeError("add_vocab needs sentences or corpus_file")
        if sentences is not None and corpus_file is not None:
            raise TypeError("pass sentences or corpus_file, not both")
        if isinstance(sentences, (str, bytes)):
            raise TypeError(
                "sentences must be an iterable of lists of str tokens, got a string "
                "(to read a file, pass corpus_file=...)"
            )
        table = self._sync()
        new = self._learn_vocab(sentences, corpus_file)
        self.corpus_word_count += new.total_words
        if len(table):
            logger.info("merging %i counts into %s", len(new), self)
        table.merge(new)
        logger.info("merged %s", self)

    # --- scoring -----------------------------------------------------------

    def _builtin(self) -> str | None:
        if type(self).score_candidate is not Phrases.score_candidate:
            return None
        return _builtin_name(self.scoring)

    def _fast_analyze(self, sentence: Any, with_scores: bool) -> list | None:
        name = self._builtin()
        if name is None:
            return None
        return self._sync().analyze(
            sentence,
            name,
            float(self.min_count),
            float(self.threshold),
            int(self.corpus_word_count),
            with_scores,
        )

    def score_candidate(
        self, word_a: str, word_b: str, in_between: list[str]
    ) -> tuple[str | None, float | None]:
        """Score the candidate ``word_a in_between... word_b`` (gensim's rule).

        Returns
        -------
        (str, float) or (None, None)
            The phrase and its score when a word or the phrase is unseen or
            the score is not above ``threshold``, ``(None, None)``.
        """
        table = self._sync()
        word_a_cnt = table.get(word_a)
        if word_a_cnt <= 0:
            return None, None
        word_b_cnt = table.get(word_b)
        if word_b_cnt <= 0:
            return None, None
        phrase = self.delimiter.join([word_a, *in_between, word_b])
        phrase_cnt = table.get(phrase)
        if phrase_cnt <= 0:
            return None, None
        score = self.scoring(
            worda_count=word_a_cnt,
            wordb_count=word_b_cnt,
            bigram_count=phrase_cnt,
            len_vocab=len(table),
            min_count=self.min_count,
            corpus_word_count=self.corpus_word_count,
        )
        if score <= self.threshold:
            return None, None
        return phrase, score

    def freeze(self) -> FrozenPhrases:
        """A :class:`FrozenPhrases` with only the detected phrases (smaller, faster, no updates)."""
        return FrozenPhrases(self)

    def export_phrases(self) -> dict[str, float]:
        """Every phrase the counts support, with its score (gensim's ``export_phrases``).

        Each counted key that splits on the delimiter into two or more parts
        is scored as a candidate (first part, last part, parts in between).

        Returns
        -------
        dict of (str, float)
        """
        name = self._builtin()
        table = self._sync()
        if name is not None:
            return dict(
                table.export(
                    name, float(self.min_count), float(self.threshold), int(self.corpus_word_count)
                )
            )
        result = {}
        for token in table.keys():  # noqa: SIM118 (a Rust table, not a dict)
            unigrams = token.split(self.delimiter)
            if len(unigrams) < 2:
                continue
            phrase, score = self.score_candidate(unigrams[0], unigrams[-1], unigrams[1:-1])
            if score is not None:
                result[phrase] = score
        return result

    # --- persistence -------------------------------------------------------

    def _to_persist(self) -> tuple[dict, dict]:
        items = self._table.items()
        key_meta, arrays = _persist.encode_keys([k for k, _ in items], prefix="vocab.")
        arrays["vocab.counts"] = np.asarray([c for _, c in items], dtype=np.int64)
        meta = {
            "params": {
                "max_vocab_size": self.max_vocab_size,
                "progress_per": self.progress_per,
                "corpus_word_count": int(self.corpus_word_count),
                "min_reduce": int(self.min_reduce),
            },
            "vocab": {**key_meta, "n": len(items)},
        }
        return meta, arrays

    @classmethod
    def _from_persist(cls, meta: dict, arrays: dict, fname: str) -> Phrases:
        p = meta.get("params")
        if not isinstance(p, dict) or not isinstance(meta.get("vocab"), dict):
            raise ValueError(f"{fname}: corrupt phrases model: missing parameters")  # noqa: TRY004
        scoring = _resolve_scoring(meta.get("scoring"), fname)
        try:
            model = cls(
                None,
                min_count=p["min_count"],
                threshold=p["threshold"],
                max_vocab_size=p["max_vocab_size"],
                delimiter=p["delimiter"],
                progress_per=p["progress_per"],
                scoring=scoring,
                connector_words=p["connector_words"],
            )
            n = int(meta["vocab"]["n"])
            keys = _str_keys(meta["vocab"], arrays, n, "vocab.", fname)
            counts = arrays["vocab.counts"]
            if counts.shape != (n,) or (n and counts.min() < 0):
                raise ValueError("vocab counts do not match the keys")
            model.corpus_word_count = int(p["corpus_word_count"])
            model._table.load_items(list(zip(keys, counts.tolist())), int(p["min_reduce"]))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{fname}: corrupt phrases model: {str(exc)[:200]}") from None
        return model


class FrozenPhrases(_PhrasesTransformation):
    """The phrases of a trained :class:`Phrases`, without the counts (gensim's ``FrozenPhrases``).

    Parameters
    ----------
    phrases_model : Phrases
        The trained model whose :meth:`Phrases.export_phrases` it keeps.
    """

    def __init__(self, phrases_model: Phrases) -> None:
        self.threshold = phrases_model.threshold
        self.min_count = phrases_model.min_count
        self.delimiter = phrases_model.delimiter
        self.scoring = phrases_model.scoring
        self.connector_words = frozenset(phrases_model.connector_words)
        logger.info("exporting phrases from %s", phrases_model)
        start = time.time()
        self.phrasegrams = phrases_model.export_phrases()
        self.add_lifecycle_event(
            "created",
            msg=f"exported {self} from {phrases_model} in {time.time() - start:.2f}s",
        )

    def __str__(self) -> str:
        return (
            f"{self.__class__.__name__}<{len(self.phrasegrams)} phrases, "
            f"min_count={self.min_count}, threshold={self.threshold}>"
        )

    def _frozen_table(self) -> Any:
        key = (id(self.phrasegrams), len(self.phrasegrams), self.threshold, self.delimiter,
               self.connector_words)  # fmt: skip
        cached = self.__dict__.get("_table_cache")
        if cached is None or cached[0] != key:
            table = _embedrs.FrozenPhraseTable(
                [(str(k), float(v)) for k, v in self.phrasegrams.items()],
                float(self.threshold),
                self.delimiter,
                list(self.connector_words),
            )
            cached = (key, table)
            self.__dict__["_table_cache"] = cached
        return cached[1]

    def _fast_analyze(self, sentence: Any, with_scores: bool) -> list | None:
        if type(self).score_candidate is not FrozenPhrases.score_candidate:
            return None
        return self._frozen_table().analyze(sentence, with_scores)

    def score_candidate(
        self, word_a: str, word_b: str, in_between: list[str]
    ) -> tuple[str | None, float | None]:
        """The phrase and its stored score if above ``threshold``, else ``(None, None)``."""
        phrase = self.delimiter.join([word_a, *in_between, word_b])
        score = self.phrasegrams.get(phrase, NEGATIVE_INFINITY)
        if score > self.threshold:
            return phrase, score
        return None, None

    def _to_persist(self) -> tuple[dict, dict]:
        keys = list(self.phrasegrams)
        key_meta, arrays = _persist.encode_keys(keys, prefix="phrasegrams.")
        arrays["phrasegrams.scores"] = np.asarray(
            [self.phrasegrams[k] for k in keys], dtype=np.float64
        )
        return {"params": {}, "phrasegrams": {**key_meta, "n": len(keys)}}, arrays

    @classmethod
    def _from_persist(cls, meta: dict, arrays: dict, fname: str) -> FrozenPhrases:
        p, pg = meta.get("params"), meta.get("phrasegrams")
        if not isinstance(p, dict) or not isinstance(pg, dict):
            raise ValueError(f"{fname}: corrupt phrases model: missing parameters")  # noqa: TRY004
        model = cls.__new__(cls)
        try:
            model.threshold = float(p["threshold"])
            model.min_count = p["min_count"]
            if not isinstance(p["delimiter"], str):
                raise TypeError("delimiter must be a str")
            model.delimiter = p["delimiter"]
            model.connector_words = frozenset(str(w) for w in p["connector_words"])
            model.scoring = _resolve_scoring(meta.get("scoring"), fname)
            n = int(pg["n"])
            keys = _str_keys(pg, arrays, n, "phrasegrams.", fname)
            scores = arrays["phrasegrams.scores"]
            if scores.shape != (n,):
                raise ValueError("phrase scores do not match the phrases")
            model.phrasegrams = dict(zip(keys, scores.tolist()))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{fname}: corrupt phrases model: {str(exc)[:200]}") from None
        return model


#: gensim 3's name for :class:`FrozenPhrases`.
Phraser = FrozenPhrases


# --- gensim pickles ------------------------------------------------------------


def _text(x: Any) -> str:
    return x.decode("utf8") if isinstance(x, bytes) else str(x)


def _gensim_scoring(value: Any, fname: str, cls_name: str) -> Callable:
    """gensim's upgrade of a saved ``scoring``: missing, a name, or gensim's own scorer."""
    if value is None:
        logger.warning("older version of %s loaded without scoring function", cls_name)
        logger.warning("setting pluggable scoring method to original_scorer for compatibility")
        return original_scorer
    if isinstance(value, (str, bytes)):
        name = _text(value)
        if name in ("default", "npmi"):
            logger.warning('older version of %s loaded with "%s" scoring parameter', cls_name, name)
            return original_scorer if name == "default" else npmi_scorer
        raise ValueError(f'failed to load {cls_name} model, unknown scoring "{name}"')
    qual = getattr(value, "gensim_class", "")
    if qual == "gensim.models.phrases.original_scorer":
        return original_scorer
    if qual == "gensim.models.phrases.npmi_scorer":
        return npmi_scorer
    raise ValueError(
        f"{fname}: the model uses the scoring function {qual or value!r}, which the safe "
        "loader does not run; load it with gensim, or rebuild it with embedrs"
    )


def _from_gensim(obj: Any, fname: str, cls_name: str) -> Any:
    """A :class:`Phrases`/:class:`FrozenPhrases` from an inert gensim pickle object."""
    kind = str(getattr(obj, "gensim_class", ""))
    state = obj.state
    if kind.endswith((".Phraser", ".FrozenPhrases")):
        model: Any = FrozenPhrases.__new__(FrozenPhrases)
    elif kind.endswith(".Phrases"):
        model = Phrases.__new__(Phrases)
    else:
        raise ValueError(f"{fname}: holds a {kind or type(obj).__name__}, not a phrases model")
    try:
        delimiter = _text(state.get("delimiter", "_"))
        if "connector_words" in state:
            connectors = state["connector_words"]
        elif "common_terms" in state:
            connectors = state["common_terms"]
        else:
            logger.warning(
                "loaded older version of %s, setting connector_words to an empty set", cls_name
            )
            connectors = frozenset()
        connectors = frozenset(_text(w) for w in connectors)
        scoring = _gensim_scoring(state.get("scoring"), fname, cls_name)
        if isinstance(model, FrozenPhrases):
            model.threshold = float(state["threshold"])
            model.min_count = state.get("min_count", 5)
            model.delimiter = delimiter
            model.scoring = scoring
            model.connector_words = connectors
            grams = {}
            for key, val in dict(state.get("phrasegrams", {})).items():
                if isinstance(key, tuple):
                    key = delimiter.join(_text(k) for k in key)
                grams[_text(key)] = float(val[1] if isinstance(val, tuple) else val)
            model.phrasegrams = grams
            return model
        model.connector_words = connectors
        model.scoring = scoring
        model.min_count = state.get("min_count", 5)
        model.threshold = state.get("threshold", 10.0)
        model.max_vocab_size = state.get("max_vocab_size", 40000000)
        model.delimiter = delimiter
        model.progress_per = state.get("progress_per", 10000)
        if "corpus_word_count" not in state:
            logger.warning("older version of %s loaded without corpus_word_count", cls_name)
        model.corpus_word_count = int(state.get("corpus_word_count", 0))
        model.workers = 0
        model._table = model._new_table()
        vocab = state.get("vocab", {})
        model._table.load_items(
            [(_text(k), int(v)) for k, v in dict(vocab).items()], int(state.get("min_reduce", 1))
        )
    except (KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith((fname, "failed")):
            raise
        raise ValueError(f"{fname}: corrupt gensim phrases pickle: {str(exc)[:200]}") from None
    return model


__all__ = [
    "ENGLISH_CONNECTOR_WORDS",
    "NEGATIVE_INFINITY",
    "FrozenPhrases",
    "Phraser",
    "Phrases",
    "npmi_scorer",
    "original_scorer",
]
