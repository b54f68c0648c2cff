"""``Word2Vec.score``: sentence log-likelihoods under hierarchical softmax, as gensim's."""

from __future__ import annotations

import numpy as np
import pytest
from embedrs.models import Word2Vec
from embedrs.test.utils import common_texts


def _corpus() -> list[list[str]]:
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(40)]
    p = 1.0 / np.arange(1, 41)
    p /= p.sum()
    return [list(rng.choice(words, size=int(rng.integers(3, 15)), p=p)) for _ in range(300)]


@pytest.mark.parametrize("sg,cbow_mean", [(1, 1), (0, 1), (0, 0)])
def test_scores_equal_gensims_on_the_same_weights(tmp_path, sg, cbow_mean):
    gensim_models = pytest.importorskip("gensim.models")
    corpus = _corpus()
    theirs = gensim_models.Word2Vec(
        corpus,
        vector_size=16,
        min_count=1,
        sg=sg,
        hs=1,
        negative=0,
        cbow_mean=cbow_mean,
        window=3,
        epochs=3,
        seed=5,
        workers=1,
    )
    path = tmp_path / "gensim.model"
    theirs.save(str(path))
    ours = Word2Vec.load(str(path))
    # unknown words are dropped; an empty sentence scores 0
    probe = corpus[:50] + [["w1", "not-a-word", "w2", "w3"], [], ["unknown"]]
    want = theirs.score(probe, total_sentences=len(probe))
    got = ours.score(probe, total_sentences=len(probe))
    assert got.dtype == np.float32 and got.shape == (len(probe),)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
    assert got[-1] == 0.0 and got[-2] == 0.0
    assert np.all(got[:50] < 0)


def test_score_follows_training_and_stops_at_total_sentences(caplog):
    # sentences that each stay within one of 8 topics of 5 words: after
    # training, a word's window predicts it far better than before
    rng = np.random.default_rng(0)
    corpus = [
        [f"t{t}w{int(w)}" for w in rng.integers(0, 5, size=8)] for t in rng.integers(0, 8, size=400)
    ]
    model = Word2Vec(vector_size=16, min_count=1, sg=1, hs=1, negative=0, seed=1)
    model.build_vocab(corpus)
    before = model.score(corpus[:50])
    model.train(corpus, total_examples=len(corpus), epochs=10)
    after = model.score(corpus[:50])
    assert np.all(after > before)
    with caplog.at_level("WARNING"):
        assert model.score(corpus, total_sentences=7).shape == (7,)
    assert "terminating after 7 sentences" in caplog.text


def test_score_needs_hierarchical_softmax_and_a_vocabulary():
    model = Word2Vec(common_texts, vector_size=8, min_count=1, hs=0, negative=5)
    with pytest.raises(RuntimeError, match="hierarchical softmax"):
        model.score(common_texts)
    with pytest.raises(RuntimeError, match="build vocabulary"):
        Word2Vec(vector_size=8, hs=1, negative=0).score(common_texts)
    with pytest.raises(TypeError, match="not a string"):
        Word2Vec(common_texts, min_count=1, hs=1, negative=0).score("a sentence")


def test_huffman_paths_are_gensims_and_survive_save(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    corpus = _corpus()  # many words with equal counts: ties decide the tree
    kwargs = dict(vector_size=8, min_count=1, hs=1, negative=0, epochs=1, workers=1)
    theirs = gensim_models.Word2Vec(corpus, **kwargs)
    ours = Word2Vec(corpus, **kwargs)
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    for word in ours.wv.index_to_key:
        for attr in ("code", "point"):
            np.testing.assert_array_equal(
                ours.wv.get_vecattr(word, attr), theirs.wv.get_vecattr(word, attr)
            )
    path = tmp_path / "m.model"
    ours.save(str(path))
    back = Word2Vec.load(str(path))
    np.testing.assert_array_equal(
        back.wv.get_vecattr("w7", "code"), ours.wv.get_vecattr("w7", "code")
    )
    # a negative-sampling model has no paths, as in gensim
    assert "code" not in Word2Vec(corpus, vector_size=8, min_count=1, epochs=1).wv.expandos


def test_the_core_refuses_arrays_it_cannot_read_as_rows():
    model = Word2Vec(common_texts, vector_size=8, min_count=1, hs=1, negative=0, epochs=1)
    core = model._make_core(False)
    syn0 = np.ascontiguousarray(model.wv.vectors)
    ids = np.array([0, 1, 2], dtype=np.uint32)
    ok = core.score(syn0, model.syn1, ids, np.array([3], dtype=np.uint64))
    assert ok.shape == (1,) and ok[0] < 0
    with pytest.raises(ValueError, match="C-contiguous"):
        core.score(syn0, np.asfortranarray(model.syn1), ids, np.array([3], dtype=np.uint64))
    with pytest.raises(ValueError, match="add up to 2"):
        core.score(syn0, model.syn1, ids, np.array([2], dtype=np.uint64))
