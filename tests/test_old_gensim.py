"""Models saved by gensim 0.12 to 3.8 (issue 14): loaded through the restricted
unpickler, with the numbers gensim 4.4 itself loads from the same files.

The files are gensim's own test data (installed with gensim); the module is
skipped when gensim is not installed.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from embedrs import _persist
from embedrs.models import KeyedVectors, Word2Vec

gensim_utils = pytest.importorskip("gensim.test.utils")
gensim_models = pytest.importorskip("gensim.models")

OLD_W2V = [f"old_w2v_models/w2v_{v}.mdl" for v in ("1.0.0", "1.0.1", "2.0.0", "2.1.0", "2.2.0")]
OLD_W2V += [f"old_w2v_models/w2v_{v}.mdl" for v in ("2.3.0", "3.0.0", "3.1.0", "3.2.0", "3.3.0")]
OLD_W2V += ["old_w2v_models/w2v_3.4.0.mdl", "old_w2v_models/w2v_0.13.4.mdl"]
#: Files gensim 4.4 opens: one pickle, or one with .npy side files, of 1.x to 3.8.
GENSIM_OPENS = [*OLD_W2V, "word2vec_old", "word2vec_old_sep", "word2vec_3.3"]
GENSIM_OPENS += ["model-from-gensim-3.8.0.w2v"]
#: Word2Vec files older than gensim 1.0 (vectors on the model, Python 2 and 3.4
#: pickles, side files) that gensim 4.4 no longer opens ("no attribute 'wv'").
PRE_1_0 = [f"old_w2v_models/w2v_0.{v}.mdl" for v in ("12.0", "12.4", "13.0", "13.3")]
PRE_1_0 += ["word2vec_pre_kv_py2", "word2vec_pre_kv_py3", "word2vec_pre_kv_py3_4"]
PRE_1_0 += ["word2vec_pre_kv_sep_py2", "word2vec_pre_kv_sep_py3", "word2vec_pre_kv_sep_py3_4"]

PARAMS = ["vector_size", "window", "min_count", "sample", "sg", "hs", "negative", "epochs"]
PARAMS += ["alpha", "min_alpha", "seed", "cbow_mean", "corpus_count", "max_final_vocab"]
PARAMS += ["ns_exponent", "batch_words"]


def data(name: str) -> str:
    return gensim_utils.datapath(name)


@pytest.fixture(scope="module")
def gensim_loaded() -> dict:
    return {name: gensim_models.Word2Vec.load(data(name)) for name in GENSIM_OPENS}


@pytest.mark.parametrize("name", GENSIM_OPENS)
def test_word2vec_as_gensim_loads_it(name: str, gensim_loaded: dict) -> None:
    g = gensim_loaded[name]
    m = Word2Vec.load(data(name))
    assert m.wv.index_to_key == g.wv.index_to_key
    np.testing.assert_array_equal(m.wv.vectors, g.wv.vectors)
    assert m.wv.vectors.dtype == g.wv.vectors.dtype
    np.testing.assert_array_equal(m.wv.expandos["count"], g.wv.expandos["count"])
    for k in PARAMS:
        assert getattr(m, k) == getattr(g, k), k
    assert m.corpus_total_words == g.corpus_total_words
    np.testing.assert_array_equal(m.syn1neg, g.syn1neg)
    if g.hs:
        np.testing.assert_array_equal(m.syn1, g.syn1)
    np.testing.assert_array_equal(m.cum_table, g.cum_table)
    w = g.wv.index_to_key[0]
    assert m.wv.get_vecattr(w, "count") == g.wv.get_vecattr(w, "count")
    ours = m.wv.most_similar(w, topn=2)
    theirs = g.wv.most_similar(w, topn=2)
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-6)


@pytest.mark.parametrize("name", ["old_w2v_models/w2v_3.4.0.mdl", "word2vec_old_sep"])
def test_loaded_old_model_keeps_training(name: str, tmp_path: Path) -> None:
    m = Word2Vec.load(data(name))
    before = m.wv.vectors.copy()
    n = len(m.wv)
    texts = [*gensim_utils.common_texts, ["brand", "new"]] + [m.wv.index_to_key[:3]] * 200
    m.build_vocab(texts, update=True)
    m.train(texts, total_examples=len(texts), epochs=2)
    assert len(m.wv) == len({w for t in texts for w in t} | set(m.wv.index_to_key[:n]))
    assert "brand" in m.wv
    assert m.wv.vectors[:n].shape == before.shape
    assert not np.array_equal(m.wv.vectors[:n], before)
    assert np.isfinite(m.wv.vectors).all()
    assert m.wv.get_vecattr(m.wv.index_to_key[0], "count") > 0
    m.save(str(tmp_path / "grown.bin"))
    again = Word2Vec.load(str(tmp_path / "grown.bin"))
    np.testing.assert_array_equal(again.wv.vectors, m.wv.vectors)
    again.build_vocab(texts, update=True)
    again.train(texts, total_examples=len(texts), epochs=1)


def test_loaded_old_model_round_trips_through_embedrs_format(tmp_path: Path) -> None:
    m = Word2Vec.load(data("word2vec_old"))
    m.save(str(tmp_path / "m.bin"))
    m2 = Word2Vec.load(str(tmp_path / "m.bin"))
    np.testing.assert_array_equal(m2.wv.vectors, m.wv.vectors)
    np.testing.assert_array_equal(m2.syn1neg, m.syn1neg)
    assert m2.wv.index_to_key == m.wv.index_to_key


@pytest.mark.parametrize("mmap", [None, "r"])
def test_side_files_load_and_mmap(tmp_path: Path, mmap: str | None) -> None:
    # the pickle and its .npy files moved elsewhere: found beside the pickle
    src = data("word2vec_old_sep")
    for f in os.listdir(os.path.dirname(src)):
        if f.startswith("word2vec_old_sep"):
            shutil.copy(os.path.join(os.path.dirname(src), f), tmp_path / f)
    g = gensim_models.Word2Vec.load(src)
    m = Word2Vec.load(str(tmp_path / "word2vec_old_sep"), mmap=mmap)
    np.testing.assert_array_equal(m.syn1neg, g.syn1neg)
    np.testing.assert_array_equal(m.wv.vectors, g.wv.vectors)
    if mmap:
        assert isinstance(m.syn1neg, np.memmap)
    os.remove(tmp_path / "word2vec_old_sep.syn1neg.npy")
    with pytest.raises(FileNotFoundError, match="syn1neg"):
        Word2Vec.load(str(tmp_path / "word2vec_old_sep"))


def test_old_keyedvectors_as_gensim_loads_them() -> None:
    g = gensim_models.KeyedVectors.load(data("old_keyedvectors_320.dat"))
    kv = KeyedVectors.load(data("old_keyedvectors_320.dat"))
    assert type(kv) is KeyedVectors
    assert kv.index_to_key == g.index_to_key
    assert kv.vector_size == g.vector_size == 100
    np.testing.assert_array_equal(kv.vectors, g.vectors)
    np.testing.assert_array_equal(kv.expandos["count"], g.expandos["count"])
    np.testing.assert_array_equal(kv["computer"], g["computer"])
    assert [k for k, _ in kv.most_similar("computer", topn=3)] == [
        k for k, _ in g.most_similar("computer", topn=3)
    ]
    with pytest.raises(ValueError, match="not a Word2Vec"):
        Word2Vec.load(data("old_keyedvectors_320.dat"))


@pytest.mark.parametrize("name", GENSIM_OPENS[::4])
def test_keyedvectors_load_of_old_models(name: str, gensim_loaded: dict) -> None:
    kv = KeyedVectors.load(data(name))
    g = gensim_loaded[name].wv
    assert kv.index_to_key == g.index_to_key
    np.testing.assert_array_equal(kv.vectors, g.vectors)


def _reference_pickle(name: str) -> dict:
    """The file's attributes as Python's own unpickler reads them (gensim's test data: trusted)."""
    import gensim.utils

    obj = gensim.utils.unpickle(data(name))
    st = dict(obj.__dict__)
    for attr in st.get("__numpys", []):
        st[attr] = np.load(f"{data(name)}.{attr}.npy")
    return st


@pytest.mark.parametrize("name", PRE_1_0)
def test_word2vec_from_before_gensim_1(name: str) -> None:
    ref = _reference_pickle(name)
    m = Word2Vec.load(data(name))
    assert m.wv.index_to_key == ref["index2word"]
    np.testing.assert_array_equal(m.wv.vectors, ref["syn0"])
    counts = [ref["vocab"][w].count for w in ref["index2word"]]
    np.testing.assert_array_equal(m.wv.expandos["count"], counts)
    assert m.epochs == ref.get("iter", 5)
    assert (m.sg, m.hs, m.negative, m.window) == (
        ref["sg"],
        ref["hs"],
        ref["negative"],
        ref["window"],
    )
    if ref["negative"]:
        np.testing.assert_array_equal(m.syn1neg, ref["syn1neg"])
    m.build_vocab([ref["index2word"][:2]] * 3, update=True)
    m.train([ref["index2word"][:2]] * 3, total_examples=3, epochs=1)
    assert np.isfinite(m.wv.vectors).all()


def test_python2_pickle_strings_decode_as_gensim_does() -> None:
    # gensim unpickles Python 2 files with encoding='latin1': so does embedrs
    ref = _reference_pickle("word2vec_pre_kv_py2")
    m = Word2Vec.load(data("word2vec_pre_kv_py2"))
    assert m.wv.index_to_key == ref["index2word"]
    assert all(isinstance(k, str) for k in m.wv.index_to_key)


# ----------------------------------------------------------------------------- hardening


def _py2_pickle(body: bytes) -> bytes:
    return b"\x80\x02" + body + b"."


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def test_randomstate_ctor_is_an_inert_stand_in(tmp_path: Path) -> None:
    # numpy.random.__RandomState_ctor is named, never called: calling it with
    # anything still builds nothing but a stand-in, and no real RandomState
    p = tmp_path / "m.pkl"
    p.write_bytes(_py2_pickle(_global("numpy.random", "__RandomState_ctor") + b")R"))
    with pytest.raises(ValueError, match="not a gensim model|holds no vectors|before 4.0"):
        KeyedVectors.load(str(p))
    with open(p, "rb") as fh:
        obj = _persist._RestrictedUnpickler(fh).load()
    assert isinstance(obj, _persist.GensimObject)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (_global("os", "system") + b"U\x04true\x85R", "refusing to load os.system"),
        (_global("__builtin__", "eval") + b"U\x041+1\x85R", "refusing to load __builtin__.eval"),
        (_global("__builtin__", "getattr") + b"N\x86R", "refusing to load __builtin__.getattr"),
        (_global("UserString", "UserString") + b")R", "refusing to load UserString.UserString"),
        (_global("_codecs", "encode") + b"X\x02\x00\x00\x00\xc3\xa9U\x05utf-8\x86R", "latin-1"),
    ],
)
def test_py2_pickles_still_refuse_code(tmp_path: Path, body: bytes, match: str) -> None:
    p = tmp_path / "evil.pkl"
    p.write_bytes(_py2_pickle(body))
    with pytest.raises(pickle.UnpicklingError, match=match):
        Word2Vec.load(str(p))


def test_py2_object_array_from_raw_bytes_is_refused(tmp_path: Path) -> None:
    # a Python 2 numpy array whose data (a py2 str) claims dtype object
    arr = (
        _global("numpy.core.multiarray", "_reconstruct")
        + _global("numpy", "ndarray")
        + b"K\x00\x85U\x01b\x87R"
        + b"(K\x01K\x01\x85"
        + _global("numpy", "dtype")
        + b"U\x02O8K\x00K\x01\x87R"
        + b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb"
        + b"\x89U\x08AAAAAAAAtb"
    )
    p = tmp_path / "evil.pkl"
    p.write_bytes(_py2_pickle(arr))
    with pytest.raises(pickle.UnpicklingError, match="object arrays"):
        KeyedVectors.load(str(p))


def _old_model_with_vocab(vocab_index: int) -> bytes:
    """A gensim 1.x-like KeyedVectors pickle whose one Vocab record has this index."""
    gkv = pytest.importorskip("gensim.models.keyedvectors")

    kv = gkv.KeyedVectors.__new__(gkv.KeyedVectors)
    rec = gkv.CompatVocab.__new__(gkv.CompatVocab)
    rec.__dict__.update(index=vocab_index, count=3, sample_int=7)
    kv.__dict__ = {"syn0": np.ones((1, 2), np.float32), "index2word": ["a"], "vocab": {"a": rec}}
    return pickle.dumps(kv, protocol=2)


def test_old_vocab_records_are_validated(tmp_path: Path) -> None:
    p = tmp_path / "kv.pkl"
    p.write_bytes(_old_model_with_vocab(0))
    kv = KeyedVectors.load(str(p))
    assert kv.index_to_key == ["a"] and kv.get_vecattr("a", "count") == 3
    for bad in (1, -1):
        p.write_bytes(_old_model_with_vocab(bad))
        with pytest.raises(ValueError, match="invalid entry for 'a'"):
            KeyedVectors.load(str(p))
