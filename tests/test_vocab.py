"""Vocabulary rules: counting with gensim's pruning under ``max_vocab_size``,
the final trim (``min_count``, ``max_final_vocab``, ``trim_rule``) and
``null_word``, checked against gensim and against a plain reading of its rule.
"""

from __future__ import annotations

import importlib.util
import random

import pytest
from embedrs._embedrs import VocabCounter, finalize_vocab
from embedrs.models.word2vec import Word2Vec
from embedrs.utils import RULE_DEFAULT, RULE_DISCARD, RULE_KEEP


def _corpus(seed: int, n_sentences: int = 400, n_words: int = 300) -> list[list[str]]:
    """Sentences of Zipf-like words, some empty, so that pruning drops and re-inserts words."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(n_words)]
    weights = [1.0 / (i + 1) for i in range(n_words)]
    return [rng.choices(words, weights, k=rng.randrange(0, 25)) for _ in range(n_sentences)]


def _reference_scan(sentences, max_vocab_size, trim_rule=None):
    """gensim's ``_scan_vocab`` rule written out with a dict (insertion ordered)."""
    vocab: dict[str, int] = {}
    min_reduce = 1
    total = 0
    for sentence in sentences:
        for w in sentence:
            vocab[w] = vocab.get(w, 0) + 1
        total += len(sentence)
        if max_vocab_size and len(vocab) > max_vocab_size:
            for w in list(vocab):
                rule = trim_rule(w, vocab[w], min_reduce) if trim_rule else RULE_DEFAULT
                keep = (rule == RULE_KEEP) or (rule != RULE_DISCARD and vocab[w] >= min_reduce)
                if not keep:
                    del vocab[w]
            min_reduce += 1
    return list(vocab.items()), total


def _vocab(model) -> tuple[list[str], list[int]]:
    return list(model.wv.index_to_key), [int(c) for c in model.wv.expandos["count"]]


@pytest.mark.parametrize("max_vocab_size", [5, 40, 120, 10_000])
def test_counter_follows_the_rule(max_vocab_size):
    sentences = _corpus(1)
    counter = VocabCounter(max_vocab_size)
    counter.update(sentences[:150])
    counter.update(iter(sentences[150:]))  # any iterable, in several calls
    items, total = _reference_scan(sentences, max_vocab_size)
    assert counter.items() == items
    assert counter.total_words == total
    assert counter.sentences == len(sentences)
    assert len(counter) == len(items)


def test_counter_progress_and_trim_rule():
    sentences = _corpus(2)
    calls = []

    def rule(word, count, min_reduce):
        return RULE_KEEP if word == "w299" else RULE_DEFAULT

    counter = VocabCounter(20, lambda w, c, m: rule(w, c, m) == RULE_KEEP or c >= m)
    counter.update(sentences, 100, lambda *a: calls.append(a))
    items, _ = _reference_scan(sentences, 20, rule)
    assert counter.items() == items
    assert [c[0] for c in calls] == [100, 200, 300, 400]
    assert calls[-1][1] == counter.total_words
    assert calls[-1][2] == len(counter)


def test_counter_errors_propagate_from_the_trim_rule():
    def rule(word, count, min_reduce):
        raise ZeroDivisionError("rule failed")

    counter = VocabCounter(1, rule)
    with pytest.raises(ZeroDivisionError, match="rule failed"):
        counter.update([["a", "b"]])


@pytest.mark.parametrize(
    ("sentences", "match"),
    [
        ([["a"], 5], r"each sentence must be a list of str tokens, got int 5 \(sentence #1\)"),
        ([[["a", "b"]]], r"each sentence must be a list of str tokens, got list \[\['a', 'b'\]\]"),
        ([["a", 1.5]], r"tokens must be str, got float 1\.5"),
        ([("a", b"b")], r"tokens must be str, got bytes b'b'"),
    ],
)
def test_counter_refuses_what_is_not_token_lists(sentences, match):
    with pytest.raises(TypeError, match=match):
        VocabCounter().update(sentences)


def test_counter_counts_the_characters_of_a_plain_string():
    counter = VocabCounter()
    counter.update(["abca", ("b", "c")])
    assert counter.items() == [("a", 2), ("b", 2), ("c", 2)]
    assert counter.total_words == 6


def test_finalize_returns_the_effective_min_count():
    raw = [("a", 10), ("b", 9), ("c", 8), ("d", 8), ("e", 3)]
    assert finalize_vocab(raw, 1, 3, True) == (["a", "b"], [10, 9], 9)
    assert finalize_vocab(raw, 4, None, False) == (["a", "b", "c", "d"], [10, 9, 8, 8], 4)
    seen = []
    words, _, eff = finalize_vocab(raw, 1, 2, True, lambda w, c, m: seen.append(m) or w == "e")
    assert (words, eff) == (["e"], 9)
    assert set(seen) == {9}


requires_gensim = pytest.mark.skipif(
    importlib.util.find_spec("gensim") is None, reason="gensim is the reference"
)


def _gensim_vocab(**kwargs):
    from gensim.models import Word2Vec as GensimWord2Vec

    corpus = kwargs.pop("corpus")
    model = GensimWord2Vec(**kwargs)
    if isinstance(corpus, str):
        model.build_vocab(corpus_file=corpus)
    else:
        model.build_vocab(corpus)
    return model


@requires_gensim
@pytest.mark.parametrize("max_vocab_size", [10, 60, 150])
@pytest.mark.parametrize("sorted_vocab", [0, 1])
def test_max_vocab_size_matches_gensim(tmp_path, max_vocab_size, sorted_vocab):
    sentences = [
        s for s in _corpus(3, n_sentences=600) if s
    ]  # a file cannot hold an empty sentence
    path = tmp_path / "corpus.txt"
    path.write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")
    params = dict(min_count=1, max_vocab_size=max_vocab_size, sorted_vocab=sorted_vocab)
    want = _gensim_vocab(corpus=sentences, **params)
    want_file = _gensim_vocab(corpus=str(path), **params)
    assert _vocab(want_file) == _vocab(want)
    for corpus in (sentences, str(path)):
        model = Word2Vec(**params, workers=2)
        if isinstance(corpus, str):
            model.build_vocab(corpus_file=corpus)
        else:
            model.build_vocab(corpus)
        assert _vocab(model) == _vocab(want)
        assert (model.corpus_count, model.corpus_total_words) == (
            want.corpus_count,
            want.corpus_total_words,
        )
        assert model.effective_min_count == want.effective_min_count
    # The bound did something: fewer words than without it.
    assert len(want.wv) < len(_gensim_vocab(corpus=sentences, min_count=1).wv)


@requires_gensim
def test_max_vocab_size_with_trim_rule_matches_gensim(tmp_path):
    sentences = [s for s in _corpus(4) if s]
    path = tmp_path / "corpus.txt"
    path.write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")

    def rule(word, count, min_count):
        if word.endswith("7"):
            return RULE_KEEP
        return RULE_DISCARD if word.endswith("3") else RULE_DEFAULT

    params = dict(min_count=2, max_vocab_size=30, max_final_vocab=25)
    from gensim.models import Word2Vec as GensimWord2Vec

    want = GensimWord2Vec(**params)
    want.build_vocab(sentences, trim_rule=rule)
    for kwargs in ({"corpus_iterable": sentences}, {"corpus_file": str(path)}):
        model = Word2Vec(**params)
        model.build_vocab(trim_rule=rule, **kwargs)
        assert _vocab(model) == _vocab(want)
        assert model.effective_min_count == want.effective_min_count


@requires_gensim
@pytest.mark.parametrize("sorted_vocab", [0, 1])
@pytest.mark.parametrize("min_count", [1, 2])
def test_null_word_matches_gensim(sorted_vocab, min_count):
    sentences = [["a", "b", "b", "c"], ["c", "c", "d"], ["e", "b"]]
    params = dict(min_count=min_count, null_word=1, sorted_vocab=sorted_vocab)
    want = _gensim_vocab(corpus=sentences, **params)
    model = Word2Vec(**params)
    model.build_vocab(sentences)
    assert _vocab(model) == _vocab(want)
    assert "\0" in model.wv.key_to_index
