"""Phrases (issue 14): identical counts, scores and phrases to gensim 4.4 on small corpora."""

from __future__ import annotations

import gzip
import logging
import pickle
import random

import pytest
from embedrs.models import phrases as ep
from embedrs.test.utils import common_texts

gp = pytest.importorskip("gensim.models.phrases")

CONNECTED = [
    ["human", "interface", "with", "computer"],
    ["survey", "of", "user", "computer", "system", "lack", "of", "interest"],
    ["eps", "user", "interface", "system"],
    ["system", "and", "human", "system", "eps"],
    ["user", "lack", "of", "interest"],
    ["trees"],
    ["graph", "of", "trees"],
    ["data", "and", "graph", "of", "trees"],
    ["data", "and", "graph", "survey"],
    ["data", "and", "graph", "survey", "for", "human", "interface"],
    [],
    ["bank", "of", "the", "america", "of"],
]


def _random_corpus(seed: int, n: int = 300, phrased: bool = True) -> list[list[str]]:
    """Random sentences; ``phrased``: one word holds the default delimiter
    (``new_york``, the same key as the bigram ``new`` + ``york``)."""
    rng = random.Random(seed)
    words = ["a", "b", "c", "of", "the", "d", "e", "f", "g", "h", "i", "j", "new_york", "new"]
    if not phrased:
        words[12] = "york"
    weights = [1 / (i + 1) for i in range(len(words))]
    return [rng.choices(words, weights, k=rng.randrange(0, 14)) for _ in range(n)]


def dumb_scorer(worda_count, wordb_count, bigram_count, len_vocab, min_count, corpus_word_count):
    return 1


def count_scorer(worda_count, wordb_count, bigram_count, len_vocab, min_count, corpus_word_count):
    return bigram_count / (worda_count + wordb_count) + len_vocab / 1000


def _both(corpus, **kw):
    g = gp.Phrases(corpus, **kw)
    e = ep.Phrases(corpus, **kw)
    return g, e


def _same(g, e, probe):
    assert list(e.vocab.items()) == list(g.vocab.items())  # same counts, same dict order
    assert e.corpus_word_count == g.corpus_word_count
    assert e.export_phrases() == g.export_phrases()  # same phrases, bit-identical scores
    assert e.find_phrases(probe) == g.find_phrases(probe)
    for s in probe:
        assert e[s] == g[s]
        assert list(e.analyze_sentence(s)) == list(g.analyze_sentence(s))
    assert list(e[probe]) == list(g[probe])
    fe, fg = e.freeze(), g.freeze()
    assert fe.phrasegrams == fg.phrasegrams
    for s in probe:
        assert fe[s] == fg[s]


@pytest.mark.parametrize(
    "kw",
    [
        {"min_count": 1, "threshold": 1},
        {"min_count": 1, "threshold": 1, "connector_words": ep.ENGLISH_CONNECTOR_WORDS},
        {"min_count": 2, "threshold": 0.5, "connector_words": {"of", "and", "for"}},
        {"min_count": 1, "threshold": 0.1, "scoring": "npmi", "connector_words": {"of", "the"}},
        {"min_count": 1, "threshold": -0.5, "scoring": "npmi"},
        {"min_count": 1, "threshold": 1, "delimiter": " "},
        {"min_count": 1, "threshold": 1, "delimiter": "::", "connector_words": {"of"}},
        {"min_count": 1, "threshold": 1, "scoring": count_scorer, "connector_words": {"of"}},
    ],
)
def test_identical_to_gensim_on_small_corpora(kw):
    for corpus in (common_texts, CONNECTED, _random_corpus(1), _random_corpus(1, phrased=False)):
        g, e = _both(corpus, **kw)
        _same(g, e, corpus[:40] + CONNECTED)


@pytest.mark.parametrize("phrased", [True, False])
@pytest.mark.parametrize("max_vocab_size", [0, 3, 10, 25, 60])
def test_pruning_matches_gensim(max_vocab_size, phrased):
    corpus = _random_corpus(7, 400, phrased)
    kw = {"min_count": 1, "threshold": 0.5, "connector_words": {"of", "the"}}
    g, e = _both(corpus, max_vocab_size=max_vocab_size, **kw)
    assert e.min_reduce == g.min_reduce
    _same(g, e, corpus[:30])
    # add_vocab: a fresh count of the new sentences, merged, then one prune
    more = _random_corpus(8, 200, phrased)
    g.add_vocab(more)
    e.add_vocab(more)
    assert e.min_reduce == g.min_reduce
    _same(g, e, more[:30])


@pytest.mark.parametrize("phrased", [True, False])
def test_large_batches_count_in_parallel_like_gensim(phrased):
    corpus = _random_corpus(3, 6000, phrased)  # over 4096 tokens per batch: the parallel path
    g, e = _both(corpus, min_count=2, threshold=0.3, connector_words={"of", "the"})
    assert len(e.vocab) == len(g.vocab)
    assert list(e.vocab.items()) == list(g.vocab.items())
    assert e.export_phrases() == g.export_phrases()


def test_layered_phrases_and_tokens_containing_the_delimiter():
    # a trigram pass over phrased text: "graph minors" is both a unigram and a bigram key
    sentences = [*common_texts, ["graph", "minors", "survey", "human", "interface"]]
    gb = gp.Phrases(sentences, min_count=1, threshold=1, delimiter=" ")
    eb = ep.Phrases(sentences, min_count=1, threshold=1, delimiter=" ")
    gt = gp.Phrases(gb[sentences], min_count=1, threshold=1, delimiter=" ")
    et = ep.Phrases(eb[sentences], min_count=1, threshold=1, delimiter=" ")
    _same(gt, et, sentences)
    assert set(et.export_phrases()) == {"human interface", "graph minors survey"}


def test_corpus_file_gives_the_same_model_as_line_sentences(tmp_path):
    corpus = [s for s in _random_corpus(5, 300) if s]
    path = tmp_path / "c.txt.gz"
    with gzip.open(path, "wt", encoding="utf8") as fh:
        fh.writelines(" ".join(s) + "\n" for s in corpus)
    kw = {"min_count": 1, "threshold": 0.5, "connector_words": {"of"}, "max_vocab_size": 30}
    g = gp.Phrases(corpus, **kw)
    e = ep.Phrases(corpus_file=path, **kw)
    _same(g, e, corpus[:20])


def test_a_token_with_the_delimiter_after_the_first_batch(monkeypatch):
    # the first batches count words as ids, "new_york" then turns the table to text
    monkeypatch.setattr(ep, "_BATCH_WORDS", 500)
    corpus = _random_corpus(11, 300, phrased=False) + [["new_york", "new", "york"]] * 3
    corpus += _random_corpus(12, 300)
    g, e = _both(corpus, min_count=1, threshold=0.5, connector_words={"of"}, max_vocab_size=80)
    assert e.min_reduce == g.min_reduce
    _same(g, e, corpus[:30])


def test_settings_changed_after_learning_like_gensim():
    corpus = _random_corpus(13, 300, phrased=False)
    g, e = _both(corpus, min_count=1, threshold=0.5, connector_words={"of"})
    more = _random_corpus(14, 100, phrased=False)
    for m in (g, e):
        m.connector_words = frozenset({"of", "the"})
        m.add_vocab(more)
    _same(g, e, more[:20])
    for m in (g, e):
        m.delimiter = "-"  # old keys keep "_"; export splits on "-"
        m.add_vocab([["a", "b", "x_y", "a", "b"]])
    assert list(e.vocab.items()) == list(g.vocab.items())
    assert e.export_phrases() == g.export_phrases()


def test_connector_and_empty_token_quirks():
    corpus = [["x", "", "y", "of"], ["of", "x", "y"], ["", "of", "y"]] * 3
    g, e = _both(corpus, min_count=1, threshold=0.1, connector_words={"of"})
    _same(g, e, [*corpus, ["", ""], ["of"], []])


def test_custom_scorer_and_subclass_score_candidate():
    g, e = _both(CONNECTED, min_count=1, threshold=0.001, scoring=dumb_scorer)
    probe = [["data", "and", "graph", "survey", "for", "human", "interface"]]
    assert e.find_phrases(probe) == g.find_phrases(probe)
    assert set(e.find_phrases(probe).values()) == {1}

    class Upper(ep.Phrases):
        def score_candidate(self, word_a, word_b, in_between):
            return (f"{word_a}+{word_b}", 2.0) if word_a == "graph" else (None, None)

    u = Upper(CONNECTED, min_count=1, threshold=1)
    assert u[["graph", "survey", "x"]] == ["graph+survey", "x"]


def test_bad_input():
    with pytest.raises(ValueError, match="min_count"):
        ep.Phrases(common_texts, min_count=0)
    with pytest.raises(ValueError, match="positive"):
        ep.Phrases(common_texts, threshold=-1)
    with pytest.raises(ValueError, match="between -1 and 1"):
        ep.Phrases(common_texts, scoring="npmi", threshold=2)
    with pytest.raises(ValueError, match="unknown scoring"):
        ep.Phrases(common_texts, scoring="pmi")
    with pytest.raises(ValueError, match="missing expected parameters"):
        ep.Phrases(common_texts, scoring=lambda a, b: 1)
    with pytest.raises(pickle.PickleError):

        def local(worda_count, wordb_count, bigram_count, len_vocab, min_count, corpus_word_count):
            return 1

        ep.Phrases(common_texts, scoring=local)
    with pytest.raises(TypeError, match="tokens must be str"):
        ep.Phrases([["a", 3, "b"]])
    with pytest.raises(TypeError, match="iterable"):
        ep.Phrases(5)
    with pytest.raises(TypeError, match="corpus_file"):
        ep.Phrases("not a corpus")
    with pytest.raises(FileNotFoundError):
        ep.Phrases(corpus_file="/nonexistent/corpus.txt")
    with pytest.raises(ValueError, match="empty separator"):
        ep.Phrases(common_texts, min_count=1, delimiter="").export_phrases()


@pytest.mark.parametrize("scoring", ["default", "npmi", dumb_scorer])
def test_save_load_roundtrip(tmp_path, scoring):
    threshold = 0.001 if scoring is dumb_scorer else (0.1 if scoring == "npmi" else 1)
    m = ep.Phrases(
        CONNECTED, min_count=1, threshold=threshold, scoring=scoring, connector_words={"of", "and"}
    )
    m.save(tmp_path / "p.model")
    back = ep.Phrases.load(tmp_path / "p.model")
    assert type(back) is ep.Phrases
    assert list(back.vocab.items()) == list(m.vocab.items())
    assert back.connector_words == m.connector_words
    assert back.scoring is m.scoring
    assert back.export_phrases() == m.export_phrases()
    f = m.freeze()
    f.save(tmp_path / "f.model")
    fb = ep.FrozenPhrases.load(tmp_path / "f.model")
    assert type(fb) is ep.FrozenPhrases
    assert fb.phrasegrams == f.phrasegrams
    assert fb[CONNECTED[-3]] == f[CONNECTED[-3]]


def test_load_refuses_other_files_and_gensim_pickles_load_safely(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"not a model")
    with pytest.raises((ValueError, pickle.UnpicklingError)):
        ep.Phrases.load(bad)
    g = gp.Phrases(CONNECTED, min_count=1, threshold=1, connector_words={"of"})
    g.save(str(tmp_path / "g.pkl"))
    e = ep.Phrases.load(tmp_path / "g.pkl")
    assert list(e.vocab.items()) == list(g.vocab.items())
    assert e.export_phrases() == g.export_phrases()
    g.freeze().save(str(tmp_path / "gf.pkl"))
    ef = ep.FrozenPhrases.load(tmp_path / "gf.pkl")
    assert ef.phrasegrams == g.freeze().phrasegrams
    # a gensim pickle whose scorer is not gensim's is refused, not run
    gp.Phrases(CONNECTED, min_count=1, threshold=0.01, scoring=dumb_scorer).save(
        str(tmp_path / "custom.pkl")
    )
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        ep.Phrases.load(tmp_path / "custom.pkl")


def test_log_lines(caplog):
    with caplog.at_level(logging.INFO):
        gp.Phrases(common_texts, min_count=1, progress_per=2)
        ep.Phrases(common_texts, min_count=1, progress_per=2)

    def lines(logger: str) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == logger]

    ours, theirs = lines("embedrs.models.phrases"), lines("gensim.models.phrases")
    assert ours[0] == theirs[0] == "collecting all words and their counts"
    assert any(m.startswith("PROGRESS: at sentence #") for m in ours)
    collected = [m for m in theirs if m.startswith("collected ")]
    assert collected and collected[0] in ours  # same entry, word and sentence counts


def test_phraser_alias_and_public_names():
    assert ep.Phraser is ep.FrozenPhrases
    for name in ("Phrases", "FrozenPhrases", "Phraser", "ENGLISH_CONNECTOR_WORDS", "NEGATIVE_INFINITY",
                 "original_scorer", "npmi_scorer"):  # fmt: skip
        assert getattr(ep, name) is not None
        assert hasattr(gp, name)
    assert ep.ENGLISH_CONNECTOR_WORDS == gp.ENGLISH_CONNECTOR_WORDS
    args = (3, 4, 2, 50, 1, 100)
    assert ep.original_scorer(*args) == gp.original_scorer(*args)
    assert ep.npmi_scorer(*args) == gp.npmi_scorer(*args)
