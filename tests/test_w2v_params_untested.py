"""Word2Vec parameters that no other test exercised: ``vectors_lockf``, ``ns_exponent``,
``shrink_windows=False`` and ``train_pairs`` with an integer id array.

Where gensim has the parameter, the same assertions run on gensim's Word2Vec (as the
``gensim`` case of each test), so a behaviour is pinned only if the reference shows it
too, and the size of the effect is compared between the two libraries.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from embedrs.models import Word2Vec

try:
    from gensim.models import Word2Vec as GensimWord2Vec
except ImportError:  # only the cases that compare with gensim need it
    GensimWord2Vec = None

requires_gensim = pytest.mark.skipif(GensimWord2Vec is None, reason="gensim is not installed")

LIBRARIES = [
    pytest.param("embedrs", id="embedrs"),
    pytest.param("gensim", id="gensim", marks=requires_gensim),
]


def w2v_class(library: str) -> Any:
    return Word2Vec if library == "embedrs" else GensimWord2Vec


def topic_corpus(n_sentences: int = 400, seed: int = 0) -> list[list[str]]:
    """Sentences of 12 words drawn from one of four disjoint 12-word topics."""
    rng = np.random.default_rng(seed)
    topics = [[f"t{t}w{i}" for i in range(12)] for t in range(4)]
    return [list(rng.choice(topics[rng.integers(4)], 12)) for _ in range(n_sentences)]


def zipf_corpus(n_words: int = 200, n_sentences: int = 600, seed: int = 1) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(n_words)]
    p = 1.0 / np.arange(1, n_words + 1)
    return [list(rng.choice(words, 15, p=p / p.sum())) for _ in range(n_sentences)]


def topic_accuracy(model: Any, topn: int = 5) -> float:
    """Share of each word's nearest neighbours that come from its own topic."""
    hits = total = 0
    for word in model.wv.index_to_key:
        for other, _ in model.wv.most_similar(word, topn=topn):
            hits += other.split("w")[0] == word.split("w")[0]
            total += 1
    return hits / total


# ----------------------------------------------------------------------- vectors_lockf


def _displacements_with_lock(library: str, lock: float, sg: int) -> tuple[np.ndarray, int]:
    """How far each input vector moves in one epoch when ``t0w0`` has lock factor ``lock``.

    A small constant learning rate keeps the epoch close to linear, so a lock factor
    scales the locked word's total update by itself.
    """
    corpus = topic_corpus()
    model = w2v_class(library)(
        vector_size=16, min_count=1, workers=1, seed=3, sample=0, sg=sg, alpha=1e-3, min_alpha=1e-3
    )
    model.build_vocab(corpus)
    start = model.wv.vectors.copy()
    locked = model.wv.key_to_index["t0w0"]
    lockf = np.ones(len(model.wv), dtype=np.float32)
    lockf[locked] = lock
    model.wv.vectors_lockf = lockf
    model.train(corpus, total_examples=len(corpus), epochs=1)
    return np.linalg.norm(model.wv.vectors - start, axis=1), locked


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("sg", [1, 0], ids=["skipgram", "cbow"])
def test_vectors_lockf_scales_the_update_of_that_word_only(library: str, sg: int) -> None:
    free, locked = _displacements_with_lock(library, 1.0, sg)
    frozen, _ = _displacements_with_lock(library, 0.0, sg)
    half, _ = _displacements_with_lock(library, 0.5, sg)
    others = np.arange(len(free)) != locked
    assert free[locked] > 0
    assert frozen[locked] == 0.0  # lock factor 0: the vector does not change at all
    assert half[locked] / free[locked] == pytest.approx(0.5, abs=0.03)
    # the other words train as before (they only feel the locked word through the output layer)
    assert (frozen[others] > 0).all()
    np.testing.assert_allclose(half[others], free[others], rtol=0.05)


def test_vectors_lockf_applies_to_train_pairs() -> None:
    pairs = [(f"item{i % 5}", f"tag{i % 3}") for i in range(300)]
    model = Word2Vec(vector_size=8, negative=3, workers=1, seed=1, epochs=1)
    model.train_pairs(pairs[:5], epochs=1)  # builds the vocabulary
    before = model.wv.vectors.copy()
    lockf = np.ones(len(model.wv), dtype=np.float32)
    lockf[model.wv.key_to_index["item0"]] = 0.0
    model.wv.vectors_lockf = lockf
    model.train_pairs(pairs, update_vocab=False)
    moved = np.linalg.norm(model.wv.vectors - before, axis=1)
    assert moved[model.wv.key_to_index["item0"]] == 0.0
    assert moved[model.wv.key_to_index["item1"]] > 0.0


# ------------------------------------------------------------------------- ns_exponent


def _rare_output_norm(library: str, ns_exponent: float) -> float:
    """Mean norm of the output (syn1neg) rows of the rarest fifth of a Zipf vocabulary.

    Rare words reach syn1neg mostly as negative samples, so the norm follows how often
    the noise distribution ``count ** ns_exponent`` draws them.
    """
    model = w2v_class(library)(
        zipf_corpus(),
        vector_size=16,
        min_count=1,
        workers=1,
        seed=3,
        sample=0,
        epochs=3,
        negative=5,
        ns_exponent=ns_exponent,
    )
    assert np.isfinite(model.wv.vectors).all() and np.isfinite(model.syn1neg).all()
    norms = np.linalg.norm(model.syn1neg, axis=1)
    return float(norms[int(0.8 * len(norms)) :].mean())


EXPONENTS = (-0.5, 0.0, 0.75, 1.0)  # gensim accepts negative exponents (rare words first)


@pytest.mark.parametrize("library", LIBRARIES)
def test_ns_exponent_shapes_the_noise_distribution(library: str) -> None:
    rare = [_rare_output_norm(library, e) for e in EXPONENTS]
    # the higher the exponent, the less often rare words are drawn as negatives
    assert all(a > 1.05 * b for a, b in itertools.pairwise(rare)), dict(zip(EXPONENTS, rare))


@requires_gensim
def test_ns_exponent_effect_matches_gensim() -> None:
    for e in EXPONENTS:
        ours, theirs = _rare_output_norm("embedrs", e), _rare_output_norm("gensim", e)
        assert ours == pytest.approx(theirs, rel=0.15), e


def test_ns_exponent_zero_and_one_train_differently() -> None:
    corpus = zipf_corpus(n_sentences=200)
    kw = dict(vector_size=12, min_count=1, workers=1, seed=5, epochs=2)
    uniform = Word2Vec(corpus, ns_exponent=0.0, **kw)
    by_count = Word2Vec(corpus, ns_exponent=1.0, **kw)
    again = Word2Vec(corpus, ns_exponent=1.0, **kw)
    assert np.array_equal(by_count.wv.vectors, again.wv.vectors)  # same seed: same vectors
    assert not np.allclose(uniform.wv.vectors, by_count.wv.vectors)


def test_ns_exponent_that_cannot_be_normalised_raises() -> None:
    with pytest.raises(ValueError, match="ns_exponent"):
        Word2Vec(zipf_corpus(n_sentences=50), min_count=1, ns_exponent=1e6)


# ---------------------------------------------------------------------- shrink_windows


def _edge_score_gap(library: str, shrink_windows: bool, sg: int) -> float:
    """Score ``wv[a_i] . syn1neg[b_i]`` of pairs that only ever co-occur at distance exactly
    ``window``, minus the score of mismatched pairs ``(a_i, b_j)``.

    With ``shrink_windows=True`` the effective window is uniform in 1..window, so the
    outermost pair is trained in a quarter of its occurrences; without, in all of them.
    """
    window = 4
    rng = np.random.default_rng(2)
    filler = [f"f{i}" for i in range(60)]
    corpus = []
    for _ in range(3000):
        i = rng.integers(10)
        corpus.append([f"a{i}", *rng.choice(filler, window - 1), f"b{i}"])
    model = w2v_class(library)(
        corpus,
        vector_size=16,
        window=window,
        min_count=1,
        workers=1,
        seed=1,
        sample=0,
        epochs=5,
        sg=sg,
        shrink_windows=shrink_windows,
    )
    k = model.wv.key_to_index
    scores = np.array(
        [
            [model.wv.vectors[k[f"a{i}"]] @ model.syn1neg[k[f"b{j}"]] for j in range(10)]
            for i in range(10)
        ]
    )
    return float(np.diag(scores).mean() - scores[~np.eye(10, dtype=bool)].mean())


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("sg", [1, 0], ids=["skipgram", "cbow"])
def test_shrink_windows_false_trains_the_whole_window(library: str, sg: int) -> None:
    shrunk = _edge_score_gap(library, True, sg)
    full = _edge_score_gap(library, False, sg)
    assert full > 1.3 * shrunk and full > 1.0, (shrunk, full)


@requires_gensim
@pytest.mark.parametrize("shrink_windows", [True, False])
def test_shrink_windows_effect_matches_gensim(shrink_windows: bool) -> None:
    ours = _edge_score_gap("embedrs", shrink_windows, 1)
    theirs = _edge_score_gap("gensim", shrink_windows, 1)
    assert ours == pytest.approx(theirs, rel=0.25)


def test_shrink_windows_false_differs_and_still_learns() -> None:
    corpus = topic_corpus(1200)
    kw = dict(vector_size=24, window=4, min_count=1, workers=1, seed=7, epochs=6, sample=0)
    shrunk = Word2Vec(corpus, shrink_windows=True, **kw)
    full = Word2Vec(corpus, shrink_windows=False, **kw)
    full_again = Word2Vec(corpus, shrink_windows=False, **kw)
    assert np.array_equal(full.wv.vectors, full_again.wv.vectors)
    assert not np.allclose(full.wv.vectors, shrunk.wv.vectors)
    assert topic_accuracy(full) >= 0.9
    assert topic_accuracy(full) >= topic_accuracy(shrunk) - 0.05


# ---------------------------------------------------------------- train_pairs with ids


def _pairs(seed: int = 4) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    return [
        (f"item{g}_{rng.integers(8)}", f"tag{g}_{rng.integers(3)}")
        for g in rng.integers(3, size=1500)
    ]


def _pair_model() -> Word2Vec:
    model = Word2Vec(vector_size=12, negative=4, min_count=1, workers=1, seed=9, epochs=3)
    words = sorted({w for p in _pairs() for w in p})
    model.build_vocab([words])
    return model


def test_train_pairs_id_array_equals_token_pairs() -> None:
    pairs = _pairs()
    by_token = _pair_model()
    by_id = _pair_model()
    k2i = by_id.wv.key_to_index
    ids = np.array([(k2i[t], k2i[c]) for t, c in pairs], dtype=np.int64)
    loss_token = by_token.train_pairs(pairs, update_vocab=False, compute_loss=True)
    loss_id = by_id.train_pairs(ids, compute_loss=True)
    assert by_token.wv.index_to_key == by_id.wv.index_to_key
    assert np.array_equal(by_token.wv.vectors, by_id.wv.vectors)
    assert np.array_equal(by_token.syn1neg, by_id.syn1neg)
    assert loss_id == loss_token > 0
    # other integer dtypes give the same ids
    for dtype in (np.int32, np.uint32, np.uint64):
        other = _pair_model()
        other.train_pairs(ids.astype(dtype))
        assert np.array_equal(other.wv.vectors, by_id.wv.vectors), dtype


@pytest.mark.parametrize(
    "ids, match",
    [
        (np.array([[0, 1], [1, -1]]), r"\[0, "),
        (np.array([[0, 1], [1, 10_000]]), r"\[0, "),
        (np.array([[0, 1, 2]]), r"shape \(n, 2\)"),
        (np.array([0, 1]), r"shape \(n, 2\)"),
        (np.zeros((0, 2), dtype=np.int64), "empty"),
    ],
    ids=["negative", "past-the-end", "three-columns", "one-dimensional", "empty"],
)
def test_train_pairs_bad_ids_raise_value_error(ids: np.ndarray, match: str) -> None:
    model = _pair_model()
    before = model.wv.vectors.copy()
    with pytest.raises(ValueError, match=match):
        model.train_pairs(ids)
    assert np.array_equal(model.wv.vectors, before)  # nothing was trained
