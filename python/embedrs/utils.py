"""Helpers with gensim's names: ``tokenize``, ``simple_preprocess``,
``simple_tokenize``, ``deaccent``, ``save_as_line_sentence``, the ``trim_rule``
constants and the small decorators gensim's model modules import."""

from __future__ import annotations

import bz2
import copy
import functools
import gzip
import logging
import math
import platform
import re
import sys
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

RULE_DEFAULT = 0
RULE_DISCARD = 1
RULE_KEEP = 2

logger = logging.getLogger(__name__)
_MISSING = object()


class LifecycleEvents:
    """gensim's record of a model's life (``SaveLoad.add_lifecycle_event``).

    Models, keyed vectors and phrase detectors keep a list of events (created,
    vocabulary built, trained, ...) in ``lifecycle_events``; it has no effect on
    the model and helps when asking what happened to it. Setting
    ``lifecycle_events = None`` stops the recording.
    """

    def add_lifecycle_event(
        self, event_name: str, log_level: int | bool = logging.INFO, **event: Any
    ) -> None:
        """Append an event to ``lifecycle_events`` and log it at ``log_level``.

        Parameters
        ----------
        event_name : str
            What happened ("created", "saved", any label); stored as ``event``.
        log_level : int or bool
            Level at which the whole event is logged; ``False`` or 0 logs nothing.
        **event
            Values to keep with the event (best kept JSON-friendly). ``datetime``,
            ``embedrs`` (the version), ``python``, ``platform`` and ``event`` are
            added.
        """
        from embedrs import __version__

        if not isinstance(log_level, int):
            raise TypeError(
                f"log_level must be a logging level such as logging.INFO, or False, "
                f"got {log_level!r}"
            )
        record = copy.deepcopy(event)
        record["datetime"] = datetime.now().isoformat()
        record["embedrs"] = __version__
        record["python"] = sys.version
        record["platform"] = platform.platform()
        record["event"] = event_name
        if getattr(self, "lifecycle_events", _MISSING) is _MISSING:
            self.lifecycle_events: list[dict[str, Any]] | None = []
        if log_level:
            logger.log(int(log_level), "%s lifecycle event %s", type(self).__name__, record)
        if self.lifecycle_events is not None:
            self.lifecycle_events.append(record)

    def _events_for_file(self) -> list[dict[str, Any]] | None:
        """``lifecycle_events`` as plain JSON values, for a model file.

        Values JSON cannot hold (sets, arrays, objects, NaN) are stored as their
        ``str``; ``None`` (recording switched off) stays ``None``.
        """
        events = getattr(self, "lifecycle_events", None)
        if events is None:
            return None
        return [_plain(e) for e in events if isinstance(e, dict)]

    def _events_from_file(self, stored: Any, fname: str | None = None) -> None:
        """Restore ``lifecycle_events`` from a file's record, then log ``loaded``.

        ``None`` keeps the recording switched off, as gensim does; anything
        else but a list of event dicts (a damaged record) starts an empty list.
        Callers pass ``[]`` for a file from before the events were stored. ``fname`` given: a "loaded"
        event is added, as gensim's ``load`` adds one.
        """
        if stored is None:
            self.lifecycle_events = None
        elif isinstance(stored, list):
            self.lifecycle_events = [_plain(e) for e in stored if isinstance(e, dict)]
        else:
            self.lifecycle_events = []
        if fname is not None:
            self.add_lifecycle_event("loaded", fname=str(fname))


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-friendly data: dicts with str keys, lists, str, finite
    numbers, bools and None; anything else (or nested past 20 levels) as its str."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if depth < 20:
        if isinstance(value, dict):
            return {str(k): _plain(v, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_plain(v, depth + 1) for v in value]
    try:
        return str(value)[:10000]
    except Exception:  # noqa: BLE001 - a stand-in object whose str fails
        return f"<{type(value).__name__}>"


_ALPHA_RE = re.compile(r"((?![\d])\w)+", re.UNICODE)
_SIMPLE_RE = re.compile(r"(((?![\d])\w)+)", re.UNICODE)


def to_unicode(text: str | bytes, encoding: str = "utf8", errors: str = "strict") -> str:
    """Return ``text`` as ``str``, decoding bytes with ``encoding``."""
    if isinstance(text, str):
        return text
    return str(text, encoding, errors=errors)


def any2utf8(text: str | bytes, errors: str = "strict", encoding: str = "utf8") -> bytes:
    """Return ``text`` as UTF-8 bytes (bytes are decoded with ``encoding`` first)."""
    if isinstance(text, str):
        return text.encode("utf8")
    return str(text, encoding, errors=errors).encode("utf8")


to_utf8 = any2utf8
any2unicode = to_unicode


def call_on_class_only(*args: Any, **kwargs: Any) -> None:
    """Stand-in for a classmethod called on an instance (``model.load(...)``).

    Raises
    ------
    AttributeError
        Always, as gensim's: load is called on the class, ``Word2Vec.load(path)``.
    """
    raise AttributeError("This method should be called on a class object.")


def deprecated(reason: str) -> Callable[[_F], _F]:
    """Decorator: calling the function emits a ``DeprecationWarning`` naming ``reason``.

    Parameters
    ----------
    reason : str
        Why, and what to use instead.
    """
    if not isinstance(reason, str):
        raise TypeError(repr(type(reason)))

    def decorator(func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            warnings.warn(
                f"Call to deprecated `{func.__name__}` ({reason}).",
                category=DeprecationWarning,
                stacklevel=2,
            )
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def save_as_line_sentence(corpus: Iterable[Iterable[str]], filename: str) -> None:
    """Write ``corpus`` in ``LineSentence`` format: one sentence a line, tokens joined by spaces.

    A ``.gz`` or ``.bz2`` file name is compressed, as gensim's (through smart_open).

    Parameters
    ----------
    corpus : iterable of iterable of str
        The sentences.
    filename : str
        Output path.
    """
    name = str(filename)
    if name.endswith(".gz"):
        opener: Any = gzip.open
    elif name.endswith(".bz2"):
        opener = bz2.open
    else:
        opener = open
    with opener(name, "wt", encoding="utf8") as fout:
        for sentence in corpus:
            fout.write(to_unicode(" ".join(sentence) + "\n"))


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
