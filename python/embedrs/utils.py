"""Text helpers with gensim's names: ``tokenize``, ``simple_preprocess``,
``simple_tokenize``, ``deaccent`` and the ``trim_rule`` constants."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

RULE_DEFAULT = 0
RULE_DISCARD = 1
RULE_KEEP = 2

_ALPHA_RE = re.compile(r"((?![\d])\w)+", re.UNICODE)
_SIMPLE_RE = re.compile(r"(((?![\d])\w)+)", re.UNICODE)


def to_unicode(text: str | bytes, encoding: str = "utf8", errors: str = "strict") -> str:
    """Return ``text`` as ``str``, decoding bytes with ``encoding``."""
    if isinstance(text, str):
        return text
    return str(text, encoding, errors=errors)


def deaccent(text: str) -> str:
    """Remove accents (combining marks) from ``text``: ``"Šéf"`` -> ``"Sef"``."""
    norm = unicodedata.normalize("NFD", to_unicode(text))
    return unicodedata.normalize("NFC", "".join(c for c in norm if unicodedata.category(c) != "Mn"))


def tokenize(
    text: str | bytes,
    lowercase: bool = False,
    deacc: bool = False,
    encoding: str = "utf8",
    errors: str = "strict",
    to_lower: bool = False,
    lower: bool = False,
) -> Iterator[str]:
    """Yield maximal runs of alphabetic characters (digits excluded) from ``text``.

    Parameters
    ----------
    text : str or bytes
        The input.
    lowercase, to_lower, lower : bool
        Lowercase the text first (three spellings, as gensim).
    deacc : bool
        Remove accents with :func:`deaccent`.
    """
    text = to_unicode(text, encoding, errors=errors)
    if lowercase or to_lower or lower:
        text = text.lower()
    if deacc:
        text = deaccent(text)
    for match in _ALPHA_RE.finditer(text):
        yield match.group()


def simple_tokenize(text: str) -> Iterator[str]:
    """Yield alphabetic tokens of ``text`` (no lowercasing)."""
    for match in _SIMPLE_RE.finditer(text):
        yield match.group()


def simple_preprocess(
    doc: str | bytes, deacc: bool = False, min_len: int = 2, max_len: int = 15
) -> list[str]:
    """Lowercase and tokenise ``doc``, keeping tokens of ``min_len`` to ``max_len`` characters.

    Tokens starting with ``_`` are dropped, as in gensim.
    """
    return [
        token
        for token in tokenize(doc, lower=True, deacc=deacc, errors="ignore")
        if min_len <= len(token) <= max_len and not token.startswith("_")
    ]
