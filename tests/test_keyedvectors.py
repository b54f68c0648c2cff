"""KeyedVectors: gensim 4 query API parity, batched queries, norms cache, threads, evaluation."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from embedrs.models import KeyedVectors


def gensim_kv():
    """gensim's keyedvectors module; skips the calling test (only) without gensim."""
    return pytest.importorskip("gensim.models.keyedvectors")


N, DIM = 400, 16


def make_pair(n: int = N, dim: int = DIM, seed: int = 0):
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    keys = [f"w{i}" for i in range(n)]
    ours = KeyedVectors(dim)
    ours.add_vectors(keys, vecs)
    theirs = gensim_kv().KeyedVectors(dim)
    theirs.add_vectors(keys, vecs.copy())
    return ours, theirs


def same_ranking(a, b, tol=1e-5):
    assert [k for k, _ in a] == [k for k, _ in b]
    np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=tol)


def test_constructor_and_attributes_like_gensim():
    kv = KeyedVectors(5, count=3)
    assert kv.vectors.shape == (3, 5) and kv.vectors.dtype == np.float32
    assert kv.index_to_key == [None, None, None] and kv.key_to_index == {}
    assert kv.add_vector("a", np.ones(5)) == 0
    assert kv.add_vector("b", np.arange(5)) == 1
    assert kv.get_index("b") == 1 and "a" in kv and "zz" not in kv
    kv.set_vecattr("a", "count", 7)
    assert kv.get_vecattr("a", "count") == 7 and kv.expandos["count"].dtype == np.int64
    with pytest.raises(KeyError):
        kv.get_vector("missing")
    with pytest.raises(KeyError):
        kv["missing"]
    assert kv.get_index("missing", default=-1) == -1
    np.testing.assert_array_equal(kv[["a", "b"]], kv.vectors[:2])
    v = kv.get_vector("a", norm=True)
    assert abs(np.linalg.norm(v) - 1) < 1e-6 and not v.flags.writeable
    assert len(kv) == 3 and str(kv) == "KeyedVectors<vector_size=5, 3 keys>"


def test_word2vec_style_construction_and_norm_invalidation():
    rng = np.random.default_rng(1)
    kv = KeyedVectors(8)
    kv.index_to_key = ["a", "b", "c"]
    kv.key_to_index = {"a": 0, "b": 1, "c": 2}
    kv.vectors = np.ascontiguousarray(rng.standard_normal((3, 8)), dtype=np.float32)
    for i, k in enumerate(kv.index_to_key):
        kv.set_vecattr(k, "count", 10 - i)
    kv.fill_norms()
    np.testing.assert_allclose(kv.norms, np.linalg.norm(kv.vectors, axis=1), rtol=1e-6)
    # replaced matrix -> stale norms are never used
    kv.vectors = kv.vectors * 2
    assert kv.norms is None
    kv.fill_norms()
    np.testing.assert_allclose(kv.norms, np.linalg.norm(kv.vectors, axis=1), rtol=1e-6)
    # in-place training -> fill_norms(force=True)
    kv.vectors[0] *= 3
    kv.fill_norms(force=True)
    np.testing.assert_allclose(kv.norms, np.linalg.norm(kv.vectors, axis=1), rtol=1e-6)
    # online vocab growth
    kv.index_to_key.append("d")
    kv.key_to_index["d"] = 3
    old = kv.vectors.copy()
    kv.resize_vectors(seed=5)
    assert kv.vectors.shape == (4, 8) and len(kv.expandos["count"]) == 4
    np.testing.assert_array_equal(kv.vectors[:3], old)
    assert np.all(np.abs(kv.vectors[3]) <= 1.0 / 8)
    assert kv.most_similar("d", topn=1)[0][0] in {"a", "b", "c"}


def test_most_similar_variants_match_gensim():
    ours, theirs = make_pair()
    same_ranking(ours.most_similar("w3"), theirs.most_similar("w3"))
    same_ranking(
        ours.most_similar(positive=["w1", "w2"], negative=["w3"], topn=7),
        theirs.most_similar(positive=["w1", "w2"], negative=["w3"], topn=7),
    )
    same_ranking(
        ours.most_similar(positive=[("w1", 2.0), "w5"], negative=[("w9", -0.5)]),
        theirs.most_similar(positive=[("w1", 2.0), "w5"], negative=[("w9", -0.5)]),
    )
    v = ours.vectors[10] + 0.1
    same_ranking(ours.most_similar(positive=[v]), theirs.most_similar(positive=[v.copy()]))
    same_ranking(ours.similar_by_vector(v, topn=3), theirs.similar_by_vector(v.copy(), topn=3))
    same_ranking(ours.similar_by_word("w4", topn=4), theirs.similar_by_word("w4", topn=4))
    same_ranking(
        ours.most_similar("w3", restrict_vocab=50), theirs.most_similar("w3", restrict_vocab=50)
    )
    same_ranking(
        ours.most_similar("w3", clip_start=20, clip_end=90),
        theirs.most_similar("w3", clip_start=20, clip_end=90),
    )
    same_ranking(
        ours.most_similar_cosmul(positive=["w1", "w2"], negative=["w3"]),
        theirs.most_similar_cosmul(positive=["w1", "w2"], negative=["w3"]),
    )
    np.testing.assert_allclose(
        ours.most_similar("w3", topn=None), theirs.most_similar("w3", topn=None), atol=1e-5
    )
    assert ours.most_similar("w3", topn=0) == []
    with pytest.raises(KeyError):
        ours.most_similar("nope")
    with pytest.raises(ValueError):
        ours.most_similar(positive=[])


def test_other_queries_match_gensim():
    ours, theirs = make_pair()
    assert abs(ours.similarity("w1", "w2") - theirs.similarity("w1", "w2")) < 1e-6
    assert abs(ours.distance("w1", "w2") - theirs.distance("w1", "w2")) < 1e-6
    assert (
        abs(ours.n_similarity(["w1", "w2"], ["w3"]) - theirs.n_similarity(["w1", "w2"], ["w3"]))
        < 1e-6
    )
    np.testing.assert_allclose(ours.distances("w1"), theirs.distances("w1"), atol=1e-5)
    np.testing.assert_allclose(
        ours.distances("w1", ["w2", "w3"]), theirs.distances("w1", ["w2", "w3"]), atol=1e-6
    )
    assert ours.rank("w1", "w2") == theirs.rank("w1", "w2")
    assert sorted(ours.closer_than("w1", "w2")) == sorted(theirs.closer_than("w1", "w2"))
    words = ["w1", "w2", "w3", "w4", "w5"]
    assert ours.doesnt_match(words) == theirs.doesnt_match(words)
    np.testing.assert_allclose(
        ours.get_mean_vector(words), theirs.get_mean_vector(words), atol=1e-6
    )
    np.testing.assert_allclose(ours.get_normed_vectors(), theirs.get_normed_vectors(), atol=1e-6)
    assert ours.most_similar_to_given("w1", ["w2", "w3"]) == theirs.most_similar_to_given(
        "w1", ["w2", "w3"]
    )
    with pytest.raises(ZeroDivisionError):
        ours.n_similarity([], ["w1"])


def test_batch_equals_single_queries():
    ours, _ = make_pair(n=3000, dim=32)
    keys = [f"w{i}" for i in range(0, 3000, 97)]
    batch = ours.most_similar_batch(keys, topn=5)
    for k, res in zip(keys, batch):
        same_ranking(res, ours.most_similar(k, topn=5))
    q = ours.vectors[:4] * 3
    for res, v in zip(ours.most_similar_batch(q, topn=6, restrict_vocab=1000), q):
        same_ranking(res, ours.similar_by_vector(v, topn=6, restrict_vocab=1000))
    with pytest.raises(KeyError):
        ours.most_similar_batch(["w1", "missing"])
    with pytest.raises(ValueError):
        ours.most_similar_batch(np.zeros((2, 3), dtype=np.float32))


def test_float64_and_zero_vectors_fall_back_cleanly():
    kv = KeyedVectors(4, dtype=np.float64)
    kv.add_vectors(
        ["a", "b", "c"], np.array([[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]], dtype=float)
    )
    res = kv.most_similar("a", topn=2)
    assert res[0][0] == "c" and all(np.isfinite(s) for _, s in res)
    k32 = KeyedVectors(4)
    k32.add_vectors(
        ["a", "b", "c"], np.array([[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]], dtype=np.float32)
    )
    assert [k for k, _ in k32.most_similar("a", topn=2)] == ["c", "b"]


@pytest.mark.parametrize("int8", [False, True])
def test_concurrent_queries_from_8_threads(int8):
    ours, _ = make_pair(n=20000, dim=32, seed=3)
    expected = {k: ours.most_similar(k, topn=5) for k in ["w1", "w2", "w3", "w4"]}
    if int8:  # int8 index; single queries share their rows with a pool thread
        ours.int8_min_size = 1
        assert ours.most_similar("w1", topn=5) == expected["w1"] and ours._int8 is not None
    errors = []

    def worker(i: int) -> None:
        try:
            for j in range(30):
                k = f"w{1 + (i + j) % 4}"
                res = ours.most_similar(k, topn=5)
                assert [x for x, _ in res] == [x for x, _ in expected[k]]
                b = ours.most_similar_batch([k], topn=5)[0]
                assert [x for x, _ in b] == [x for x, _ in expected[k]]
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def _analogy_model(seed: int = 0):
    """Vectors where some analogies hold, plus an analogy file with 2 sections and OOV lines."""
    rng = np.random.default_rng(seed)
    dim = 20
    base = {
        w: rng.standard_normal(dim) for w in ["man", "woman", "king", "paris", "france", "rome"]
    }
    base["queen"] = base["king"] - base["man"] + base["woman"] + 0.05 * rng.standard_normal(dim)
    base["italy"] = base["rome"] - base["paris"] + base["france"] + 0.05 * rng.standard_normal(dim)
    base["Berlin"] = rng.standard_normal(dim)
    base["germany"] = rng.standard_normal(dim)
    for i in range(60):
        base[f"filler{i}"] = rng.standard_normal(dim)
    keys = list(base)
    vecs = np.array([base[k] for k in keys], dtype=np.float32)
    return keys, vecs


ANALOGIES = """: family
man woman king queen
woman man queen king
man king woman queen
man woman unknownword queen
: capitals
paris france rome italy
rome italy paris france
paris france berlin germany
bad line
"""


@pytest.mark.parametrize("case_insensitive", [True, False])
@pytest.mark.parametrize("dummy4unknown", [True, False])
@pytest.mark.parametrize("restrict_vocab", [300000, 30])
def test_evaluate_word_analogies_equals_gensim(
    tmp_path, case_insensitive, dummy4unknown, restrict_vocab
):
    keys, vecs = _analogy_model()
    ours = KeyedVectors(vecs.shape[1])
    ours.add_vectors(keys, vecs)
    theirs = gensim_kv().KeyedVectors(vecs.shape[1])
    theirs.add_vectors(keys, vecs.copy())
    path = tmp_path / "q.txt"
    path.write_text(ANALOGIES)
    a = ours.evaluate_word_analogies(
        str(path),
        restrict_vocab=restrict_vocab,
        case_insensitive=case_insensitive,
        dummy4unknown=dummy4unknown,
    )
    b = theirs.evaluate_word_analogies(
        str(path),
        restrict_vocab=restrict_vocab,
        case_insensitive=case_insensitive,
        dummy4unknown=dummy4unknown,
    )
    assert a[0] == b[0]
    assert a[1] == b[1]


def test_evaluate_word_pairs_equals_gensim(tmp_path):
    keys, vecs = _analogy_model(1)
    ours = KeyedVectors(vecs.shape[1])
    ours.add_vectors(keys, vecs)
    theirs = gensim_kv().KeyedVectors(vecs.shape[1])
    theirs.add_vectors(keys, vecs.copy())
    rng = np.random.default_rng(2)
    lines = ["# a comment", "# another"]
    for _ in range(40):
        a, b = rng.choice(keys, 2, replace=False)
        lines.append(f"{a}\t{b}\t{rng.uniform(0, 10):.2f}")
    lines += ["oov\tking\t3.0", "not a valid line"]
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n")
    for kwargs in ({}, {"dummy4unknown": True}, {"case_insensitive": False, "restrict_vocab": 40}):
        p1, s1, o1 = ours.evaluate_word_pairs(str(path), **kwargs)
        p2, s2, o2 = theirs.evaluate_word_pairs(str(path), **kwargs)
        np.testing.assert_allclose(
            [p1[0], p1[1], s1[0], s1[1]], [p2[0], p2[1], s2[0], s2[1]], rtol=1e-6
        )
        assert o1 == o2


def test_evaluate_on_shared_google_analogies_if_present():
    import os

    path = "/work/shared/data/gensim_test_data/questions-words.txt"
    if not os.path.exists(path):
        pytest.skip("shared data not available")
    rng = np.random.default_rng(5)
    words = set()
    with open(path) as fh:
        for line in fh:
            if not line.startswith(":"):
                words.update(w.lower() for w in line.split())
    keys = sorted(words)[:600]
    vecs = rng.standard_normal((len(keys), 24)).astype(np.float32)
    ours = KeyedVectors(24)
    ours.add_vectors(keys, vecs)
    theirs = gensim_kv().KeyedVectors(24)
    theirs.add_vectors(keys, vecs.copy())
    a = ours.evaluate_word_analogies(path)
    b = theirs.evaluate_word_analogies(path)
    assert a[0] == b[0] and a[1] == b[1]


def test_int8_prefilter_gives_identical_answers():
    ours, _ = make_pair(n=5000, dim=48, seed=7)
    ours.vectors[:2500] += ours.vectors[0]  # a dense cluster: many near-ties
    ours.fill_norms(force=True)
    keys = [f"w{i}" for i in range(0, 5000, 250)]
    ours.int8_search = False
    exact = [ours.most_similar(k, topn=8) for k in keys]
    exact_r = [ours.most_similar(k, topn=3, restrict_vocab=1000) for k in keys]
    ours.int8_search = True
    ours.int8_min_size = 1
    assert [ours.most_similar(k, topn=8) for k in keys] == exact
    assert [ours.most_similar(k, topn=3, restrict_vocab=1000) for k in keys] == exact_r
    assert ours._int8 is not None
    # batches through the int8 index: the same lists, scores included
    assert ours.most_similar_batch(keys, topn=8) == exact
    assert ours.most_similar_batch(keys, topn=3, restrict_vocab=1000) == exact_r
    q = np.vstack([ours.vectors[7], np.zeros(48, np.float32), ours.vectors[9]])
    ours.int8_search = False
    want = [ours.similar_by_vector(v, topn=4, restrict_vocab=3001) for v in q]
    ours.int8_search = True
    got = ours.most_similar_batch(q, topn=4, clip_start=0, clip_end=3001)
    assert [[k for k, _ in r] for r in got] == [[k for k, _ in r] for r in want]
    for r, w in zip(got, want):
        np.testing.assert_allclose([s for _, s in r], [s for _, s in w], atol=1e-6)
    # in-place change + fill_norms(force=True) rebuilds the index
    ours.vectors[5] = -ours.vectors[5]
    ours.fill_norms(force=True)
    assert ours._int8 is None
    ours.int8_search = False
    want = ours.most_similar("w5")
    ours.int8_search = True
    assert ours.most_similar("w5") == want


def test_pickle_and_deepcopy(tmp_path):
    import copy
    import pickle

    ours, _ = make_pair()
    want = ours.most_similar("w3")
    for obj in (pickle.loads(pickle.dumps(ours)), copy.deepcopy(ours)):
        assert obj.most_similar("w3") == want
    p = str(tmp_path / "m.kv")
    ours.save(p)
    lazy = KeyedVectors.load(p, mmap="r")
    back = pickle.loads(pickle.dumps(lazy))
    assert back.index_to_key == ours.index_to_key and back.most_similar("w3") == want


@pytest.mark.parametrize("binary", [False, True])
def test_intersect_word2vec_format_takes_the_files_vectors_and_locks_them(tmp_path, binary):
    from embedrs.models import Word2Vec

    rng = np.random.default_rng(5)
    corpus = [[f"w{i}" for i in rng.integers(0, 12, 20)] for _ in range(40)]
    model = Word2Vec(corpus, vector_size=8, min_count=1, seed=1, workers=1, sample=0)
    keys = list(model.wv.index_to_key)
    shared = keys[:5]
    # the file: five of the model's keys, two it lacks, one key given twice
    file_kv = KeyedVectors(8)
    file_vecs = rng.standard_normal((7, 8)).astype(np.float32)
    file_kv.add_vectors(shared + ["alpha", "beta"], file_vecs)
    fname = tmp_path / "pretrained.bin"
    file_kv.save_word2vec_format(fname, binary=binary)
    if not binary:
        last = rng.standard_normal(8).astype(np.float32)
        lines = fname.read_text(encoding="utf8").splitlines()
        lines[0] = "8 8"
        lines.append(shared[0] + " " + " ".join(repr(float(x)) for x in last))
        fname.write_text("\n".join(lines) + "\n", encoding="utf8")
    before = model.wv.vectors.copy()

    taken = model.wv.intersect_word2vec_format(fname, binary=binary, lockf=0.0)

    assert taken == (6 if not binary else 5)  # the repeated key counts twice, as in gensim
    assert model.wv.index_to_key == keys  # nothing added
    rows = [model.wv.get_index(k) for k in shared]
    np.testing.assert_array_equal(model.wv.vectors[rows[1:]], file_vecs[1:5])
    want_first = last if not binary else file_vecs[0]
    np.testing.assert_array_equal(model.wv.vectors[rows[0]], want_first)  # last one wins
    others = [i for i in range(len(keys)) if i not in rows]
    np.testing.assert_array_equal(model.wv.vectors[others], before[others])
    lockf = model.wv.vectors_lockf
    assert lockf.shape == (len(keys),)
    assert np.all(lockf[rows] == 0.0) and np.all(lockf[others] == 1.0)
    # norms follow the new vectors
    model.wv.fill_norms()
    np.testing.assert_allclose(model.wv.norms, np.linalg.norm(model.wv.vectors, axis=1), rtol=1e-6)

    # training leaves the locked rows as loaded and moves the others
    locked = model.wv.vectors[rows].copy()
    free = model.wv.vectors[others].copy()
    model.train(corpus, total_examples=len(corpus), epochs=3)
    np.testing.assert_array_equal(model.wv.vectors[rows], locked)
    assert not np.array_equal(model.wv.vectors[others], free)


def test_intersect_word2vec_format_refuses_another_vector_size(tmp_path):
    kv = KeyedVectors(4)
    kv.add_vectors(["a", "b"], np.ones((2, 4), dtype=np.float32))
    other = KeyedVectors(5)
    other.add_vectors(["a"], np.ones((1, 5), dtype=np.float32))
    fname = tmp_path / "five.txt"
    other.save_word2vec_format(fname)
    with pytest.raises(ValueError, match="incompatible vector size 5"):
        kv.intersect_word2vec_format(fname)
    np.testing.assert_array_equal(kv.vectors, np.ones((2, 4)))
    with pytest.raises(ValueError, match="lockf"):
        kv.intersect_word2vec_format(fname, lockf=float("nan"))
    with pytest.raises(TypeError, match="lockf must be a number"):
        kv.intersect_word2vec_format(fname, lockf="0")
    with pytest.raises(FileNotFoundError):
        kv.intersect_word2vec_format(tmp_path / "missing.txt")
    assert not hasattr(kv, "vectors_lockf")  # nothing changed by the refused calls


def test_similarity_unseen_docs_is_for_doc2vec_as_in_gensim():
    with pytest.raises(NotImplementedError, match="Doc2Vec"):
        KeyedVectors(3).similarity_unseen_docs(["a"], ["b"])
