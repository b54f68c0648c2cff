"""Word2Vec: training finds planted structure, gensim's API and behaviour, bad input."""

from __future__ import annotations

import _thread
import bz2
import gzip
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from embedrs.models import KeyedVectors, Word2Vec
from embedrs.models.callbacks import CallbackAny2Vec
from embedrs.models.word2vec import LineSentence, PathLineSentences, Text8Corpus
from embedrs.utils import RULE_DISCARD, RULE_KEEP, simple_preprocess, tokenize

N_TOPICS = 4
WORDS_PER_TOPIC = 12


def planted_corpus(n_sentences: int = 1500, length: int = 12, seed: int = 0) -> list[list[str]]:
    """Sentences drawn from one of four disjoint topic vocabularies."""
    rng = np.random.default_rng(seed)
    topics = [[f"t{t}w{i}" for i in range(WORDS_PER_TOPIC)] for t in range(N_TOPICS)]
    return [list(rng.choice(topics[rng.integers(N_TOPICS)], length)) for _ in range(n_sentences)]


def topic_of(word: str) -> str:
    return word.split("w")[0]


def neighbour_accuracy(model: Word2Vec, topn: int = 5) -> float:
    hits = total = 0
    for word in model.wv.index_to_key:
        for other, _ in model.wv.most_similar(word, topn=topn):
            hits += topic_of(other) == topic_of(word)
            total += 1
    return hits / total


def cross_topic_similarity(model: Word2Vec) -> float:
    normed = model.wv.get_normed_vectors()
    topics = np.array([topic_of(w) for w in model.wv.index_to_key])
    sims = normed @ normed.T
    return float(sims[topics[:, None] != topics[None, :]].mean())


@pytest.mark.parametrize(
    "sg,hs,negative,cbow_mean",
    [(1, 0, 5, 1), (0, 0, 5, 1), (0, 0, 5, 0), (1, 1, 0, 1), (0, 1, 0, 1), (1, 1, 5, 1)],
)
def test_training_finds_planted_topics(sg: int, hs: int, negative: int, cbow_mean: int) -> None:
    corpus = planted_corpus()
    model = Word2Vec(
        corpus,
        vector_size=24,
        window=4,
        min_count=1,
        sg=sg,
        hs=hs,
        negative=negative,
        cbow_mean=cbow_mean,
        epochs=8,
        workers=2,
        seed=5,
        sample=0,
    )
    assert model.wv.vectors.shape == (N_TOPICS * WORDS_PER_TOPIC, 24)
    assert np.isfinite(model.wv.vectors).all()
    assert neighbour_accuracy(model) > 0.9
    # topics must be told apart, not merely ranked: vectors that all point the
    # same way (no working negative/softmax signal) would pass the ranking test
    assert cross_topic_similarity(model) < 0.9  # gensim: 0.28 (mean), 0.76 (sum) here


def test_corpus_file_path_matches_iterable_vocab_and_learns(tmp_path: Path) -> None:
    corpus = planted_corpus()
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in corpus) + "\n", encoding="utf8")
    a = Word2Vec(vector_size=16, min_count=1)
    a.build_vocab(corpus)
    b = Word2Vec(vector_size=16, min_count=1, workers=2)
    b.build_vocab(corpus_file=str(path))
    assert a.wv.index_to_key == b.wv.index_to_key
    assert a.corpus_count == b.corpus_count == len(corpus)
    assert a.corpus_total_words == b.corpus_total_words
    b.train(corpus_file=str(path), total_words=b.corpus_total_words, epochs=8)
    assert neighbour_accuracy(b) > 0.9
    # gzip input is read the same way
    gz = tmp_path / "corpus.txt.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    c = Word2Vec(corpus_file=str(gz), vector_size=16, min_count=1, epochs=2)
    assert c.wv.index_to_key == a.wv.index_to_key


def test_single_worker_is_bit_reproducible(tmp_path: Path) -> None:
    corpus = planted_corpus(400)
    runs = [
        Word2Vec(corpus, vector_size=16, min_count=1, workers=1, seed=42, epochs=2)
        for _ in range(2)
    ]
    assert np.array_equal(runs[0].wv.vectors, runs[1].wv.vectors)
    assert np.array_equal(runs[0].syn1neg, runs[1].syn1neg)
    other = Word2Vec(corpus, vector_size=16, min_count=1, workers=1, seed=43, epochs=2)
    assert not np.array_equal(runs[0].wv.vectors, other.wv.vectors)
    path = tmp_path / "c.txt"
    path.write_text("\n".join(" ".join(s) for s in corpus), encoding="utf8")
    f1, f2 = (
        Word2Vec(corpus_file=str(path), vector_size=16, min_count=1, workers=1, seed=7, epochs=2)
        for _ in range(2)
    )
    assert np.array_equal(f1.wv.vectors, f2.wv.vectors)


@pytest.mark.parametrize("hs", [0, 1])
def test_one_job_epochs_are_reproducible_with_many_workers(hs: int) -> None:
    """An epoch that fits in one job trains the same whichever thread takes it.

    gensim seeds each job's random stream, so a small corpus trains
    identically with any ``workers``; its own test suite relies on that.
    """
    corpus = planted_corpus(40, length=6)
    kwargs = dict(vector_size=4, min_count=1, workers=4, seed=3, epochs=30, hs=hs)
    kwargs["negative"] = 0 if hs else 5
    first = Word2Vec(corpus, **kwargs)
    for _ in range(12):
        again = Word2Vec(**kwargs)
        again.build_vocab(corpus)
        again.train(corpus, total_examples=again.corpus_count, epochs=again.epochs)
        assert np.array_equal(first.wv.vectors, again.wv.vectors)
        out, out2 = (first.syn1, again.syn1) if hs else (first.syn1neg, again.syn1neg)
        assert np.array_equal(out, out2)


def test_vocabulary_matches_gensim() -> None:
    gensim_models = pytest.importorskip("gensim.models")
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(300)]
    probs = 1.0 / np.arange(1, 301)
    probs /= probs.sum()
    corpus = [list(rng.choice(words, 20, p=probs)) for _ in range(300)]

    def rule(word: str, count: int, min_count: int) -> int:
        if word == "w1":
            return RULE_DISCARD
        if word == "w299":
            return RULE_KEEP
        return 0

    for kwargs in (
        {"min_count": 3},
        {"min_count": 1, "max_final_vocab": 50},
        {"min_count": 2, "sorted_vocab": 0},
        {"min_count": 4, "trim_rule": rule},
    ):
        ours = Word2Vec(vector_size=8, **kwargs)
        ours.build_vocab(corpus, trim_rule=kwargs.get("trim_rule"))
        theirs = gensim_models.Word2Vec(vector_size=8, **kwargs)
        theirs.build_vocab(corpus, trim_rule=kwargs.get("trim_rule"))
        assert ours.wv.index_to_key == theirs.wv.index_to_key, kwargs
        assert [ours.wv.get_vecattr(w, "count") for w in ours.wv.index_to_key] == [
            theirs.wv.get_vecattr(w, "count") for w in theirs.wv.index_to_key
        ]
        assert ours.corpus_count == theirs.corpus_count
        assert ours.corpus_total_words == theirs.corpus_total_words


def test_quality_close_to_gensim_on_same_corpus() -> None:
    """Both libraries recover the planted topics equally well."""
    gensim_models = pytest.importorskip("gensim.models")
    corpus = planted_corpus(1500, seed=3)
    kw = {
        "vector_size": 24,
        "window": 4,
        "min_count": 1,
        "epochs": 8,
        "workers": 2,
        "sg": 1,
        "sample": 0,
    }
    ours = Word2Vec(corpus, **kw)
    theirs = gensim_models.Word2Vec(corpus, **kw)
    ours_acc = neighbour_accuracy(ours)
    theirs_acc = neighbour_accuracy(theirs)  # type: ignore[arg-type]
    assert ours_acc >= theirs_acc - 0.05


def test_gensim_usage_examples_run_unchanged(tmp_path: Path) -> None:
    common_texts = [
        ["human", "interface", "computer"],
        ["survey", "user", "computer", "system", "response", "time"],
        ["eps", "user", "interface", "system"],
        ["system", "human", "system", "eps"],
        ["user", "response", "time"],
        ["trees"],
        ["graph", "trees"],
        ["graph", "minors", "trees"],
        ["graph", "minors", "survey"],
    ]
    model = Word2Vec(sentences=common_texts, vector_size=100, window=5, min_count=1, workers=4)
    fname = str(tmp_path / "word2vec.model")
    model.save(fname)
    model = Word2Vec.load(fname)
    before = model.wv.vectors.copy()
    # as in gensim: words outside the vocabulary are counted as raw words, trained on as
    # none, and neither added nor allowed to move any vector
    assert model.train([["hello", "world"]], total_examples=1, epochs=1) == (0, 2)
    assert "hello" not in model.wv
    assert np.array_equal(model.wv.vectors, before)
    vector = model.wv["computer"]
    assert vector.shape == (100,)
    sims = model.wv.most_similar("computer", topn=10)
    assert len(sims) == 10 and all(isinstance(w, str) for w, _ in sims)
    word_vectors = model.wv
    word_vectors.save(str(tmp_path / "word2vec.wordvectors"))
    reloaded = KeyedVectors.load(str(tmp_path / "word2vec.wordvectors"), mmap="r")
    assert reloaded.index_to_key == word_vectors.index_to_key
    assert np.array_equal(reloaded["computer"], vector)
    model2 = Word2Vec(min_count=1)
    model2.build_vocab(common_texts)
    model2.train(common_texts, total_examples=model2.corpus_count, epochs=model2.epochs)
    assert model2.predict_output_word(["human", "interface"], topn=3)[0][0] in model2.wv


def test_save_load_round_trip_keeps_training_state(tmp_path: Path) -> None:
    corpus = planted_corpus(300)
    model = Word2Vec(corpus, vector_size=16, min_count=1, hs=1, negative=3, epochs=2)
    path = tmp_path / "m.embedrs"
    model.save(path)
    loaded = Word2Vec.load(path)
    assert loaded.wv.index_to_key == model.wv.index_to_key
    assert np.array_equal(loaded.wv.vectors, model.wv.vectors)
    assert np.array_equal(loaded.syn1neg, model.syn1neg)
    assert np.array_equal(loaded.syn1, model.syn1)
    assert (loaded.hs, loaded.negative, loaded.corpus_count) == (1, 3, model.corpus_count)
    loaded.train(corpus, total_examples=loaded.corpus_count, epochs=1)
    assert np.isfinite(loaded.wv.vectors).all()


def test_loads_word2vec_saved_by_gensim(tmp_path: Path) -> None:
    gensim_models = pytest.importorskip("gensim.models")
    corpus = planted_corpus(300)
    theirs = gensim_models.Word2Vec(corpus, vector_size=12, min_count=1, epochs=1)
    path = str(tmp_path / "g.model")
    theirs.save(path)
    ours = Word2Vec.load(path)
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    assert np.allclose(ours.wv.vectors, theirs.wv.vectors)
    assert np.allclose(ours.syn1neg, theirs.syn1neg)
    before = ours.wv.vectors.copy()
    effective, raw = ours.train(corpus, total_examples=len(corpus), epochs=1)
    # the loaded model keeps training: every word was counted and the vectors moved
    assert raw == sum(len(s) for s in corpus)
    assert 0 < effective <= raw
    assert np.isfinite(ours.wv.vectors).all()
    assert not np.allclose(ours.wv.vectors, before)


def test_online_vocabulary_update() -> None:
    corpus = planted_corpus(600)
    model = Word2Vec(corpus, vector_size=16, min_count=1, epochs=3)
    before = model.wv["t0w0"].copy()
    n = len(model.wv)
    new = [["novel", "fresh"] + s[:5] for s in corpus[:200]]
    model.build_vocab(new, update=True)
    assert len(model.wv) == n + 2
    assert model.wv.vectors.shape == (n + 2, 16)
    assert model.syn1neg.shape == (n + 2, 16)
    assert np.array_equal(model.wv["t0w0"], before)
    model.train(new, total_examples=len(new), epochs=2)
    assert "novel" in model.wv
    assert np.isfinite(model.wv.vectors).all()
    with pytest.raises(RuntimeError, match="prior vocabulary"):
        Word2Vec(min_count=1).build_vocab(new, update=True)


def test_build_vocab_from_freq_and_loss_and_callbacks() -> None:
    corpus = planted_corpus(400)
    events: list[str] = []

    class Recorder(CallbackAny2Vec):
        def on_train_begin(self, model: Word2Vec) -> None:
            events.append("train_begin")

        def on_epoch_begin(self, model: Word2Vec) -> None:
            events.append("epoch_begin")

        def on_epoch_end(self, model: Word2Vec) -> None:
            events.append("epoch_end")

        def on_train_end(self, model: Word2Vec) -> None:
            events.append("train_end")

    model = Word2Vec(vector_size=16, min_count=1)
    freq: dict[str, int] = {}
    for s in corpus:
        for w in s:
            freq[w] = freq.get(w, 0) + 1
    model.build_vocab_from_freq(freq, corpus_count=len(corpus))
    assert set(model.wv.index_to_key) == set(freq)
    model.train(
        corpus, total_examples=len(corpus), epochs=2, compute_loss=True, callbacks=[Recorder()]
    )
    assert events == [
        "train_begin",
        "epoch_begin",
        "epoch_end",
        "epoch_begin",
        "epoch_end",
        "train_end",
    ]
    assert model.get_latest_training_loss() > 0
    model.train(corpus, total_examples=len(corpus), epochs=1)
    assert model.get_latest_training_loss() == 0.0


def test_train_pairs_learns_item_tag_structure() -> None:
    rng = np.random.default_rng(2)
    pairs = []
    for g in range(3):
        items = [f"item{g}_{i}" for i in range(10)]
        tags = [f"tag{g}_{i}" for i in range(4)]
        for _ in range(800):
            pairs.append((str(rng.choice(items)), str(rng.choice(tags))))
    model = Word2Vec(vector_size=16, negative=5, workers=2, epochs=10, seed=3)
    loss = model.train_pairs(pairs, compute_loss=True)
    assert loss > 0
    hits = 0
    for g in range(3):
        for i in range(10):
            top = model.wv.most_similar(f"item{g}_{i}", topn=3)
            hits += sum(w.startswith((f"item{g}_", f"tag{g}_")) for w, _ in top)
    assert hits / 90 > 0.85
    with pytest.raises(ValueError, match="shape"):
        model.train_pairs(np.zeros((4, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="ids must lie"):
        model.train_pairs(np.array([[0, 10**6]]))


class _Token(str):
    """A str subclass: the feed looks it up in ``key_to_index`` itself."""


def test_token_table_gives_the_dicts_answer() -> None:
    # Plain str tokens go through the feed's own token table once the feed
    # has read as many tokens as the vocabulary holds; anything else through
    # the dict. One worker and one seed: both must train the same model.
    corpus = [[str(w) for w in s] for s in planted_corpus(600)]  # not numpy's str_
    for i, s in enumerate(corpus):
        # words outside ASCII (their UTF-8 bytes are cached by CPython on
        # first use) and one longer than the table keeps inline
        s.insert(i % 5, ["café", "東京", "x😀", "é" * 30, "naïve"][i % 5])
    for s in corpus[::7]:
        # out-of-vocabulary tokens: short, long, and a lone surrogate that
        # has no UTF-8 form
        s.extend(["unseen", "w" * 40, "\ud800"])
    vocab = [s[:-3] if i % 7 == 0 else s for i, s in enumerate(corpus)]
    wrapped = [[_Token(w) for w in s] for s in corpus]
    models = []
    for sentences in (corpus, wrapped):
        m = Word2Vec(vector_size=16, min_count=1, workers=1, seed=3)
        m.build_vocab(vocab)
        m.train(sentences, total_examples=len(sentences), epochs=2)
        models.append(m)
    assert "unseen" not in models[0].wv
    assert "東京" in models[0].wv and "é" * 30 in models[0].wv
    assert np.array_equal(models[0].wv.vectors, models[1].wv.vectors)
    assert np.array_equal(models[0].syn1neg, models[1].syn1neg)


def test_key_to_index_pointing_past_the_vectors_is_reported() -> None:
    corpus = planted_corpus(300)
    model = Word2Vec(corpus, vector_size=8, min_count=1, workers=1, epochs=1)
    model.wv.key_to_index["t0w1"] = 10**6
    with pytest.raises(ValueError, match="not a row"):
        model.train(corpus, total_examples=len(corpus), epochs=1)


def _write_lines(path: Path, sentences: list[list[str]], extra: str = "") -> None:
    lines = [" ".join(s) for s in sentences]
    lines[3] = ""  # an empty line yields no sentence
    lines[5] = "  \t " + lines[5] + "\r"  # stray whitespace, a CRLF ending
    lines[8] = " ".join(w for s in sentences[8:12] for w in s) + extra  # a long line, in pieces
    path.write_text("\n".join(lines), encoding="utf8")


@pytest.mark.parametrize("sg,max_len", [(0, 10000), (1, 7)])
def test_line_sentence_over_a_file_is_read_in_rust_with_the_same_result(
    tmp_path: Path, sg: int, max_len: int
) -> None:
    from embedrs.models.word2vec import _native_lines

    path = tmp_path / "c.txt"
    _write_lines(path, [[str(w) for w in s] + ["oov"] for s in planted_corpus(500)])
    lines = LineSentence(str(path), max_sentence_length=max_len)
    assert _native_lines(lines) is not None
    in_memory = list(lines)
    params = dict(vector_size=16, min_count=2, workers=1, seed=5, epochs=2, sg=sg, batch_words=300)
    rust = Word2Vec(lines, **params)
    python = Word2Vec(in_memory, **params)
    assert rust.wv.index_to_key == python.wv.index_to_key
    assert (rust.corpus_count, rust.corpus_total_words) == (
        python.corpus_count,
        python.corpus_total_words,
    )
    assert rust.corpus_count == len(in_memory)
    assert np.array_equal(rust.wv.vectors, python.wv.vectors)
    assert np.array_equal(rust.syn1neg, python.syn1neg)


@pytest.mark.parametrize("max_len", [10000, 37])
def test_text8_corpus_over_a_file_is_read_in_rust_with_the_same_result(
    tmp_path: Path, max_len: int
) -> None:
    from embedrs.models.word2vec import _native_lines

    tokens = [str(w) for s in planted_corpus(400) for w in s] + ["oov"] * 5
    tokens[100] = "t0w1\u00a0t1w2"  # Text8Corpus splits bytes: U+00A0 stays inside a token
    path = tmp_path / "text8"
    path.write_text(" ".join(tokens) + "\n", encoding="utf8")  # one line; a final newline
    corpus = Text8Corpus(str(path), max_sentence_length=max_len)
    assert _native_lines(corpus) is not None
    in_memory = list(corpus)
    assert sum(map(len, in_memory)) == len(tokens)
    params = dict(vector_size=16, min_count=1, workers=1, seed=2, epochs=2, batch_words=500)
    rust, python = Word2Vec(corpus, **params), Word2Vec(in_memory, **params)
    assert rust.wv.index_to_key == python.wv.index_to_key
    assert "t0w1\u00a0t1w2" in rust.wv
    assert rust.corpus_count == python.corpus_count == len(in_memory)
    assert np.array_equal(rust.wv.vectors, python.wv.vectors)
    assert np.array_equal(rust.syn1neg, python.syn1neg)
    # Text8Corpus ignores lines; the Rust reader does not: a newline inside
    # the text sends the file back to Python
    path.write_text(" ".join(tokens[:50]) + "\n" + " ".join(tokens[50:]), encoding="utf8")
    assert _native_lines(corpus) is None


class _MyLines(LineSentence):
    pass


def test_line_sentences_python_must_read(tmp_path: Path) -> None:
    from embedrs.models.word2vec import _native_lines

    sentences = [[str(w) for w in s] for s in planted_corpus(200)]
    plain = tmp_path / "plain.txt"
    _write_lines(plain, sentences)
    nbsp = tmp_path / "nbsp.txt"
    _write_lines(nbsp, sentences, extra="\u00a0t0w1")  # str.split() splits at U+00A0
    with gzip.open(tmp_path / "c.txt.gz", "wt", encoding="utf8") as f:
        f.write("\n".join(" ".join(s) for s in sentences))
    assert _native_lines(LineSentence(str(plain))) is not None
    for lines in (
        LineSentence(str(nbsp)),
        LineSentence(str(tmp_path / "c.txt.gz")),
        LineSentence(str(plain), limit=50),
        _MyLines(str(plain)),
        LineSentence(open(plain, "rb")),  # noqa: SIM115
        sentences,
    ):
        assert _native_lines(lines) is None, lines
    # read by Python, the U+00A0 splits the token as gensim would
    model = Word2Vec(LineSentence(str(nbsp)), vector_size=8, min_count=1, workers=1, epochs=1)
    count = model.wv.get_vecattr("t0w1", "count")
    assert count == sum(s.count("t0w1") for s in LineSentence(str(nbsp)))
    ascii_split = nbsp.read_text(encoding="utf8").replace("\t", " ").replace("\r", " ").split(" ")
    assert count == sum(line.split("\n").count("t0w1") for line in ascii_split) + 1
    # a file that changes is checked again
    lines = LineSentence(str(plain))
    assert _native_lines(lines) is not None
    _write_lines(plain, sentences, extra="\u3000x")
    assert _native_lines(lines) is None


def test_long_sentences_are_split_not_dropped() -> None:
    sentence = [f"w{i % 50}" for i in range(25000)]
    model = Word2Vec([sentence], vector_size=8, min_count=1, epochs=1, workers=1)
    assert model.corpus_total_words == 25000
    assert len(model.wv) == 50


def test_old_gensim_names_warn() -> None:
    with pytest.warns(DeprecationWarning, match="vector_size"):
        m = Word2Vec(size=20, min_count=1)
    assert m.vector_size == 20
    with pytest.warns(DeprecationWarning, match="epochs"):
        m = Word2Vec(iter=3)
    assert m.epochs == 3
    with pytest.raises(TypeError, match="unexpected keyword"):
        Word2Vec(vector_sise=10)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"vector_size": 0}, "vector_size"),
        ({"vector_size": -3}, "vector_size"),
        ({"window": 0}, "window"),
        ({"epochs": 0}, "epochs"),
        ({"workers": 0}, "workers"),
        ({"negative": 0, "hs": 0}, "negative"),
        ({"min_count": -1}, "min_count"),
        ({"alpha": 0}, "alpha"),
    ],
)
def test_bad_parameters_raise_value_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Word2Vec(**kwargs)


def test_bad_corpus_input(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="build vocabulary"):
        Word2Vec([], min_count=1)
    with pytest.raises(RuntimeError, match="build vocabulary"):
        Word2Vec([["a", "b"]], min_count=5)
    with pytest.raises(RuntimeError, match="build vocabulary"):
        Word2Vec().train([["a"]], total_examples=1, epochs=1)
    with pytest.raises(TypeError, match="iterable of lists"):
        Word2Vec("just a string", min_count=1)
    with pytest.raises(TypeError, match="generator"):
        Word2Vec((s for s in [["a", "b"]]), min_count=1)
    model = Word2Vec(min_count=1)
    model.build_vocab([["a", "b"]])
    with pytest.raises(ValueError, match="total_examples"):
        model.train([["a", "b"]], epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        model.train([["a", "b"]], total_examples=1)
    with pytest.warns(UserWarning, match="list of words"):
        Word2Vec(["abc", "bcd"], min_count=1, epochs=1)
    with pytest.raises(FileNotFoundError):
        Word2Vec(corpus_file=str(tmp_path / "missing.txt"))
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 ok\n".encode("latin-1"))
    with pytest.raises(ValueError, match="UTF-8"):
        Word2Vec(corpus_file=str(bad), min_count=1)
    with pytest.raises(ValueError, match="UTF-8"):
        list(LineSentence(str(bad)))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(RuntimeError, match="build vocabulary"):
        Word2Vec(corpus_file=str(empty), min_count=1)
    with pytest.raises(TypeError, match="list of str"):
        m = Word2Vec(min_count=1)
        m.build_vocab([["a", "b"]])
        m.train([1, 2], total_examples=2, epochs=1)


class _Endless:
    """A re-iterable corpus large enough that training is still running when interrupted."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        sent = [f"w{i % 200}" for i in range(1000)]
        for _ in range(10**6):
            yield sent


def test_ctrl_c_stops_training_and_leaves_usable_model(tmp_path: Path) -> None:
    model = Word2Vec(vector_size=16, min_count=1, workers=2)
    model.build_vocab([[f"w{i}" for i in range(200)]])
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        model.train(_Endless(), total_examples=10**6, epochs=1)
    timer.cancel()
    assert np.isfinite(model.wv.vectors).all()
    assert len(model.wv.most_similar("w1", topn=3)) == 3
    # the file path is interrupted the same way
    path = tmp_path / "big.txt"
    line = " ".join(f"w{i % 200}" for i in range(1000)) + "\n"
    path.write_text(line * 3000)
    model2 = Word2Vec(vector_size=64, min_count=1, workers=2, sample=0)
    model2.build_vocab(corpus_file=str(path))
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        model2.train(corpus_file=str(path), total_words=model2.corpus_total_words, epochs=200)
    timer.cancel()
    assert np.isfinite(model2.wv.vectors).all()
    # and so is a LineSentence read in Rust (its reader thread stops too)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        model2.train(LineSentence(str(path)), total_examples=model2.corpus_count, epochs=200)
    timer.cancel()
    assert np.isfinite(model2.wv.vectors).all()
    model2.train(LineSentence(str(path)), total_examples=model2.corpus_count, epochs=1)


def test_corpus_readers(tmp_path: Path) -> None:
    text = "a b c\n\nd e\nf g h i j\n"
    plain = tmp_path / "a.txt"
    plain.write_text(text)
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "c.txt.bz2").write_bytes(bz2.compress(text.encode()))
    expected = [["a", "b", "c"], ["d", "e"], ["f", "g", "h", "i", "j"]]
    for name in ("a.txt", "b.txt.gz", "c.txt.bz2"):
        assert list(LineSentence(str(tmp_path / name))) == expected
    assert list(LineSentence(str(plain), max_sentence_length=2)) == [
        ["a", "b"],
        ["c"],
        ["d", "e"],
        ["f", "g"],
        ["h", "i"],
        ["j"],
    ]
    assert list(LineSentence(str(plain), limit=1)) == [["a", "b", "c"]]
    with open(plain, "rb") as fh:
        ls = LineSentence(fh)
        assert list(ls) == list(ls) == expected
    assert list(PathLineSentences(str(tmp_path))) == expected * 3
    t8 = tmp_path / "t8"
    t8.write_text(" " + " ".join(f"w{i}" for i in range(25)))
    sents = list(Text8Corpus(str(t8), max_sentence_length=10))
    assert [len(s) for s in sents] == [10, 10, 5]
    assert sents[2][-1] == "w24"
    with pytest.raises(FileNotFoundError):
        LineSentence(str(tmp_path / "nope.txt"))


def test_text_helpers() -> None:
    assert simple_preprocess("Hello, World! It's 2024 and naïve cafés") == [
        "hello",
        "world",
        "it",
        "and",
        "naïve",
        "cafés",
    ]
    assert simple_preprocess("naïve", deacc=True) == ["naive"]
    assert list(tokenize("Abc12def GHI", lowercase=True)) == ["abc", "def", "ghi"]


def test_progress_bar_and_logging(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("tqdm")
    corpus = planted_corpus(300)
    with caplog.at_level("INFO", logger="embedrs"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Word2Vec(corpus, vector_size=8, min_count=1, epochs=1, progress_bar=True)
    assert any(
        "EPOCH 0" in r.getMessage() and "effective words" in r.getMessage() for r in caplog.records
    )


def test_the_trainer_built_by_build_vocab_is_reused_until_the_vocabulary_or_a_setting_changes() -> (
    None
):
    import copy
    import pickle

    corpus = planted_corpus(300)
    model = Word2Vec(vector_size=8, min_count=1, workers=1, seed=5, hs=1, negative=0)
    model.build_vocab(corpus)
    built = model._training_core(False)
    assert model._training_core(False) is built  # nothing changed
    model.train(corpus, total_examples=len(corpus), epochs=1)
    assert model._training_core(False) is built

    # a reused trainer trains as a new one: two models, one with its trainer
    # reused three times, one with a fresh trainer for every call
    fresh = Word2Vec(vector_size=8, min_count=1, workers=1, seed=5, hs=1, negative=0)
    fresh.build_vocab(corpus)
    for _ in range(2):
        fresh.__dict__.pop("_trainer_cache")
        fresh.train(corpus, total_examples=len(corpus), epochs=1)
    model.train(corpus, total_examples=len(corpus), epochs=1)
    assert np.array_equal(model.wv.vectors, fresh.wv.vectors)
    assert np.array_equal(model.syn1, fresh.syn1)

    # counts edited in place: a new Huffman tree
    model.wv.expandos["count"][0] += 1000
    assert model._training_core(False) is not built
    # a setting
    built = model._training_core(False)
    model.sample = 0.01
    assert model._training_core(False) is not built
    # a key renamed in place
    built = model._training_core(False)
    model.wv.index_to_key[0] = "renamed"
    assert model._training_core(False) is not built
    # new words
    built = model._training_core(False)
    model.build_vocab([["brand", "new", "words"]], update=True)
    assert model._training_core(False) is not built

    # the cached trainer is not part of the model's state
    assert "_trainer_cache" not in model.__getstate__()
    clone = copy.deepcopy(model)
    assert np.array_equal(pickle.loads(pickle.dumps(clone)).wv.vectors, model.wv.vectors)
    clone.train(corpus, total_examples=len(corpus), epochs=1)


def test_build_vocab_leaves_settings_the_trainer_rejects_to_train() -> None:
    # the noise table cannot be built for these counts: build_vocab still
    # succeeds (as it did before it built the trainer), train() says why
    corpus = planted_corpus(50)
    model = Word2Vec(vector_size=8, min_count=1, workers=1, ns_exponent=1e4)
    model.build_vocab(corpus)
    assert len(model.wv) > 0
    with pytest.raises(ValueError, match="ns_exponent"):
        model.train(corpus, total_examples=len(corpus), epochs=1)
