"""Which bytes of the corpus each actor trains, and the chunks it trains between syncs.

The corpus is the concatenation of ``corpus_files`` in order, each file ending a
line. It is cut into one contiguous *share* per actor, balanced by bytes: a cut
falls just after a newline, so no line is split (a compressed ``.gz``/``.bz2``
file cannot be entered at a byte offset and is never cut: it goes whole to the
share its first byte falls in). A share is a list of :class:`Range`.

An actor turns its share into *chunks* of about ``chunk_words`` words, each a
small local file in the ``corpus_file`` format trained with one call of the
Rust engine. Word2Vec chunks may cut a long line, but only at a multiple of
``MAX_SENTENCE_LEN`` tokens, where the Rust reader cuts sentences anyway, so
every chunk holds exactly the sentences single-process training would see.
Doc2Vec chunks cut only between lines (a line is a document, tagged by its
line number in the whole corpus).
"""

from __future__ import annotations

import glob
import itertools
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from embedrs.corpora import open_text_binary

#: The Rust reader's sentence length (tokens); longer lines are cut there.
MAX_SENTENCE_LEN = 10000
_COMPRESSED = (".gz", ".bz2")


@dataclass(frozen=True)
class Range:
    """Bytes ``[start, end)`` of ``path`` (``end=None``: to the end; compressed files whole)."""

    path: str
    start: int = 0
    end: int | None = None


def expand_files(corpus_files: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """The corpus paths, globs expanded (sorted), in the given order.

    Raises
    ------
    TypeError
        When ``corpus_files`` is not a path or a list of paths.
    FileNotFoundError
        When a path or glob matches no file.
    ValueError
        When the list is empty.
    """
    if isinstance(corpus_files, (str, os.PathLike)):
        corpus_files = [corpus_files]
    if not isinstance(corpus_files, Sequence):
        raise TypeError(
            f"corpus_files must be a path or a list of paths (or globs), got "
            f"{type(corpus_files).__name__}"
        )
    paths: list[str] = []
    for item in corpus_files:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"corpus_files must hold paths, got {type(item).__name__} {item!r}")
        name = os.fspath(item)
        matches = sorted(glob.glob(name)) if glob.has_magic(name) else [name]
        matches = [m for m in matches if os.path.isfile(m)]
        if not matches:
            raise FileNotFoundError(f"no corpus file matches {name!r}")
        paths.extend(matches)
    if not paths:
        raise ValueError("corpus_files is empty; give at least one corpus file")
    return paths


def _after_newline(path: str, pos: int, size: int) -> int:
    """The first byte after the newline at or after ``pos`` (``size`` if none)."""
    with open(path, "rb") as fh:
        fh.seek(pos)
        while True:
            block = fh.read(1 << 16)
            if not block:
                return size
            nl = block.find(b"\n")
            if nl >= 0:
                return pos + nl + 1
            pos += len(block)


def plan_shares(paths: Sequence[str], n: int) -> list[list[Range]]:
    """Cut the concatenated files into ``n`` contiguous shares of about equal bytes.

    Some shares are empty when there are fewer cuttable bytes than actors.
    """
    sizes = [os.path.getsize(p) for p in paths]
    total = sum(sizes)
    # Global cut positions, snapped to just after a newline (or a file end).
    cuts = [0]
    for k in range(1, n):
        target = total * k // n
        off = 0
        for path, size in zip(paths, sizes):
            if target < off + size:
                if path.endswith(_COMPRESSED):
                    pos = off + size
                else:
                    pos = off + _after_newline(path, max(target - off - 1, 0), size)
                break
            off += size
        else:
            pos = total
        cuts.append(max(pos, cuts[-1]))
    cuts.append(total)
    shares: list[list[Range]] = []
    for lo, hi in itertools.pairwise(cuts):
        share: list[Range] = []
        off = 0
        for path, size in zip(paths, sizes):
            a, b = max(lo, off), min(hi, off + size)
            if a < b or (size == 0 and lo <= off < hi):
                if path.endswith(_COMPRESSED):
                    share.append(Range(path))
                else:
                    share.append(Range(path, a - off, b - off))
            off += size
        shares.append(share)
    return shares


def read_lines(r: Range) -> Iterator[bytes]:
    """The lines of a range, each ending with ``b"\\n"`` (added to a last unterminated one)."""
    if r.path.endswith(_COMPRESSED):
        with open_text_binary(r.path) as fh:
            for line in fh:
                yield line if line.endswith(b"\n") else line + b"\n"
        return
    with open(r.path, "rb") as fh:
        fh.seek(r.start)
        left = None if r.end is None else r.end - r.start
        while left is None or left > 0:
            line = fh.readline() if left is None else fh.readline(left)
            if not line:
                return
            if left is not None:
                left -= len(line)
            yield line if line.endswith(b"\n") else line + b"\n"


def write_range(r: Range, dirname: str) -> str:
    """Copy a range into a new file under ``dirname`` (plain text); returns its path."""
    fd, path = tempfile.mkstemp(suffix=".txt", dir=dirname)
    with os.fdopen(fd, "wb") as out:
        for line in read_lines(r):
            out.write(line)
    return path


@dataclass(frozen=True)
class ChunkText:
    """One chunk: its file, the corpus line number of its first line, lines and words."""

    path: str
    first_line: int
    lines: int
    words: int


def write_chunks(
    share: Sequence[Range],
    first_line: int,
    chunk_words: int,
    dirname: str,
    split_lines: bool,
    share_words: int | None = None,
) -> list[ChunkText]:
    """Write a share as chunk files of about ``chunk_words`` words under ``dirname``.

    ``split_lines`` (Word2Vec) lets a chunk end inside a line at a multiple of
    :data:`MAX_SENTENCE_LEN` tokens; otherwise (Doc2Vec) chunks end at line ends.
    ``first_line`` is the corpus line number of the share's first line.

    With ``share_words`` (the share's words, as the vocabulary scan counted
    them), the share is cut into ``round(share_words / chunk_words)`` chunks
    (at least one) of equal size, each ending at the first line (or piece)
    that reaches its multiple of ``share_words / n``: every chunk is a full
    round of work, where cutting every ``chunk_words`` words leaves a short
    last chunk that costs a whole synchronisation. Without it, chunks are
    closed every ``chunk_words`` words.
    """
    chunks: list[ChunkText] = []
    out = None
    path = ""
    start_line, lines, words = first_line, 0, 0
    line_no = first_line
    n_chunks = max(1, round((share_words or 0) / max(chunk_words, 1)))
    done = 0  # words in the chunks closed so far

    def full() -> bool:
        if share_words is None:
            return words >= chunk_words
        # the last chunk takes whatever is left
        cut = (len(chunks) + 1) * share_words / n_chunks
        return len(chunks) < n_chunks - 1 and done + words >= cut

    def close() -> None:
        nonlocal out, start_line, lines, words, done
        if out is not None:
            out.close()
            chunks.append(ChunkText(path, start_line, lines, words))
            out = None
        done += words
        start_line, lines, words = line_no, 0, 0

    def open_new() -> None:
        nonlocal out, path
        fd, path = tempfile.mkstemp(suffix=".txt", dir=dirname)
        out = os.fdopen(fd, "wb")

    for r in share:
        for line in read_lines(r):
            tokens = line.split()
            pieces = (
                [tokens[i : i + MAX_SENTENCE_LEN] for i in range(0, len(tokens), MAX_SENTENCE_LEN)]
                if split_lines and len(tokens) > MAX_SENTENCE_LEN
                else None
            )
            if pieces is None:
                if out is None:
                    open_new()
                out.write(line)  # type: ignore[union-attr]
                lines += 1
                words += len(tokens)
            else:
                for piece in pieces:
                    if out is None:
                        open_new()
                    out.write(b" ".join(piece) + b"\n")  # type: ignore[union-attr]
                    lines += 1
                    words += len(piece)
                    if full():
                        close()
            line_no += 1
            if full():
                close()
    close()
    return chunks
