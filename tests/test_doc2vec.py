"""Doc2Vec: paragraph vectors learn planted topics, gensim's API and layout, inference, bad input."""

from __future__ import annotations

import gzip
import inspect
import io
import logging
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from embedrs.models import Doc2Vec as Doc2VecFromModels
from embedrs.models import KeyedVectors
from embedrs.models.doc2vec import Doc2Vec, TaggedDocument, TaggedLineDocument

N_TOPICS = 4
WORDS_PER_TOPIC = 15
N_COMMON = 40


def topic_words(topic: int, length: int, rng: np.random.Generator) -> list[str]:
    """Half common words shared by all topics, half words of ``topic``'s own vocabulary.

    The common words make the context of a word a poor guide to its topic, so
    PV-DM has to learn the topic in the document vector (with topic words
    only, the context alone predicts the next word and the tag learns little).
    """
    return [
        f"c{rng.integers(N_COMMON)}"
        if rng.random() < 0.5
        else f"t{topic}w{rng.integers(WORDS_PER_TOPIC)}"
        for _ in range(length)
    ]


def topic_docs(
    n_docs: int = 240, length: int = 30, seed: int = 0, tag: str = "int"
) -> list[TaggedDocument]:
    """Documents whose topic words come from one of four disjoint topic vocabularies.

    The topic of document ``i`` is ``i % N_TOPICS``. ``tag`` chooses the tags:
    ``"int"`` (``[i]``), ``"str"`` (``["d<i>"]``) or ``"mixed"`` (even documents
    get ``[i // 2]``, odd ones ``["d<i>"]``).
    """
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n_docs):
        words = topic_words(i % N_TOPICS, length, rng)
        if tag == "int":
            tags: list = [i]
        elif tag == "str":
            tags = [f"d{i}"]
        else:
            tags = [i // 2] if i % 2 == 0 else [f"d{i}"]
        docs.append(TaggedDocument(words, tags))
    return docs


def doc_topic(model: Doc2Vec, docs: list[TaggedDocument]) -> dict:
    return {d.tags[0]: i % N_TOPICS for i, d in enumerate(docs)}


def dv_topic_accuracy(model: Doc2Vec, docs: list[TaggedDocument], topn: int = 5) -> float:
    """Share of each document's ``topn`` nearest documents in ``dv`` that share its topic."""
    topic = doc_topic(model, docs)
    hits = total = 0
    for tag, t in topic.items():
        for other, _ in model.dv.most_similar(tag, topn=topn):
            hits += topic[other] == t
            total += 1
    return hits / total


def same_minus_cross(model: Doc2Vec, docs: list[TaggedDocument]) -> float:
    """Mean cosine between same-topic documents minus that between different-topic ones."""
    rows = [model.dv.get_index(d.tags[0]) for d in docs]
    v = model.dv.vectors[rows]
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    sims = v @ v.T
    t = np.arange(len(docs)) % N_TOPICS
    same = t[:, None] == t[None, :]
    np.fill_diagonal(same, False)
    cross = t[:, None] != t[None, :]
    return float(sims[same].mean() - sims[cross].mean())


SMALL = {"vector_size": 16, "window": 3, "min_count": 1, "workers": 2, "sample": 0}


# ----------------------------------------------------------------------------
# gensim's API: parameters, defaults, layout
# ----------------------------------------------------------------------------


def test_exported_like_gensim() -> None:
    assert Doc2VecFromModels is Doc2Vec
    from embedrs import corpora

    assert corpora.TaggedDocument is TaggedDocument
    assert corpora.TaggedLineDocument is TaggedLineDocument


def test_parameter_defaults_equal_gensim() -> None:
    gensim_d2v = pytest.importorskip("gensim.models.doc2vec")
    ours, theirs = Doc2Vec(), gensim_d2v.Doc2Vec()
    for name in (
        "vector_size",
        "window",
        "alpha",
        "min_alpha",
        "seed",
        "min_count",
        "max_vocab_size",
        "max_final_vocab",
        "sample",
        "workers",
        "epochs",
        "hs",
        "negative",
        "ns_exponent",
        "cbow_mean",
        "sg",
        "dm",
        "dbow",
        "dbow_words",
        "dm_concat",
        "dm_tag_count",
        "null_word",
        "shrink_windows",
        "sorted_vocab",
        "batch_words",
        "layer1_size",
        "comment",
    ):
        assert getattr(ours, name) == getattr(theirs, name), name
    g_sig = inspect.signature(gensim_d2v.Doc2Vec.__init__).parameters
    o_sig = inspect.signature(Doc2Vec.__init__).parameters
    for name, p in g_sig.items():
        if name in ("self", "kwargs"):
            continue
        assert name in o_sig, name
        assert o_sig[name].default == p.default, name


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"dm": 0},
        {"dm": 0, "dbow_words": 1, "hs": 1, "negative": 0},
        {"dm_concat": 1, "window": 2, "vector_size": 10, "dm_tag_count": 2},
        {"dm_mean": 0, "cbow_mean": 0, "min_count": 1, "sample": 0, "workers": 1},
        {"negative": 12, "sample": 0, "min_count": 1},
    ],
)
def test_str_layer1_and_memory_estimate_equal_gensim(kwargs: dict) -> None:
    gensim_d2v = pytest.importorskip("gensim.models.doc2vec")
    ours = Doc2Vec(**kwargs)
    theirs = gensim_d2v.Doc2Vec(**kwargs)
    assert str(ours) == str(theirs)
    assert ours.layer1_size == theirs.layer1_size
    docs = topic_docs(20, tag="mixed")
    ours.build_vocab(docs)
    theirs.build_vocab(docs)
    assert ours.estimated_lookup_memory() == theirs.estimated_lookup_memory()
    assert ours.estimate_memory() == theirs.estimate_memory()
    if ours.negative:
        assert ours.syn1neg.shape == theirs.syn1neg.shape
    if ours.hs:
        assert ours.syn1.shape == theirs.syn1.shape


def test_comment_is_shown() -> None:
    # gensim 4.4 drops Doc2Vec's comment (never passes it on); here str() shows it
    assert str(Doc2Vec(comment="hello", workers=1)) == 'Doc2Vec<"hello",dm/m,d100,n5,w5,mc5,s0.001>'


def test_dm_mean_zero_means_sum() -> None:
    # gensim 4.4 overrides dm_mean=0 with cbow_mean's default 1; here it is the sum
    assert Doc2Vec(dm_mean=0).cbow_mean == 0
    assert Doc2Vec(dm_mean=0).dm_mean == 0
    assert str(Doc2Vec(dm_mean=0)).startswith("Doc2Vec<dm/s")
    assert Doc2Vec(dm_mean=1).cbow_mean == 1


@pytest.mark.parametrize("tag", ["int", "str", "mixed"])
def test_dv_layout_equals_gensim(tag: str) -> None:
    gensim_d2v = pytest.importorskip("gensim.models.doc2vec")
    docs = topic_docs(41, tag=tag)
    # a second tag on some documents, and an int tag beyond the document count
    docs[3] = TaggedDocument(docs[3].words, [*docs[3].tags, "extra"])
    docs[5] = TaggedDocument(docs[5].words, [*docs[5].tags, "extra"])
    if tag != "str":
        docs[7] = TaggedDocument(docs[7].words, [*docs[7].tags, 60])
    ours = Doc2Vec(vector_size=8, min_count=1)
    theirs = gensim_d2v.Doc2Vec(vector_size=8, min_count=1)
    ours.build_vocab(docs)
    theirs.build_vocab(docs)
    assert ours.dv.index_to_key == theirs.dv.index_to_key
    assert ours.dv.key_to_index == theirs.dv.key_to_index
    assert set(ours.dv.expandos) == set(theirs.dv.expandos)
    for name, arr in theirs.dv.expandos.items():
        np.testing.assert_array_equal(ours.dv.expandos[name], arr)
    assert (ours.corpus_count, ours.corpus_total_words) == (
        theirs.corpus_count,
        theirs.corpus_total_words,
    )
    assert sorted(ours.wv.index_to_key) == sorted(theirs.wv.index_to_key)
    # the same initial document vectors: gensim's generator, seeded seed + 7919
    np.testing.assert_array_equal(ours.dv.vectors, theirs.dv.vectors)
    for key in ("extra", docs[1].tags[0], docs[2].tags[0]):
        assert ours.dv.get_index(key) == theirs.dv.get_index(key)


def test_corpus_file_layout_equals_tagged_line_document(tmp_path: Path) -> None:
    path = tmp_path / "docs.txt"
    path.write_text("a b c\n\nb c d d\nc\n", encoding="utf8")
    from_file = Doc2Vec(vector_size=8, min_count=1)
    from_file.build_vocab(corpus_file=str(path))
    from_iter = Doc2Vec(vector_size=8, min_count=1)
    from_iter.build_vocab(TaggedLineDocument(path))
    assert from_file.dv.index_to_key == from_iter.dv.index_to_key == [0, 1, 2, 3]
    assert from_file.corpus_count == from_iter.corpus_count == 4
    assert from_file.corpus_total_words == from_iter.corpus_total_words == 8
    assert dict(zip(from_file.wv.index_to_key, from_file.wv.expandos["count"])) == dict(
        zip(from_iter.wv.index_to_key, from_iter.wv.expandos["count"])
    )


@pytest.mark.parametrize("dm", [0, 1])
def test_tagged_line_document_over_a_file_is_read_in_rust_with_the_same_result(
    tmp_path: Path, dm: int
) -> None:
    from embedrs.models.doc2vec import _native_tagged_lines

    lines = [" ".join(d.words) for d in topic_docs(120)]
    lines[4] = ""  # an empty line is a document without words
    lines[7] = "oov only\r"
    lines[9] = " ".join(["c1", "c2"] * 5100)  # more than 10,000 words: cut, one tag
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(lines), encoding="utf8")  # no final newline
    docs = TaggedLineDocument(path)
    assert _native_tagged_lines(docs) is not None
    in_memory = list(docs)
    params = dict(vector_size=12, min_count=2, workers=1, seed=4, epochs=2, dm=dm, batch_words=700)
    rust, python = Doc2Vec(docs, **params), Doc2Vec(in_memory, **params)
    assert rust.wv.index_to_key == python.wv.index_to_key
    assert rust.dv.index_to_key == python.dv.index_to_key == list(range(120))
    assert rust.corpus_count == python.corpus_count == 120
    assert rust.corpus_total_words == python.corpus_total_words
    assert np.array_equal(rust.dv.vectors, python.dv.vectors)
    assert np.array_equal(rust.wv.vectors, python.wv.vectors)
    assert np.array_equal(rust.syn1neg, python.syn1neg)
    # fewer int rows than lines: the Python feed reports the first unknown tag
    other = Doc2Vec(**params)
    other.build_vocab(in_memory[:60])
    assert other._tags_are_line_numbers(60) and not other._tags_are_line_numbers(120)
    with pytest.raises(KeyError, match="document tag 60"):
        other.train(docs, total_examples=120, epochs=1)
    # max_vocab_size: Python's scan (it prunes after empty documents too)
    pruned = Doc2Vec(max_vocab_size=30, **params)
    pruned_py = Doc2Vec(max_vocab_size=30, **params)
    pruned.build_vocab(docs)
    pruned_py.build_vocab(in_memory)
    assert pruned.wv.index_to_key == pruned_py.wv.index_to_key


def test_tagged_line_document_paths_files_and_gzip(tmp_path: Path) -> None:
    text = "hello world\n\n  spaced   out  \nlast line without newline"
    plain = tmp_path / "d.txt"
    plain.write_text(text, encoding="utf8")
    gz = tmp_path / "d.txt.gz"
    with gzip.open(gz, "wt", encoding="utf8") as f:
        f.write(text)
    expected = [
        TaggedDocument(["hello", "world"], [0]),
        TaggedDocument([], [1]),
        TaggedDocument(["spaced", "out"], [2]),
        TaggedDocument(["last", "line", "without", "newline"], [3]),
    ]
    assert list(TaggedLineDocument(plain)) == expected
    assert list(TaggedLineDocument(str(gz))) == expected
    stream = io.BytesIO(text.encode("utf8"))
    corpus = TaggedLineDocument(stream)
    assert list(corpus) == expected
    assert list(corpus) == expected  # rewound for the second pass
    with pytest.raises(FileNotFoundError):
        TaggedLineDocument(tmp_path / "missing.txt")
    assert str(expected[0]) == "TaggedDocument<['hello', 'world'], [0]>"


def test_tagged_brown_corpus_equals_gensim(tmp_path: Path) -> None:
    gensim_d2v = pytest.importorskip("gensim.models.doc2vec")
    from embedrs.models.doc2vec import TaggedBrownCorpus

    (tmp_path / "ca01").write_text(
        "The/at Fulton/np-tl said/vbd ,/, ./.\n\n,/, ./.\nIt/pps was/bedz\n", encoding="utf8"
    )
    ours = [(d.words, d.tags) for d in TaggedBrownCorpus(tmp_path)]
    theirs = [(d.words, d.tags) for d in gensim_d2v.TaggedBrownCorpus(str(tmp_path))]
    assert ours == theirs
    assert len(ours) == 2


def test_logging_lines_like_gensim(caplog: pytest.LogCaptureFixture) -> None:
    docs = topic_docs(40, tag="mixed")
    with caplog.at_level(logging.INFO, logger="embedrs"):
        Doc2Vec(docs, epochs=2, **SMALL)
    text = caplog.text
    n_types = len({w for d in docs for w in d.words})
    n_words = sum(len(d.words) for d in docs)
    assert "collecting all words and their counts" in text
    assert (
        f"collected {n_types} word types and 40 unique tags from a corpus of 40 examples and "
        f"{n_words} words" in text
    )
    assert f"estimated required memory for {n_types} words and 16 dimensions" in text
    assert f"EPOCH 1: training on {n_words} raw words" in text


# ----------------------------------------------------------------------------
# training learns
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dm": 0},
        {"dm": 0, "dbow_words": 1},
        {"dm": 0, "hs": 1, "negative": 0},
        {"dm": 1, "dm_mean": 1},
        {"dm": 1, "dm_mean": 0, "alpha": 0.01},
        {"dm": 1, "hs": 1, "negative": 0},
        {"dm": 1, "dm_concat": 1, "window": 2},
        {"dm": 1, "dm_concat": 1, "window": 2, "concat_negative_reuse": 1},
    ],
    ids=["dbow", "dbow+w", "dbow-hs", "dm-mean", "dm-sum", "dm-hs", "dm-concat", "dm-concat-1"],
)
def test_training_finds_planted_topics(kwargs: dict) -> None:
    docs = topic_docs(tag="str")
    params = {**SMALL, "epochs": 30, **kwargs}
    model = Doc2Vec(docs, **params)
    assert model.dv.vectors.shape == (len(docs), SMALL["vector_size"])
    assert np.isfinite(model.dv.vectors).all()
    assert dv_topic_accuracy(model, docs) > (0.75 if model.dm_concat else 0.9)
    assert same_minus_cross(model, docs) > 0.2
    # an untrained model of the same layout knows nothing
    fresh = Doc2Vec(**params)
    fresh.build_vocab(docs)
    assert same_minus_cross(fresh, docs) < 0.1


def test_training_from_corpus_file_and_int_tags(tmp_path: Path) -> None:
    docs = topic_docs(tag="int")
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(" ".join(d.words) for d in docs) + "\n", encoding="utf8")
    model = Doc2Vec(corpus_file=str(path), dm=0, epochs=30, **SMALL)
    assert model.dv.index_to_key == list(range(len(docs)))
    assert model.dv.key_to_index == {}  # int tags are their own rows, as in gensim
    assert dv_topic_accuracy(model, docs) > 0.9
    assert 0 in model.dv and len(docs) not in model.dv


def test_mixed_tags_train_and_most_similar() -> None:
    docs = topic_docs(tag="mixed")
    model = Doc2Vec(docs, dm=0, epochs=30, **SMALL)
    assert dv_topic_accuracy(model, docs) > 0.9
    # an int tag and a str tag each name their own row
    sims = dict(model.dv.most_similar(0, topn=len(model.dv) - 1))
    assert "d1" in sims and 1 in sims
    np.testing.assert_array_equal(model.dv["d1"], model.dv.vectors[model.dv.get_index("d1")])
    np.testing.assert_array_equal(model["d1"], model.dv["d1"])
    np.testing.assert_array_equal(model["t0w1"], model.wv["t0w1"])


def test_rising_alpha_is_logged_like_gensim(caplog: pytest.LogCaptureFixture) -> None:
    docs = topic_docs(8, tag="int")
    model = Doc2Vec(alpha=0.025, min_alpha=0.025, min_count=1, workers=1, vector_size=5)
    model.build_vocab(docs)
    warning = "Effective 'alpha' higher than previous training cycles"
    with caplog.at_level(logging.WARNING, logger="embedrs"):
        model.train(docs, total_examples=model.corpus_count, epochs=1)
        assert warning not in caplog.text
        model.alpha = model.min_alpha = 0.02
        model.train(docs, total_examples=model.corpus_count, epochs=1)
        assert warning not in caplog.text
        model.alpha = 0.03
        model.train(docs, total_examples=model.corpus_count, epochs=1)
        assert warning in caplog.text


def test_callbacks_loss_and_repeated_train() -> None:
    from embedrs.models.callbacks import CallbackAny2Vec

    seen = []

    class Record(CallbackAny2Vec):
        def on_epoch_end(self, model: Doc2Vec) -> None:
            seen.append(model.get_latest_training_loss())

    docs = topic_docs(80, tag="str")
    model = Doc2Vec(docs, dm=0, epochs=3, compute_loss=True, callbacks=[Record()], **SMALL)
    assert len(seen) == 3
    assert model.get_latest_training_loss() > 0
    before = model.dv.vectors.copy()
    eff, raw = model.train(docs, total_examples=model.corpus_count, epochs=2)
    assert raw == 2 * sum(len(d.words) for d in docs)
    assert 0 < eff <= raw
    assert not np.array_equal(before, model.dv.vectors)


def test_build_vocab_update_adds_words_and_tags() -> None:
    docs = topic_docs(80, tag="str")
    model = Doc2Vec(docs, dm=0, epochs=5, **SMALL)
    old_dv = model.dv.vectors.copy()
    old_words = len(model.wv)
    new_docs = [TaggedDocument(["brand", "new", "t0w1"], ["new-doc"]), docs[0]]
    model.build_vocab(new_docs, update=True)
    assert len(model.wv) == old_words + 2
    assert model.dv.index_to_key[-1] == "new-doc"
    assert model.dv.vectors.shape == (len(docs) + 1, SMALL["vector_size"])
    np.testing.assert_array_equal(model.dv.vectors[: len(docs)], old_dv)
    assert model.dv.get_vecattr(docs[0].tags[0], "doc_count") == 2
    model.train(new_docs, total_examples=2, epochs=2)
    assert np.isfinite(model.dv["new-doc"]).all()


# ----------------------------------------------------------------------------
# inference
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dbow_model() -> tuple[Doc2Vec, list[TaggedDocument]]:
    docs = topic_docs(tag="str")
    return Doc2Vec(docs, dm=0, epochs=30, **SMALL), docs


@pytest.fixture(scope="module")
def dm_model() -> tuple[Doc2Vec, list[TaggedDocument]]:
    docs = topic_docs(tag="str")
    return Doc2Vec(docs, dm=1, epochs=30, **SMALL), docs


@pytest.mark.parametrize("which", ["dbow_model", "dm_model"])
def test_infer_vector_is_deterministic_and_finds_the_topic(
    which: str, request: pytest.FixtureRequest
) -> None:
    model, docs = request.getfixturevalue(which)
    before = (model.wv.vectors.copy(), model.dv.vectors.copy(), model.syn1neg.copy())
    topic = doc_topic(model, docs)
    rng = np.random.default_rng(5)
    hits = 0
    for t in range(N_TOPICS):
        words = topic_words(t, 30, rng)
        v1 = model.infer_vector(words)
        v2 = model.infer_vector(words)
        assert v1.dtype == np.float32 and v1.shape == (SMALL["vector_size"],)
        np.testing.assert_array_equal(v1, v2)
        other_seed = model.infer_vector(words, seed=99)
        assert not np.array_equal(v1, other_seed)
        near = model.dv.most_similar([v1], topn=10)
        hits += sum(topic[tag] == t for tag, _ in near)
    assert hits / (10 * N_TOPICS) > 0.9
    # inference never writes the model
    for a, b in zip(before, (model.wv.vectors, model.dv.vectors, model.syn1neg)):
        np.testing.assert_array_equal(a, b)


def test_infer_vector_threads_equal_sequential(dbow_model: tuple) -> None:
    model, docs = dbow_model
    queries = [list(d.words) for d in docs[:32]]
    sequential = [model.infer_vector(q) for q in queries]
    results: dict[int, list] = {}
    barrier = threading.Barrier(8)

    def work(k: int) -> None:
        barrier.wait()
        results[k] = [model.infer_vector(q) for q in queries]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 8
    for got in results.values():
        for a, b in zip(got, sequential):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("which", ["dbow_model", "dm_model"])
def test_infer_vectors_batch_equals_one_by_one(which: str, request: pytest.FixtureRequest) -> None:
    model, docs = request.getfixturevalue(which)
    queries = [list(d.words) for d in docs[:20]] + [[], ["unknown-word"]]
    batch = model.infer_vectors(queries, epochs=15)
    assert batch.shape == (len(queries), SMALL["vector_size"])
    for row, q in zip(batch, queries):
        np.testing.assert_array_equal(row, model.infer_vector(q, epochs=15))
    assert np.array_equal(model.infer_vectors(docs[:2]), model.infer_vectors(queries[:2]))


def test_inference_edge_documents(dbow_model: tuple) -> None:
    model, _ = dbow_model
    empty = model.infer_vector([])
    assert empty.shape == (SMALL["vector_size"],) and np.isfinite(empty).all()
    # the seeded initial vector, as gensim returns: uniform in [-0.5/d, 0.5/d)
    assert 0 < np.abs(empty).max() <= 0.5 / model.vector_size + 1e-7
    np.testing.assert_array_equal(empty, model.infer_vector([]))
    unknown = model.infer_vector(["never-seen", "nor-this"])
    assert np.isfinite(unknown).all()
    # unknown words are ignored: they do not move the vector away from a known word's pull
    known = model.infer_vector(["t1w1", "t1w2"] * 5)
    mixed = model.infer_vector(["t1w1", "t1w2"] * 5 + ["never-seen"])
    assert np.dot(known, mixed) / (np.linalg.norm(known) * np.linalg.norm(mixed)) > 0.9
    # tuples of tokens are token lists too
    np.testing.assert_array_equal(
        model.infer_vector(("t0w1", "t0w2")), model.infer_vector(["t0w1", "t0w2"])
    )


def test_dm_concat_infers_short_documents() -> None:
    # windows reaching past the document's ends read the padding word's row
    docs = topic_docs(tag="str")
    model = Doc2Vec(docs, dm=1, dm_concat=1, epochs=5, **{**SMALL, "window": 2})
    assert model.wv.index_to_key.count("\0") == 1
    for words in (["t0w1"], ["t0w1", "c3"], ["unknown", "t2w2"]):
        vec = model.infer_vector(words, epochs=20)
        start = model.infer_vector(words, epochs=1, alpha=1e-9, min_alpha=1e-9)
        assert np.isfinite(vec).all()
        assert np.abs(vec - start).max() > 1e-4  # trained away from its initial vector
        np.testing.assert_array_equal(vec, model.infer_vector(words, epochs=20))


def test_load_is_called_on_the_class(tmp_path: Path) -> None:
    model = Doc2Vec(topic_docs(8), vector_size=4, min_count=1, epochs=1)
    model.save(tmp_path / "m")
    with pytest.raises(AttributeError, match="class"):
        model.load(tmp_path / "m")
    assert isinstance(Doc2Vec.load(tmp_path / "m"), Doc2Vec)


def test_similarity_unseen_docs(dbow_model: tuple) -> None:
    model, _ = dbow_model
    a = [f"t0w{i}" for i in range(10)]
    b = [f"t0w{i}" for i in range(5, 15)]
    c = [f"t2w{i}" for i in range(10)]
    same = model.similarity_unseen_docs(a, b)
    cross = model.similarity_unseen_docs(a, c)
    assert -1.0 <= cross < same <= 1.0
    assert same - cross > 0.3


def test_infer_vector_learning_rate_and_epochs(dbow_model: tuple) -> None:
    model, docs = dbow_model
    words = list(docs[0].words)
    bound = 0.5 / model.vector_size + 1e-7  # initial vectors are uniform in [-0.5/d, 0.5/d)
    start = model.infer_vector(words, epochs=1, alpha=1e-9, min_alpha=1e-9)
    assert np.abs(start).max() <= bound  # a negligible learning rate leaves it where it started
    trained = model.infer_vector(words, epochs=50)
    assert np.abs(trained).max() > 4 * bound
    for bad in ({"epochs": 0}, {"alpha": -1.0}, {"min_alpha": -0.1}, {"epochs": "3"}):
        with pytest.raises((ValueError, TypeError)):
            model.infer_vector(words, **bad)


def test_inference_follows_every_change_to_the_model() -> None:
    """infer_vector caches its checked arguments between calls; each change that
    matters (settings, weights replaced or written in place, vocabulary, bad
    layers) must still show in the next call, as on a fresh model."""
    docs = topic_docs(tag="str")
    model = Doc2Vec(docs, dm=1, epochs=5, **SMALL)
    words = list(docs[0].words)
    first = model.infer_vector(words)
    np.testing.assert_array_equal(model.infer_vector(words), first)
    # settings: the model's defaults are read on every call
    model.epochs = 9
    nine = model.infer_vector(words)
    np.testing.assert_array_equal(nine, model.infer_vector(words, epochs=9))
    assert not np.array_equal(nine, first)
    model.epochs = 5
    np.testing.assert_array_equal(model.infer_vector(words), first)
    model.seed = 7
    assert not np.array_equal(model.infer_vector(words), first)
    model.seed = SMALL.get("seed", 1)
    np.testing.assert_array_equal(model.infer_vector(words), first)
    model.sample = 1e-3  # a setting the Rust core is built with
    assert not np.array_equal(model.infer_vector(words), first)
    model.sample = SMALL["sample"]
    np.testing.assert_array_equal(model.infer_vector(words), first)
    # weights: written in place, then replaced by another array
    saved = model.syn1neg.copy()
    model.syn1neg[:] = 0.0
    zeroed = model.infer_vector(words)
    assert not np.array_equal(zeroed, first)
    model.syn1neg = saved.copy()
    np.testing.assert_array_equal(model.infer_vector(words), first)
    # a layer of the wrong shape is refused as before, and a good one works again
    model.syn1neg = saved[:, :3].copy()
    with pytest.raises(RuntimeError, match="syn1neg"):
        model.infer_vector(words)
    model.syn1neg = saved
    np.testing.assert_array_equal(model.infer_vector(words), first)
    # more vocabulary and training: the new words count
    model.build_vocab([TaggedDocument(["zebra", "quagga"] * 3, ["extra"])], update=True)
    model.train(docs[:5], total_examples=5, epochs=1)
    fresh = model.infer_vector(words + ["zebra", "quagga"])
    assert not np.array_equal(fresh, model.infer_vector(words))
    model.negative, model.hs = 0, 1
    with pytest.raises(RuntimeError, match="syn1"):
        model.infer_vector(words)


# ----------------------------------------------------------------------------
# persistence
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"dm": 0}, {"dm": 1, "hs": 1, "negative": 0}, {"dm": 1, "dm_concat": 1, "window": 2}],
    ids=["dbow", "dm-hs", "dm-concat"],
)
def test_save_load_round_trip_infers_identically(tmp_path: Path, kwargs: dict) -> None:
    docs = topic_docs(80, tag="mixed")
    model = Doc2Vec(docs, epochs=5, **{**SMALL, **kwargs})
    path = tmp_path / "model.d2v"
    model.save(path)
    for mmap in (None, "r"):
        loaded = Doc2Vec.load(path, mmap=mmap)
        assert str(loaded) == str(model)
        assert loaded.dv.index_to_key == model.dv.index_to_key
        assert loaded.dv.key_to_index == model.dv.key_to_index
        np.testing.assert_array_equal(loaded.dv.vectors, model.dv.vectors)
        np.testing.assert_array_equal(loaded.wv.vectors, model.wv.vectors)
        for name in ("syn1neg", "syn1"):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
        for name in Doc2Vec._PARAMS:
            assert getattr(loaded, name) == getattr(model, name), name
        for doc in docs[:5]:
            np.testing.assert_array_equal(
                loaded.infer_vector(doc.words), model.infer_vector(doc.words)
            )
    loaded = Doc2Vec.load(path)
    loaded.train(docs, total_examples=len(docs), epochs=1)
    assert np.isfinite(loaded.dv.vectors).all()


@pytest.mark.parametrize("binary", [False, True])
def test_save_word2vec_format_equals_gensim(tmp_path: Path, binary: bool) -> None:
    gensim_d2v = pytest.importorskip("gensim.models.doc2vec")
    docs = topic_docs(30, tag="mixed")
    theirs = gensim_d2v.Doc2Vec(
        [gensim_d2v.TaggedDocument(d.words, d.tags) for d in docs], epochs=2, **SMALL
    )
    theirs.save(str(tmp_path / "g.model"))
    ours = Doc2Vec.load(tmp_path / "g.model")
    for word_vec, doctag_vec in ((True, True), (False, True), (True, False)):
        written = []
        for who, model in (("g", theirs), ("e", ours)):
            out, vocab = tmp_path / f"{who}.w2v", tmp_path / f"{who}.vocab"
            model.save_word2vec_format(
                str(out), doctag_vec=doctag_vec, word_vec=word_vec, fvocab=str(vocab), binary=binary
            )
            written.append((out.read_bytes(), vocab.read_bytes()))
        assert written[0] == written[1], (word_vec, doctag_vec)
    loaded = KeyedVectors.load_word2vec_format(str(tmp_path / "e.w2v"), binary=binary)
    assert len(loaded) == len(ours.wv)


@pytest.mark.parametrize(
    "damage,match",
    [
        (lambda meta, arrays: arrays.update({"dv.vectors": arrays["dv.vectors"][:-1]}), "dv|keys"),
        (lambda meta, arrays: arrays.update({"syn1neg": arrays["syn1neg"][:, :-1]}), "syn1neg"),
        (lambda meta, arrays: meta["params"].update({"workers": 0}), "workers"),
        (lambda meta, arrays: meta["params"].update({"dm_tag_count": -2}), "dm_tag_count"),
        (lambda meta, arrays: meta["params"].update({"dm_concat": 1}), "syn1neg"),
        (lambda meta, arrays: meta.pop("dv"), "metadata"),
    ],
    ids=["dv-rows", "syn1neg-cols", "workers", "dm_tag_count", "concat-layer", "no-dv"],
)
def test_load_refuses_inconsistent_files(tmp_path: Path, damage: object, match: str) -> None:
    from embedrs import _persist

    model = Doc2Vec(topic_docs(20, tag="mixed"), epochs=1, **SMALL)
    path = tmp_path / "m"
    model.save(path)
    meta, arrays = _persist.read_container(str(path))
    arrays = {k: np.array(v) for k, v in arrays.items()}
    damage(meta, arrays)  # type: ignore[operator]
    bad = tmp_path / "bad"
    _persist.write_container(str(bad), meta, arrays)
    with pytest.raises(ValueError, match=match) as info:
        Doc2Vec.load(bad)
    assert str(bad) in str(info.value)


def test_load_refuses_other_models(tmp_path: Path) -> None:
    from embedrs.models import Word2Vec

    w2v = Word2Vec([["a", "b"]] * 5, vector_size=4, min_count=1, epochs=1)
    path = tmp_path / "w2v.model"
    w2v.save(path)
    with pytest.raises(ValueError, match="not a Doc2Vec"):
        Doc2Vec.load(path)
    d2v = Doc2Vec(topic_docs(8), vector_size=4, min_count=1, epochs=1)
    d2v_path = tmp_path / "d2v.model"
    d2v.save(d2v_path)
    with pytest.raises(ValueError, match="not a Word2Vec"):
        Word2Vec.load(d2v_path)


@pytest.mark.parametrize(
    "kwargs",
    [{"dm": 0}, {"dm": 1, "hs": 1}, {"dm": 1, "dm_concat": 1, "window": 2}],
    ids=["dbow", "dm-hs+neg", "dmc"],
)
def test_load_gensim_saved_doc2vec(tmp_path: Path, kwargs: dict) -> None:
    gensim_d2v = pytest.importorskip("gensim.models.doc2vec")
    docs = topic_docs(tag="mixed")
    theirs = gensim_d2v.Doc2Vec(
        [gensim_d2v.TaggedDocument(d.words, d.tags) for d in docs],
        epochs=30,
        **{**SMALL, **kwargs},
    )
    path = tmp_path / "gensim.d2v"
    # dm_concat's arrays go to separate .npy files, as gensim writes large ones
    theirs.save(str(path), sep_limit=0 if theirs.dm_concat else 10 * 1024**2)
    ours = Doc2Vec.load(path)
    assert ours.dm == bool(kwargs["dm"]) and ours.epochs == 30 and ours.vector_size == 16
    assert ours.layer1_size == theirs.layer1_size
    if ours.hs:
        np.testing.assert_array_equal(ours.syn1, theirs.syn1)
    assert str(ours) == str(theirs)
    assert ours.dv.index_to_key == theirs.dv.index_to_key
    assert ours.dv.key_to_index == theirs.dv.key_to_index
    np.testing.assert_array_equal(ours.dv.vectors, theirs.dv.vectors)
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    np.testing.assert_array_equal(ours.wv.vectors, theirs.wv.vectors)
    np.testing.assert_array_equal(ours.syn1neg, theirs.syn1neg)
    ours_near, theirs_near = ours.dv.most_similar(0, topn=3), theirs.dv.most_similar(0, topn=3)
    assert [k for k, _ in ours_near] == [k for k, _ in theirs_near]
    assert [s for _, s in ours_near] == pytest.approx([s for _, s in theirs_near], abs=1e-6)
    # inference with gensim's weights finds the right topic
    topic = doc_topic(ours, docs)
    queries = [
        (t, topic_words(t, 40, np.random.default_rng(7 + k)))
        for t in range(N_TOPICS)
        for k in range(5)
    ]
    hits = 0
    for t, words in queries:
        near = ours.dv.most_similar([ours.infer_vector(words)], topn=10)
        hits += sum(topic[tag] == t for tag, _ in near)
    # chance is 0.25; gensim's own infer_vector scores 0.89-0.93 on these weights with dm_concat
    assert hits / (10 * len(queries)) > 0.75


# ----------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc,exc,match",
    [
        (["just", "words"], TypeError, "TaggedDocument"),
        (TaggedDocument("a string", [0]), TypeError, "single string"),
        (TaggedDocument(iter(["a"]), [0]), TypeError, "list of str tokens"),
        (TaggedDocument(["a"], []), ValueError, "no tags"),
        (TaggedDocument(["a"], "tag"), TypeError, "string 'tag'"),
        (TaggedDocument(["a"], 3), TypeError, "got the int 3"),
        (TaggedDocument(["a"], [1.5]), TypeError, "float"),
        (TaggedDocument(["a"], [None]), TypeError, "NoneType"),
        (TaggedDocument(["a"], [("t",)]), TypeError, "tuple"),
        (TaggedDocument(["a"], [True]), TypeError, "bool"),
        (TaggedDocument(["a"], [-1]), ValueError, "negative"),
        (TaggedDocument(["a"], [["unhashable"]]), TypeError, "list"),
    ],
)
def test_bad_documents_raise_clear_errors(doc: object, exc: type, match: str) -> None:
    docs = [TaggedDocument(["a", "b"], [0]), doc]
    with pytest.raises(exc, match=match):
        Doc2Vec(docs, vector_size=4, min_count=1, epochs=1)
    with pytest.raises(exc, match="document #1"):
        Doc2Vec(vector_size=4, min_count=1).build_vocab(docs)


def test_empty_documents_train_and_keep_their_tag() -> None:
    docs = [*topic_docs(40, tag="str"), TaggedDocument([], ["empty"])]
    model = Doc2Vec(docs, dm=0, epochs=3, **SMALL)
    assert "empty" in model.dv
    assert np.isfinite(model.dv["empty"]).all()


def test_train_with_unseen_tag_names_it() -> None:
    docs = topic_docs(20, tag="str")
    model = Doc2Vec(docs, epochs=1, **SMALL)
    with pytest.raises(KeyError, match="never-scanned"):
        model.train([TaggedDocument(["t0w1"], ["never-scanned"])], total_examples=1, epochs=1)


def test_update_cannot_add_int_tags_after_str_tags() -> None:
    docs = topic_docs(20, tag="mixed")
    model = Doc2Vec(docs, epochs=1, **SMALL)
    with pytest.raises(ValueError, match="str tags"):
        model.build_vocab([TaggedDocument(["t0w1"], [500])], update=True)
    int_model = Doc2Vec(topic_docs(20, tag="int"), epochs=1, **SMALL)
    int_model.build_vocab([TaggedDocument(["t0w1"], [25])], update=True)
    assert int_model.dv.index_to_key == list(range(26))


def test_infer_vector_refuses_strings_and_non_lists(dbow_model: tuple) -> None:
    model, _ = dbow_model
    with pytest.raises(TypeError, match="single string"):
        model.infer_vector("a whole sentence")
    with pytest.raises(TypeError, match="list of str tokens"):
        model.infer_vector(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="document #1"):
        model.infer_vectors([["ok"], "not ok"])
    with pytest.raises(TypeError):
        model.infer_vectors("not a list")


def test_untrained_model_cannot_infer() -> None:
    with pytest.raises(RuntimeError, match="no vocabulary"):
        Doc2Vec().infer_vector(["a"])


def test_concat_negative_reuse_changes_the_draws_and_is_saved(tmp_path: Path) -> None:
    """Positions sharing a draw of noise words train differently from fresh draws (with
    one worker and one seed, training is otherwise repeatable), and the setting is saved."""
    docs = topic_docs(tag="str")
    params = {**SMALL, "epochs": 3, "workers": 1, "dm": 1, "dm_concat": 1, "window": 2}
    fresh = [Doc2Vec(docs, concat_negative_reuse=1, **params).dv.vectors for _ in range(2)]
    shared = Doc2Vec(docs, concat_negative_reuse=4, **params)
    assert np.array_equal(fresh[0], fresh[1])
    assert not np.allclose(shared.dv.vectors, fresh[0])
    assert Doc2Vec(**params).concat_negative_reuse == 4
    path = tmp_path / "m.model"
    shared.save(str(path))
    assert Doc2Vec.load(str(path)).concat_negative_reuse == 4
    # PV-DM mean draws afresh for every position whatever the setting
    mean = {**params, "dm_concat": 0}
    assert np.array_equal(
        Doc2Vec(docs, concat_negative_reuse=1, **mean).dv.vectors,
        Doc2Vec(docs, concat_negative_reuse=4, **mean).dv.vectors,
    )


def test_bad_parameters() -> None:
    for kwargs in (
        {"dm": 2},
        {"dm_concat": 3},
        {"dm_tag_count": 0},
        {"dbow_words": -1},
        {"concat_negative_reuse": 0},
    ):
        with pytest.raises(ValueError):
            Doc2Vec(**kwargs)
    with pytest.raises(TypeError, match="concat_negative_reuse"):
        Doc2Vec(concat_negative_reuse=1.5)
    with pytest.raises(TypeError, match="sg"):
        Doc2Vec(sg=1)
    with pytest.raises(TypeError, match="dv must be a KeyedVectors"):
        Doc2Vec(dv=np.zeros((2, 2)))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected"):
        Doc2Vec(bogus=1)
    assert isinstance(Doc2Vec(dv=KeyedVectors(100)).dv, KeyedVectors)


def test_docvecs_is_a_deprecated_alias() -> None:
    model = Doc2Vec()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert model.docvecs is model.dv
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_the_trainer_is_reused_across_train_calls_with_the_same_result() -> None:
    docs = topic_docs(60, 20)
    models = []
    for reuse in (True, False):
        m = Doc2Vec(vector_size=8, min_count=1, workers=1, seed=2, dm=1, epochs=1)
        m.build_vocab(docs)
        first = m._training_core(False)
        assert m._training_core(False) is first
        for _ in range(2):
            if not reuse:
                m.__dict__.pop("_trainer_cache")
            m.train(docs, total_examples=len(docs), epochs=1)
        assert (m._training_core(False) is first) == reuse
        models.append(m)
    assert np.array_equal(models[0].dv.vectors, models[1].dv.vectors)
    assert np.array_equal(models[0].wv.vectors, models[1].wv.vectors)
    first = models[0]._training_core(False)
    models[0].window = 3  # another setting: another trainer
    assert models[0]._training_core(False) is not first
