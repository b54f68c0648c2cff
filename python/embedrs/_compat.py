"""gensim names that embedrs keeps importable but does not implement.

gensim code often imports internals from a module (``from
gensim.models.word2vec import train_batch_sg``) or names that live elsewhere in
gensim (``Dictionary``, the LDA callbacks). So that such imports keep working
after ``gensim.models`` becomes ``embedrs.models``, each module defines those
names with the stand-ins made here: importing them succeeds, *using* them
raises ``NotImplementedError`` saying what to call instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from embedrs.utils import call_on_class_only

_T = TypeVar("_T")


def _message(gensim_name: str, instead: str) -> str:
    return f"{gensim_name} is not implemented by embedrs; {instead}"


def unsupported_class(name: str, gensim_name: str, instead: str) -> type:
    """A class named ``name`` whose construction raises ``NotImplementedError``.

    Parameters
    ----------
    name : str
        The class name (as gensim's).
    gensim_name : str
        gensim's dotted name, quoted in the message.
    instead : str
        What to use instead, quoted in the message.
    """
    msg = _message(gensim_name, instead)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(msg)

    return type(name, (), {"__init__": __init__, "__doc__": msg, "__module__": "embedrs"})


def unsupported_function(name: str, gensim_name: str, instead: str) -> Callable[..., Any]:
    """A function named ``name`` whose every call raises ``NotImplementedError``.

    Parameters
    ----------
    name : str
        The function name (as gensim's).
    gensim_name : str
        gensim's dotted name, quoted in the message.
    instead : str
        What to use instead, quoted in the message.
    """
    msg = _message(gensim_name, instead)

    def stub(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(msg)

    stub.__name__ = stub.__qualname__ = name
    stub.__doc__ = msg
    return stub


class class_only_method(Generic[_T]):
    """A classmethod that, looked up on an instance, is gensim's ``call_on_class_only``.

    gensim's ``Word2Vec`` sets ``self.load = call_on_class_only`` so that
    ``model.load(path)`` raises ``AttributeError`` instead of silently loading a
    new model that the caller then ignores; this descriptor does the same
    without storing anything on the instance.
    """

    def __init__(self, func: Callable[..., _T]) -> None:
        self.__func__ = func
        self.__doc__ = func.__doc__
        self.__wrapped__ = func

    def __get__(self, obj: Any, owner: type | None = None) -> Callable[..., Any]:
        if obj is not None:
            return call_on_class_only
        return classmethod(self.__func__).__get__(None, owner)
