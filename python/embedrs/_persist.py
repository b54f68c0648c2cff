"""Safe, atomic persistence shared by every embedrs model.

A model is saved as ONE file: a small header, a plain JSON metadata block and
raw little-endian arrays, each aligned to 64 bytes so that it can be memory
mapped. Nothing is ever unpickled. The file is first written under a temporary
name in the same directory, flushed to disk, then renamed over the target, so
an interrupted save (crash, Ctrl-C, full disk) never leaves a broken file in
place of a good one.

Layout::

    b"EMBEDRS\\x00"            8 bytes, magic
    u64 little-endian          length H of the JSON header
    H bytes                    UTF-8 JSON: {"format": "embedrs", "version": 1,
                               "meta": {...}, "arrays": {name: {"dtype": "<f4",
                               "shape": [...], "offset": int}}}
    padding to 64 bytes
    array data                 offsets are relative to the start of this section

Helpers for model authors:

* :func:`atomic_write` -- context manager giving a temporary path that replaces
  the target only on success.
* :func:`write_container` / :func:`read_container` -- save or load
  ``(meta, {name: ndarray})``; ``mmap="r"`` maps the arrays read-only.
* :func:`is_container` -- whether a file is in this format.
* :func:`load_gensim_pickle` -- open a model that gensim 4 saved (pickle plus
  side ``.npy`` files) through a restricted unpickler that only builds
  allow-listed classes; returns plain attribute dictionaries.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

import numpy as np

MAGIC = b"EMBEDRS\x00"
VERSION = 1
ALIGN = 64
PathLike = Union[str, "os.PathLike[str]"]


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@contextlib.contextmanager
def atomic_write(path: PathLike) -> Iterator[str]:
    """Yield a temporary path next to ``path``; on success, move it over ``path``.

    The temporary file is fsync'ed before the rename (an atomic operation on
    POSIX and Windows), so readers see either the old file or the complete new
    one. On any exception, including ``KeyboardInterrupt``, the temporary file
    is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : str or os.PathLike
        The final file name.

    Yields
    ------
    str
        The temporary path to write to.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError, AttributeError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def write_container(path: PathLike, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Atomically write ``meta`` (JSON-serialisable) and ``arrays`` to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Target file.
    meta : dict
        Plain metadata (str, int, float, bool, None, lists and dicts of those).
    arrays : dict of str to numpy.ndarray
        Numeric or boolean arrays; object arrays are refused with ``TypeError``.
    """
    entries = {}
    offset = 0
    end = 0
    prepared = {}
    for name, arr in arrays.items():
        a = np.asarray(arr)
        if a.dtype.hasobject:
            raise TypeError(f"array {name!r} has dtype object, which cannot be saved safely; "
                            "convert it to a numeric or fixed-width dtype")
        a = np.ascontiguousarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        a = a.astype(dt, copy=False)
        entries[name] = {"dtype": dt.str, "shape": list(a.shape), "offset": offset}
        prepared[name] = a
        end = offset + a.nbytes
        offset = _align(end)
    header = json.dumps(
        {"format": "embedrs", "version": VERSION, "meta": meta, "arrays": entries},
        ensure_ascii=False, allow_nan=False,
    ).encode("utf-8")
    data_start = _align(len(MAGIC) + 8 + len(header))
    with atomic_write(path) as tmp, open(tmp, "wb") as fh:
        fh.write(MAGIC)
        fh.write(struct.pack("<Q", len(header)))
        fh.write(header)
        for name, a in prepared.items():
            fh.seek(data_start + entries[name]["offset"])
            if a.nbytes:
                fh.write(memoryview(a.reshape(-1)).cast("B"))
        fh.truncate(data_start + end)


def is_container(path: PathLike) -> bool:
    """Whether ``path`` starts with the embedrs native magic bytes."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def read_header(path: PathLike) -> tuple[dict, int]:
    """Read and validate the JSON header; return it and the data offset."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        magic = fh.read(len(MAGIC))
        if magic != MAGIC:
            raise ValueError(f"{path}: not an embedrs native file (bad magic bytes {magic!r})")
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: truncated header at byte offset {len(MAGIC)}")
        (hlen,) = struct.unpack("<Q", raw)
        if hlen > size:
            raise ValueError(f"{path}: header length {hlen} exceeds the file size {size}")
        blob = fh.read(hlen)
    try:
        header = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: corrupt metadata header at byte offset 16: {exc}") from None
    if header.get("format") != "embedrs" or not isinstance(header.get("arrays"), dict):
        raise ValueError(f"{path}: not an embedrs native file")
    if header.get("version", 0) > VERSION:
        raise ValueError(f"{path}: written by a newer embedrs (format version {header['version']}); "
                         "upgrade embedrs to load it")
    return header, _align(len(MAGIC) + 8 + hlen)


def read_container(path: PathLike, mmap: str | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a file written by :func:`write_container`.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    mmap : {None, 'r', 'r+', 'c'}
        ``None`` reads the arrays into memory; otherwise they are memory-mapped
        with this mode (``'r'``: read-only and shared between processes).

    Returns
    -------
    meta : dict
    arrays : dict of str to numpy.ndarray
    """
    if mmap not in (None, "r", "r+", "c"):
        raise ValueError(f"mmap must be None, 'r', 'r+' or 'c', not {mmap!r}")
    path = os.fspath(path)
    header, start = read_header(path)
    size = os.path.getsize(path)
    arrays = {}
    for name, e in header["arrays"].items():
        dt = np.dtype(e["dtype"])
        if dt.hasobject:
            raise ValueError(f"{path}: array {name!r} has a forbidden dtype")
        shape = tuple(int(s) for s in e["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        off = start + int(e["offset"])
        if off + count * dt.itemsize > size:
            raise ValueError(
                f"{path}: array {name!r} needs bytes {off}..{off + count * dt.itemsize} "
                f"but the file has only {size} bytes (truncated?)"
            )
        if count == 0:
            arrays[name] = np.zeros(shape, dtype=dt)
        elif mmap:
            arrays[name] = np.memmap(path, dtype=dt, mode=mmap, offset=off, shape=shape)
        else:
            arrays[name] = np.fromfile(path, dtype=dt, count=count, offset=off).reshape(shape)
    return header.get("meta", {}), arrays


# ----------------------------------------------------------------------------
# gensim 4 models, without gensim and without running pickled code
# ----------------------------------------------------------------------------


class GensimObject:
    """Inert stand-in for a class found in a gensim pickle.

    Holds the pickled attributes in ``state`` and the original class name in
    ``gensim_class``; it has no behaviour, so loading cannot run code.
    """

    gensim_class = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: dict = {}
        self.args = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = state if isinstance(state, dict) else {"_state": state}

    def __repr__(self) -> str:
        return f"<gensim {self.gensim_class} (inert)>"


def _stand_in(module: str, name: str) -> type:
    return type(name, (GensimObject,), {"gensim_class": f"{module}.{name}"})


def _safe_reconstruct(*args: Any) -> None:
    return None


_NUMPY_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}
_BUILTINS_ALLOWED = {"set", "frozenset", "complex", "slice", "range", "bytearray", "object", "int", "float",
                     "bool", "str", "bytes", "list", "tuple", "dict", "hash"}
_GENSIM_PREFIXES = ("gensim.",)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array/dtype rebuilding, a few builtins,
    and gensim classes (as inert :class:`GensimObject` stand-ins)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_ALLOWED:
            return super().find_class(module, name)
        if module == "builtins" and name in _BUILTINS_ALLOWED:
            return super().find_class(module, name)
        if module == "collections" and name in ("OrderedDict", "defaultdict"):
            return super().find_class(module, name) if name == "OrderedDict" else _plain_dict
        if module == "copy_reg" and name == "_reconstructor" or (
            module == "copyreg" and name == "_reconstructor"
        ):
            return _copyreg_reconstructor
        if module.startswith(_GENSIM_PREFIXES) or module.startswith("numpy.random"):
            return _stand_in(module, name)
        if module == "numpy" and name in ("float32", "float64", "int64", "int32", "uint32", "uint8"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: only gensim models and numpy arrays are accepted"
        )


def _plain_dict(*args: Any) -> dict:
    """Stands in for ``collections.defaultdict(factory)``: a plain dict."""
    return {}


def _copyreg_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    if isinstance(cls, type) and issubclass(cls, GensimObject):
        return cls()
    raise pickle.UnpicklingError(f"refusing to reconstruct {cls!r}")


def _attach_side_arrays(obj: Any, fname: str, mmap: str | None, prefix: str) -> None:
    """Load the ``fname.<attr>.npy`` files gensim wrote beside the pickle."""
    if not isinstance(obj, GensimObject):
        return
    st = obj.state
    for attr in st.get("__recursive_saveloads", []) or []:
        child = st.get(attr)
        _attach_side_arrays(child, fname, mmap, f"{prefix}{attr}.")
    for attr in st.get("__numpys", []) or []:
        npy = f"{fname}.{prefix}{attr}.npy"
        if os.path.exists(npy):
            st[attr] = np.load(npy, mmap_mode=mmap, allow_pickle=False)
        elif os.path.exists(npy[:-4] + ".npz"):
            with np.load(npy[:-4] + ".npz", allow_pickle=False) as f:
                st[attr] = f["val"]
        else:
            raise FileNotFoundError(f"{npy}: side array of the gensim model {fname} is missing")
    for attr in st.get("__scipys", []) or []:
        raise ValueError(f"{fname}: sparse attribute {attr!r} is not supported")
    for attr in st.get("__ignoreds", []) or []:
        st.setdefault(attr, None)


def load_gensim_pickle(path: PathLike, mmap: str | None = None) -> GensimObject:
    """Open a model saved by gensim 4's ``.save()`` without gensim or arbitrary code.

    Parameters
    ----------
    path : str or os.PathLike
        The pickle file; side files ``path.<attr>.npy`` are loaded too.
    mmap : {None, 'r', 'r+', 'c'}
        Memory-map the side arrays with this mode.

    Returns
    -------
    GensimObject
        The top object; ``.gensim_class`` names its class and ``.state`` holds
        its attributes (nested gensim objects are ``GensimObject`` too).

    Raises
    ------
    pickle.UnpicklingError
        If the pickle references any class outside the allow-list.
    """
    fname = os.fspath(path)
    with open(fname, "rb") as fh:
        raw = fh.read()
    if fname.endswith(".gz"):
        import gzip

        raw = gzip.decompress(raw)
    elif fname.endswith(".bz2"):
        import bz2

        raw = bz2.decompress(raw)
    try:
        obj = _RestrictedUnpickler(io.BytesIO(raw)).load()
    except (EOFError, struct.error) as exc:
        raise ValueError(f"{fname}: truncated or corrupt gensim pickle ({exc})") from None
    if not isinstance(obj, GensimObject):
        raise ValueError(f"{fname}: not a gensim model (top object is {type(obj).__name__})")  # noqa: TRY004
    _attach_side_arrays(obj, fname, mmap, "")
    return obj


def _is_pickle(path: PathLike) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(2)
    return len(head) == 2 and head[0] == 0x80


__all__ = [
    "GensimObject",
    "Path",
    "atomic_write",
    "is_container",
    "load_gensim_pickle",
    "read_container",
    "read_header",
    "write_container",
]
