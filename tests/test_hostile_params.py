"""Hostile and broken parameters, query arguments and command lines (issue 11, findings 7 and 9).

Table-driven: each case builds one call and names the exception type and a
fragment of its message. The types mirror gensim and scikit-learn: a value of
the wrong type raises ``TypeError``, a value out of range ``ValueError``, and
scikit-learn-style estimators ``InvalidParameterError`` (a subclass of both).
Command lines run in a subprocess and must fail with ONE line on stderr and a
non-zero exit status, never a traceback.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import embedrs
import numpy as np
import pytest
from embedrs._validate import SEED_MAX, InvalidParameterError, max_workers
from embedrs.manifold import TSNE
from embedrs.models import Word2Vec
from embedrs.models.keyedvectors import KeyedVectors
from embedrs.models.poincare import PoincareModel

NAN, INF = float("nan"), float("inf")
SENTENCES = [["alpha", "beta", "gamma", "delta"], ["beta", "gamma", "epsilon"]] * 10
RELATIONS = [("a", "b"), ("c", "b"), ("d", "b"), ("e", "a"), ("f", "c")]
RNG = np.random.RandomState(0)
X20 = RNG.rand(20, 3)


def _w2v(**kwargs: Any) -> Callable[[], Any]:
    return lambda: Word2Vec(**kwargs)


def _w2v_train(corpus: Any = SENTENCES, **kwargs: Any) -> Callable[[], Any]:
    params = {"min_count": 1, "vector_size": 8, "workers": 1, "epochs": 1, **kwargs}
    return lambda: Word2Vec(corpus, **params)


def _kv() -> KeyedVectors:
    kv = KeyedVectors(4)
    kv.add_vectors([f"w{i}" for i in range(10)], RNG.rand(10, 4).astype(np.float32))
    return kv


def _poincare(**kwargs: Any) -> Callable[[], Any]:
    return lambda: PoincareModel(RELATIONS, negative=1, **kwargs)


def _tsne(X: Any = X20, **kwargs: Any) -> Callable[[], Any]:
    params = {"perplexity": 5, "max_iter": 250, **kwargs}
    return lambda: TSNE(**params).fit_transform(X)


_TMP_ROOT = Path(tempfile.mkdtemp(prefix="embedrs-hostile-"))
atexit.register(shutil.rmtree, _TMP_ROOT, True)


def _tmpdir() -> Path:
    """A fresh folder for one table case (the cases are built at collection time,
    before pytest's ``tmp_path`` exists); all of them are removed at exit."""
    return Path(tempfile.mkdtemp(dir=_TMP_ROOT))


def _w2v_text(fvocab: bytes | None = None, **kwargs: Any) -> Callable[[], Any]:
    """``load_word2vec_format`` of a small valid file (and an ``fvocab`` file with these bytes)."""

    def call() -> Any:
        d = _tmpdir()
        _kv().save_word2vec_format(str(d / "kv.txt"))
        if fvocab is not None:
            (d / "fvocab.txt").write_bytes(fvocab)
            kwargs["fvocab"] = str(d / "fvocab.txt")
        return KeyedVectors.load_word2vec_format(str(d / "kv.txt"), **kwargs)

    return call


def _relations_file(data: bytes) -> Callable[[], Any]:
    def call() -> Any:
        from embedrs.models.poincare import PoincareRelations

        p = _tmpdir() / "rel.tsv"
        p.write_bytes(data)
        return PoincareModel(PoincareRelations(str(p)), negative=1)

    return call


# (id, call, exception type, message fragment)
CASES: list[tuple[str, Callable[[], Any], type[BaseException], str]] = [
    # ---- Word2Vec: seeds as gensim/NumPy
    ("w2v-seed-negative", _w2v(seed=-1), ValueError, "Seed must be between 0 and 2**32 - 1"),
    ("w2v-seed-huge", _w2v(seed=2**70), ValueError, "Seed must be between 0 and 2**32 - 1"),
    ("w2v-seed-2**32", _w2v(seed=SEED_MAX + 1), ValueError, "Seed must be between 0"),
    ("w2v-seed-float", _w2v(seed=1.5), TypeError, "seed must be an integer"),
    ("w2v-seed-str", _w2v(seed="1"), TypeError, "seed must be an integer"),
    # ---- Word2Vec: integer parameters
    ("w2v-vector_size-0", _w2v(vector_size=0), ValueError, "vector_size must be an integer >= 1"),
    ("w2v-vector_size-neg", _w2v(vector_size=-3), ValueError, "vector_size"),
    ("w2v-vector_size-str", _w2v(vector_size="5"), TypeError, "vector_size must be an integer"),
    ("w2v-vector_size-float", _w2v(vector_size=4.0), TypeError, "got 4.0 (a float)"),
    ("w2v-vector_size-bool", _w2v(vector_size=True), TypeError, "got True (a bool)"),
    ("w2v-size-alias-0", lambda: Word2Vec(size=0), ValueError, "vector_size"),
    ("w2v-window-0", _w2v(window=0), ValueError, "window must be an integer >= 1"),
    ("w2v-window-float", _w2v(window=2.5), TypeError, "window must be an integer"),
    ("w2v-negative-neg", _w2v(negative=-1), ValueError, "negative must be an integer >= 0"),
    ("w2v-negative-float", _w2v(negative=2.5), TypeError, "negative must be an integer"),
    ("w2v-no-output-layer", _w2v(negative=0, hs=0), ValueError, "no output layer"),
    ("w2v-epochs-0", _w2v(epochs=0), ValueError, "epochs must be an integer >= 1"),
    ("w2v-epochs-neg", _w2v(epochs=-1), ValueError, "epochs"),
    ("w2v-iter-alias-bool", lambda: Word2Vec(iter=True), TypeError, "epochs"),
    ("w2v-min_count-neg", _w2v(min_count=-1), ValueError, "min_count must be an integer >= 0"),
    ("w2v-min_count-nan", _w2v(min_count=NAN), TypeError, "min_count must be an integer"),
    ("w2v-batch_words-0", _w2v(batch_words=0), ValueError, "batch_words"),
    ("w2v-max_vocab_size-0", _w2v(max_vocab_size=0), ValueError, "max_vocab_size"),
    ("w2v-max_final_vocab-float", _w2v(max_final_vocab=1.5), TypeError, "max_final_vocab"),
    ("w2v-sg-2", _w2v(sg=2), ValueError, "sg must be 0 or 1"),
    ("w2v-hs-str", _w2v(hs="1"), TypeError, "hs must be 0 or 1"),
    ("w2v-cbow_mean-neg", _w2v(cbow_mean=-1), ValueError, "cbow_mean must be 0 or 1"),
    # ---- Word2Vec: threads
    ("w2v-workers-0", _w2v(workers=0), ValueError, "workers must be an integer >= 1"),
    ("w2v-workers-neg", _w2v(workers=-4), ValueError, "workers must be an integer >= 1"),
    ("w2v-workers-float", _w2v(workers=2.0), TypeError, "workers must be an integer"),
    # ---- Word2Vec: real parameters (NaN trained NaN vectors before)
    ("w2v-alpha-nan", _w2v(alpha=NAN), ValueError, "alpha must be a finite number > 0.0"),
    ("w2v-alpha-inf", _w2v(alpha=INF), ValueError, "alpha must be a finite number"),
    ("w2v-alpha-0", _w2v(alpha=0), ValueError, "alpha"),
    ("w2v-alpha-neg", _w2v(alpha=-0.1), ValueError, "alpha"),
    ("w2v-alpha-str", _w2v(alpha="0.1"), TypeError, "alpha must be a finite number"),
    ("w2v-min_alpha-nan", _w2v(min_alpha=NAN), ValueError, "min_alpha must be a finite number"),
    ("w2v-min_alpha-inf", _w2v(min_alpha=INF), ValueError, "min_alpha"),
    ("w2v-min_alpha-neg", _w2v(min_alpha=-1e-4), ValueError, "min_alpha"),
    ("w2v-sample-nan", _w2v(sample=NAN), ValueError, "sample must be a finite number >= 0.0"),
    ("w2v-sample-neg", _w2v(sample=-1.0), ValueError, "sample"),
    ("w2v-ns_exponent-nan", _w2v(ns_exponent=NAN), ValueError, "ns_exponent must be a finite"),
    ("w2v-ns_exponent-inf", _w2v(ns_exponent=-INF), ValueError, "ns_exponent must be a finite"),
    ("w2v-ns_exponent-complex", _w2v(ns_exponent=1j), TypeError, "ns_exponent"),
    # ---- Word2Vec: training-time checks (vocabulary known)
    (
        "w2v-ns_exponent-1e6",
        _w2v_train(ns_exponent=1e6),
        ValueError,
        "ns_exponent=1000000.0 cannot be used with these word counts",
    ),
    ("w2v-ns_exponent--1e6", _w2v_train(ns_exponent=-1e6), ValueError, "overflows or vanishes"),
    (
        "w2v-min_count-too-high",
        _w2v_train(min_count=1000),
        RuntimeError,
        "no word occurs min_count=1000 times",
    ),
    ("w2v-empty-corpus", _w2v_train([]), RuntimeError, "the corpus holds no words"),
    ("w2v-corpus-empty-sentences", _w2v_train([[], []]), RuntimeError, "holds no words"),
    ("w2v-corpus-string", _w2v_train("hello world"), TypeError, "got a single string"),
    ("w2v-corpus-bytes", _w2v_train(b"hello"), TypeError, "got a single string"),
    ("w2v-corpus-int", _w2v_train(5), TypeError, "iterable of lists of strings"),
    ("w2v-corpus-of-None", _w2v_train([None]), TypeError, "each sentence must be a list of str"),
    ("w2v-corpus-of-ints", _w2v_train([1, 2]), TypeError, "each sentence must be a list of str"),
    ("w2v-int-tokens", _w2v_train([[1, 2], [3]]), TypeError, "tokens must be str, got int"),
    ("w2v-None-token", _w2v_train([["a", None]]), TypeError, "tokens must be str, got NoneType"),
    (
        "w2v-generator-corpus",
        _w2v_train(s for s in SENTENCES),
        TypeError,
        "Using a generator as corpus_iterable can't support 2 passes",
    ),
    (
        "w2v-iterator-corpus",
        _w2v_train(iter(SENTENCES)),
        TypeError,
        "a one-shot iterator (list_iterator)",
    ),
    (
        "w2v-train-start_alpha-nan",
        lambda: _trained().train(SENTENCES, total_examples=20, epochs=1, start_alpha=NAN),
        ValueError,
        "start_alpha must be a finite number > 0.0",
    ),
    (
        "w2v-train-end_alpha-inf",
        lambda: _trained().train(SENTENCES, total_examples=20, epochs=1, end_alpha=INF),
        ValueError,
        "end_alpha must be a finite number",
    ),
    (
        "w2v-train-epochs-float",
        lambda: _trained().train(SENTENCES, total_examples=20, epochs=1.5),
        TypeError,
        "epochs must be an integer",
    ),
    (
        "w2v-train-loaded-nan-attr",
        lambda: _trained(min_alpha=NAN).train(SENTENCES, total_examples=20, epochs=1),
        ValueError,
        "min_alpha",
    ),
    (
        "w2v-train-attr-seed",
        lambda: _trained(seed=-1).train(SENTENCES, total_examples=20, epochs=1),
        ValueError,
        "Seed must be between",
    ),
    (
        "w2v-train_pairs-alpha-nan",
        lambda: _trained().train_pairs([("alpha", "beta")], start_alpha=NAN),
        ValueError,
        "start_alpha",
    ),
    (
        "w2v-predict-topn-float",
        lambda: _trained().predict_output_word(["alpha"], topn=1.5),
        TypeError,
        "topn must be an integer",
    ),
    # ---- KeyedVectors
    ("kv-vector_size-str", lambda: KeyedVectors("4"), TypeError, "vector_size must be an integer"),
    ("kv-count-neg", lambda: KeyedVectors(4, count=-1), ValueError, "count must be an integer"),
    (
        "kv-topn-float",
        lambda: _kv().most_similar("w0", topn=2.5),
        TypeError,
        "topn must be an integer or None",
    ),
    ("kv-topn-str", lambda: _kv().most_similar("w0", topn="3"), TypeError, "got '3' (a str)"),
    ("kv-topn-bool", lambda: _kv().most_similar("w0", topn=True), TypeError, "got True (a bool)"),
    (
        "kv-by_vector-topn-float",
        lambda: _kv().similar_by_vector(np.ones(4), topn=2.5),
        TypeError,
        "topn must be an integer",
    ),
    ("kv-by_word-topn-str", lambda: _kv().similar_by_word("w0", topn="1"), TypeError, "topn"),
    (
        "kv-cosmul-topn-float",
        lambda: _kv().most_similar_cosmul("w0", topn=2.5),
        TypeError,
        "topn must be an integer",
    ),
    (
        "kv-batch-topn-None",
        lambda: _kv().most_similar_batch(["w0"], topn=None),
        TypeError,
        "topn must be an integer, got None",
    ),
    (
        "kv-batch-topn-float",
        lambda: _kv().most_similar_batch(["w0"], topn=2.5),
        TypeError,
        "topn must be an integer",
    ),
    (
        "kv-restrict_vocab-neg",
        lambda: _kv().most_similar("w0", restrict_vocab=-1),
        ValueError,
        "restrict_vocab must be an integer >= 0 or None, got -1",
    ),
    (
        "kv-restrict_vocab-str",
        lambda: _kv().most_similar("w0", restrict_vocab="3"),
        TypeError,
        "restrict_vocab",
    ),
    (
        "kv-clip_start-neg",
        lambda: _kv().most_similar("w0", clip_start=-1),
        ValueError,
        "clip_start",
    ),
    ("kv-clip_end-float", lambda: _kv().most_similar("w0", clip_end=2.5), TypeError, "clip_end"),
    (
        "kv-batch-restrict_vocab-neg",
        lambda: _kv().most_similar_batch(["w0"], restrict_vocab=-1),
        ValueError,
        "restrict_vocab",
    ),
    (
        "kv-cosmul-restrict_vocab-neg",
        lambda: _kv().most_similar_cosmul("w0", restrict_vocab=-5),
        ValueError,
        "restrict_vocab",
    ),
    (
        "kv-analogies-restrict_vocab-neg",
        lambda: _kv().evaluate_word_analogies("unused.txt", restrict_vocab=-1),
        ValueError,
        "restrict_vocab must be an integer >= 1",
    ),
    (
        "kv-pairs-restrict_vocab-float",
        lambda: _kv().evaluate_word_pairs("unused.tsv", restrict_vocab=1.5),
        TypeError,
        "restrict_vocab must be an integer",
    ),
    # ---- dtypes and real values (issue 11 follow-up: junk or NumPy-internal errors before)
    *[
        (
            f"w2v-format-datatype-{name}",
            _w2v_text(datatype=dt),
            TypeError,
            "datatype must be a floating-point dtype",
        )
        for name, dt in [
            ("object", object),
            ("U5", "U5"),
            ("int8", np.int8),
            ("bool", bool),
            ("complex64", np.complex64),
            ("garbage", "not a dtype"),
        ]
    ],
    (
        "kv-dtype-object",
        lambda: KeyedVectors(8, 2, dtype=object),
        TypeError,
        "dtype must be a floating-point dtype",
    ),
    ("kv-dtype-int", lambda: KeyedVectors(8, 2, dtype=np.int32), TypeError, "floating-point dtype"),
    (
        "kv-add-vectors-complex",
        lambda: _kv().add_vectors(["x"], np.ones((1, 4), np.complex64)),
        TypeError,
        "imaginary part",
    ),
    (
        "kv-add-vector-complex",
        lambda: KeyedVectors(4, 2).add_vector("x", np.ones(4, complex)),
        TypeError,
        "imaginary part",
    ),
    (
        "kv-vectors-list-of-strings",
        lambda: setattr(_kv(), "vectors", [["a", "b"]]),
        TypeError,
        "vectors must be a 2-D array of numbers",
    ),
    ("kv-vectors-list-1d", lambda: setattr(_kv(), "vectors", [1.0, 2.0]), ValueError, "2-D array"),
    (
        "kv-vectors-complex-array",
        lambda: setattr(_kv(), "vectors", np.ones((2, 4), complex)),
        TypeError,
        "real floating-point",
    ),
    # ---- load_word2vec_format arguments
    ("w2v-format-limit-nan", _w2v_text(limit=NAN), TypeError, "limit must be an integer"),
    ("w2v-format-limit-float", _w2v_text(limit=2.0), TypeError, "limit must be an integer"),
    ("w2v-format-limit-negative", _w2v_text(limit=-1), ValueError, "limit must be non-negative"),
    (
        "w2v-format-fvocab-not-utf8",
        _w2v_text(fvocab=b"a 1\n\xff\xfe 3\n"),
        UnicodeDecodeError,  # gensim's type (a ValueError), naming the file and line
        "fvocab.txt: line 2: not valid utf8 text",
    ),
    (
        "w2v-format-fvocab-bad-count",
        _w2v_text(fvocab=b"a x\n"),
        ValueError,
        "fvocab.txt: line 1: count 'x' is not an integer",
    ),
    # ---- tokens Rust cannot take
    (
        "w2v-surrogate-token",
        _w2v_train([["\ud800", "a", "b"]] * 10),
        ValueError,
        "token '\\ud800' cannot be encoded as UTF-8",
    ),
    # ---- Poincaré relations files
    (
        "poincare-relations-not-utf8",
        _relations_file(b"a\tb\nc\t\xff\xfe\n"),
        ValueError,
        "rel.tsv: line 2: not valid utf8 text",
    ),
    (
        "poincare-relations-field-limit",
        _relations_file(b"a\tb\n" + b"x" * 200_000 + b"\ty\n"),
        ValueError,
        "rel.tsv: line 2: field larger than field limit",
    ),
    (
        "poincare-relations-endless-line",
        _relations_file(b"a\tb\n" + b"\0" * (3 << 20)),
        ValueError,
        "rel.tsv: line 2 is longer than",
    ),
    # ---- projector export
    (
        "projector-limit-negative",
        lambda: __import__("embedrs.exports").exports.export_projector(
            _kv(), _tmpdir() / "p", limit=-1
        ),
        ValueError,
        "limit must be >= 0",
    ),
    # ---- PoincareModel
    ("poincare-size-0", _poincare(size=0), ValueError, "size must be an integer >= 1"),
    ("poincare-size-bool", _poincare(size=True), TypeError, "size must be an integer"),
    ("poincare-size-float", _poincare(size=2.0), TypeError, "size must be an integer"),
    ("poincare-alpha-nan", _poincare(alpha=NAN), ValueError, "alpha must be a finite number > 0"),
    ("poincare-alpha-inf", _poincare(alpha=INF), ValueError, "alpha"),
    ("poincare-burn_in_alpha-neg", _poincare(burn_in_alpha=-1.0), ValueError, "burn_in_alpha"),
    (
        "poincare-negative-neg",
        lambda: PoincareModel(RELATIONS, negative=-1),
        ValueError,
        "negative must be an integer >= 0",
    ),
    ("poincare-burn_in-bool", _poincare(burn_in=True), TypeError, "burn_in must be an integer"),
    ("poincare-burn_in-neg", _poincare(burn_in=-1), ValueError, "burn_in"),
    ("poincare-epsilon-nan", _poincare(epsilon=NAN), ValueError, "epsilon must be a finite number"),
    ("poincare-epsilon-1", _poincare(epsilon=1.0), ValueError, "in (0.0, 1.0)"),
    ("poincare-reg-nan", _poincare(regularization_coeff=NAN), ValueError, "regularization_coeff"),
    ("poincare-reg-neg", _poincare(regularization_coeff=-1.0), ValueError, "regularization_coeff"),
    ("poincare-workers-neg", _poincare(workers=-1), ValueError, "workers must be an integer >= 0"),
    ("poincare-seed-neg", _poincare(seed=-1), ValueError, "Seed must be between 0 and 2**32 - 1"),
    ("poincare-seed-huge", _poincare(seed=2**70), ValueError, "Seed must be between"),
    ("poincare-seed-float", _poincare(seed=1.5), TypeError, "seed must be an integer"),
    ("poincare-dtype-int", _poincare(dtype=np.int32), ValueError, "dtype must be numpy.float64"),
    ("poincare-dtype-junk", _poincare(dtype="junk"), TypeError, "dtype must be numpy.float64"),
    ("poincare-init_range-1", _poincare(init_range=(0.1,)), TypeError, "(low, high) pair"),
    ("poincare-init_range-None", _poincare(init_range=None), TypeError, "(low, high) pair"),
    ("poincare-init_range-nan", _poincare(init_range=(0, NAN)), ValueError, "init_range[1]"),
    ("poincare-init_range-order", _poincare(init_range=(1, 0)), ValueError, "low <= high"),
    (
        "poincare-negative_sampling",
        _poincare(negative_sampling="zipf"),
        ValueError,
        "negative_sampling must be one of",
    ),
    (
        "poincare-train-epochs-float",
        lambda: _poincare()().train(epochs=1.5),
        TypeError,
        "epochs must be an integer",
    ),
    (
        "poincare-train-batch-0",
        lambda: _poincare()().train(epochs=1, batch_size=0),
        ValueError,
        "batch_size must be an integer >= 1",
    ),
    (
        "poincare-topn-float",
        lambda: _poincare()().kv.most_similar("a", topn=1.5),
        TypeError,
        "topn must be an integer or None",
    ),
    (
        "poincare-restrict_vocab-neg",
        lambda: _poincare()().kv.most_similar("a", restrict_vocab=-1),
        ValueError,
        "restrict_vocab",
    ),
    # ---- TSNE: parameters, scikit-learn's messages
    (
        "tsne-perplexity-nan",
        _tsne(perplexity=NAN),
        InvalidParameterError,
        "The 'perplexity' parameter of TSNE must be a float in the range (0.0, inf). Got nan",
    ),
    ("tsne-perplexity-inf", _tsne(perplexity=INF), InvalidParameterError, "'perplexity'"),
    ("tsne-perplexity-0", _tsne(perplexity=0), InvalidParameterError, "'perplexity'"),
    ("tsne-perplexity-str", _tsne(perplexity="5"), InvalidParameterError, "Got '5' instead"),
    (
        "tsne-perplexity-ge-n",
        _tsne(perplexity=20),
        ValueError,
        "perplexity (20) must be less than n_samples (20)",
    ),
    ("tsne-learning_rate-0", _tsne(learning_rate=0), InvalidParameterError, "'learning_rate'"),
    ("tsne-learning_rate-inf", _tsne(learning_rate=INF), InvalidParameterError, "Got inf"),
    (
        "tsne-learning_rate-str",
        _tsne(learning_rate="fast"),
        InvalidParameterError,
        "str among {'auto'}",
    ),
    (
        "tsne-max_iter-small",
        _tsne(max_iter=10),
        InvalidParameterError,
        "The 'max_iter' parameter of TSNE must be an int in the range [250, inf). Got 10",
    ),
    ("tsne-max_iter-float", _tsne(max_iter=300.0), InvalidParameterError, "'max_iter'"),
    ("tsne-max_iter-bool", _tsne(max_iter=True), InvalidParameterError, "Got True"),
    (
        "tsne-n_iter-small",
        lambda: TSNE(perplexity=5, n_iter=10).fit_transform(X20),
        InvalidParameterError,
        "'n_iter'",
    ),
    ("tsne-angle-2", _tsne(angle=2), InvalidParameterError, "range [0.0, 1.0]. Got 2"),
    ("tsne-angle-nan", _tsne(angle=NAN), InvalidParameterError, "'angle'"),
    (
        "tsne-exaggeration-inf",
        _tsne(early_exaggeration=INF),
        InvalidParameterError,
        "'early_exaggeration'",
    ),
    (
        "tsne-exaggeration-small",
        _tsne(early_exaggeration=0.5),
        InvalidParameterError,
        "range [1.0, inf)",
    ),
    ("tsne-min_grad_norm-nan", _tsne(min_grad_norm=NAN), InvalidParameterError, "'min_grad_norm'"),
    ("tsne-n_components-0", _tsne(n_components=0), InvalidParameterError, "'n_components'"),
    ("tsne-n_components-bool", _tsne(n_components=True), InvalidParameterError, "Got True"),
    ("tsne-n_components-4-bh", _tsne(n_components=4), InvalidParameterError, "inferior to 4"),
    ("tsne-metric", _tsne(metric="hamming"), InvalidParameterError, "'metric'"),
    ("tsne-metric-None", _tsne(metric=None), InvalidParameterError, "'metric'"),
    ("tsne-init", _tsne(init="spectral"), InvalidParameterError, "'init'"),
    ("tsne-init-list", _tsne(init=[[0, 0]]), InvalidParameterError, "'init'"),
    ("tsne-method", _tsne(method="fast"), InvalidParameterError, "'method'"),
    (
        "tsne-random_state-neg",
        _tsne(random_state=-1),
        InvalidParameterError,
        "The 'random_state' parameter of TSNE must be an int in the range [0, 4294967295]",
    ),
    ("tsne-random_state-float", _tsne(random_state=1.5), InvalidParameterError, "'random_state'"),
    ("tsne-n_jobs-0", _tsne(n_jobs=0), InvalidParameterError, "'n_jobs'"),
    ("tsne-n_jobs-float", _tsne(n_jobs=1.5), InvalidParameterError, "'n_jobs'"),
    # ---- TSNE: input arrays, as scikit-learn
    ("tsne-X-complex", _tsne(RNG.rand(20, 3) + 1j), ValueError, "Complex data not supported"),
    (
        "tsne-X-complex-zero-imag",
        _tsne(RNG.rand(20, 3) + 0j),
        ValueError,
        "Complex data not supported",
    ),
    ("tsne-X-complex-list", _tsne([[1 + 2j, 3.0]] * 20), ValueError, "Complex data not supported"),
    (
        "tsne-X-complex-object",
        _tsne(np.array([[1 + 2j, 3.0]] * 20, dtype=object)),
        ValueError,
        "Complex data not supported",
    ),
    ("tsne-X-nan", _tsne(np.full((20, 3), NAN)), ValueError, "Input X contains NaN"),
    ("tsne-X-inf", _tsne(np.full((20, 3), INF)), ValueError, "Input X contains infinity"),
    ("tsne-X-float32-overflow", _tsne(np.full((20, 3), 1e300)), ValueError, "too large"),
    (
        "tsne-X-one-sample",
        _tsne(RNG.rand(1, 3), perplexity=0.5),
        ValueError,
        "Found array with 1 sample(s)",
    ),
    (
        "tsne-X-one-sample-default",
        lambda: TSNE().fit_transform(RNG.rand(1, 3)),
        ValueError,
        "perplexity (30.0) must be less than n_samples (1)",
    ),
    ("tsne-X-empty", _tsne(np.zeros((0, 3))), ValueError, "must be less than n_samples (0)"),
    ("tsne-X-no-features", _tsne(np.zeros((20, 0))), ValueError, "0 feature(s)"),
    ("tsne-X-1d", _tsne(np.zeros(20)), ValueError, "Expected 2D array"),
    ("tsne-X-strings", _tsne(np.array([["a", "b"]] * 20)), ValueError, "X must contain numbers"),
    (
        "tsne-X-datetime",
        _tsne(np.zeros((20, 2), dtype="datetime64[s]")),
        ValueError,
        "X must contain numbers",
    ),
]


def _trained(**attrs: Any) -> Word2Vec:
    model = Word2Vec(SENTENCES, min_count=1, vector_size=8, workers=1, epochs=1)
    for name, value in attrs.items():
        setattr(model, name, value)  # as a loaded or edited model would hold them
    return model


# evaluate_word_pairs imports scipy (an optional dependency) before it checks its arguments
_NEEDS_SCIPY = pytest.mark.skipif(
    importlib.util.find_spec("scipy") is None, reason="scipy is not installed"
)


@pytest.mark.parametrize(
    ("call", "exc_type", "fragment"),
    [
        pytest.param(c, t, f, id=i, marks=_NEEDS_SCIPY if i.startswith("kv-pairs-") else ())
        for i, c, t, f in CASES
    ],
)
def test_refused_with_type_and_message(
    call: Callable[[], Any], exc_type: type[BaseException], fragment: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the n_iter deprecation
        with pytest.raises(exc_type) as info:
            call()
    assert fragment in str(info.value)
    assert type(info.value) is exc_type  # exactly: not a broader or accidental subclass


def test_refused_parameters_carry_their_name() -> None:
    with pytest.raises(ValueError) as info:
        Word2Vec(window=0)
    assert info.value.param == "window"  # type: ignore[attr-defined]
    with pytest.raises(InvalidParameterError) as info2:
        TSNE(angle=3).fit_transform(X20)
    assert info2.value.param == "angle"  # type: ignore[attr-defined]


# ------------------------------------------------------------------ accepted edge values


def test_flags_accept_bool_and_numpy_integers() -> None:
    model = Word2Vec(
        SENTENCES,
        min_count=np.int64(1),
        vector_size=np.int32(8),
        workers=1,
        epochs=1,
        sg=True,
        hs=np.int8(0),
        seed=SEED_MAX,
    )
    assert model.sg == 1 and model.hs == 0 and model.vector_size == 8
    assert np.isfinite(model.wv.vectors).all()


def test_absurd_worker_counts_are_capped_with_a_warning() -> None:
    cap = max_workers()
    with pytest.warns(UserWarning, match=f"workers=1000000 is more threads .*using {cap}"):
        model = Word2Vec(SENTENCES, min_count=1, vector_size=8, workers=10**6, epochs=1)
    assert model.workers == cap
    # a value edited into a (loaded) model is capped again where Rust is called
    model.workers = 10**9
    with pytest.warns(UserWarning, match="workers=1000000000"):
        model.train(SENTENCES, total_examples=model.corpus_count, epochs=1)
    with pytest.warns(UserWarning, match="workers=1000000"):
        poincare = PoincareModel(RELATIONS, negative=1, workers=10**6)
    assert poincare.workers == cap
    with pytest.warns(UserWarning, match="n_jobs=1000000"):
        TSNE(perplexity=5, max_iter=250, n_jobs=10**6).fit_transform(X20)


def test_topn_below_one_returns_nothing_as_gensim() -> None:
    kv = _kv()
    for topn in (0, -1, -(10**12)):
        assert kv.most_similar("w0", topn=topn) == []
        assert kv.most_similar_cosmul("w0", topn=topn) == []
        assert kv.most_similar_batch(["w0", "w1"], topn=topn) == [[], []]


@pytest.mark.parametrize("int8", [False, True])
def test_huge_topn_is_clamped_to_the_vocabulary(int8: bool) -> None:
    kv = _kv()
    if int8:
        kv.int8_min_size = 0  # the int8 path aborted with topn=10**12
    for topn in (10**12, 2**63 - 1, 2**70):
        assert len(kv.most_similar("w0", topn=topn)) == 9
        assert len(kv.similar_by_vector(kv["w0"], topn=topn)) == 10
        assert [len(r) for r in kv.most_similar_batch(["w0", "w1"], topn=topn)] == [9, 9]
        assert len(kv.most_similar_batch(kv.vectors[:2], topn=topn)[0]) == 10
        assert len(kv.most_similar_cosmul("w0", topn=topn)) == 9
        assert len(kv.most_similar("w0", topn=topn, restrict_vocab=10**15)) == 9
    assert (kv._int8 is not None) == int8


# ------------------------------------------------------------------ silent wrong results


@pytest.mark.parametrize("layout", ["float64", "fortran", "strided", "float16"])
def test_single_key_query_is_normalised_for_every_layout(layout: str) -> None:
    kv = _kv()
    kv.vectors = kv.vectors * 5  # long vectors: unnormalised scores would exceed 1
    expected = kv.most_similar("w0", topn=3)
    if layout == "float64":
        kv.vectors = kv.vectors.astype(np.float64)
    elif layout == "fortran":
        kv.vectors = np.asfortranarray(kv.vectors)
    elif layout == "strided":
        kv.vectors = np.repeat(kv.vectors, 2, axis=1)[:, ::2]
    else:
        kv.vectors = kv.vectors.astype(np.float16)
    assert not kv._fast()
    tol = 1e-2 if layout == "float16" else 1e-5
    for got in (
        kv.most_similar("w0", topn=3),
        kv.similar_by_word("w0", topn=3),
        kv.most_similar_batch(["w0"], topn=3)[0],
    ):
        assert [k for k, _ in got] == [k for k, _ in expected]
        assert all(s <= 1.0 + tol for _, s in got)
        np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=tol)
    vec_hits = kv.similar_by_vector(kv["w0"] * 7, topn=1)
    assert vec_hits[0][0] == "w0" and abs(vec_hits[0][1] - 1.0) < tol
    scores = kv.most_similar("w0", topn=None)
    assert abs(float(scores[0]) - 1.0) < tol


def _matching_id_array(target_id: int, template: np.ndarray) -> np.ndarray | None:
    """A fresh copy of ``template`` that CPython placed at a freed object's address."""
    for _ in range(200):
        candidate = template.copy()
        if id(candidate) == target_id:
            return candidate
        del candidate
    return None


def test_norms_cache_never_serves_a_recycled_id() -> None:
    # The old cache was keyed on id(vectors): a new matrix that CPython placed at
    # the address of the freed one got the old norms (cosines of ~130). Repeat so
    # that the address is recycled at least once (it is, nearly every time).
    for _ in range(5):
        kv = _kv()
        kv.fill_norms()
        old_id = id(kv.vectors)
        big = (RNG.rand(10, 4) * 100).astype(np.float32)
        kv.vectors = np.zeros((1, 1), np.float32)  # the old matrix is freed here
        candidate = _matching_id_array(old_id, big)
        kv.vectors = candidate if candidate is not None else big.copy()
        hits = kv.most_similar("w0", topn=3)
        assert all(s <= 1.0 + 1e-5 for _, s in hits), hits
        np.testing.assert_allclose(kv.norms, np.linalg.norm(big, axis=1), rtol=1e-5)


@pytest.mark.parametrize("int8", [False, True])
def test_caches_follow_reassignment_in_place_changes_and_add_vectors(int8: bool) -> None:
    kv = _kv()
    if int8:
        kv.int8_min_size = 0
    kv.most_similar("w0")
    # reassignment
    kv.vectors = kv.vectors * 100
    assert all(s <= 1.0 + 1e-5 for _, s in kv.most_similar("w0"))
    np.testing.assert_allclose(kv.norms, np.linalg.norm(kv.vectors, axis=1), rtol=1e-5)
    # in-place change, then fill_norms(force=True) as gensim requires
    kv.vectors[3] = kv.vectors[0] * 3
    kv.fill_norms(force=True)
    top = kv.most_similar("w0", topn=1)[0]
    assert top[0] == "w3" and abs(top[1] - 1.0) < 1e-5
    # ndarray.resize in place cannot change the cached matrix behind the cache's back:
    # NumPy refuses to resize an array that is weakly referenced (by the norms cache)
    with pytest.raises(ValueError, match="cannot resize"):
        kv.vectors.resize((12, 4), refcheck=False)
    # add_vectors grows the matrix: norms and the int8 index are rebuilt
    kv.add_vectors(["new"], [kv.vectors[0] * 50])
    top = kv.most_similar("w0", topn=2)
    assert {k for k, _ in top} == {"w3", "new"} and all(abs(s - 1.0) < 1e-5 for _, s in top)
    assert len(kv.norms) == len(kv) == 11
    if int8:
        assert kv._int8 is not None


def test_min_alpha_nan_never_reaches_training() -> None:
    with pytest.raises(ValueError, match="min_alpha"):
        Word2Vec(SENTENCES, min_count=1, vector_size=8, workers=1, min_alpha=NAN)
    model = _trained()
    before = model.wv.vectors.copy()
    model.min_alpha = NAN  # e.g. edited into a saved model
    with pytest.raises(ValueError, match="min_alpha"):
        model.train(SENTENCES, total_examples=model.corpus_count, epochs=1)
    np.testing.assert_array_equal(model.wv.vectors, before)


def test_plain_strings_as_sentences_warn_like_gensim() -> None:
    with pytest.warns(UserWarning, match="plain string"):
        model = Word2Vec(["hello", "world"], min_count=1, vector_size=4, workers=1, epochs=1)
    assert set(model.wv.index_to_key) == set("helowrd")  # gensim trains on characters too


# ------------------------------------------------------------------ the command line


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    out = {
        "dir": d / "adir",
        "corpus": d / "corpus.txt",
        "rel": d / "rel.tsv",
        "garbage_npy": d / "garbage.npy",
        "garbage_model": d / "garbage.model",
        "object_npy": d / "object.npy",
        "one_row": d / "one.npy",
        "text": d / "file.txt",
    }
    out["dir"].mkdir()
    out["corpus"].write_text("a b c d\nb c d e\na c e\n" * 5, encoding="utf-8")
    out["rel"].write_text("a\tb\nc\tb\nd\tb\ne\ta\n", encoding="utf-8")
    out["garbage_npy"].write_bytes(b"garbage\x00\x01 this is not numpy")
    out["garbage_model"].write_bytes(b"\x80\x04garbage pickle")
    np.save(out["object_npy"], np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(out["one_row"], np.ones((1, 3)))
    out["text"].write_text("x\n", encoding="utf-8")
    out["kv"] = d / "kv.kv"
    _kv().save(str(out["kv"]))
    out["bad_rel"] = d / "bad_rel.tsv"
    out["bad_rel"].write_bytes(b"a\tb\nc\t\xff\xfe\n")
    return out


def _cli(
    *argv: str, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    run_env = dict(os.environ)
    run_env.pop("EMBEDRS_DEBUG", None)
    # the subprocess imports the embedrs under test, whatever the working directory
    here = str(Path(embedrs.__file__).resolve().parents[1])
    run_env["PYTHONPATH"] = os.pathsep.join(p for p in (here, run_env.get("PYTHONPATH")) if p)
    run_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "embedrs", "-q", *argv],
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
        check=False,
        cwd=cwd,
        env=run_env,
    )


# (id, argv with {placeholders}, exit status, fragment of the one stderr line)
CLI_CASES: list[tuple[str, list[str], int, str]] = [
    (
        "seed-negative",
        ["--corpus", "{corpus}", "--seed", "-1"],
        2,
        "argument --seed: Seed must be between 0 and 2**32 - 1",
    ),
    ("seed-huge", ["--corpus", "{corpus}", "--seed", str(2**70)], 2, "Seed must be between"),
    (
        "workers-zero",
        ["train", "--corpus", "{corpus}", "--workers", "0"],
        2,
        "argument --workers: workers must be an integer >= 1",
    ),
    (
        "alpha-nan",
        ["--corpus", "{corpus}", "--alpha", "nan"],
        2,
        "argument --alpha: alpha must be a finite number > 0.0, got nan",
    ),
    ("sample-inf", ["--corpus", "{corpus}", "--sample", "inf"], 2, "argument --sample"),
    (
        "vector-size-zero",
        ["--corpus", "{corpus}", "--vector-size", "0"],
        2,
        "argument --vector-size",
    ),
    (
        "no-output-layer",
        ["--corpus", "{corpus}", "--hs", "0", "--negative", "0"],
        2,
        "argument --negative: negative=0 with hs=0",
    ),
    (
        "min-count-too-high",
        ["--corpus", "{corpus}", "--min-count", "1000"],
        2,
        "--min-count 1000 is higher than the count of every word",
    ),
    ("topn-zero", ["--corpus", "{corpus}", "--topn", "0"], 2, "--topn must be an integer >= 1"),
    ("corpus-is-dir", ["train", "--corpus", "{dir}"], 2, "corpus file {dir} is a directory"),
    ("corpus-missing", ["train", "--corpus", "{dir}/nope.txt"], 2, "not found"),
    (
        "out-is-file",
        ["--corpus", "{corpus}", "--out", "{text}"],
        2,
        "exists and is not a directory",
    ),
    ("bad-int-option", ["train", "--epochs", "x"], 2, "argument --epochs: invalid int value"),
    ("unknown-command", ["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    (
        "tsne-garbage-npy",
        ["tsne", "{garbage_npy}", "--json", "{dir}/o.json"],
        2,
        "is not a NumPy .npy array",
    ),
    (
        "tsne-object-npy",
        ["tsne", "{object_npy}", "--json", "{dir}/o.json"],
        2,
        "pickled object arrays are never loaded",
    ),
    (
        "tsne-one-row",
        ["tsne", "{one_row}", "--json", "{dir}/o.json"],
        2,
        "t-SNE needs at least 2 vectors, found 1",
    ),
    ("tsne-dir", ["tsne", "{dir}", "--json", "{dir}/o.json"], 2, "is a directory"),
    (
        "tsne-garbage-model",
        ["tsne", "{garbage_model}", "--format", "model", "--json", "{dir}/o.json"],
        2,
        "garbage.model",
    ),
    (
        "tsne-perplexity-nan",
        ["tsne", "{one_row}", "--json", "{dir}/o.json", "--perplexity", "nan"],
        2,
        "argument --perplexity: The 'perplexity' parameter",
    ),
    (
        "tsne-seed-negative",
        ["tsne", "{one_row}", "--json", "{dir}/o.json", "--seed", "-3"],
        2,
        "argument --seed: The 'random_state' parameter",
    ),
    (
        "tsne-learning-rate-word",
        ["tsne", "{one_row}", "--json", "{dir}/o.json", "--learning-rate", "fast"],
        2,
        "--learning-rate must be a number or 'auto'",
    ),
    (
        "tsne-threads-negative",
        ["tsne", "{one_row}", "--json", "{dir}/o.json", "--threads", "-2"],
        2,
        "--threads must be an integer >= 0",
    ),
    ("tsne-nothing-to-write", ["tsne", "{one_row}"], 2, "nothing to write"),
    (
        "poincare-size-zero",
        ["poincare", "{rel}", "--size", "0"],
        2,
        "argument --size: size must be an integer >= 1",
    ),
    ("poincare-alpha-nan", ["poincare", "{rel}", "--alpha", "nan"], 2, "argument --alpha"),
    (
        "poincare-batch-size-zero",
        ["poincare", "{rel}", "--negative", "1", "--epochs", "1", "--batch-size", "0"],
        2,
        "argument --batch-size",
    ),
    (
        "poincare-delimiter",
        ["poincare", "{rel}", "--delimiter", "ab"],
        2,
        "--delimiter must be one character",
    ),
    ("poincare-dir", ["poincare", "{dir}"], 2, "relations file {dir} is a directory"),
    ("poincare-load-dir", ["poincare", "--load", "{dir}"], 2, "model file {dir} is a directory"),
    ("poincare-load-garbage", ["poincare", "--load", "{garbage_npy}"], 2, "garbage.npy"),
    ("poincare-neither", ["poincare"], 2, "give a relations file to train on"),
    ("projector-dir", ["projector", "{dir}", "{dir}/out"], 2, "is a directory"),
    (
        "projector-limit-negative",
        ["projector", "{kv}", "{dir}/out", "--limit", "-1"],
        2,
        "argument --limit: invalid count '-1': must be >= 0",
    ),
    (
        "projector-limit-word",
        ["projector", "{kv}", "{dir}/out", "--limit", "many"],
        2,
        "argument --limit: invalid count 'many'",
    ),
    (
        "poincare-relations-not-utf8",
        ["poincare", "{bad_rel}"],
        2,
        "bad_rel.tsv: line 2: not valid utf8 text",
    ),
]


@pytest.mark.parametrize(
    ("argv", "status", "fragment"), [pytest.param(a, s, f, id=i) for i, a, s, f in CLI_CASES]
)
def test_cli_errors_are_one_line(
    files: dict[str, Path], tmp_path: Path, argv: list[str], status: int, fragment: str
) -> None:
    names = {k: str(v) for k, v in files.items()}
    res = _cli(*(a.format(**names) for a in argv), cwd=tmp_path)
    lines = res.stderr.splitlines()
    assert res.returncode == status, res.stderr
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("embedrs"), lines[0]
    assert ": error: " in lines[0]
    assert fragment.format(**names) in lines[0], lines[0]
    assert "Traceback" not in res.stderr
    assert "allow_pickle" not in res.stderr and "pickle.load()" not in res.stderr
    assert not (tmp_path / "embedrs_output").exists()  # nothing written for a refused run


def test_cli_debug_shows_the_traceback(files: dict[str, Path], tmp_path: Path) -> None:
    res = _cli(
        "--corpus", str(files["corpus"]), "--seed", "-1", cwd=tmp_path, env={"EMBEDRS_DEBUG": "1"}
    )
    assert res.returncode != 0 and "Traceback" in res.stderr and "Seed must be" in res.stderr


@pytest.mark.parametrize("value", ["tsne", "poincare", "train", "projector"])
def test_cli_option_value_equal_to_a_subcommand_is_a_value(
    files: dict[str, Path], tmp_path: Path, value: str
) -> None:
    res = _cli(
        "--corpus",
        str(files["corpus"]),
        "--out",
        value,
        "--min-count",
        "1",
        "--epochs",
        "1",
        "--vector-size",
        "8",
        "--workers",
        "1",
        "--words",
        value,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / value / "vectors.txt").is_file()


# ------------------------------------------------------------------ queries racing with additions


def test_queries_take_one_snapshot_while_vectors_are_added() -> None:
    """Another thread's ``most_similar`` raised "norms has 769 entries but the matrix has 770 rows"."""
    import threading

    rng = np.random.default_rng(0)
    kv = KeyedVectors(16)
    kv.add_vectors([f"w{i}" for i in range(300)], rng.standard_normal((300, 16)).astype(np.float32))
    errors: list[str] = []
    stop = threading.Event()

    def query() -> None:
        while not stop.is_set():
            try:
                for _, s in kv.most_similar("w1", topn=5):
                    assert -1.0001 <= s <= 1.0001
                kv.most_similar(["w1", "w2"], topn=5)
                kv.most_similar_batch(["w1", "w3"], topn=3)
                kv.most_similar("w1", topn=None)
                kv.most_similar_cosmul("w1", topn=3)
                kv.distances("w2")
                kv.get_vector("w5", norm=True)
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                errors.append(repr(exc))

    threads = [threading.Thread(target=query) for _ in range(2)]
    for t in threads:
        t.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(200):
            if i % 2:
                kv.add_vector(f"n{i}", rng.standard_normal(16).astype(np.float32))
            else:
                kv.add_vectors([f"m{i}", f"mm{i}"], rng.standard_normal((2, 16)).astype(np.float32))
    stop.set()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]


@pytest.mark.parametrize(
    "name", ['a"b', "back\\slash", "new\nline\r", 'x"}\nembeddings { tensor_name: "y', "tab\there"]
)
def test_projector_name_is_escaped(files: dict[str, Path], tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    res = _cli(
        "projector", str(files["kv"]), str(out), "--name", name, "--limit", str(2**70), cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    lines = (out / "projector_config.pbtxt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 7 and lines[0] == "embeddings {" and lines[-1] == "}"
    quoted = lines[1].removeprefix("  tensor_name: ")
    assert quoted.startswith('"') and quoted.endswith('"')
    body = quoted[1:-1]
    # every quote and backslash inside is escaped; unescaping gives the name back
    assert body.replace("\\\\", "").replace('\\"', "").count('"') == 0
    assert body.encode("latin-1", "backslashreplace").decode("unicode_escape") == name
    assert "tensor_shape: 10" in lines[2]
