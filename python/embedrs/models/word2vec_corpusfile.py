"""gensim's ``models.word2vec_corpusfile`` names.

embedrs reads ``corpus_file`` in Rust (per-thread byte ranges); pass
``corpus_file=`` to :class:`~embedrs.models.word2vec.Word2Vec` to use it.
:class:`CythonLineSentence`, gensim's line reader over such a file, is
provided in Python with gensim's behaviour (tokens as ``bytes``, sentences cut
into chunks of ``max_sentence_length``); the per-epoch training functions are
gensim internals and raise ``NotImplementedError`` saying what to call instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, BinaryIO

from embedrs._compat import unsupported_class, unsupported_function
from embedrs.utils import any2utf8

#: gensim's value when its corpus_file path is compiled (embedrs always has it).
CORPUSFILE_VERSION = 1
#: gensim's default ``max_sentence_length`` of a corpus-file line.
MAX_SENTENCE_LEN = 10000


def _to_bytes(source: Any) -> bytes:
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    return source if isinstance(source, bytes) else str(source).encode("utf8")


class CythonLineSentence:
    """Read a ``LineSentence`` file from byte ``offset``: one sentence a line,
    whitespace-separated tokens as ``bytes``, as gensim's.

    Parameters
    ----------
    source : str or bytes
        Path of the file.
    offset : int
        Byte position to start reading from (gensim starts mid-token if told to).
    max_sentence_length : int
        Longer lines are cut into chunks of this many tokens.
    """

    def __init__(
        self, source: Any, offset: int = 0, max_sentence_length: int = MAX_SENTENCE_LEN
    ) -> None:
        self.source = _to_bytes(source)
        self.offset = int(offset)
        self.max_sentence_length = int(max_sentence_length)
        self.max_words_in_batch = self.max_sentence_length  # as gensim's
        self._fh: BinaryIO = open(self.source, "rb")  # noqa: SIM115  (kept open, as gensim's)
        self._size = os.fstat(self._fh.fileno()).st_size
        self._pending: list[list[bytes]] = []
        self.reset()

    def __del__(self) -> None:
        fh = getattr(self, "_fh", None)
        if fh is not None:
            fh.close()

    def reset(self) -> None:
        """Go back to ``offset``."""
        self._fh.seek(self.offset)
        self._pending = []

    def is_eof(self) -> bool:
        """Whether the whole file has been read."""
        return self._fh.tell() >= self._size

    def read_sentence(self) -> list[bytes]:
        """The tokens of the next line (empty at the end of the file)."""
        return self._fh.readline().split()

    def _chunk_sentence(self, sent: list[bytes]) -> list[list[bytes]]:
        n = self.max_sentence_length
        if len(sent) <= n:
            return [sent]
        return [sent[i : i + n] for i in range(0, len(sent), n)]

    def _read_chunked_sentence(self) -> list[list[bytes]]:
        return self._chunk_sentence(self.read_sentence())

    def __iter__(self) -> Iterator[list[bytes]]:
        self.reset()
        while not self.is_eof():
            for chunk in self._read_chunked_sentence():
                if chunk:
                    yield chunk

    def next_batch(self) -> list[list[bytes]]:
        """The next sentences holding at most ``max_words_in_batch`` tokens (gensim's rule:
        a batch is filled past the limit, then its tail is kept for the next call)."""
        batch, self._pending = self._pending, []
        size = sum(len(s) for s in batch)
        while not self.is_eof() and size <= self.max_words_in_batch:
            for chunk in self._read_chunked_sentence():
                batch.append(chunk)
                size += len(chunk)
        if size > self.max_words_in_batch:
            keep = 0
            for idx in range(len(batch) - 1, -1, -1):
                if size - len(batch[idx]) <= self.max_words_in_batch:
                    keep = idx + 1
                    break
                size -= len(batch[idx])
            self._pending = batch[keep:]
            batch = batch[:keep]
        return batch

    def __reduce__(self) -> tuple:
        return rebuild_cython_line_sentence, (self.source, self.max_sentence_length)


def rebuild_cython_line_sentence(source: Any, max_sentence_length: int) -> CythonLineSentence:
    """Unpickling helper of :class:`CythonLineSentence` (gensim's name)."""
    return CythonLineSentence(source, max_sentence_length=max_sentence_length)


_INSTEAD = "embedrs trains corpus files in Rust: use Word2Vec(corpus_file=...) or model.train(corpus_file=...)"
CythonVocab = unsupported_class(
    "CythonVocab", "gensim.models.word2vec_corpusfile.CythonVocab", _INSTEAD
)
train_epoch_sg = unsupported_function(
    "train_epoch_sg", "gensim.models.word2vec_corpusfile.train_epoch_sg", _INSTEAD
)
train_epoch_cbow = unsupported_function(
    "train_epoch_cbow", "gensim.models.word2vec_corpusfile.train_epoch_cbow", _INSTEAD
)

__all__ = [
    "CORPUSFILE_VERSION",
    "CythonLineSentence",
    "CythonVocab",
    "any2utf8",
    "rebuild_cython_line_sentence",
    "train_epoch_cbow",
    "train_epoch_sg",
]
