"""Parameter checks shared by the models, :class:`~embedrs.manifold.TSNE` and the CLI.

Every public entry point checks its arguments here, once, before anything is
allocated or handed to Rust, so that the same bad value gets the same
exception and the same message wherever it is passed.

Conventions (those of gensim and scikit-learn):

* a value of the wrong *type* (a ``str`` or ``float`` where an integer is
  expected, a ``bool`` where a count is expected) raises :class:`TypeError`;
* a value of the right type but outside its range (negative, zero, NaN,
  infinite) raises :class:`ValueError`;
* estimators with scikit-learn's interface (``owner="TSNE"``) raise
  :class:`InvalidParameterError`, a subclass of both, with scikit-learn's
  wording ("The 'perplexity' parameter of TSNE must be ...").

Every exception raised here carries the parameter name in its ``param``
attribute, which the command line uses to name the matching option.

Threads: ``workers`` (and t-SNE's ``n_jobs``) above :func:`max_workers` are
lowered to it with a :class:`UserWarning` rather than refused: a model saved on
a large machine stays usable on a small one, and a typo such as
``workers=1000000`` cannot start a million threads.
"""

from __future__ import annotations

import math
import os
import warnings
from numbers import Integral, Real
from typing import Any, NoReturn

import numpy as np

__all__ = [
    "SEED_MAX",
    "InvalidParameterError",
    "check_choice",
    "check_flag",
    "check_float",
    "check_input_file",
    "check_int",
    "check_seed",
    "check_topn",
    "check_workers",
    "max_workers",
    "param_error",
]

#: Largest accepted seed (NumPy's and gensim's limit: seeds are 32-bit).
SEED_MAX = 2**32 - 1


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or value (scikit-learn's exception of that name)."""


def max_workers() -> int:
    """Most threads a model may start: four per core, and at least 64.

    Returns
    -------
    int
        The cap applied by :func:`check_workers`.
    """
    return max(64, 4 * (os.cpu_count() or 1))


def param_error(exc_type: type[Exception], message: str, name: str) -> Exception:
    """An exception of ``exc_type`` about parameter ``name`` (kept in its ``param`` attribute).

    Parameters
    ----------
    exc_type : type
        ``ValueError``, ``TypeError``...
    message : str
        What is wrong and how to fix it.
    name : str
        The parameter.

    Returns
    -------
    Exception
        The exception, to be raised by the caller.
    """
    exc = exc_type(message)
    exc.param = name  # type: ignore[attr-defined]
    return exc


def _raise(exc_type: type[Exception], message: str, name: str) -> NoReturn:
    raise param_error(exc_type, message, name)


def _fmt(x: float, as_float: bool) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x)) if as_float else repr(int(x))


def _describe_range(
    low: float | None, high: float | None, low_open: bool, high_open: bool, as_float: bool
) -> str:
    """``'>= 1'``, ``'> 0'``, ``'in [0, 1]'`` ... for embedrs' messages."""
    if low is not None and high is not None:
        return (
            f"in {'(' if low_open else '['}{_fmt(low, as_float)}, "
            f"{_fmt(high, as_float)}{')' if high_open else ']'}"
        )
    if low is not None:
        return f"{'>' if low_open else '>='} {_fmt(low, as_float)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {_fmt(high, as_float)}"
    return ""


def _sklearn_range(
    low: float | None, high: float | None, low_open: bool, high_open: bool, as_float: bool
) -> str:
    lo = "-inf" if low is None else _fmt(low, as_float)
    hi = "inf" if high is None else _fmt(high, as_float)
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    return f"{left}{lo}, {hi}{right}"


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def check_int(
    value: Any,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
    allow_none: bool = False,
    owner: str | None = None,
) -> Any:
    """Check that ``value`` is an integer in ``[low, high]``.

    Parameters
    ----------
    value : object
        The value passed by the user.
    name : str
        Parameter name used in the message (and set as ``exc.param``).
    low, high : int, optional
        Inclusive bounds; ``None`` for unbounded.
    allow_none : bool, optional
        Accept ``None`` (returned unchanged).
    owner : str, optional
        Name of a scikit-learn style estimator: raise
        :class:`InvalidParameterError` with scikit-learn's wording.

    Returns
    -------
    int or None
        ``int(value)``.

    Raises
    ------
    TypeError
        ``value`` is not an integer (``bool``, ``float`` and ``str`` are refused).
    ValueError
        ``value`` lies outside ``[low, high]``.
    """
    if value is None and allow_none:
        return None
    in_range = _is_int(value) and (low is None or value >= low) and (high is None or value <= high)
    if in_range:
        return int(value)
    if owner is not None:
        rng = _sklearn_range(low, high, False, False, as_float=False)
        extra = " or None" if allow_none else ""
        _raise(
            InvalidParameterError,
            f"The '{name}' parameter of {owner} must be an int in the range {rng}{extra}. "
            f"Got {value!r} instead.",
            name,
        )
    rng = _describe_range(low, high, False, False, as_float=False)
    expected = f"an integer{' ' + rng if rng else ''}{' or None' if allow_none else ''}"
    if not _is_int(value):
        _raise(
            TypeError, f"{name} must be {expected}, got {value!r} (a {type(value).__name__})", name
        )
    _raise(ValueError, f"{name} must be {expected}, got {value!r}", name)


def check_float(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
    owner: str | None = None,
) -> Any:
    """Check that ``value`` is a finite real number within the given bounds.

    Parameters
    ----------
    value : object
        The value passed by the user (``int`` and NumPy numbers are accepted).
    name : str
        Parameter name used in the message.
    low, high : float, optional
        Bounds; ``None`` for unbounded.
    low_open, high_open : bool, optional
        Exclude the bound itself.
    allow_none : bool, optional
        Accept ``None`` (returned unchanged).
    owner : str, optional
        As in :func:`check_int`.

    Returns
    -------
    float or None
        ``float(value)``.

    Raises
    ------
    TypeError
        ``value`` is not a real number (``bool``, ``str``, complex are refused).
    ValueError
        ``value`` is NaN, infinite or out of bounds.
    """
    if value is None and allow_none:
        return None
    is_real = isinstance(value, Real) and not isinstance(value, (bool, np.bool_))
    ok = False
    if is_real:
        x = float(value)
        ok = (
            math.isfinite(x)
            and (low is None or (x > low if low_open else x >= low))
            and (high is None or (x < high if high_open else x <= high))
        )
        if ok:
            return x
    if owner is not None:
        rng = _sklearn_range(low, high, low_open, high_open, as_float=True)
        _raise(
            InvalidParameterError,
            f"The '{name}' parameter of {owner} must be a float in the range {rng}. "
            f"Got {value!r} instead.",
            name,
        )
    rng = _describe_range(low, high, low_open, high_open, as_float=True)
    expected = f"a finite number{' ' + rng if rng else ''}{' or None' if allow_none else ''}"
    if not is_real:
        _raise(
            TypeError, f"{name} must be {expected}, got {value!r} (a {type(value).__name__})", name
        )
    _raise(ValueError, f"{name} must be {expected}, got {value!r}", name)


def check_flag(value: Any, name: str) -> int:
    """Check a gensim 0/1 switch (``sg``, ``hs``, ``cbow_mean``...); ``True``/``False`` are accepted.

    Parameters
    ----------
    value : object
        The value passed by the user.
    name : str
        Parameter name used in the message.

    Returns
    -------
    int
        0 or 1.

    Raises
    ------
    TypeError
        ``value`` is not an integer or bool.
    ValueError
        ``value`` is an integer other than 0 and 1.
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if not isinstance(value, Integral):
        _raise(TypeError, f"{name} must be 0 or 1, got {value!r} (a {type(value).__name__})", name)
    if value not in (0, 1):
        _raise(ValueError, f"{name} must be 0 or 1, got {value!r}", name)
    return int(value)


def check_choice(value: Any, name: str, choices: tuple[str, ...], owner: str | None = None) -> str:
    """Check that ``value`` is one of the strings ``choices``.

    Parameters
    ----------
    value : object
        The value passed by the user.
    name : str
        Parameter name used in the message.
    choices : tuple of str
        The accepted values.
    owner : str, optional
        As in :func:`check_int`.

    Returns
    -------
    str
        ``value``.

    Raises
    ------
    ValueError
        ``value`` is not one of ``choices`` (:class:`InvalidParameterError` with ``owner``).
    """
    if isinstance(value, str) and value in choices:
        return value
    if owner is not None:
        listed = "{" + ", ".join(repr(c) for c in choices) + "}"
        _raise(
            InvalidParameterError,
            f"The '{name}' parameter of {owner} must be a str among {listed}. "
            f"Got {value!r} instead.",
            name,
        )
    listed = ", ".join(repr(c) for c in choices)
    _raise(ValueError, f"{name} must be one of {listed}, got {value!r}", name)


def check_seed(value: Any, name: str = "seed", owner: str | None = None) -> int:
    """Check a random seed: an integer in ``[0, 2**32 - 1]``, as NumPy and gensim require.

    Parameters
    ----------
    value : object
        The value passed by the user.
    name : str, optional
        Parameter name used in the message.
    owner : str, optional
        As in :func:`check_int`.

    Returns
    -------
    int
        The seed.

    Raises
    ------
    TypeError
        ``value`` is not an integer.
    ValueError
        ``value`` is negative or at least ``2**32`` ("Seed must be between 0 and 2**32 - 1",
        NumPy's and gensim's message).
    """
    if _is_int(value) and 0 <= value <= SEED_MAX:
        return int(value)
    if owner is not None:
        _raise(
            InvalidParameterError,
            f"The '{name}' parameter of {owner} must be an int in the range [0, {SEED_MAX}], "
            f"an instance of 'numpy.random.mtrand.RandomState' or None. "
            f"Got {value!r} instead.",
            name,
        )
    if not _is_int(value):
        _raise(
            TypeError,
            f"{name} must be an integer between 0 and 2**32 - 1, got {value!r} "
            f"(a {type(value).__name__})",
            name,
        )
    _raise(ValueError, f"Seed must be between 0 and 2**32 - 1: {name}={value!r}", name)


def check_workers(value: Any, name: str = "workers", *, allow_zero: bool = False) -> int:
    """Check a thread count; counts above :func:`max_workers` are lowered to it with a warning.

    Parameters
    ----------
    value : object
        The value passed by the user.
    name : str, optional
        Parameter name used in the message.
    allow_zero : bool, optional
        Accept 0 (meaning "one per core", as in :class:`PoincareModel`).

    Returns
    -------
    int
        The thread count to use.

    Raises
    ------
    TypeError
        ``value`` is not an integer.
    ValueError
        ``value`` is negative (or 0 without ``allow_zero``): gensim silently trains
        nothing with ``workers=0``, so it is refused here.
    """
    low = 0 if allow_zero else 1
    if _is_int(value) and value < low:
        hint = " (0: one per core)" if allow_zero else ""
        _raise(ValueError, f"{name} must be an integer >= {low}{hint}, got {value!r}", name)
    n = check_int(value, name, low=low)
    cap = max_workers()
    if n > cap:
        warnings.warn(
            f"{name}={n} is more threads than embedrs starts ({cap}, four per core); using {cap}",
            UserWarning,
            stacklevel=3,
        )
        n = cap
    return n


def check_topn(topn: Any, n_keys: int, *, allow_none: bool = True, name: str = "topn") -> Any:
    """Check ``topn`` of a similarity query and clamp it to the number of keys.

    ``None`` (when allowed) is returned unchanged; ``topn < 1`` gives 0, for which
    callers return ``[]`` as gensim does; a huge ``topn`` becomes ``n_keys``, so
    nothing is ever allocated for more results than there are keys.

    Parameters
    ----------
    topn : object
        The value passed by the user.
    n_keys : int
        Number of keys that can be returned.
    allow_none : bool, optional
        Accept ``None`` ("all similarities").
    name : str, optional
        Parameter name used in the message.

    Returns
    -------
    int or None
        ``min(max(topn, 0), n_keys)``, or None.

    Raises
    ------
    TypeError
        ``topn`` is not an integer (or None where allowed).
    """
    if topn is None and allow_none:
        return None
    if not _is_int(topn):
        expected = "an integer or None" if allow_none else "an integer"
        _raise(
            TypeError, f"{name} must be {expected}, got {topn!r} (a {type(topn).__name__})", name
        )
    return max(min(int(topn), int(n_keys)), 0)


def check_input_file(path: Any, what: str = "input file") -> str:
    """Check that ``path`` names an existing regular file (not a directory).

    Parameters
    ----------
    path : str or os.PathLike
        The path given by the user.
    what : str, optional
        What the file is, for the message ("corpus file", "model file"...).

    Returns
    -------
    str
        ``os.fspath(path)``.

    Raises
    ------
    FileNotFoundError
        Nothing exists at ``path``.
    IsADirectoryError
        ``path`` is a directory.
    """
    p = os.fspath(path)
    if os.path.isdir(p):
        raise IsADirectoryError(f"{what} {p} is a directory, not a file")
    if not os.path.exists(p):
        raise FileNotFoundError(f"{what} {p} not found")
    return p
