"""Vocabulary counting in parallel Ray tasks, merged to single-process's counts.

Each task counts one range with the same Rust counter that
``build_vocab(corpus_file=...)`` uses (``CorpusFile.count_words``). Summing the
per-range counts in range order gives the same counts, the same first-seen
order (which breaks ties when the vocabulary is sorted) and the same sentence
and word totals as one pass over the concatenated files, because ranges are
cut after a newline.

``max_vocab_size`` makes gensim's counting order-dependent (it prunes rare
words whenever the table grows past the limit). When the merged table holds no
more than ``max_vocab_size`` words, the single pass never reached the limit
either (a table only grows while counting), so the merged counts are exact.
Otherwise one task repeats the single-process scan over the whole corpus,
``trim_rule`` included; that is the only exact answer.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from embedrs._embedrs import CorpusFile
from embedrs.corpora import count_lines
from embedrs.distributed._plan import MAX_SENTENCE_LEN, Range, read_lines, write_range


@dataclass
class Counts:
    """Merged counts: ``raw`` word counts (first-seen order), sentences, words, lines."""

    raw: dict[str, int]
    sentences: int
    total_words: int
    lines: list[int]  # lines of each range, in range order
    words: list[int]  # words of each range, in range order


def count_range(r: Range, documents: bool) -> tuple[list, int, int, int]:
    """Count one range: ``(items, sentences, words, lines)``, as ``scan_vocab`` counts a file.

    ``documents`` (Doc2Vec) counts lines as documents, uncut, as Doc2Vec's scan does.
    """
    tmp = tempfile.mkdtemp(prefix="embedrs-count-")
    try:
        path = write_range(r, tmp)
        corpus = CorpusFile(path)
        msl = (1 << 62) if documents else MAX_SENTENCE_LEN
        items, sentences, total = corpus.count_words(1, msl, None)
        del corpus
        return list(items), int(sentences), int(total), count_lines(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def scan_sequential(
    ranges: Sequence[Range], model_factory: Callable[[], Any], trim_rule: Callable | None
) -> tuple[dict[str, int], int, int, int]:
    """The single-process scan (pruning under ``max_vocab_size``) over all ranges in order.

    Returns ``(raw_vocab, corpus_count, corpus_total_words, lines)``.
    """
    tmp = tempfile.mkdtemp(prefix="embedrs-count-")
    try:
        path = os.path.join(tmp, "corpus.txt")
        with open(path, "wb") as out:
            for r in ranges:
                out.writelines(read_lines(r))
        model = model_factory()
        model.scan_vocab(corpus_file=path, workers=1, trim_rule=trim_rule)
        return (
            dict(model.raw_vocab),
            int(model.corpus_count),
            int(model.corpus_total_words),
            count_lines(path),
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def merge(parts: Sequence[tuple[list, int, int, int]]) -> Counts:
    """Sum per-range counts in range order (keeps the corpus's first-seen order)."""
    raw: dict[str, int] = {}
    sentences = total = 0
    lines: list[int] = []
    words: list[int] = []
    for items, s, t, n_lines in parts:
        get = raw.get
        for word, c in items:
            raw[word] = get(word, 0) + c
        sentences += s
        total += t
        lines.append(n_lines)
        words.append(t)
    return Counts(raw, sentences, total, lines, words)


def count_parallel(
    ray: Any,
    ranges: Sequence[Range],
    documents: bool,
    max_vocab_size: int | None,
    model_factory: Callable[[], Any],
    trim_rule: Callable | None,
) -> Counts:
    """Count every range in its own Ray task and merge (see the module docs for pruning)."""
    task = ray.remote(num_cpus=1)(count_range)
    parts = ray.get([task.remote(r, documents) for r in ranges])
    counts = merge(parts)
    if max_vocab_size and len(counts.raw) > max_vocab_size:
        seq = ray.remote(num_cpus=1)(scan_sequential)
        raw, sentences, total, _ = ray.get(seq.remote(list(ranges), model_factory, trim_rule))
        counts = Counts(raw, sentences, total, counts.lines, counts.words)
    return counts
