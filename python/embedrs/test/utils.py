"""gensim's ``gensim.test.utils`` helpers: ``datapath``, ``common_texts``,
``lee_corpus_list``, ``get_tmpfile`` and ``temporary_file``.

``datapath`` points into the small set of public test files shipped with
embedrs (``embedrs/test/test_data``: the Lee corpus, the analogy and word-pair
evaluation sets, the Poincaré hypernym files). ``lee_corpus_list`` is read on
first use rather than at import.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from embedrs.utils import simple_preprocess

module_path = os.path.dirname(__file__)

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


def datapath(fname: str) -> str:
    """Full path of ``fname`` in embedrs's test data folder (as gensim's helper).

    Parameters
    ----------
    fname : str
        File name, e.g. ``"lee_background.cor"`` or ``"questions-words.txt"``.

    Returns
    -------
    str
        The path; the file itself is not checked for, as in gensim.
    """
    return os.path.join(module_path, "test_data", fname)


def get_tmpfile(suffix: str) -> str:
    """Path named ``suffix`` inside a fresh temporary directory (the file is not created).

    Parameters
    ----------
    suffix : str
        File name.

    Returns
    -------
    str
        A new path on every call.
    """
    return os.path.join(tempfile.mkdtemp(), suffix)


@contextlib.contextmanager
def temporary_file(name: str = "") -> Iterator[str]:
    """Yield the path ``name`` inside a temporary directory removed on exit.

    Parameters
    ----------
    name : str
        File name (not created).

    Yields
    ------
    str
        The path; its directory and everything in it are deleted afterwards.
    """
    tmp = tempfile.mkdtemp()
    try:
        yield os.path.join(tmp, name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class LeeCorpus:
    """The Lee background corpus, one :func:`~embedrs.utils.simple_preprocess`-ed
    document per line of ``lee_background.cor``."""

    def __iter__(self) -> Iterator[list[str]]:
        with open(datapath("lee_background.cor"), encoding="utf8") as f:
            for line in f:
                yield simple_preprocess(line)


_lazy: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    # lee_corpus_list is built on first access (gensim builds it at import)
    if name == "lee_corpus_list":
        if name not in _lazy:
            _lazy[name] = list(LeeCorpus())
        return _lazy[name]
    if name in ("common_dictionary", "common_corpus"):
        raise AttributeError(
            f"embedrs.test.utils has no {name}: it needs gensim.corpora.Dictionary, which "
            "embedrs does not implement; use gensim.test.utils." + name
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
