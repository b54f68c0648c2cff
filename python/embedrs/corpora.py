"""Streaming corpus readers with gensim's names and behaviour.

* :class:`LineSentence`: one sentence per line, tokens separated by
  whitespace; plain, ``.gz`` or ``.bz2`` files, or an open file object.
* :class:`PathLineSentences`: every file of a directory, in name order, each
  read as a :class:`LineSentence`.
* :class:`Text8Corpus`: one huge line of whitespace-separated tokens
  (the text8 format), cut into sentences of ``max_sentence_length`` words.
* :class:`TaggedDocument` and :class:`TaggedLineDocument`: the documents of
  ``Doc2Vec`` (also importable from :mod:`embedrs.models.doc2vec`, as in gensim).

All of them are re-iterable (each ``iter()`` starts from the beginning), so
they can be passed to ``Word2Vec`` for several epochs.
"""

from __future__ import annotations

import bz2
import gzip
import itertools
import logging
import os
from collections import namedtuple
from collections.abc import Iterator
from typing import IO, Any, Union

logger = logging.getLogger(__name__)

MAX_WORDS_IN_BATCH = 10000

PathLike = Union[str, "os.PathLike[str]"]


def open_text_binary(path: PathLike) -> IO[bytes]:
    """Open ``path`` for binary reading, decompressing ``.gz`` and ``.bz2`` files."""
    p = os.fspath(path)
    if p.endswith(".gz"):
        return gzip.open(p, "rb")
    if p.endswith(".bz2"):
        return bz2.open(p, "rb")
    return open(p, "rb")


def _decode(line: bytes | str, where: str, lineno: int) -> str:
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf8")
    except UnicodeDecodeError as exc:
        raise UnicodeDecodeError(
            exc.encoding,
            exc.object,
            exc.start,
            exc.end,
            f"{where}: line {lineno} is not valid UTF-8 ({exc.reason}); re-encode the file as UTF-8",
        ) from None


class LineSentence:
    """Iterate over a file that holds one sentence per line.

    Parameters
    ----------
    source : str, path or file object
        The file (``.gz``/``.bz2`` are decompressed) or an already open file,
        which is rewound with ``seek(0)`` at each pass.
    max_sentence_length : int
        Longer lines are split into pieces of this many tokens.
    limit : int, optional
        Read only the first ``limit`` lines.
    """

    def __init__(
        self,
        source: PathLike | IO[Any],
        max_sentence_length: int = MAX_WORDS_IN_BATCH,
        limit: int | None = None,
    ) -> None:
        if max_sentence_length < 1:
            raise ValueError(f"max_sentence_length must be >= 1, got {max_sentence_length}")
        self.source = source
        self.max_sentence_length = max_sentence_length
        self.limit = limit
        if not hasattr(source, "read"):
            if not os.path.exists(os.fspath(source)):
                raise FileNotFoundError(f"LineSentence: no such file: {os.fspath(source)!r}")
            if os.path.isdir(os.fspath(source)):
                raise IsADirectoryError(
                    f"LineSentence: {os.fspath(source)!r} is a directory; use PathLineSentences"
                )

    def _lines(self) -> Iterator[bytes | str]:
        if hasattr(self.source, "read"):
            self.source.seek(0)  # type: ignore[union-attr]
            yield from itertools.islice(self.source, self.limit)  # type: ignore[arg-type]
        else:
            with open_text_binary(self.source) as fin:  # type: ignore[arg-type]
                yield from itertools.islice(fin, self.limit)

    def __iter__(self) -> Iterator[list[str]]:
        where = getattr(self.source, "name", None) or str(self.source)
        n = self.max_sentence_length
        for lineno, raw in enumerate(self._lines(), 1):
            tokens = _decode(raw, where, lineno).split()
            for i in range(0, len(tokens), n):
                yield tokens[i : i + n]


class PathLineSentences:
    """Iterate over every file of a directory (sorted by name) as :class:`LineSentence`.

    Parameters
    ----------
    source : str or path
        A directory, or a single file.
    max_sentence_length : int
        Longer lines are split into pieces of this many tokens.
    limit : int, optional
        Read only the first ``limit`` lines of each file.
    """

    def __init__(
        self,
        source: PathLike,
        max_sentence_length: int = MAX_WORDS_IN_BATCH,
        limit: int | None = None,
    ) -> None:
        self.source = os.fspath(source)
        self.max_sentence_length = max_sentence_length
        self.limit = limit
        if os.path.isfile(self.source):
            self.input_files = [self.source]
        elif os.path.isdir(self.source):
            self.input_files = sorted(
                os.path.join(self.source, f)
                for f in os.listdir(self.source)
                if os.path.isfile(os.path.join(self.source, f))
            )
            logger.info("files read into PathLineSentences: %s", "\n".join(self.input_files))
        else:
            raise FileNotFoundError(
                f"PathLineSentences: no such file or directory: {self.source!r}"
            )
        if not self.input_files:
            raise ValueError(f"PathLineSentences: {self.source!r} holds no files")

    def __iter__(self) -> Iterator[list[str]]:
        for path in self.input_files:
            yield from LineSentence(path, self.max_sentence_length, self.limit)


class Text8Corpus:
    """Iterate over a text8-format file: one long line, cut into sentences.

    Parameters
    ----------
    fname : str or path
        The file (``.gz``/``.bz2`` are decompressed).
    max_sentence_length : int
        Words per yielded sentence.
    """

    def __init__(self, fname: PathLike, max_sentence_length: int = MAX_WORDS_IN_BATCH) -> None:
        self.fname = os.fspath(fname)
        self.max_sentence_length = max_sentence_length
        if not os.path.isfile(self.fname):
            raise FileNotFoundError(f"Text8Corpus: no such file: {self.fname!r}")

    def __iter__(self) -> Iterator[list[str]]:
        sentence: list[str] = []
        rest = b""
        n = self.max_sentence_length
        with open_text_binary(self.fname) as fin:
            while True:
                block = fin.read(1 << 20)
                text = rest + block
                if not block:
                    words = text.split()
                    rest = b""
                else:
                    last = max(text.rfind(b" "), text.rfind(b"\n"))
                    if last < 0:
                        rest = text
                        continue
                    words, rest = text[:last].split(), text[last + 1 :]
                sentence.extend(w.decode("utf8") for w in words)
                while len(sentence) >= n:
                    yield sentence[:n]
                    sentence = sentence[n:]
                if not block:
                    break
        if sentence:
            yield sentence


class TaggedDocument(namedtuple("TaggedDocument", "words tags")):
    """One document for ``Doc2Vec``: ``words`` (a list of str tokens) and ``tags``.

    ``tags`` is a list of document tags: ints (row ``i`` of ``model.dv`` for
    tag ``i``, the cheapest) or str keys, or a mix of both.
    """

    __slots__ = ()

    def __str__(self) -> str:
        return f"{type(self).__name__}<{self.words}, {self.tags}>"


class TaggedLineDocument:
    """Iterate over a file with one document per line, tagged with its line number.

    Line ``i`` (from 0, empty lines included) becomes
    ``TaggedDocument(line.split(), [i])``, as in gensim, and as
    ``Doc2Vec(corpus_file=...)`` numbers its documents.

    Parameters
    ----------
    source : str, path or file object
        The file (``.gz``/``.bz2`` are decompressed) or an already open file,
        which is rewound with ``seek(0)`` at each pass.
    """

    def __init__(self, source: PathLike | IO[Any]) -> None:
        self.source = source
        if not hasattr(source, "read"):
            if not isinstance(source, (str, os.PathLike)):
                raise TypeError(
                    f"TaggedLineDocument takes a path or a file object, not {type(source).__name__}"
                )
            if not os.path.exists(os.fspath(source)):
                raise FileNotFoundError(f"TaggedLineDocument: no such file: {os.fspath(source)!r}")
            if os.path.isdir(os.fspath(source)):
                raise IsADirectoryError(f"TaggedLineDocument: {os.fspath(source)!r} is a directory")

    def __iter__(self) -> Iterator[TaggedDocument]:
        where = getattr(self.source, "name", None) or str(self.source)
        if hasattr(self.source, "read"):
            self.source.seek(0)  # type: ignore[union-attr]
            for item_no, raw in enumerate(self.source):  # type: ignore[arg-type]
                yield TaggedDocument(_decode(raw, where, item_no + 1).split(), [item_no])
        else:
            with open_text_binary(self.source) as fin:  # type: ignore[arg-type]
                for item_no, raw in enumerate(fin):
                    yield TaggedDocument(_decode(raw, where, item_no + 1).split(), [item_no])


def count_lines(path: PathLike) -> int:
    """Number of lines of a text file (``.gz``/``.bz2`` decompressed), a last unterminated one included."""
    n = 0
    last = b"\n"
    with open_text_binary(path) as fin:
        while True:
            block = fin.read(1 << 20)
            if not block:
                break
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")
