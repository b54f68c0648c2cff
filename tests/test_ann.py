"""embedrs.similarities.HnswIndexer: recall against exact search, gensim's indexer
protocol, metrics, batches, persistence (atomic, memory-mapped) and bad input."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from embedrs.models import Doc2Vec, KeyedVectors, Word2Vec
from embedrs.models.doc2vec import TaggedDocument
from embedrs.similarities import HnswIndexer


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(2, n // 50), dim)).astype(np.float32)
    pick = rng.integers(0, len(centres), n)
    return (centres[pick] + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)


def exact_top(v: np.ndarray, q: np.ndarray, k: int, cosine: bool = True) -> list[int]:
    if cosine:
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        q = q / np.linalg.norm(q)
    return list(np.argsort(-(v @ q), kind="stable")[:k])


def test_recall_at_10_against_exact_search_is_high() -> None:
    v = clustered(3000, 24)
    idx = HnswIndexer.from_vectors(v, m=16, ef_construction=100, ef_search=64, workers=2)
    assert len(idx) == 3000
    rng = np.random.default_rng(1)
    hits = 0
    for i in rng.integers(0, len(v), 100):
        got = [k for k, _ in idx.most_similar(v[i], 10)]
        hits += len(set(got) & set(exact_top(v, v[i], 10)))
    assert hits / 1000 >= 0.95


def test_scores_are_cosines_and_dots() -> None:
    v = clustered(300, 8, seed=2)
    q = v[5] * 3.0
    cos = HnswIndexer.from_vectors(v, ef_search=300, workers=1)
    for key, s in cos.most_similar(q, 5):
        want = v[key] @ q / np.linalg.norm(v[key]) / np.linalg.norm(q)
        assert s == pytest.approx(want, abs=1e-4)
    assert cos.most_similar(q, 1)[0][0] == 5  # the query's own row, as gensim's AnnoyIndexer
    dot = HnswIndexer.from_vectors(v, metric="dot", ef_search=300, workers=1)
    res = dot.most_similar(q, 5)
    for key, s in res:
        assert s == pytest.approx(float(v[key] @ q), rel=1e-4, abs=1e-4)
    assert [k for k, _ in res] == exact_top(v, q, 5, cosine=False)


def test_kv_most_similar_with_indexer_as_in_gensim() -> None:
    rng = np.random.default_rng(3)
    kv = KeyedVectors(16)
    keys = [f"w{i}" for i in range(500)]
    kv.add_vectors(keys, clustered(500, 16, seed=3))
    idx = HnswIndexer(kv, ef_search=200, workers=1)  # one thread: a reproducible graph
    assert idx.labels == keys
    word = keys[int(rng.integers(0, 500))]
    approx = kv.most_similar(word, topn=5, indexer=idx)
    exact = kv.most_similar(word, topn=5)
    # gensim's indexer answer includes the query key itself, first
    assert approx[0][0] == word and approx[0][1] == pytest.approx(1.0, abs=1e-4)
    assert [k for k, _ in approx[1:]] == [k for k, _ in exact[:4]]


def test_batch_matches_single_queries() -> None:
    v = clustered(800, 12, seed=4)
    idx = HnswIndexer.from_vectors(v, keys=[f"k{i}" for i in range(800)], ef_search=100)
    batch = idx.most_similar_batch(v[:20], 7)
    assert batch == [idx.most_similar(q, 7) for q in v[:20]]
    # more neighbours than rows: every row, no padding leaks out
    small = HnswIndexer.from_vectors(v[:3])
    assert len(small.most_similar_batch(v[:2], 10)[0]) == 3


def test_models_word2vec_wv_and_doc2vec_dv() -> None:
    rng = np.random.default_rng(5)
    vocab = [f"t{i}" for i in range(50)]
    corpus = [list(rng.choice(vocab, size=10)) for _ in range(200)]
    w2v = Word2Vec(corpus, vector_size=16, min_count=1, epochs=2, workers=1, seed=1)
    assert HnswIndexer(w2v).labels == list(w2v.wv.index_to_key)
    docs = [TaggedDocument(words, [f"doc{i}"]) for i, words in enumerate(corpus[:60])]
    d2v = Doc2Vec(docs, vector_size=16, min_count=1, epochs=2, workers=1, seed=1)
    idx = HnswIndexer(d2v)  # gensim's rule: a Doc2Vec model indexes its document vectors
    assert len(idx) == 60 and idx.labels[0] == "doc0"
    assert idx.most_similar(d2v.dv["doc7"], 1)[0][0] == "doc7"


@pytest.mark.parametrize("mmap", ["r", None])
def test_save_load_round_trip(tmp_path: Path, mmap: str | None) -> None:
    v = clustered(600, 10, seed=6)
    keys = [f"word{i}" for i in range(600)]
    idx = HnswIndexer.from_vectors(v, keys=keys, m=12, ef_search=80, metric="dot")
    path = tmp_path / "index.hnsw"
    idx.save(path)
    back = HnswIndexer.load(path, mmap=mmap)
    assert (back.m, back.ef_search, back.metric, back.labels) == (12, 80, "dot", keys)
    for q in v[:10]:
        got = back.most_similar(q, 5)
        assert got == idx.most_similar(q, 5)
        # the distance kernel is installed again on the loaded or mapped graph:
        # its scores are the inner products, whatever the query's layout
        for key, s in got:
            assert s == pytest.approx(float(v[keys.index(key)] @ q), rel=1e-4, abs=1e-4)
        assert back.most_similar(q.astype(np.float64), 5) == got
        assert back.most_similar(np.repeat(q, 2)[::2], 5) == got  # strided
    back.ef_search = 10  # settable on a loaded (also a mapped) index
    assert len(back.most_similar(v[0], 5)) == 5


def test_save_is_atomic_and_refuses_other_files(tmp_path: Path) -> None:
    v = clustered(100, 4, seed=7)
    path = tmp_path / "index.hnsw"
    # searched exhaustively, so the self-match asserted below is exact
    HnswIndexer.from_vectors(v, ef_search=200).save(path)
    before = path.read_bytes()
    old = HnswIndexer.load(path)  # mapped: keeps reading the old file after a replace

    class Boom(Exception):
        pass

    bad = HnswIndexer.from_vectors(v[:50])
    bad.labels = [object()] * 50  # keys that cannot be stored: nothing may be written
    with pytest.raises(TypeError):
        bad.save(path)
    assert path.read_bytes() == before
    HnswIndexer.from_vectors(v[:50]).save(path)
    assert len(HnswIndexer.load(path)) == 50
    assert len(old) == 100 and old.most_similar(v[3], 1)[0][0] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.hnsw"]

    kv = KeyedVectors(4)
    kv.add_vectors(["a", "b"], v[:2])
    kv.save(str(tmp_path / "kv.model"))
    with pytest.raises(ValueError, match="not an HnswIndexer"):
        HnswIndexer.load(tmp_path / "kv.model")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError):
        HnswIndexer.load(garbage)
    data = bytearray(before)
    data[-200:] = b"\xff" * 200  # damaged graph bytes: the checksum catches them
    (tmp_path / "damaged").write_bytes(bytes(data))
    with pytest.raises(ValueError):
        HnswIndexer.load(tmp_path / "damaged", mmap=None)


@pytest.mark.parametrize("mmap", ["r", None])
def test_a_damaged_graph_with_good_checksums_is_refused(tmp_path: Path, mmap: str | None) -> None:
    """The graph is checked when opened, not only the file's checksums: a file
    whose neighbour lists point outside the index is refused, never followed."""
    from embedrs import _persist

    v = clustered(60, 8, seed=9)
    path = tmp_path / "index.hnsw"
    HnswIndexer.from_vectors(v, metric="dot").save(path)
    meta, arrays = _persist.read_container(str(path), mmap=None, verify=True)
    graph = np.array(arrays["graph"], dtype=np.uint8)
    # the first level-0 list follows the 128-byte header and the vectors
    level0 = -(-(128 + 60 * 8 * 4) // 64) * 64
    graph[level0 + 4 : level0 + 8] = np.frombuffer(np.uint32(10_000).tobytes(), np.uint8)
    arrays = {**arrays, "graph": graph}
    _persist.write_container(str(tmp_path / "bad.hnsw"), meta, arrays)
    with pytest.raises(ValueError, match="damaged HNSW index"):
        HnswIndexer.load(tmp_path / "bad.hnsw", mmap=mmap)
    # a file from the usearch-based format is refused with what to do
    _persist.write_container(str(tmp_path / "old.hnsw"), {**meta, "hnsw_version": 1}, arrays)
    with pytest.raises(ValueError, match="rebuild it"):
        HnswIndexer.load(tmp_path / "old.hnsw", mmap=mmap)
    # the metric recorded in the metadata must be the graph's
    _persist.write_container(
        str(tmp_path / "metric.hnsw"),
        {**meta, "metric": "cosine"},
        {**arrays, "graph": np.array(_persist.read_container(str(path))[1]["graph"])},
    )
    with pytest.raises(ValueError, match="metric"):
        HnswIndexer.load(tmp_path / "metric.hnsw", mmap=mmap)


def test_bad_input_raises_clear_errors() -> None:
    v = clustered(50, 4, seed=8)
    with pytest.raises(ValueError, match="m"):
        HnswIndexer.from_vectors(v, m=1)
    with pytest.raises(ValueError, match="metric"):
        HnswIndexer.from_vectors(v, metric="l2")
    with pytest.raises(ValueError, match="keys"):
        HnswIndexer.from_vectors(v, keys=["a"])
    with pytest.raises(ValueError, match="NaN or infinite"):
        HnswIndexer.from_vectors(np.full((3, 4), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="2-d"):
        HnswIndexer.from_vectors(np.zeros(4, dtype=np.float32))
    with pytest.raises(TypeError):
        HnswIndexer(object())
    idx = HnswIndexer.from_vectors(v)
    with pytest.raises(ValueError, match="values"):
        idx.most_similar(np.zeros(3), 5)
    with pytest.raises(ValueError, match="NaN"):
        idx.most_similar(np.array([np.nan, 0, 0, 0]), 5)
    with pytest.raises(ValueError):
        idx.most_similar(v[0], -1)
    with pytest.raises(RuntimeError, match="empty"):
        HnswIndexer().most_similar(v[0], 3)
    assert idx.most_similar(v[0], 0) == []


def test_many_threads_query_one_index() -> None:
    v = clustered(2000, 16, seed=9)
    idx = HnswIndexer.from_vectors(v, ef_search=64)
    want = {i: idx.most_similar(v[i], 5) for i in range(0, 2000, 50)}
    errors: list[BaseException] = []

    def worker(j: int) -> None:
        try:
            for _ in range(5):
                for i in range(j * 50 % 2000, 2000, 50 * 16):
                    assert idx.most_similar(v[i], 5) == want[i]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(j,)) for j in range(96)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
