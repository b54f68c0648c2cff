"""Sent2Vec: sentence vectors trained against a frozen, saved Word2Vec model."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from embedrs.models import KeyedVectors, Word2Vec
from embedrs.models.sent2vec import Sent2Vec
from embedrs.models.word2vec import LineSentence

ANIMALS = [
    "cat",
    "dog",
    "horse",
    "cow",
    "sheep",
    "goat",
    "pig",
    "mouse",
    "rabbit",
    "duck",
    "hen",
    "fox",
    "wolf",
    "bear",
    "deer",
]
MONEY = [
    "bank",
    "loan",
    "cash",
    "money",
    "credit",
    "debt",
    "stock",
    "bond",
    "price",
    "market",
    "trade",
    "fund",
    "tax",
    "rate",
    "cost",
]


def topic_sentences(
    rng: random.Random, words: list[str], n: int, length: int = 10
) -> list[list[str]]:
    return [[rng.choice(words) for _ in range(length)] for _ in range(n)]


def write_lines(path: Path, sentences: list[list[str]]) -> Path:
    path.write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf8")
    return path


@pytest.fixture(scope="module")
def corpus() -> list[list[str]]:
    rng = random.Random(0)
    sents = topic_sentences(rng, ANIMALS, 300) + topic_sentences(rng, MONEY, 300)
    rng.shuffle(sents)
    return sents


@pytest.fixture(scope="module")
def hs_model(tmp_path_factory: pytest.TempPathFactory, corpus: list[list[str]]) -> str:
    path = tmp_path_factory.mktemp("w2v") / "w2v.model"
    Word2Vec(
        corpus, vector_size=20, min_count=1, sg=1, hs=1, negative=0, epochs=5, seed=3, workers=1
    ).save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def ns_model(tmp_path_factory: pytest.TempPathFactory, corpus: list[list[str]]) -> str:
    path = tmp_path_factory.mktemp("w2v") / "w2v_ns.model"
    Word2Vec(
        corpus, vector_size=20, min_count=1, sg=1, hs=0, negative=5, epochs=10, seed=3, workers=1
    ).save(str(path))
    return str(path)


@pytest.fixture()
def sent_file(tmp_path: Path) -> Path:
    rng = random.Random(1)
    # 10 animal sentences, then 10 money sentences, with a few unknown words mixed in
    sents = topic_sentences(rng, ANIMALS, 10, 12) + topic_sentences(rng, MONEY, 10, 12)
    for s in sents[::3]:
        s.insert(2, "neverseen")
    return write_lines(tmp_path / "sents.txt", sents)


def topic_gap(sents: np.ndarray, n_first: int) -> float:
    """Mean within-topic cosine minus mean across-topic cosine."""
    unit = sents / np.linalg.norm(sents, axis=1, keepdims=True)
    sims = unit @ unit.T
    a, b = slice(0, n_first), slice(n_first, len(sents))
    within = np.concatenate(
        [
            sims[a, a][np.triu_indices(n_first, 1)],
            sims[b, b][np.triu_indices(len(sents) - n_first, 1)],
        ]
    )
    return float(within.mean() - sims[a, b].mean())


def test_runs_as_written(hs_model: str, sent_file: Path) -> None:
    model = Sent2Vec(
        LineSentence(str(sent_file)),
        model_file=hs_model,
        alpha=0.025,
        window=5,
        sample=0,
        seed=1,
        workers=1,
        min_alpha=0.0001,
        sg=1,
        hs=1,
        negative=0,
        cbow_mean=0,
        iteration=1,
    )
    assert model.sents.shape == (20, 20)
    assert model.sents.dtype == np.float32
    assert np.isfinite(model.sents).all()
    assert model.sents_len == 20


@pytest.mark.parametrize(
    ("model_name", "kwargs"),
    [
        ("hs_model", {"sg": 1, "hs": 1, "negative": 0}),
        ("hs_model", {"sg": 0, "hs": 1, "negative": 0, "cbow_mean": 1}),
        ("ns_model", {"sg": 1, "hs": 0, "negative": 5}),
    ],
)
def test_same_topic_sentences_are_closer(
    request: pytest.FixtureRequest, model_name: str, kwargs: dict, sent_file: Path
) -> None:
    model = Sent2Vec(
        LineSentence(str(sent_file)),
        model_file=request.getfixturevalue(model_name),
        iteration=20,
        **kwargs,
    )
    assert topic_gap(model.sents, 10) > 0.2


def test_one_pass_already_separates_topics(hs_model: str, sent_file: Path) -> None:
    model = Sent2Vec(LineSentence(str(sent_file)), model_file=hs_model)
    assert topic_gap(model.sents, 10) > 0.5


def test_cbow_style_negative_sampling(ns_model: str, sent_file: Path) -> None:
    dm = Sent2Vec(LineSentence(str(sent_file)), model_file=ns_model, sg=0, hs=0, negative=5)
    dbow = Sent2Vec(LineSentence(str(sent_file)), model_file=ns_model, sg=1, hs=0, negative=5)
    assert dm.sents.shape == dbow.sents.shape == (20, 20)
    assert np.isfinite(dm.sents).all()
    assert not np.allclose(dm.sents, dbow.sents)


def test_deterministic_per_seed(hs_model: str, sent_file: Path) -> None:
    a = Sent2Vec(
        LineSentence(str(sent_file)), model_file=hs_model, seed=7, workers=2, iteration=3
    ).sents
    b = Sent2Vec(
        LineSentence(str(sent_file)), model_file=hs_model, seed=7, workers=1, iteration=3
    ).sents
    c = Sent2Vec(
        LineSentence(str(sent_file)), model_file=hs_model, seed=8, workers=2, iteration=3
    ).sents
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_word_model_is_not_modified(hs_model: str, sent_file: Path) -> None:
    before = Word2Vec.load(hs_model)
    model = Sent2Vec(LineSentence(str(sent_file)), model_file=hs_model, iteration=5)
    np.testing.assert_array_equal(model.w2v.wv.vectors, before.wv.vectors)
    np.testing.assert_array_equal(model.w2v.syn1, before.syn1)


def test_missing_layer_is_a_clear_error(hs_model: str, ns_model: str, sent_file: Path) -> None:
    with pytest.raises(ValueError, match=r"hs=1 needs the model's syn1 layer.*negative=5"):
        Sent2Vec(LineSentence(str(sent_file)), model_file=ns_model, hs=1, negative=0)
    with pytest.raises(ValueError, match=r"negative=5 needs the model's syn1neg layer.*hs=1"):
        Sent2Vec(LineSentence(str(sent_file)), model_file=hs_model, hs=0, negative=5)


def test_bad_parameters(hs_model: str, sent_file: Path) -> None:
    with pytest.raises(ValueError, match="output layer"):
        Sent2Vec(LineSentence(str(sent_file)), model_file=hs_model, hs=0, negative=0)
    with pytest.raises(ValueError, match="model_file"):
        Sent2Vec(LineSentence(str(sent_file)))
    with pytest.raises(ValueError, match="iteration"):
        Sent2Vec(LineSentence(str(sent_file)), model_file=hs_model, iteration=0)
    with pytest.raises(TypeError, match="list of str tokens"):
        Sent2Vec(["cat dog horse"], model_file=hs_model)
    with pytest.raises(TypeError, match="not a string"):
        Sent2Vec("cat dog horse", model_file=hs_model)
    with pytest.raises(FileNotFoundError):
        Sent2Vec([["cat"]], model_file=str(Path(hs_model).with_name("missing.model")))


def test_sentence_without_known_words_gets_a_finite_vector(hs_model: str) -> None:
    model = Sent2Vec([["unknown", "words"], [], ["cat", "dog", "cow"]], model_file=hs_model)
    assert model.sents.shape == (3, 20)
    assert np.isfinite(model.sents).all()
    assert np.linalg.norm(model.sents[0]) > 0


def test_saved_file_loads_with_load_word2vec_format(
    hs_model: str, sent_file: Path, tmp_path: Path
) -> None:
    model = Sent2Vec(LineSentence(str(sent_file)), model_file=hs_model, iteration=2)
    out = tmp_path / "sents.vec"
    model.save_sent2vec_format(str(out))
    assert out.read_text(encoding="utf8").splitlines()[0] == "20 20"
    kv = KeyedVectors.load_word2vec_format(str(out))
    assert list(kv.index_to_key) == [f"sent_{i}" for i in range(20)]
    np.testing.assert_allclose(kv.vectors, model.sents, rtol=1e-5, atol=1e-6)
    gensim_kv = pytest.importorskip("gensim.models").KeyedVectors.load_word2vec_format(str(out))
    assert list(gensim_kv.index_to_key) == [f"sent_{i}" for i in range(20)]
    np.testing.assert_allclose(gensim_kv.vectors, model.sents, rtol=1e-5, atol=1e-6)


def test_gensim_saved_word_model(corpus: list[list[str]], sent_file: Path, tmp_path: Path) -> None:
    gensim_models = pytest.importorskip("gensim.models")
    path = tmp_path / "gensim_w2v.model"
    gensim_models.Word2Vec(
        corpus, vector_size=20, min_count=1, sg=1, hs=1, negative=0, epochs=5, seed=3, workers=1
    ).save(str(path))
    model = Sent2Vec(LineSentence(str(sent_file)), model_file=str(path), iteration=20)
    assert topic_gap(model.sents, 10) > 0.2
    with pytest.raises(ValueError, match="syn1neg"):
        Sent2Vec(LineSentence(str(sent_file)), model_file=str(path), hs=0, negative=5)
