"""gensim's ``gensim.test.utils`` helpers: ``common_texts``, ``get_tmpfile``,
``common_dictionary``-free corpora used throughout gensim's documentation."""

from __future__ import annotations

import os
import tempfile

common_texts: list[list[str]] = [
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


def get_tmpfile(suffix: str) -> str:
    """A path named ``suffix`` inside a fresh temporary directory (as gensim's helper)."""
    return os.path.join(tempfile.mkdtemp(), suffix)
