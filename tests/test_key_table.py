"""Keys of a loaded model looked up in place (``KeyTable``): the same answers as
the list and dict, which are only built when asked for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from embedrs import _embedrs
from embedrs.models import KeyedVectors


def saved(tmp_path: Path, keys: list, dim: int = 4) -> Path:
    kv = KeyedVectors(dim)
    rng = np.random.default_rng(0)
    kv.add_vectors(keys, rng.normal(size=(len(keys), dim)).astype(np.float32))
    path = tmp_path / "kv.model"
    kv.save(str(path))
    return path


@pytest.mark.parametrize("mmap", ["r", None])
def test_lookups_answer_without_listing_the_keys(tmp_path: Path, mmap: str | None) -> None:
    keys = [f"w{i}" for i in range(300)] + ["héllo", "日本", ""]
    path = saved(tmp_path, keys)
    kv = KeyedVectors.load(str(path), mmap=mmap)
    assert kv._keytab is not None and kv._index_to_key is None
    assert len(kv) == len(keys)
    for i, k in enumerate(keys):
        assert kv.get_index(k) == i and k in kv
    assert np.array_equal(kv["héllo"], kv.vectors[300])
    assert "w300" not in kv and kv.get_index("w300", -1) == -1
    with pytest.raises(KeyError, match="w300"):
        kv["w300"]
    assert kv.get_index(5) == 5  # an int key in range is its own row, as before
    with pytest.raises(TypeError):
        kv.get_index(["w1"])  # unhashable, as with the dict
    res = kv.most_similar("w7", topn=5)
    assert len(res) == 5 and all(isinstance(k, str) and k != "w7" for k, _ in res)
    assert kv.most_similar_batch(["w1", "w2"], topn=3)[0][0][0] in keys
    assert kv._keytab is not None and kv._index_to_key is None  # still not listed
    # asking for the list builds it, and from then on it is the truth
    assert kv.index_to_key == keys
    assert kv._keytab is None
    assert kv.most_similar("w7", topn=5) == res


def test_the_listed_keys_can_change_after_a_load(tmp_path: Path) -> None:
    path = saved(tmp_path, ["a", "b", "c"])
    kv = KeyedVectors.load(str(path))
    kv.add_vectors(["d"], np.ones((1, 4), np.float32))
    assert kv.get_index("d") == 3 and len(kv) == 4
    kv = KeyedVectors.load(str(path))
    kv.key_to_index = {"x": 0, "y": 1, "z": 2}  # a dict set by the user wins
    assert kv.get_index("x") == 0 and "a" not in kv
    kv = KeyedVectors.load(str(path))
    kv.index_to_key = ["p", "q", "r"]
    assert kv.get_index("q") == 1 and "b" not in kv


def test_repeated_keys_find_their_first_row_as_the_dict_does(tmp_path: Path) -> None:
    kv = KeyedVectors(2)
    kv.index_to_key = ["a", "b", "a"]
    kv.vectors = np.eye(3, 2, dtype=np.float32)
    path = tmp_path / "dup.model"
    kv.save(str(path))
    back = KeyedVectors.load(str(path))
    assert back._keytab is not None
    assert back.get_index("a") == 0 and len(back) == 3
    assert back.index_to_key == ["a", "b", "a"] and back.key_to_index["a"] == 0


def test_pickling_a_loaded_model_keeps_its_keys(tmp_path: Path) -> None:
    import pickle

    path = saved(tmp_path, ["x", "y"])
    kv = KeyedVectors.load(str(path))
    back = pickle.loads(pickle.dumps(kv))
    assert back.index_to_key == ["x", "y"] and back.get_index("y") == 1


def test_the_table_refuses_a_blob_that_does_not_match() -> None:
    blob = np.frombuffer(b"a\nb\nc", dtype=np.uint8)
    t = _embedrs.KeyTable(blob, 3)
    assert (t.index("b"), t.index("d"), t[-1], t.keys()) == (1, -1, "c", ["a", "b", "c"])
    assert t.index("\ud800") == -1  # not UTF-8: never stored
    with pytest.raises(IndexError):
        t[3]
    with pytest.raises(ValueError, match="2 keys are stored, 3 expected"):
        _embedrs.KeyTable(np.frombuffer(b"a\nb", dtype=np.uint8), 3)
    with pytest.raises(ValueError, match="UTF-8"):
        _embedrs.KeyTable(np.frombuffer(b"a\n\xff", dtype=np.uint8), 2)


def test_a_corrupt_key_blob_is_named_at_load(tmp_path: Path) -> None:
    from embedrs import _persist

    meta = {"keys": "utf8-lines"}
    arrays = {"keys": np.frombuffer(b"a\n\xffb", dtype=np.uint8)}
    with pytest.raises(ValueError, match="m.bin: corrupt model: .*UTF-8"):
        _persist.key_table(meta, arrays, 2, fname="m.bin")
    with pytest.raises(ValueError, match="m.bin: corrupt model: 2 keys are stored, 5"):
        _persist.key_table(meta, {"keys": np.frombuffer(b"a\nb", np.uint8)}, 5, fname="m.bin")
    assert _persist.key_table({"keys": "int64"}, {}, 0) is None


def test_an_int8_file_is_shared_exact_and_refused_for_other_vectors(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    kv = KeyedVectors(16)
    kv.add_vectors([f"k{i}" for i in range(3000)], rng.normal(size=(3000, 16)).astype(np.float32))
    kv.int8_min_size = 1  # use the int8 pass at this size
    queries = ["k0", "k7", "k2999"]
    want = [kv.most_similar(q, topn=8) for q in queries]
    model = tmp_path / "kv.model"
    kv.save(str(model))
    path = tmp_path / "v.int8"

    def load() -> KeyedVectors:
        out = KeyedVectors.load(str(model), mmap="r")
        out.int8_min_size = 1
        return out

    parent = load()
    assert parent.use_int8_file(path) is True  # built and saved
    assert parent._int8[1].is_mapped
    assert [parent.most_similar(q, topn=8) for q in queries] == want
    # another process-like load of the same file maps it: no build, norms from the file
    worker = load()
    assert worker.use_int8_file(path, build=False) is False
    assert isinstance(worker.norms, np.memmap)
    assert np.allclose(worker.norms, np.linalg.norm(kv.vectors, axis=1), rtol=1e-6)
    assert [worker.most_similar(q, topn=8) for q in queries] == want
    assert worker.most_similar_batch(queries[:2], topn=8) == want[:2]
    # vectors in memory are tied by their values: the mapped file's copy is not theirs
    with pytest.raises(ValueError, match="built from other vectors"):
        kv.use_int8_file(path, build=False)
    own = tmp_path / "own.int8"
    assert kv.use_int8_file(own) is True and kv.use_int8_file(own, build=False) is False
    assert [kv.most_similar(q, topn=8) for q in queries] == want
    changed = KeyedVectors.load(str(model))
    changed.vectors = changed.vectors * 2.0 + 1.0
    with pytest.raises(ValueError, match="built from other vectors"):
        changed.use_int8_file(own, build=False)
    # the model file saved again (a new file): its loads no longer match the old copy
    kv.save(str(model))
    with pytest.raises(ValueError, match="built from other vectors"):
        load().use_int8_file(path, build=False)
    assert load().use_int8_file(path) is True
    with pytest.raises(FileNotFoundError):
        kv.use_int8_file(tmp_path / "missing.int8", build=False)
    (tmp_path / "junk.int8").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not an embedrs int8 index"):
        kv.use_int8_file(tmp_path / "junk.int8", build=False)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["junk.int8", "kv.model", "own.int8", "v.int8"]


@pytest.mark.parametrize("mmap", ["r", None])
def test_a_loaded_doc2vec_infers_through_the_table_as_through_the_dict(
    tmp_path: Path, mmap: str | None
) -> None:
    from embedrs.models.doc2vec import Doc2Vec, TaggedDocument

    rng = np.random.default_rng(8)
    vocab = [f"t{i}" for i in range(60)]
    docs = [TaggedDocument(list(rng.choice(vocab, size=12)), [i]) for i in range(80)]
    model = Doc2Vec(docs, vector_size=12, min_count=1, epochs=3, workers=1, seed=2)
    path = tmp_path / "d2v.model"
    model.save(str(path))
    back = Doc2Vec.load(str(path), mmap=mmap)
    assert back.wv._keytab is not None
    words = ["t1", "t5", "unknown", "t9", "t1"]
    got = back.infer_vector(words, seed=3)
    many = back.infer_vectors([words, ["t2"]], seed=3)
    assert back.wv._keytab is not None  # inference listed no keys
    with pytest.raises(TypeError):
        back.infer_vector(["t1", ["unhashable"]])  # as the dict lookup would
    assert np.array_equal(got, model.infer_vector(words, seed=3))
    assert np.array_equal(many, model.infer_vectors([words, ["t2"]], seed=3))
    back.wv.index_to_key  # noqa: B018 - from now on the dict answers
    assert np.array_equal(back.infer_vector(words, seed=3), got)
