"""Sentence vectors from a frozen Word2Vec model (the seed material's ``Sent2Vec``).

Each sentence gets a vector trained the way Doc2Vec infers a new document:
the word vectors and the output layer of a saved Word2Vec model stay frozen
and only the sentence's own vector learns, skip-gram style (PV-DBOW) when
``sg=1``, CBOW style (PV-DM, averaged context when ``cbow_mean=1``) when
``sg=0``. It runs on the Rust engine of :meth:`Doc2Vec.infer_vectors`, with
the GIL released, on ``workers`` threads; each vector depends only on its
sentence and ``seed``.

Example
-------
>>> from embedrs.models.word2vec import LineSentence  # doctest: +SKIP
>>> from embedrs.models.sent2vec import Sent2Vec  # doctest: +SKIP
>>> model = Sent2Vec(LineSentence("sents.txt"), model_file="w2v.model")  # doctest: +SKIP
>>> model.save_sent2vec_format("sents.vec")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any, Union

import numpy as np

from embedrs._validate import check_flag, check_float, check_int, check_seed, check_workers
from embedrs.models.keyedvectors import KeyedVectors
from embedrs.models.word2vec import Word2Vec
from embedrs.utils import LifecycleEvents

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["Sent2Vec"]


def _core_class() -> Any:
    from embedrs import _embedrs

    try:
        return _embedrs.Doc2VecCore
    except AttributeError:  # pragma: no cover - an extension built without Doc2Vec
        raise RuntimeError(
            "this build of the embedrs extension has no Doc2Vec core; rebuild embedrs"
        ) from None


def _sentences_as_lists(sentences: Iterable[Sequence[str]]) -> list[list[str]]:
    if isinstance(sentences, (str, bytes)):
        raise TypeError(
            "sentences must be an iterable of token lists (e.g. LineSentence(path)), not a string"
        )
    out = []
    for i, sent in enumerate(sentences):
        if isinstance(sent, (str, bytes)) or not isinstance(sent, (list, tuple)):
            raise TypeError(
                f"sentence #{i} is a {type(sent).__name__}; each sentence must be a list of "
                "str tokens (split the text first, or use LineSentence)"
            )
        out.append(list(sent))
    return out


class Sent2Vec(LifecycleEvents):
    """Train one vector per sentence against a frozen, saved Word2Vec model.

    Parameters
    ----------
    sentences : iterable of list of str
        The sentences, e.g. ``LineSentence(path)``.
    model_file : str or path
        A Word2Vec model saved by embedrs or by gensim 4 (read with
        :meth:`Word2Vec.load`). Its word vectors and the output layer that
        ``hs``/``negative`` select are used read-only.
    alpha, min_alpha : float
        Learning rate of the sentence vectors, decayed linearly over the passes.
    window : int
        Context window.
    sample : float
        Down-sampling threshold of frequent words (0: off).
    seed : int
        Seed of the initial vectors and of the random draws.
    workers : int
        Threads.
    sg : {1, 0}
        1: skip-gram style (the sentence vector predicts each word);
        0: CBOW style (sentence vector and context words predict the word).
    hs : {1, 0}
        Use the model's hierarchical-softmax layer (``syn1``).
    negative : int
        Use the model's negative-sampling layer (``syn1neg``) with this many noise words.
    cbow_mean : {0, 1}
        With ``sg=0``: average (1) or sum (0) the context.
    iteration : int
        Passes over each sentence.

    Attributes
    ----------
    sents : numpy.ndarray
        float32 matrix ``(number of sentences, vector_size)``; row ``i`` is sentence ``i``.
    w2v : Word2Vec
        The loaded word model.

    Raises
    ------
    ValueError
        For a bad parameter, or a model file without the layer that ``hs``/``negative`` asks for.
    TypeError
        If a sentence is not a list of tokens.
    """

    def __init__(
        self,
        sentences: Iterable[Sequence[str]],
        model_file: PathLike | None = None,
        alpha: float = 0.025,
        window: int = 5,
        sample: float = 0,
        seed: int = 1,
        workers: int = 1,
        min_alpha: float = 0.0001,
        sg: int = 1,
        hs: int = 1,
        negative: int = 0,
        cbow_mean: int = 0,
        iteration: int = 1,
    ) -> None:
        self.alpha = check_float(alpha, "alpha", low=0.0, low_open=True)
        self.min_alpha = check_float(min_alpha, "min_alpha", low=0.0)
        self.window = check_int(window, "window", low=1)
        self.sample = check_float(sample, "sample", low=0.0)
        self.seed = check_seed(seed)
        self.workers = check_workers(workers)
        self.sg = check_flag(sg, "sg")
        self.hs = check_flag(hs, "hs")
        self.negative = check_int(negative, "negative", low=0)
        self.cbow_mean = check_flag(cbow_mean, "cbow_mean")
        self.iteration = check_int(iteration, "iteration", low=1)
        if not self.hs and not self.negative:
            raise ValueError("Sent2Vec needs an output layer: set hs=1 or negative > 0")
        if model_file is None:
            raise ValueError("Sent2Vec needs model_file, a saved Word2Vec model")
        if sentences is None:
            raise ValueError("Sent2Vec needs sentences, an iterable of token lists")
        self.w2v = Word2Vec.load(model_file)
        self.vector_size = self.layer1_size = int(self.w2v.vector_size)
        syn1neg, syn1 = self._output_layers(os.fspath(model_file))
        docs = _sentences_as_lists(sentences)
        wv = self.w2v.wv
        syn0 = np.ascontiguousarray(wv.vectors, dtype=np.float32)
        core = _core_class()(
            list(wv.index_to_key),
            np.asarray(wv.expandos["count"], dtype=np.int64).tolist()
            if "count" in wv.expandos
            else [1] * len(wv),
            sample=float(self.sample),
            ns_exponent=float(getattr(self.w2v, "ns_exponent", 0.75)),
            dm=not self.sg,
            dm_mean=bool(self.cbow_mean),
            dm_concat=False,
            dm_tag_count=1,
            dbow_words=False,
            hs=bool(self.hs),
            negative=int(self.negative),
            window=int(self.window),
            shrink_windows=bool(getattr(self.w2v, "shrink_windows", True)),
            compute_loss=False,
            seed=self.seed,
            workers=self.workers,
        )
        logger.info(
            "training %d sentence vectors of size %d against %s (%s, %s)",
            len(docs),
            self.vector_size,
            model_file,
            "skip-gram" if self.sg else "cbow",
            "hierarchical softmax" if self.hs else f"negative={self.negative}",
        )
        if docs:
            self.sents = np.asarray(
                core.infer_vectors(
                    syn0,
                    syn1neg,
                    syn1,
                    docs,
                    wv._key_lookup(),
                    alpha=self.alpha,
                    min_alpha=self.min_alpha,
                    epochs=self.iteration,
                    seed=self.seed,
                ),
                dtype=np.float32,
            )
        else:
            self.sents = np.zeros((0, self.vector_size), dtype=np.float32)

    @property
    def sents_len(self) -> int:
        """Number of sentence vectors."""
        return int(self.sents.shape[0])

    def _output_layers(self, fname: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The frozen layers ``hs``/``negative`` ask for, or a ValueError naming what is missing."""
        n = len(self.w2v.wv)
        if n == 0:
            raise ValueError(f"{fname}: the Word2Vec model has no vocabulary")
        layers = []
        for name, wanted, flag in (
            ("syn1neg", self.negative > 0, f"negative={self.negative}"),
            ("syn1", bool(self.hs), "hs=1"),
        ):
            w = getattr(self.w2v, name, None)
            if not wanted:
                layers.append(None)
                continue
            if not isinstance(w, np.ndarray) or w.ndim != 2 or w.shape[0] != n:
                have = [
                    f
                    for f, layer in (
                        (f"negative={self.w2v.negative}", "syn1neg"),
                        ("hs=1", "syn1"),
                    )
                    if getattr(getattr(self.w2v, layer, None), "shape", (0,))[0] == n
                ]
                hint = f"; it was trained with {' and '.join(have)}" if have else ""
                raise ValueError(
                    f"{fname}: {flag} needs the model's {name} layer, which the file does not "
                    f"hold{hint}"
                )
            layers.append(np.ascontiguousarray(w, dtype=np.float32))
        return layers[0], layers[1]

    def save_sent2vec_format(self, fname: PathLike, binary: bool = False) -> None:
        """Write the sentence vectors in word2vec format, keyed ``sent_0``, ``sent_1``, ...

        Parameters
        ----------
        fname : str or path
            Output file (written atomically; ``.gz``/``.bz2`` compress).
        binary : bool
            word2vec binary instead of text.
        """
        kv = KeyedVectors(self.vector_size)
        if self.sents_len:
            kv.add_vectors([f"sent_{i}" for i in range(self.sents_len)], self.sents)
        kv.save_word2vec_format(fname, binary=binary)
        logger.info("stored %dx%d sentence vectors in %s", *self.sents.shape, fname)

    def __repr__(self) -> str:
        return (
            f"Sent2Vec<sents={self.sents_len}, vector_size={self.vector_size}, "
            f"sg={self.sg}, hs={self.hs}, negative={self.negative}>"
        )
