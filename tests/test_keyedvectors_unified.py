"""One keyed-vectors implementation: Poincaré vectors are KeyedVectors, one word2vec
reader/writer (with a float64 path), one persistence container, caches tied to ``vectors``."""

from __future__ import annotations

import numpy as np
import pytest
from embedrs import _persist
from embedrs.models import KeyedVectors
from embedrs.models.poincare import PoincareKeyedVectors, PoincareModel


def _gensim_poincare():
    return pytest.importorskip("gensim.models.poincare")


def _ball_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """``n`` float64 points strictly inside the unit ball, at varied norms."""
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(n, dim))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d * rng.uniform(0.02, 0.97, size=(n, 1))


def _both(n: int = 40, dim: int = 5, seed: int = 0):
    """Our and gensim's PoincareKeyedVectors holding the same float64 vectors."""
    gp = _gensim_poincare()
    keys = [f"n{i}" for i in range(n)]
    vectors = _ball_vectors(n, dim, seed)
    ours = PoincareKeyedVectors(dim, 0, dtype=np.float64)
    theirs = gp.PoincareKeyedVectors(dim, 0, dtype=np.float64)
    for kv in (ours, theirs):
        kv.add_vectors(keys, vectors.copy())
    return ours, theirs, keys


# -- one class hierarchy ------------------------------------------------------------------


def test_poincare_keyed_vectors_is_a_keyed_vectors():
    assert issubclass(PoincareKeyedVectors, KeyedVectors)
    gp = _gensim_poincare()
    from gensim.models.keyedvectors import KeyedVectors as GensimKV

    assert issubclass(gp.PoincareKeyedVectors, GensimKV)
    # the subclass overrides nothing gensim's does not (plus private helpers)
    ours = {k for k in vars(PoincareKeyedVectors) if not k.startswith("_")}
    theirs = {k for k in vars(gp.PoincareKeyedVectors) if not k.startswith("_")}
    assert ours <= theirs, ours - theirs


def test_base_contracts_hold_for_poincare_vectors():
    kv = PoincareKeyedVectors(3, 0, dtype=np.float64)
    kv.add_vectors(["a", "b", "c"], _ball_vectors(3, 3, 1))
    v = kv.get_vector("a")
    assert not v.flags.writeable
    with pytest.raises(ValueError):
        v[0] = 0.5
    assert kv.get_index(1) == 1
    with pytest.raises(KeyError):
        kv.get_index(True)  # a bool is not a row index
    assert True not in kv and "a" in kv
    assert kv.vectors.dtype == np.float64
    kv.add_vectors(["d"], np.array([[0.1, 0.2, 0.3]]))
    assert kv.index_to_key == ["a", "b", "c", "d"] and kv.vectors.dtype == np.float64


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_closer_than_most_similar_to_given_match_gensim(seed):
    ours, theirs, keys = _both(seed=seed)
    for k1 in keys[::7]:
        for k2 in keys[3::5]:
            if k1 == k2:
                continue
            assert ours.closer_than(k1, k2) == theirs.closer_than(k1, k2)
            assert ours.rank(k1, k2) == theirs.rank(k1, k2)
        given = keys[10:20]
        assert ours.most_similar_to_given(k1, given) == theirs.most_similar_to_given(k1, given)
    # the Poincaré ranking, not the cosine one
    cosine = KeyedVectors(ours.vector_size, 0, dtype=np.float64)
    cosine.add_vectors(keys, ours.vectors.copy())
    assert any(ours.rank(keys[0], k) != cosine.rank(keys[0], k) for k in keys[1:])


def test_distance_family_matches_gensim():
    ours, theirs, keys = _both(seed=4)
    for k in keys[1:8]:
        assert ours.distances(k).tolist() == theirs.distances(k).tolist()
        assert ours.similarity(k, keys[9]) == theirs.similarity(k, keys[9])
        assert ours.most_similar(k, topn=6) == [
            (n, float(d)) for n, d in theirs.most_similar(k, topn=6)
        ]
        assert ours.closest_child(k) == theirs.closest_child(k)
        assert ours.ancestors(k) == theirs.ancestors(k)


# -- one word2vec-format reader/writer ----------------------------------------------------


@pytest.mark.parametrize("cls", [KeyedVectors, PoincareKeyedVectors])
def test_float64_text_round_trip_is_exact_and_matches_gensim_bytes(tmp_path, cls):
    rng = np.random.default_rng(7)
    vectors = np.vstack(
        [
            rng.normal(size=(20, 6)) * 10.0 ** rng.integers(-8, 8, size=(20, 1)),
            [[0.1, 1 / 3, 1e16, 1e-4, 9.9e-5, -0.0]],
        ]
    )
    keys = [f"k{i}" for i in range(len(vectors))]
    kv = cls(6, 0, dtype=np.float64)
    kv.add_vectors(keys, vectors)
    path = tmp_path / "v.txt"
    kv.save_word2vec_format(str(path))
    back = cls.load_word2vec_format(str(path), datatype=np.float64)
    assert type(back) is cls and back.vectors.dtype == np.float64
    assert sorted(back.index_to_key) == sorted(keys)
    for k in keys:
        assert back[k].tobytes() == kv[k].tobytes()
    # float32 loading of the same file rounds each value once
    as32 = cls.load_word2vec_format(str(path))
    assert as32.vectors.dtype == np.float32
    assert np.array_equal(as32[keys[0]], kv[keys[0]].astype(np.float32))
    gkv = pytest.importorskip("gensim.models.keyedvectors")
    g = gkv.KeyedVectors(6, 0, dtype=np.float64)
    g.add_vectors(keys, vectors)
    gpath = tmp_path / "g.txt"
    g.save_word2vec_format(str(gpath))
    assert path.read_bytes() == gpath.read_bytes()


@pytest.mark.parametrize("cls", [KeyedVectors, PoincareKeyedVectors])
def test_float64_binary_round_trip_stores_float32_as_the_format_does(tmp_path, cls):
    vectors = _ball_vectors(15, 4, 3)
    keys = [f"k{i}" for i in range(15)]
    kv = cls(4, 0, dtype=np.float64)
    kv.add_vectors(keys, vectors)
    path = tmp_path / "v.bin"
    kv.save_word2vec_format(str(path), binary=True)
    back = cls.load_word2vec_format(str(path), binary=True, datatype=np.float64)
    assert back.vectors.dtype == np.float64
    for k in keys:
        assert np.array_equal(back[k], kv[k].astype(np.float32).astype(np.float64))
    # and a second round trip is exact: float32 values survive float64 unchanged
    back.save_word2vec_format(str(tmp_path / "again.bin"), binary=True)
    assert (tmp_path / "again.bin").read_bytes() == path.read_bytes()
    gkv = pytest.importorskip("gensim.models.keyedvectors")
    g = gkv.KeyedVectors(4, 0, dtype=np.float64)
    g.add_vectors(keys, vectors)
    g.save_word2vec_format(str(tmp_path / "g.bin"), binary=True)
    assert (tmp_path / "g.bin").read_bytes() == path.read_bytes()
    gb = gkv.KeyedVectors.load_word2vec_format(str(path), binary=True, datatype=np.float64)
    assert np.array_equal(gb.vectors, back.vectors)


def test_poincare_module_has_no_word2vec_parser_of_its_own():
    import embedrs._cli.tsne as cli_tsne
    import embedrs.models.poincare as poincare_module

    assert "load_word2vec_format" not in vars(PoincareKeyedVectors)
    assert "save_word2vec_format" not in vars(PoincareKeyedVectors)
    assert not hasattr(PoincareKeyedVectors, "_parse_word2vec")
    assert not hasattr(cli_tsne, "_read_word2vec")
    assert not hasattr(poincare_module, "_parse_word2vec")


# -- one persistence container ------------------------------------------------------------


def test_poincare_vectors_save_load_through_the_container(tmp_path):
    kv = PoincareKeyedVectors(3, 0, dtype=np.float64)
    kv.add_vectors(["a", ("t", 1), 7], _ball_vectors(3, 3, 5))
    kv.set_vecattr("a", "count", 4)
    path = tmp_path / "p.kv"
    kv.save(str(path))
    assert _persist.is_container(str(path))
    for loader in (PoincareKeyedVectors.load, KeyedVectors.load):
        back = loader(str(path))
        assert type(back) is PoincareKeyedVectors  # as a gensim pickle would come back
        assert back.index_to_key == ["a", ("t", 1), 7]
        assert back.vectors.dtype == np.float64 and np.array_equal(back.vectors, kv.vectors)
        assert back.get_vecattr("a", "count") == 4
        assert back.distance("a", 7) == kv.distance("a", 7)
    mm = PoincareKeyedVectors.load(str(path), mmap="r")
    assert not mm.vectors.flags.writeable and mm.rank("a", 7) == kv.rank("a", 7)
    plain = KeyedVectors(3, 0)
    plain.add_vectors(["x"], np.ones((1, 3), dtype=np.float32))
    plain.save(str(tmp_path / "plain.kv"))
    assert type(KeyedVectors.load(str(tmp_path / "plain.kv"))) is KeyedVectors
    with pytest.raises(ValueError, match="not a PoincareKeyedVectors"):
        PoincareKeyedVectors.load(str(tmp_path / "plain.kv"))


def test_vectors_of_a_saved_poincare_model_load_as_poincare_vectors(tmp_path):
    m = PoincareModel([("a", "b"), ("c", "b"), ("d", "c")], size=2, negative=1)
    m.train(epochs=2)
    m.save(str(tmp_path / "m.model"))
    kv = PoincareKeyedVectors.load(str(tmp_path / "m.model"))
    assert kv.index_to_key == m.kv.index_to_key and np.array_equal(kv.vectors, m.kv.vectors)
    assert type(KeyedVectors.load(str(tmp_path / "m.model"))) is PoincareKeyedVectors
    m2 = PoincareModel.load(str(tmp_path / "m.model"))
    assert list(m2.kv.expandos["count"]) == list(m.kv.expandos["count"])


def test_previous_poincare_container_layout_still_loads(tmp_path):
    """Files written by the forked PoincareKeyedVectors (counts as a ``counts`` array)."""
    keys = ["a", "b", "c"]
    vectors = _ball_vectors(3, 2, 6)
    meta = {"vector_size": 2, "n_keys": 3}
    key_meta, arrays = _persist.encode_keys(keys, "")
    meta.update(key_meta)
    arrays["vectors"] = vectors
    arrays["counts"] = np.array([3, 1, 2], dtype=np.int64)
    path = tmp_path / "old.kv"
    _persist.write_container(str(path), {"class": "PoincareKeyedVectors", "kv": meta}, arrays)
    kv = PoincareKeyedVectors.load(str(path))
    assert kv.index_to_key == keys and np.array_equal(kv.vectors, vectors)
    assert kv.get_vecattr("b", "count") == 1
    arrays["counts"] = np.array([3, -1, 2], dtype=np.int64)
    _persist.write_container(str(path), {"class": "PoincareKeyedVectors", "kv": meta}, arrays)
    with pytest.raises(ValueError, match="counts"):
        PoincareKeyedVectors.load(str(path))


def test_gensim_poincare_pickle_loads_through_the_safe_loader(tmp_path):
    gp = _gensim_poincare()
    gm = gp.PoincareModel([("a", "b"), ("c", "b"), ("d", "c")], size=2, negative=1)
    gm.train(epochs=1)
    gm.save(str(tmp_path / "g.model"))
    gm.kv.save(str(tmp_path / "g.kv"))
    for name in ("g.model", "g.kv"):
        kv = PoincareKeyedVectors.load(str(tmp_path / name))
        assert type(kv) is PoincareKeyedVectors
        assert kv.index_to_key == gm.kv.index_to_key
        assert np.array_equal(kv.vectors, gm.kv.vectors)
        assert kv.distance("a", "d") == gm.kv.distance("a", "d")
        assert type(KeyedVectors.load(str(tmp_path / name))) is PoincareKeyedVectors


# -- caches tied to ``vectors`` -----------------------------------------------------------


def test_vectors_setter_drops_norms_and_int8_index():
    rng = np.random.default_rng(0)
    kv = KeyedVectors(16, 0)
    kv.add_vectors([f"w{i}" for i in range(300)], rng.normal(size=(300, 16)).astype(np.float32))
    kv.int8_min_size = 1  # use the int8 prefilter even on this small matrix
    kv.most_similar("w0", topn=5)
    assert kv.norms is not None and kv._int8 is not None
    new = rng.normal(size=(300, 16)).astype(np.float32)
    kv.vectors = new
    assert kv._norms is None and kv._int8 is None  # freed at once, not just ignored
    assert kv.norms is None
    got = kv.most_similar("w0", topn=5)
    unit = new / np.linalg.norm(new, axis=1, keepdims=True)
    sims = unit @ unit[0]
    expect = [f"w{i}" for i in np.argsort(-sims)[1:6]]
    assert [k for k, _ in got] == expect
    assert np.allclose([s for _, s in got], np.sort(sims)[::-1][1:6], atol=1e-5)
    assert kv._int8 is not None  # rebuilt for the new matrix
    np.testing.assert_allclose(kv.norms, np.linalg.norm(new, axis=1), rtol=1e-6)


def test_training_drops_the_norms_of_poincare_vectors():
    m = PoincareModel(
        [("a", "b"), ("c", "b"), ("d", "c"), ("e", "a")], size=2, negative=1, burn_in=0
    )
    m.kv.fill_norms()
    before = m.kv.norms.copy()
    m.train(epochs=5)
    np.testing.assert_allclose(
        m.kv.get_normed_vectors(),
        m.kv.vectors / np.linalg.norm(m.kv.vectors, axis=1, keepdims=True),
    )
    assert not np.allclose(np.linalg.norm(m.kv.vectors, axis=1), before)
