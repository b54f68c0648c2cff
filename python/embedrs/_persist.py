"""Safe, atomic persistence shared by every embedrs model.

A model is saved as ONE file: a small header, a plain JSON metadata block and
raw little-endian arrays, each aligned to 64 bytes so that it can be memory
mapped. Nothing is ever unpickled. Every file the package writes goes through
:func:`atomic_write`: the data is written under a temporary name in the same
directory, flushed to disk, then renamed over the target, so an interrupted
save (crash, Ctrl-C, ``kill -9``, full disk) never leaves a broken file in
place of a good one.

Native layout (format version 2)::

    b"EMBEDRS\\x00"            8 bytes, magic
    u64 little-endian          length H of the JSON header
    H bytes                    UTF-8 JSON: {"format": "embedrs", "version": 2,
                               "meta": {...}, "arrays": {name: {"dtype": "<f4",
                               "shape": [...], "offset": int, "crc32": "8 hex"}}}
    b"EMBEDSUM" + u32 + u32    header checksum: CRC-32 of every byte above, then 0
    padding to 64 bytes
    array data                 offsets are relative to the start of this section,
                               multiples of 64, non-overlapping

Version 1 files (no header trailer, no ``crc32`` fields) are still read.

Integrity
---------
Every header field is validated before anything is allocated or mapped:
types, non-negative integer shapes, 64-byte aligned offsets inside the file,
no overlapping arrays, and a dtype whitelist (booleans, integers, floats,
complex, fixed-width bytes and unicode; never objects, structures or
sub-arrays). The header checksum is always verified. Array checksums are
CRC-32 (``zlib.crc32``), chosen for speed: 0.66 s for a 1M x 300 float32
matrix (1.2 GB, 1.8 GB/s) on the development machine, against 2.2 s for
BLAKE2b and 1.0 s for SHA-256. They detect accidental damage (bit rot,
truncated copies); they are not a signature, and a forger can recompute them,
which is harmless because the structural validation above, not the checksum,
is what keeps a hostile file from crashing the process. Arrays read into
memory (``mmap=None``) are verified as they are read, at a cost small next to
the read itself. Memory-mapped arrays (``mmap='r'`` etc.) are NOT verified by
default: verifying would read every page at load time and defeat the reason
to map (millisecond opens, pages loaded on demand and shared between
processes); pass ``verify=True`` to :func:`read_container`, or call
:func:`verify_container`, to check them explicitly.

gensim 4 pickles
----------------
:func:`load_gensim_pickle` reads models that gensim 4 saved, without gensim
and without running pickled code: an allow-list of names, numpy arrays rebuilt
by this module from their raw bytes (object, structured and sub-array dtypes
are refused; the data length must match the shape), gensim classes replaced by
inert :class:`GensimObject` stand-ins. Compressed pickles (``.gz``, ``.bz2``)
are decompressed as a stream with a size cap (:data:`PICKLE_MAX_BYTES`, see
:func:`decompressed_limit`). Every failure has a one-line message naming the
file: :class:`RefusedPickleError` (a ``pickle.UnpicklingError``) when the
pickle asks for something refused (a name outside the allow-list, an object
or structured array), ``ValueError`` for anything malformed (truncated,
garbage, inconsistent sizes, too large once decompressed, cycles).
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import gzip
import io
import itertools
import json
import math
import os
import pickle
import re
import secrets
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Union

import numpy as np

MAGIC = b"EMBEDRS\x00"
VERSION = 2
ALIGN = 64
SUM_TAG = b"EMBEDSUM"
PathLike = Union[str, "os.PathLike[str]"]

#: Chunk size for writing, reading and checksumming arrays.
_CHUNK = 64 << 20
#: Largest dimension count accepted in a header.
_MAX_NDIM = 32
#: Largest value of one dimension (keeps every product inside numpy's intp).
_MAX_DIM = 1 << 62


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# ----------------------------------------------------------------------------
# atomic writing
# ----------------------------------------------------------------------------

_TMP_MARK = ".embedrs-tmp."
_TMP_RE = re.compile(r"^\.(?P<base>.+)\.embedrs-tmp\.(?P<pid>\d+)\.[0-9a-f]+$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # exists (owned by someone else) or unknowable: keep the file
    return True


def _remove_stale_temps(directory: str, base: str) -> None:
    """Delete temporary files of ``base`` left by saves whose process has died."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = _TMP_RE.match(name)
        if m is None or m.group("base") != base:
            continue
        if not _pid_alive(int(m.group("pid"))):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))


def _temp_name(target: str) -> str:
    directory, base = os.path.split(target)
    return os.path.join(directory, f".{base}{_TMP_MARK}{os.getpid()}.{secrets.token_hex(4)}")


def _create_temp(target: str) -> str:
    """Create an empty temporary file next to ``target`` with the mode ``open()`` would give.

    A new file gets ``0o666 & ~umask`` (the kernel applies the umask to the
    ``os.open`` mode); when ``target`` exists its permission bits are kept,
    as when ``open(target, 'w')`` rewrites a file in place.
    """
    flags = (
        os.O_WRONLY
        | os.O_CREAT
        | os.O_EXCL
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_BINARY", 0)
    )
    for _ in range(100):
        tmp = _temp_name(target)
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        break
    else:  # pragma: no cover - 100 collisions of a 32-bit random token
        raise FileExistsError(f"{target}: could not create a temporary file next to it")
    try:
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(os.stat(target).st_mode)
            os.fchmod(fd, mode) if hasattr(os, "fchmod") else os.chmod(tmp, mode)
    finally:
        os.close(fd)
    return tmp


def scratch_path(path: PathLike) -> str:
    """An unused temporary path next to ``path`` (the real target of a link).

    Named like :func:`atomic_write`'s temporary files, so that a save killed
    while it exists has it removed by the next save of ``path``. The caller
    deletes it.
    """
    target = os.path.realpath(os.fspath(path))
    if _target_kind(target, os.fspath(path)) == "stream":
        return _stream_temp()
    return _create_temp(target)


def _missing(err: int, shown: str) -> OSError:
    cls = NotADirectoryError if err == errno.ENOTDIR else FileNotFoundError
    return cls(err, os.strerror(err), shown)


def _target_kind(target: str, shown: str) -> str:
    """``'file'`` (regular or new) or ``'stream'`` (device, FIFO, socket); raises for the rest.

    Raises
    ------
    IsADirectoryError
        If ``target`` is a directory.
    FileNotFoundError, NotADirectoryError
        If its directory does not exist (or is not a directory); the
        message names ``shown``, the path the caller gave.
    """
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise _missing(errno.ENOTDIR, shown) from None
    if st is None:
        directory = os.path.dirname(target) or "."
        if not os.path.isdir(directory):
            raise _missing(errno.ENOTDIR if os.path.exists(directory) else errno.ENOENT, shown)
        return "file"
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{shown}: is a directory")
    return "file" if stat.S_ISREG(st.st_mode) else "stream"


def _stream_temp() -> str:
    fd, tmp = tempfile.mkstemp(prefix=".embedrs-stream.")
    os.close(fd)
    return tmp


@contextlib.contextmanager
def atomic_write(path: PathLike) -> Iterator[str]:
    """Yield a temporary path next to ``path``; on success, move it over ``path``.

    The one mechanism every embedrs writer uses. The temporary file is
    fsync'ed before the rename (atomic on POSIX and Windows), so readers see
    either the old file or the complete new one. On any exception, including
    ``KeyboardInterrupt``, the temporary file is removed and ``path`` is left
    untouched.

    * A symbolic link is written through, as ``open()`` and gensim do: the
      file it points to is replaced and the link stays.
    * The new file gets the permissions ``open(path, 'w')`` would give:
      ``0o666 & ~umask`` for a new file, the old mode when replacing one.
    * Temporary files are named ``.NAME.embedrs-tmp.<pid>.<hex>``; those of
      processes that no longer run (a killed save) are deleted by the next
      save of the same target.
    * A target that exists and is not a regular file is never replaced: a
      directory raises ``IsADirectoryError``; a character device, FIFO or
      socket (``/dev/null``, a pipe) is opened and written into once the
      data is complete (staged in the system temporary directory), as
      ``open(path, 'wb')`` and gensim do.
    * A missing directory raises ``FileNotFoundError`` naming ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The final file name.

    Yields
    ------
    str
        The temporary path to write to (it exists, empty).
    """
    shown = os.fspath(path)
    target = os.path.realpath(shown)
    directory, base = os.path.split(target)
    if _target_kind(target, shown) == "stream":
        # a character device, FIFO or socket is written into, as open(path, "wb") does:
        # renaming a file over /dev/null would replace the device node
        tmp = _stream_temp()
        try:
            yield tmp
            with open(tmp, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return
    _remove_stale_temps(directory, base)
    tmp = _create_temp(target)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError, AttributeError):
        dfd = os.open(directory or ".", os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _compression(path: str, compress: str | None) -> str | None:
    if compress == "auto":
        if path.endswith(".gz"):
            return "gz"
        if path.endswith(".bz2"):
            return "bz2"
        return None
    if compress not in (None, "gz", "bz2"):
        raise ValueError(f"compress must be 'auto', 'gz', 'bz2' or None, not {compress!r}")
    return compress


def _compressed_writer(raw: IO[bytes], kind: str | None) -> IO[bytes]:
    if kind == "gz":
        return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0)  # type: ignore[return-value]
    if kind == "bz2":
        return bz2.BZ2File(raw, mode="wb")  # type: ignore[return-value]
    return raw


@contextlib.contextmanager
def atomic_open(
    path: PathLike,
    mode: str = "wb",
    *,
    compress: str | None = "auto",
    encoding: str = "utf-8",
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing through :func:`atomic_write`.

    Parameters
    ----------
    path : str or os.PathLike
        The final file name.
    mode : {'wb', 'w'}
        Binary or text.
    compress : {'auto', 'gz', 'bz2', None}
        ``'auto'`` compresses names ending in ``.gz`` / ``.bz2``. The
        compressed stream is finished explicitly, so an error while writing
        its last block is raised (and the target is left untouched).
    encoding, newline
        For text mode, as in :func:`open`.

    Yields
    ------
    file object
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', not {mode!r}")
    kind = _compression(os.fspath(path), compress)
    with atomic_write(path) as tmp, open(tmp, "wb") as raw:
        inner = _compressed_writer(raw, kind)
        out: IO[Any] = inner
        if mode == "w":
            out = io.TextIOWrapper(inner, encoding=encoding, newline=newline)  # type: ignore[arg-type]
        try:
            yield out
        except BaseException:
            with contextlib.suppress(Exception):
                if mode == "w":
                    out.detach()  # type: ignore[attr-defined]
            raise
        out.flush()
        if mode == "w":
            out.detach()  # type: ignore[attr-defined]
        if inner is not raw:
            inner.close()  # finishes the compressed stream; errors propagate
        raw.flush()


def compress_file(src: str, dst: IO[bytes], kind: str) -> None:
    """Copy the file ``src`` into the open binary file ``dst``, compressed as ``kind``."""
    writer = _compressed_writer(dst, kind)
    with open(src, "rb") as fin:
        while True:
            block = fin.read(_CHUNK)
            if not block:
                break
            writer.write(block)
    writer.close()


def save_figure(fig: Any, path: PathLike, **kwargs: Any) -> str:
    """``fig.savefig(path, **kwargs)`` through :func:`atomic_write`; returns the path written.

    The format comes from ``format=``, else the file extension, else
    matplotlib's ``savefig.format`` (appended to an extension-less name, as
    matplotlib does).
    """
    path = os.fspath(path)
    fmt = kwargs.pop("format", None) or os.path.splitext(path)[1][1:].lower() or None
    if fmt is None:
        import matplotlib

        fmt = str(matplotlib.rcParams["savefig.format"])
        path = f"{path}.{fmt}"
    with atomic_open(path, "wb", compress=None) as fh:
        fig.savefig(fh, format=fmt, **kwargs)
    return path


# ----------------------------------------------------------------------------
# keys: one encoding for every keyed-vectors class
# ----------------------------------------------------------------------------

_KEY_DEPTH = 16


def _encode_key(key: Any, depth: int = 0) -> Any:
    if isinstance(key, (str, np.str_)):
        return str(key)
    if isinstance(key, (bool, np.bool_)):
        return {"b": bool(key)}
    if isinstance(key, (int, np.integer)):
        return {"i": int(key)}
    if isinstance(key, (float, np.floating)):
        return {"f": float(key).hex()}
    if key is None:
        return {"n": None}
    if isinstance(key, tuple) and depth < _KEY_DEPTH:
        return {"t": [_encode_key(k, depth + 1) for k in key]}
    raise TypeError(
        f"cannot save key {key!r} of type {type(key).__name__}: keys must be str, int, float, "
        "bool, None or tuples of those"
    )


def _decode_key(v: Any, depth: int = 0) -> Any:
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and len(v) == 1 and depth <= _KEY_DEPTH:
        ((tag, val),) = v.items()
        if tag == "i" and type(val) is int:
            return val
        if tag == "b" and type(val) is bool:
            return val
        if tag == "n" and val is None:
            return None
        if tag == "f" and isinstance(val, str):
            return float.fromhex(val)
        if tag == "t" and isinstance(val, list):
            return tuple(_decode_key(x, depth + 1) for x in val)
    raise ValueError(f"invalid stored key {str(v)[:80]}")


def encode_keys(keys: list, prefix: str = "") -> tuple[dict, dict[str, np.ndarray]]:
    """Metadata and arrays that store ``keys`` with their types.

    All-``str`` keys without newlines are stored as UTF-8 lines in a byte
    array; all-``int`` keys as an ``int64`` array; anything else as a typed
    JSON list (str, int, float, bool, None and tuples of those round-trip
    exactly).

    Raises
    ------
    TypeError
        If a key has another type (nothing is written).
    """
    if all(type(k) is str for k in keys) and not any("\n" in k for k in keys):
        blob = "\n".join(keys).encode("utf-8")
        return {"keys": "utf8-lines"}, {f"{prefix}keys": np.frombuffer(blob, dtype=np.uint8)}
    if keys and all(
        isinstance(k, (int, np.integer))
        and not isinstance(k, (bool, np.bool_))
        and -(1 << 63) <= int(k) < (1 << 63)
        for k in keys
    ):
        return {"keys": "int64"}, {
            f"{prefix}keys": np.asarray([int(k) for k in keys], dtype=np.int64)
        }
    return {"keys": "typed-json", "key_list": [_encode_key(k) for k in keys]}, {}


def decode_keys(
    meta: dict, arrays: dict, n: int, prefix: str = "", fname: str = "?"
) -> list | Callable[[], list]:
    """Keys stored by :func:`encode_keys` (or by earlier embedrs versions).

    Returns the list, or for UTF-8 lines a function that decodes it on first
    use (loading a large vocabulary stays lazy). Every error is a
    ``ValueError`` naming ``fname``.
    """
    kind = meta.get("keys")
    if kind == "utf8-lines":
        blob = arrays.get(f"{prefix}keys")
        if not isinstance(blob, np.ndarray) or blob.dtype != np.uint8 or blob.ndim != 1:
            raise ValueError(f"{fname}: corrupt model: key array missing or not bytes")

        def lazy(blob: np.ndarray = blob, n: int = n) -> list:
            try:
                keys = bytes(blob).decode("utf-8").split("\n") if n else []
            except UnicodeDecodeError as exc:
                raise ValueError(f"{fname}: corrupt model: keys are not UTF-8 ({exc})") from None
            if len(keys) != n:
                raise ValueError(f"{fname}: corrupt model: {len(keys)} keys stored, {n} expected")
            return keys

        return lazy
    if kind == "int64":
        arr = arrays.get(f"{prefix}keys")
        if not isinstance(arr, np.ndarray) or arr.dtype != np.int64 or arr.shape != (n,):
            raise ValueError(
                f"{fname}: corrupt model: int64 key array missing or of the wrong shape"
            )
        return arr.tolist()
    if kind in ("json", "typed-json"):
        lst = meta.get("key_list")
        if not isinstance(lst, list) or len(lst) != n:
            raise ValueError(f"{fname}: corrupt model: key list missing or not {n} long")
        if kind == "json":  # embedrs <= 0.1: str and int keys
            if not all(isinstance(k, str) or type(k) is int for k in lst):
                raise ValueError(f"{fname}: corrupt model: keys must be str or int")
            return list(lst)
        try:
            return [_decode_key(k) for k in lst]
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"{fname}: corrupt model: {exc}") from None
    raise ValueError(f"{fname}: corrupt model: unknown key encoding {kind!r}")


def key_table(meta: dict, arrays: dict, n: int, prefix: str = "", fname: str = "?") -> Any:
    """The stored keys as a ``KeyTable`` looked up in place (their blob, mapped
    when the model is), for keys stored as UTF-8 lines; ``None`` for other
    encodings (use :func:`decode_keys`). Errors are ``ValueError`` naming ``fname``."""
    if meta.get("keys") != "utf8-lines" or n >= 2**32 - 1:
        return None
    blob = arrays.get(f"{prefix}keys")
    if not isinstance(blob, np.ndarray) or blob.dtype != np.uint8 or blob.ndim != 1:
        raise ValueError(f"{fname}: corrupt model: key array missing or not bytes")
    try:
        from embedrs import _embedrs

        return _embedrs.KeyTable(np.ascontiguousarray(blob), n)
    except ValueError as exc:
        raise ValueError(f"{fname}: corrupt model: {exc}") from None


# ----------------------------------------------------------------------------
# native container
# ----------------------------------------------------------------------------

_SAFE_KINDS = frozenset("biufcSU")


def safe_dtype(spec: Any, what: str = "array") -> np.dtype:
    """``numpy.dtype(spec)`` if it is a plain numeric, boolean or fixed-width text dtype.

    Raises
    ------
    ValueError
        For object, structured, sub-array, void, datetime or zero-size dtypes.
    """
    try:
        dt = np.dtype(spec)
    except (TypeError, ValueError, SyntaxError, RecursionError) as exc:
        raise ValueError(f"{what}: invalid dtype {str(spec)[:40]!r} ({exc})") from None
    if (
        dt.hasobject
        or dt.fields is not None
        or dt.subdtype is not None
        or dt.kind not in _SAFE_KINDS
        or dt.itemsize == 0
    ):
        raise ValueError(
            f"{what}: dtype {str(spec)[:40]!r} is not allowed "
            "(only numeric, boolean and fixed-width text arrays)"
        )
    return dt


def _is_int(v: Any) -> bool:
    return type(v) is int


def write_container(path: PathLike, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Atomically write ``meta`` (JSON-serialisable) and ``arrays`` to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Target file (a symbolic link is written through).
    meta : dict
        Plain metadata (str, int, float, bool, None, lists and dicts of those).
    arrays : dict of str to numpy.ndarray
        Numeric, boolean or fixed-width text arrays; others are refused with
        ``TypeError`` before the target is touched.
    """
    entries: dict[str, dict] = {}
    prepared: dict[str, np.ndarray] = {}
    offset = end = 0
    for name, arr in arrays.items():
        a = np.asarray(arr)
        try:
            safe_dtype(a.dtype, f"array {name!r}")
        except ValueError as exc:
            raise TypeError(f"{exc}; convert it to a numeric or fixed-width dtype") from None
        a = np.ascontiguousarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        a = a.astype(dt, copy=False)
        entries[name] = {
            "dtype": dt.str,
            "shape": list(a.shape),
            "offset": offset,
            "crc32": "00000000",
        }
        prepared[name] = a
        end = offset + a.nbytes
        offset = _align(end)

    def header_bytes() -> bytes:
        return json.dumps(
            {"format": "embedrs", "version": VERSION, "meta": meta, "arrays": entries},
            ensure_ascii=False,
            allow_nan=False,
        ).encode("utf-8")

    header = header_bytes()  # also validates meta before the target is touched
    data_start = _align(len(MAGIC) + 8 + len(header) + 16)
    with atomic_write(path) as tmp, open(tmp, "wb") as fh:
        for name, a in prepared.items():
            fh.seek(data_start + entries[name]["offset"])
            crc = 0
            if a.nbytes:
                flat = memoryview(a.reshape(-1)).cast("B")
                for i in range(0, len(flat), _CHUNK):
                    block = flat[i : i + _CHUNK]
                    fh.write(block)
                    crc = zlib.crc32(block, crc)
            entries[name]["crc32"] = f"{crc:08x}"
        final = header_bytes()
        if len(final) != len(header):  # pragma: no cover - the checksums are fixed-width
            raise AssertionError("header length changed")
        head = MAGIC + struct.pack("<Q", len(final)) + final
        fh.seek(0)
        fh.write(head)
        fh.write(SUM_TAG + struct.pack("<II", zlib.crc32(head), 0))
        fh.truncate(max(data_start + end, len(head) + 16))


def check_regular_file(path: PathLike, what: str = "model file") -> None:
    """Raise unless ``path`` is an existing regular file (checked with ``os.stat``, never opened).

    Model loaders call this first: opening a FIFO blocks until a writer
    appears, and a device such as ``/dev/zero`` never ends, so neither may
    reach ``open()``. A symbolic link to a regular file is accepted.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    IsADirectoryError
        If it is a directory.
    OSError
        If it is anything else that is not a regular file (device, FIFO, socket).
    """
    shown = os.fspath(path)
    try:
        mode = os.stat(shown).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"{shown}: no such file") from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{shown}: is a directory, not a {what}")
    if not stat.S_ISREG(mode):
        raise OSError(
            f"{shown}: is not a regular file (a device, FIFO or socket cannot hold a {what})"
        )


def is_container(path: PathLike) -> bool:
    """Whether ``path`` starts with the embedrs native magic bytes."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _check_entries(path: str, header: dict, data_start: int, size: int) -> dict[str, tuple]:
    """Validate the array table; returns {name: (dtype, shape, abs offset, nbytes, crc or None)}."""
    version = header["version"]
    table = header["arrays"]
    out: dict[str, tuple] = {}
    spans = []
    for name, e in table.items():
        where = f"{path}: array {name!r}"
        if not isinstance(e, dict):
            raise ValueError(f"{where}: entry is not an object")  # noqa: TRY004
        dt = safe_dtype(e.get("dtype") if isinstance(e.get("dtype"), str) else None, where)
        if dt.byteorder == ">":
            raise ValueError(f"{where}: big-endian dtype {dt.str} is not allowed")
        shape = e.get("shape")
        if (
            not isinstance(shape, list)
            or len(shape) > _MAX_NDIM
            or not all(_is_int(s) and 0 <= s <= _MAX_DIM for s in shape)
        ):
            raise ValueError(
                f"{where}: shape must be a list of at most {_MAX_NDIM} "
                f"non-negative integers, got {str(shape)[:80]}"
            )
        off = e.get("offset")
        if not _is_int(off) or off < 0 or off % ALIGN:
            raise ValueError(
                f"{where}: offset must be a non-negative multiple of {ALIGN}, got {off!r}"
            )
        count = math.prod(shape)
        nonzero = math.prod(s for s in shape if s)
        if nonzero > _MAX_DIM:
            raise ValueError(f"{where}: shape {shape} is too large")
        nbytes = count * dt.itemsize
        start = data_start + off
        if start + nbytes > size:
            raise ValueError(
                f"{where}: needs bytes {start}..{start + nbytes} but the file has "
                f"only {size} bytes (truncated?)"
            )
        crc = None
        if version >= 2:
            c = e.get("crc32")
            if not isinstance(c, str) or not re.fullmatch(r"[0-9a-f]{8}", c):
                raise ValueError(f"{where}: missing or invalid crc32")
            crc = int(c, 16)
        if nbytes:
            spans.append((start, start + nbytes, name))
        out[name] = (dt, tuple(shape), start, nbytes, crc)
    spans.sort()
    for (_, e1, n1), (s2, _, n2) in itertools.pairwise(spans):
        if s2 < e1:
            raise ValueError(f"{path}: arrays {n1!r} and {n2!r} overlap")
    return out


def read_header(path: PathLike) -> tuple[dict, int]:
    """Read and validate the JSON header; return it and the data offset.

    Raises
    ------
    ValueError
        Naming the file, if the header is not a valid embedrs header or its
        checksum does not match (damaged file).
    """
    path = os.fspath(path)
    check_regular_file(path)
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        magic = fh.read(len(MAGIC))
        if magic != MAGIC:
            raise ValueError(f"{path}: not an embedrs native file (bad magic bytes {magic!r})")
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: truncated header at byte offset {len(MAGIC)}")
        (hlen,) = struct.unpack("<Q", raw)
        if hlen > size - 16:
            raise ValueError(f"{path}: header length {hlen} exceeds the file size {size}")
        blob = fh.read(hlen)
        trailer = fh.read(16)
    if len(blob) != hlen:
        raise ValueError(f"{path}: truncated header")
    try:
        header = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(
            f"{path}: corrupt metadata header at byte offset 16: {_first_line(exc)[:200]}"
        ) from None
    if (
        not isinstance(header, dict)
        or header.get("format") != "embedrs"
        or not isinstance(header.get("arrays"), dict)
    ):
        raise ValueError(f"{path}: not an embedrs native file")
    version = header.get("version", 1)
    if not _is_int(version) or version < 1:
        raise ValueError(f"{path}: invalid format version {str(version)[:20]}")
    if version > VERSION:
        raise ValueError(
            f"{path}: written by a newer embedrs (format version {version}); "
            "upgrade embedrs to load it"
        )
    has_sum = len(trailer) == 16 and trailer[:8] == SUM_TAG
    if version >= 2 or has_sum:
        if not has_sum:
            raise ValueError(f"{path}: header checksum missing (damaged file)")
        (crc,) = struct.unpack("<I", trailer[8:12])
        if crc != zlib.crc32(MAGIC + raw + blob):
            raise ValueError(f"{path}: header checksum mismatch (damaged file)")
        data_start = _align(16 + hlen + 16)
    else:
        data_start = _align(16 + hlen)
    if not isinstance(header.get("meta", {}), dict):
        raise ValueError(f"{path}: corrupt metadata header: 'meta' is not an object")  # noqa: TRY004
    header["version"] = version
    return header, data_start


def _crc_of(arr: np.ndarray) -> int:
    crc = 0
    if arr.nbytes:
        flat = memoryview(np.ascontiguousarray(arr).reshape(-1)).cast("B")
        for i in range(0, len(flat), _CHUNK):
            crc = zlib.crc32(flat[i : i + _CHUNK], crc)
    return crc


def read_container(
    path: PathLike, mmap: str | None = None, verify: bool | None = None
) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a file written by :func:`write_container`.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    mmap : {None, 'r', 'r+', 'c'}
        ``None`` reads the arrays into memory; otherwise they are memory-mapped
        with this mode (``'r'``: read-only and shared between processes).
    verify : bool, optional
        Check the arrays' CRC-32 checksums. Default: yes when reading into
        memory, no when memory-mapping (see the module notes). The header and
        its checksum are always checked.

    Returns
    -------
    meta : dict
    arrays : dict of str to numpy.ndarray

    Raises
    ------
    ValueError
        Naming the file (and the array), for any invalid or damaged content.
    """
    if mmap not in (None, "r", "r+", "c"):
        raise ValueError(f"mmap must be None, 'r', 'r+' or 'c', not {mmap!r}")
    path = os.fspath(path)
    header, start = read_header(path)
    size = os.path.getsize(path)
    table = _check_entries(path, header, start, size)
    if verify is None:
        verify = mmap is None
    arrays: dict[str, np.ndarray] = {}
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        for name, (dt, shape, off, nbytes, crc) in table.items():
            if nbytes == 0:
                arrays[name] = np.zeros(shape, dtype=dt)
            elif mmap == "r":
                arr = np.memmap(fh, dtype=dt, mode="r", offset=off, shape=shape)
                # which bytes of which file these are (read-only: they cannot change
                # through this map), so caches built from the values can be tied to
                # them without reading them (KeyedVectors.use_int8_file)
                arr._embedrs_source = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, off)
                arrays[name] = arr
            elif mmap:
                arrays[name] = np.memmap(path, dtype=dt, mode=mmap, offset=off, shape=shape)
            else:
                a = np.empty(nbytes // dt.itemsize, dtype=dt)
                fh.seek(off)
                buf = memoryview(a).cast("B")
                got = 0
                c = 0
                while got < nbytes:
                    n = fh.readinto(buf[got : got + _CHUNK])
                    if not n:
                        raise ValueError(f"{path}: array {name!r}: unexpected end of file")
                    if verify:
                        c = zlib.crc32(buf[got : got + n], c)
                    got += n
                arrays[name] = a.reshape(shape)
                if verify and crc is not None and c != crc:
                    raise ValueError(f"{path}: array {name!r}: checksum mismatch (damaged file)")
                continue
            if verify and crc is not None and _crc_of(arrays[name]) != crc:
                raise ValueError(f"{path}: array {name!r}: checksum mismatch (damaged file)")
    return header.get("meta", {}), arrays


def verify_container(path: PathLike) -> None:
    """Check every checksum of a native file (memory-mapped, without loading it).

    Raises
    ------
    ValueError
        Naming the file and the first damaged array.
    """
    read_container(path, mmap="r", verify=True)


def check_finite_number(
    value: Any, name: str, *, minimum: float | None = None, integer: bool = False
) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite int (or float) ``>= minimum``.

    Used to validate counters and timers read back from model files (values
    that have no constructor rule of their own).
    """
    ok_type = _is_int(value) if integer else (_is_int(value) or type(value) is float)
    if not ok_type or not math.isfinite(value) or (minimum is not None and value < minimum):
        kind = "an integer" if integer else "a finite number"
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ValueError(f"{name} must be {kind}{bound}, got {str(value)[:40]}")


# ----------------------------------------------------------------------------
# gensim 4 models, without gensim and without running pickled code
# ----------------------------------------------------------------------------

#: Absolute cap on the decompressed size of a ``.gz`` / ``.bz2`` gensim pickle.
PICKLE_MAX_BYTES = 4 << 30
#: Decompressed size always allowed, whatever the compressed size.
PICKLE_FLOOR_BYTES = 256 << 20
#: Largest expansion ratio accepted above the floor.
PICKLE_MAX_RATIO = 100


def decompressed_limit(compressed_size: int) -> int:
    """Most bytes a compressed gensim pickle (or ``.npz`` side file) may expand to.

    ``min(PICKLE_MAX_BYTES, max(PICKLE_FLOOR_BYTES, PICKLE_MAX_RATIO * compressed_size))``:
    4 GiB at most, 256 MiB always, otherwise 100 times the file size. Real
    pickles compress 2-5x (vocabulary strings) and their large arrays live in
    side files; only arrays of zeros compress further, and gensim keeps those
    below 10 MB inside the pickle. A gzip bomb (1000x and more) is stopped
    once it passes the limit, before it fills memory.
    """
    return min(PICKLE_MAX_BYTES, max(PICKLE_FLOOR_BYTES, PICKLE_MAX_RATIO * compressed_size))


class _TooLarge(Exception):
    pass


class RefusedPickleError(pickle.UnpicklingError):
    """A gensim pickle asks for something the loader refuses to build.

    A name outside the allow-list, an object or structured array, a
    non-ndarray subclass, a graph nested too deeply. Malformed files
    (truncated, garbage, wrong sizes) raise ``ValueError`` instead.
    """


class WrongModelError(ValueError, AttributeError):
    """A model file holds another class than the one whose ``load`` was called.

    A ``ValueError`` like every other refusal of a file, and an
    ``AttributeError`` as gensim raises for the same call ("Model of type
    KeyedVectors can't be loaded by Word2Vec"), so either ``except`` works.
    """


class _LimitedReader(io.RawIOBase):
    """Read-only stream that refuses to deliver more than ``limit`` bytes."""

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self.done = 0

    def readable(self) -> bool:
        return True

    def _count(self, n: int) -> None:
        self.done += n
        if self.done > self.limit:
            raise _TooLarge

    def readinto(self, b: Any) -> int:
        mv = memoryview(b).cast("B")
        n = self.inner.readinto(mv) or 0  # type: ignore[attr-defined]
        self._count(n)
        return n


class GensimObject:
    """Inert stand-in for a class found in a gensim pickle.

    Holds the pickled attributes in ``state`` and the original class name in
    ``gensim_class``; it has no behaviour, so loading cannot run code.
    """

    gensim_class = "?"
    state: dict
    args: tuple

    def __new__(cls, *args: Any, **kwargs: Any) -> GensimObject:  # noqa: PYI034
        self = super().__new__(cls)
        self.state = {}
        self.args = args
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            a, b = state
            state = {**(a if isinstance(a, dict) else {}), **(b if isinstance(b, dict) else {})}
        self.state = state if isinstance(state, dict) else {"_state": state}

    def __repr__(self) -> str:
        return f"<gensim {self.gensim_class} (inert)>"


def _stand_in(module: str, name: str) -> type:
    return type(name, (GensimObject,), {"gensim_class": f"{module}.{name}"})


class _Token:
    """A name a gensim pickle refers to but never calls (``numpy.ndarray``, ``hash``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_NDARRAY = _Token("numpy.ndarray")
_HASH = _Token("builtins.hash")
_OBJECT = _Token("builtins.object")


class _DtypeProxy:
    """What ``numpy.dtype(spec, align, copy)`` and its ``__setstate__`` build in a pickle.

    Only the spec and the byte order are kept; the real dtype is made by
    :func:`safe_dtype`, which refuses objects, structures and sub-arrays.
    """

    def __init__(self, spec: Any, align: Any = False, copy: Any = False) -> None:
        if not isinstance(spec, str) or len(spec) > 16:
            raise RefusedPickleError("numpy.dtype: only simple dtype names are allowed")
        self.spec = spec
        self.order = "="

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) < 5:
            raise RefusedPickleError("numpy.dtype: invalid state")
        _, order, sub, names, fields = state[:5]
        if sub is not None or names is not None or fields is not None:
            raise RefusedPickleError("numpy.dtype: structured or sub-array dtypes are not allowed")
        if order not in ("<", ">", "|", "="):
            raise RefusedPickleError("numpy.dtype: invalid byte order")
        self.order = order

    def is_object(self) -> bool:
        return self.spec in ("O", "O4", "O8")

    def resolve(self) -> np.dtype:
        try:
            dt = safe_dtype(self.spec, "numpy.dtype")
        except ValueError as exc:
            raise RefusedPickleError(str(exc)) from None
        return dt.newbyteorder(self.order) if self.order in "<>" and dt.byteorder != "|" else dt


def _as_dtype(d: Any) -> np.dtype:
    if isinstance(d, _DtypeProxy):
        return d.resolve()
    raise RefusedPickleError("numpy: a dtype was expected")


def _check_shape(shape: Any) -> tuple:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if (
        not isinstance(shape, tuple)
        or len(shape) > _MAX_NDIM
        or not all(type(s) is int and 0 <= s <= _MAX_DIM for s in shape)
    ):
        raise RefusedPickleError("numpy: invalid array shape")
    return shape


def _py2_bytes(data: Any) -> Any:
    """A Python 2 ``str`` as the unpickler decoded it (latin-1) back to its bytes.

    Python 2 pickles hold numpy's raw data as ``str``; with ``encoding='latin1'``
    (gensim's own choice for them) every byte becomes one code point below 256,
    so encoding back to latin-1 gives the original bytes, as numpy does itself.
    """
    if isinstance(data, str):
        try:
            return data.encode("latin1")
        except UnicodeEncodeError:
            raise RefusedPickleError("numpy: array data must be raw bytes") from None
    return data


def _array_from_bytes(data: Any, dt: np.dtype, shape: tuple, fortran: bool) -> np.ndarray:
    data = _py2_bytes(data)
    if not isinstance(data, (bytes, bytearray)):
        raise RefusedPickleError("numpy: array data must be raw bytes")
    if math.prod(shape) * dt.itemsize != len(data):
        raise RefusedPickleError(f"numpy: {len(data)} bytes of data for shape {shape} of {dt.str}")
    arr = np.frombuffer(data, dtype=dt).copy()
    return arr.reshape(shape, order="F" if fortran else "C")


class _ArrayProxy:
    """What ``numpy.core.multiarray._reconstruct`` builds; ``__setstate__`` fills it.

    The array is made from the raw bytes of the state by
    :func:`_array_from_bytes`; it replaces the proxy once unpickling ends.
    A one-dimensional object array (gensim keeps Huffman codes so) becomes a
    plain ``list`` of its elements: no object-dtype array is ever created.
    """

    def __init__(self) -> None:
        self.array: np.ndarray | list | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise RefusedPickleError("numpy: invalid array state")
        if len(state) == 5:
            state = state[1:]
        shape, dtype, fortran, data = state
        shape = _check_shape(shape)
        if isinstance(dtype, _DtypeProxy) and dtype.is_object():
            if len(shape) != 1 or not isinstance(data, list) or len(data) != shape[0]:
                raise RefusedPickleError("numpy: object arrays must be one-dimensional lists")
            self.array = data
            return
        self.array = _array_from_bytes(data, _as_dtype(dtype), shape, bool(fortran))


def _reconstruct(subtype: Any, shape: Any = (0,), code: Any = b"b") -> _ArrayProxy:
    if subtype is not _NDARRAY:
        raise RefusedPickleError("numpy: only plain ndarray objects are allowed")
    return _ArrayProxy()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if isinstance(buf, pickle.PickleBuffer):
        buf = bytes(buf.raw())
    return _array_from_bytes(buf, _as_dtype(dtype), _check_shape(shape), order == "F")


def _scalar(dtype: Any, data: Any = None) -> Any:
    dt = _as_dtype(dtype)
    data = _py2_bytes(data)
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        raise RefusedPickleError("numpy: invalid scalar")
    return np.frombuffer(data, dtype=dt)[0]


def _codecs_encode(obj: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: latin-1 text only."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise RefusedPickleError("_codecs.encode: only latin-1 text is allowed")
    return obj.encode("latin1")


def _plain_dict(*args: Any) -> dict:
    """Stands in for ``collections.defaultdict(factory)``: a plain dict."""
    return {}


def _copyreg_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    if isinstance(cls, type) and issubclass(cls, GensimObject):
        return cls()
    raise RefusedPickleError(f"refusing to reconstruct {cls!r}")


_NUMPY_SCALAR_TYPES = (
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool_",
)

#: Every name a gensim 4 Word2Vec, Doc2Vec, FastText, KeyedVectors or
#: PoincareModel pickle (protocols 0 to 5, numpy 1 or 2) refers to, and what
#: it becomes here.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DtypeProxy,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "int"): int,
    ("builtins", "hash"): _HASH,
    ("builtins", "object"): _OBJECT,
    ("collections", "defaultdict"): _plain_dict,
    ("copyreg", "_reconstructor"): _copyreg_reconstructor,
    ("_codecs", "encode"): _codecs_encode,
    # gensim < 4 models pickle their numpy RandomState (numpy < 1.17 named its
    # constructor so); it becomes an inert stand-in like gensim 4's
    # numpy.random._pickle.__randomstate_ctor, and embedrs never uses it.
    ("numpy.random", "__RandomState_ctor"): "stand-in",
    # Python 3.4 pickled collections.defaultdict under this alias
    ("UserString", "defaultdict"): _plain_dict,
}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _reconstruct
    _ALLOWED[(_mod, "scalar")] = _scalar
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _frombuffer
for _name in _NUMPY_SCALAR_TYPES:
    _ALLOWED[("numpy", _name)] = getattr(np, _name)
_PY2_NAMES = {
    ("__builtin__", "long"): ("builtins", "int"),
    ("__builtin__", "int"): ("builtins", "int"),
    ("__builtin__", "set"): ("builtins", "set"),
    ("__builtin__", "frozenset"): ("builtins", "frozenset"),
    ("__builtin__", "hash"): ("builtins", "hash"),
    ("__builtin__", "object"): ("builtins", "object"),
    ("copy_reg", "_reconstructor"): ("copyreg", "_reconstructor"),
}


#: Deepest nesting of tuples, lists, dicts and sets accepted in a gensim pickle.
_MAX_NESTING = 100
_CONTAINER_TYPES = frozenset({tuple, list, dict, set, frozenset})
_SCALAR_TYPES = frozenset(getattr(np, _n) for _n in _NUMPY_SCALAR_TYPES)
_BUILD_TARGETS = (GensimObject, _ArrayProxy, _DtypeProxy)


def _is_scalar_type(func: Any) -> bool:
    return type(func) is type and func in _SCALAR_TYPES


def _check_call(func: Any, args: Any, kwargs: Any = None) -> None:
    """Refuse calls through REDUCE, NEWOBJ, OBJ or INST that could amplify input.

    numpy scalar types are named in gensim pickles (as a ``dtype`` attribute,
    never called: gensim's scalars come through ``multiarray.scalar``). Called
    on a list they would convert every element, and a list nested through
    memo references holds exponentially many: only a plain ``int``,
    ``float`` or ``bool``, or raw bytes of the scalar's size, are accepted.
    """
    if not _is_scalar_type(func):
        return
    if kwargs or not isinstance(args, tuple) or len(args) > 1:
        raise RefusedPickleError(f"numpy.{func.__name__}: only one plain number may be passed")
    if args and not (
        type(args[0]) in (int, float, bool)
        or (type(args[0]) is bytes and len(args[0]) == np.dtype(func).itemsize)
    ):
        raise RefusedPickleError(
            f"numpy.{func.__name__}: only a plain number may be converted, "
            f"not {type(args[0]).__name__}"
        )


class _Dispatch(dict):
    def __missing__(self, key: int) -> Any:
        raise pickle.UnpicklingError(f"invalid load key, {bytes([key])!r}")


def _numpy_scalar_from(func: Any, args: tuple) -> Any:
    if args and type(args[0]) is bytes:
        return np.frombuffer(args[0], dtype=func)[0]
    return func(*args)


class _RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    """Unpickler that resolves only the names gensim 4 models contain.

    numpy arrays, dtypes and scalars are rebuilt by this module from raw bytes
    (never through numpy's own unpickling entry points); gensim classes and
    numpy random states become inert :class:`GensimObject` stand-ins.

    It is the pure-Python unpickler (its memo is a dict, so a forged memo
    index allocates nothing) with the container-building opcodes replaced:
    every tuple, list, dict, set and frozenset it builds has a recorded
    nesting depth, and one deeper than :data:`_MAX_NESTING` is refused before
    it exists. Without that, a tuple nested a million levels deep (a few
    bytes per level) overflows the C stack when it is hashed as a dict key or
    set element. Objects (gensim stand-ins, array proxies) count as leaves:
    nothing recurses through them in C, and :func:`_materialise` bounds the
    depth of the object graph. A container may not get deeper once it sits
    inside another one (only cyclic or forged pickles do that), so the
    recorded depths are always exact.
    """

    dispatch = _Dispatch(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, file: Any) -> None:
        # latin-1, as gensim: Python 2 ``str`` (words, numpy's raw data) decode
        # to one code point per byte instead of failing; Python 3 pickles hold
        # no such strings, so nothing changes for them.
        super().__init__(file, encoding="latin1")
        self._depths: dict[int, int] = {}  # id -> depth of the containers built so far
        self._nested: set[int] = set()  # ids of those that sit inside another container
        self._alive: list = []  # keeps them alive, so that their ids stay unique

    def find_class(self, module: str, name: str) -> Any:
        module, name = _PY2_NAMES.get((module, name), (module, name))
        found = _ALLOWED.get((module, name))
        if found is not None and found != "stand-in":
            return found
        if found is not None or module.startswith(("gensim.", "numpy.random.")):
            return _stand_in(module, name)
        raise RefusedPickleError(
            f"refusing to load {module}.{name}: only gensim models and numpy arrays are accepted"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickleError("persistent ids are not allowed")

    # --- depth bookkeeping -------------------------------------------------

    def _depth_of(self, items: Any) -> int:
        """1 + the depth of the deepest container among ``items``, which become nested."""
        depths = self._depths
        found = depths.keys() & map(id, items)  # C speed: most items are strings and numbers
        if not found:
            return 1
        self._nested |= found
        deepest = max(depths[k] for k in found)
        if deepest >= _MAX_NESTING:
            raise RefusedPickleError(
                f"containers nested too deeply (more than {_MAX_NESTING} levels)"
            )
        return deepest + 1

    def _made(self, obj: Any, items: Any) -> Any:
        """Record the depth of the new container ``obj`` holding ``items``; returns ``obj``."""
        self._depths[id(obj)] = self._depth_of(items)
        self._alive.append(obj)
        return obj

    def _track(self, obj: Any) -> None:
        """Record a container that a call (REDUCE, NEWOBJ...) returned."""
        if type(obj) in _CONTAINER_TYPES and id(obj) not in self._depths:
            items = itertools.chain(obj.keys(), obj.values()) if type(obj) is dict else obj
            self._made(obj, items)

    def _grow(self, container: Any, items: Any) -> None:
        """Update the depth of ``container`` before ``items`` are added to it."""
        key = id(container)
        old = self._depths.get(key)
        if old is None:
            if type(container) in _CONTAINER_TYPES:  # pragma: no cover - every container is tracked
                raise RefusedPickleError("container of unknown origin")
            return  # not a container: the opcode itself fails
        new = self._depth_of(items)
        if new > old:
            if key in self._nested:
                raise RefusedPickleError(
                    "a container got deeper after it was nested "
                    "(cyclic or forged pickle): nested too deeply"
                )
            self._depths[key] = new

    # --- container opcodes ------------------------------------------------

    def load_tuple(self) -> None:
        items = self.pop_mark()
        self.append(self._made(tuple(items), items))

    dispatch[pickle.TUPLE[0]] = load_tuple

    def load_empty_tuple(self) -> None:
        self.append(())  # a shared singleton: depth 0 is exact enough

    dispatch[pickle.EMPTY_TUPLE[0]] = load_empty_tuple

    def _tuple_of(self, n: int) -> None:
        items = self.stack[-n:]
        if len(items) != n:
            raise pickle.UnpicklingError("unpickling stack underflow")
        self.stack[-n:] = [self._made(tuple(items), items)]

    def load_tuple1(self) -> None:
        self._tuple_of(1)

    dispatch[pickle.TUPLE1[0]] = load_tuple1

    def load_tuple2(self) -> None:
        self._tuple_of(2)

    dispatch[pickle.TUPLE2[0]] = load_tuple2

    def load_tuple3(self) -> None:
        self._tuple_of(3)

    dispatch[pickle.TUPLE3[0]] = load_tuple3

    def load_empty_list(self) -> None:
        self.append(self._made([], ()))

    dispatch[pickle.EMPTY_LIST[0]] = load_empty_list

    def load_empty_dictionary(self) -> None:
        self.append(self._made({}, ()))

    dispatch[pickle.EMPTY_DICT[0]] = load_empty_dictionary

    def load_empty_set(self) -> None:
        self.append(self._made(set(), ()))

    dispatch[pickle.EMPTY_SET[0]] = load_empty_set

    def load_frozenset(self) -> None:
        items = self.pop_mark()
        depth = self._depth_of(items)  # before hashing the items
        self.append(self._made(frozenset(items), ()))
        self._depths[id(self.stack[-1])] = depth

    dispatch[pickle.FROZENSET[0]] = load_frozenset

    def load_list(self) -> None:
        items = self.pop_mark()
        self.append(self._made(items, items))

    dispatch[pickle.LIST[0]] = load_list

    def load_dict(self) -> None:
        items = self.pop_mark()
        depth = self._depth_of(items)
        d = {items[i]: items[i + 1] for i in range(0, len(items), 2)}
        self.append(self._made(d, ()))
        self._depths[id(d)] = depth

    dispatch[pickle.DICT[0]] = load_dict

    def load_append(self) -> None:
        if len(self.stack) < 2:
            raise pickle.UnpicklingError("unpickling stack underflow")
        self._grow(self.stack[-2], self.stack[-1:])
        super().load_append()

    dispatch[pickle.APPEND[0]] = load_append

    def load_appends(self) -> None:
        if not self.metastack or not self.metastack[-1]:
            raise pickle.UnpicklingError("unpickling stack underflow")
        self._grow(self.metastack[-1][-1], self.stack)
        super().load_appends()

    dispatch[pickle.APPENDS[0]] = load_appends

    def load_setitem(self) -> None:
        if len(self.stack) < 3:
            raise pickle.UnpicklingError("unpickling stack underflow")
        self._grow(self.stack[-3], self.stack[-2:])
        super().load_setitem()

    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self) -> None:
        if not self.metastack or not self.metastack[-1]:
            raise pickle.UnpicklingError("unpickling stack underflow")
        self._grow(self.metastack[-1][-1], self.stack)
        super().load_setitems()

    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_additems(self) -> None:
        if not self.metastack or not self.metastack[-1]:
            raise pickle.UnpicklingError("unpickling stack underflow")
        self._grow(self.metastack[-1][-1], self.stack)
        super().load_additems()

    dispatch[pickle.ADDITEMS[0]] = load_additems

    # --- calls ------------------------------------------------------------

    def load_reduce(self) -> None:
        if len(self.stack) < 2:
            raise pickle.UnpicklingError("unpickling stack underflow")
        func, args = self.stack[-2], self.stack[-1]
        _check_call(func, args)
        if _is_scalar_type(func):
            self.stack[-2:] = [_numpy_scalar_from(func, args)]
            return
        super().load_reduce()
        self._track(self.stack[-1])

    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_newobj(self) -> None:
        if len(self.stack) < 2:
            raise pickle.UnpicklingError("unpickling stack underflow")
        _check_call(self.stack[-2], self.stack[-1])
        super().load_newobj()
        self._track(self.stack[-1])

    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self) -> None:
        if len(self.stack) < 3:
            raise pickle.UnpicklingError("unpickling stack underflow")
        _check_call(self.stack[-3], self.stack[-2], self.stack[-1])
        super().load_newobj_ex()
        self._track(self.stack[-1])

    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def _instantiate(self, klass: Any, args: Any) -> None:
        _check_call(klass, tuple(args))
        super()._instantiate(klass, args)
        self._track(self.stack[-1])

    def load_build(self) -> None:
        if len(self.stack) < 2:
            raise pickle.UnpicklingError("unpickling stack underflow")
        if not isinstance(self.stack[-2], _BUILD_TARGETS):
            raise RefusedPickleError(
                f"refusing to set the state of {type(self.stack[-2]).__name__}"
            )
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def load_bytearray8(self) -> None:
        # The stock opcode allocates (and zeroes) the declared length before
        # reading; numpy arrays pickled at protocol 5 use it for their data,
        # so it stays, but reads first: `read` is bounded by the bytes left.
        (n,) = struct.unpack("<Q", self.read(8))
        data = self.read(n)
        if len(data) != n:
            raise pickle.UnpicklingError("pickle data was truncated")
        self.append(bytearray(data))

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8

    def load_out_of_band_buffer(self) -> None:
        # Out-of-band buffers need a list the caller passes with the file;
        # a model file alone never has one.
        raise RefusedPickleError(
            "out-of-band pickle buffers (NEXT_BUFFER, READONLY_BUFFER) "
            "are not allowed: gensim model files do not contain them"
        )

    for _op in (pickle.NEXT_BUFFER, pickle.READONLY_BUFFER):
        dispatch[_op[0]] = load_out_of_band_buffer
    del _op


#: Types :func:`_materialise` has nothing to replace in.
_LEAVES = frozenset({str, int, float, bool, bytes, type(None)})


def _materialise(root: Any) -> Any:
    """Replace array and dtype proxies by real numpy objects, everywhere in the graph."""
    seen: dict[int, Any] = {}

    def walk(x: Any, depth: int) -> Any:
        if depth > 200:
            raise RefusedPickleError("object graph nested too deeply")
        if isinstance(x, _ArrayProxy):
            if x.array is None:
                raise RefusedPickleError("numpy: array without data")
            if isinstance(x.array, list):
                key = id(x)
                if key not in seen:
                    seen[key] = x.array
                    x.array[:] = [walk(v, depth + 1) for v in x.array]
                return seen[key]
            return x.array
        if isinstance(x, _DtypeProxy):
            return x.resolve()
        if isinstance(x, _Token):
            return None
        key = id(x)
        if key in seen:
            return seen[key]
        if isinstance(x, GensimObject):
            seen[key] = x
            x.state = walk(x.state, depth + 1)
            x.args = tuple(walk(a, depth + 1) for a in x.args)
            return x
        if isinstance(x, dict):
            seen[key] = x
            for k, v in list(x.items()):
                if isinstance(k, (_ArrayProxy, _DtypeProxy, GensimObject)):
                    raise RefusedPickleError("unhashable value used as a key")
                if type(v) not in _LEAVES:
                    x[k] = walk(v, depth + 1)
            return x
        if isinstance(x, list):
            seen[key] = x
            for i, v in enumerate(x):
                if type(v) not in _LEAVES:
                    x[i] = walk(v, depth + 1)
            return x
        if isinstance(x, tuple):
            out = tuple(walk(v, depth + 1) for v in x)
            seen[key] = out
            return out
        if isinstance(x, (set, frozenset)):
            if any(isinstance(v, (_ArrayProxy, _DtypeProxy, GensimObject)) for v in x):
                raise RefusedPickleError("set of arrays or objects")
            return x
        return x

    return walk(root, 0)


_ATTR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


def _npy_header(fh: IO[bytes], what: str) -> tuple[np.dtype, tuple, bool, int]:
    """Read an ``.npy`` header from ``fh``: plain dtype, valid shape, and the data size."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, SyntaxError, TypeError, EOFError) as exc:
        raise ValueError(f"{what}: invalid .npy file ({_first_line(exc)[:200]})") from None
    dt = safe_dtype(dtype, what)
    try:
        shape = _check_shape(tuple(shape))
    except RefusedPickleError:
        raise ValueError(f"{what}: invalid shape {str(shape)[:80]}") from None
    return dt, shape, bool(fortran), math.prod(shape) * dt.itemsize


def _load_npy(npy: str, mmap: str | None) -> np.ndarray:
    check_regular_file(npy, "side array")
    size = os.path.getsize(npy)
    with open(npy, "rb") as fh:
        _, shape, _, need = _npy_header(fh, npy)
        have = size - fh.tell()
    if need > have:
        raise ValueError(f"{npy}: shape {shape} needs {need} bytes, the file holds {have}")
    try:
        return np.load(npy, mmap_mode=mmap, allow_pickle=False)
    except (ValueError, OSError) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise
        raise ValueError(f"{npy}: invalid .npy file ({_first_line(exc)[:200]})") from None


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    lines = str(exc).splitlines()
    return lines[0] if lines and lines[0] else type(exc).__name__


def read_npz_member(path: str, member: str) -> np.ndarray:
    """One array of an ``.npz`` file, with the checks of :func:`load_gensim_pickle`.

    The dtype must be plain, the declared shape must match the member's size,
    and the decompressed size is capped by :func:`decompressed_limit`.
    """
    check_regular_file(path, ".npz file")
    try:
        with zipfile.ZipFile(path) as zf:
            name = member + ".npy"
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise ValueError(f"{path}: no array {member!r} in this .npz file") from None
            if info.file_size > decompressed_limit(os.path.getsize(path)):
                raise ValueError(
                    f"{path}: array {member!r} expands to {info.file_size} bytes, "
                    "more than the decompression limit"
                )
            with zf.open(info) as fh:
                dt, shape, fortran, need = _npy_header(fh, f"{path}: {member}")
                if need > info.file_size:
                    raise ValueError(
                        f"{path}: array {member!r}: shape {shape} needs {need} bytes, "
                        f"the member holds {info.file_size}"
                    )
                data = fh.read(need)
            if len(data) != need:
                raise ValueError(f"{path}: array {member!r} is truncated")
    except FileNotFoundError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        EOFError,
        zlib.error,
        RuntimeError,
        OSError,
        OverflowError,
        struct.error,
    ) as exc:
        # zipfile reports damage in many ways: an offset before the start of
        # the file (OSError EINVAL), an "encrypted" flag (RuntimeError), bad
        # sizes (struct.error, OverflowError), a bad deflate stream (zlib.error)
        raise ValueError(f"{path}: invalid .npz file ({_first_line(exc)})") from None
    arr = np.frombuffer(data, dtype=dt).copy()
    return arr.reshape(shape, order="F" if fortran else "C")


def _attach_side_arrays(
    obj: Any, fname: str, mmap: str | None, prefix: str, active: set[int]
) -> None:
    """Load the ``fname.<attr>.npy`` files gensim wrote beside the pickle."""
    if not isinstance(obj, GensimObject):
        return
    if id(obj) in active:
        raise ValueError(
            f"{fname}: corrupt gensim pickle: __recursive_saveloads forms a cycle at "
            f"{prefix.rstrip('.') or 'the top object'}"
        )
    if prefix.count(".") > 32:
        raise ValueError(f"{fname}: corrupt gensim pickle: __recursive_saveloads nested too deeply")
    active.add(id(obj))
    st = obj.state

    def names(key: str) -> list:
        v = st.get(key) or []
        if not isinstance(v, (list, tuple)) or not all(
            isinstance(a, str) and _ATTR_RE.match(a) for a in v
        ):
            raise ValueError(f"{fname}: corrupt gensim pickle: invalid {key} list")
        return list(v)

    for attr in names("__recursive_saveloads"):
        _attach_side_arrays(st.get(attr), fname, mmap, f"{prefix}{attr}.", active)
    for attr in names("__numpys"):
        npy = f"{fname}.{prefix}{attr}.npy"
        if os.path.exists(npy):
            st[attr] = _load_npy(npy, mmap)
        elif os.path.exists(npy[:-4] + ".npz"):
            st[attr] = read_npz_member(npy[:-4] + ".npz", "val")
        else:
            raise FileNotFoundError(f"{npy}: side array of the gensim model {fname} is missing")
    for attr in names("__scipys"):
        raise ValueError(f"{fname}: sparse attribute {attr!r} is not supported")
    for attr in names("__ignoreds"):
        st.setdefault(attr, None)
    active.discard(id(obj))


class _BoundedSource:
    """What the unpickler reads from: refuses any read longer than the data left.

    A pickle states the length of what follows (``FRAME``, ``BINBYTES8``,
    ``BINUNICODE8``...), and unpicklers size their buffers from that length
    before reading: a 12-byte file whose FRAME claims 2**60 bytes would make
    them allocate that much. A length beyond what the file (or the capped
    decompressed stream) can still hold can only come from a truncated or
    forged file, so it is refused before any allocation.
    """

    def __init__(self, fh: IO[bytes], left: int, capped: bool) -> None:
        self._fh = fh
        self._left = left
        self._capped = capped

    def _take(self, n: int) -> None:
        if n > self._left:
            if self._capped:  # past the decompression cap: reported as a bomb
                raise _TooLarge
            raise ValueError(
                f"a pickle opcode asks for {n} bytes but at most {self._left} remain "
                "(truncated or forged file)"
            )

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._left
        self._take(n)
        data = self._fh.read(n)
        self._left -= len(data)
        return data

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf)
        self._take(view.nbytes)
        got = self._fh.readinto(view)  # type: ignore[attr-defined]
        self._left -= got or 0
        return got

    def readline(self, limit: int = -1) -> bytes:
        line = self._fh.readline(min(limit, self._left) if limit >= 0 else self._left)
        self._left -= len(line)
        return line


def _open_pickle(fname: str, limit: int | None) -> IO[bytes]:
    raw = open(fname, "rb")  # noqa: SIM115 - closed by the caller through the returned wrapper
    if fname.endswith((".gz", ".bz2")):
        size = os.fstat(raw.fileno()).st_size
        inner: Any = gzip.GzipFile(fileobj=raw) if fname.endswith(".gz") else bz2.BZ2File(raw)
        cap = decompressed_limit(size) if limit is None else limit
        stream = io.BufferedReader(_LimitedReader(inner, cap), 1 << 20)
        stream._embedrs_close = (inner, raw)  # type: ignore[attr-defined]
        return stream
    return raw


def load_gensim_pickle(
    path: PathLike, mmap: str | None = None, max_decompressed: int | None = None
) -> GensimObject:
    """Open a model saved by gensim 4's ``.save()`` without gensim or arbitrary code.

    Parameters
    ----------
    path : str or os.PathLike
        The pickle file (``.gz`` and ``.bz2`` are decompressed); side files
        ``path.<attr>.npy`` (or ``.npz``) are loaded too.
    mmap : {None, 'r', 'r+', 'c'}
        Memory-map the side arrays with this mode.
    max_decompressed : int, optional
        Cap on the decompressed size of a compressed pickle (default
        :func:`decompressed_limit` of the file size).

    Returns
    -------
    GensimObject
        The top object; ``.gensim_class`` names its class and ``.state`` holds
        its attributes (nested gensim objects are ``GensimObject`` too).

    Raises
    ------
    RefusedPickleError
        (a ``pickle.UnpicklingError``) If the pickle asks for a name outside
        the allow-list, an object, structured or sub-array array, or nests too
        deeply.
    ValueError
        For anything else wrong with the file (truncated, corrupt, an array
        that is not plain numbers, too large once decompressed, a cycle in
        ``__recursive_saveloads``); the one-line message names the file.
    FileNotFoundError
        If the file or one of its side arrays is missing.
    """
    fname = os.fspath(path)
    check_regular_file(fname)
    try:
        with contextlib.ExitStack() as stack:
            fh = _open_pickle(fname, max_decompressed)
            stack.callback(fh.close)
            for extra in getattr(fh, "_embedrs_close", ()):
                stack.callback(extra.close)
            capped = fname.endswith((".gz", ".bz2"))
            if capped:
                left = max_decompressed or decompressed_limit(os.path.getsize(fname))
            else:
                left = os.path.getsize(fname)
            obj = _RestrictedUnpickler(_BoundedSource(fh, left, capped)).load()
            obj = _materialise(obj)
    except RefusedPickleError as exc:
        raise RefusedPickleError(f"{fname}: {_first_line(exc)[:300]}") from None
    except _TooLarge:
        raise ValueError(
            f"{fname}: decompressed pickle is larger than the limit "
            f"({max_decompressed or decompressed_limit(os.path.getsize(fname))} bytes); "
            "refusing a possible decompression bomb"
        ) from None
    except (
        pickle.UnpicklingError,
        EOFError,
        struct.error,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
        RecursionError,
        OverflowError,
        UnicodeDecodeError,
        OSError,
        zlib.error,
    ) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        detail = _first_line(exc)[:200] if str(exc) else type(exc).__name__
        raise ValueError(
            f"{fname}: truncated or corrupt gensim pickle ({type(exc).__name__}: {detail})"
        ) from None
    if not isinstance(obj, GensimObject):
        raise ValueError(f"{fname}: not a gensim model (top object is {type(obj).__name__})")  # noqa: TRY004
    try:
        _attach_side_arrays(obj, fname, mmap, "", set())
    except RecursionError:
        raise ValueError(
            f"{fname}: corrupt gensim pickle: __recursive_saveloads nested too deeply"
        ) from None
    return upgrade_old_gensim(obj, fname)


# ----------------------------------------------------------------------------
# models saved by gensim before 4.0: the same data under older names
# ----------------------------------------------------------------------------

#: Attributes of a gensim < 1.0 Word2Vec (vectors kept on the model itself)
#: that gensim 1.0 moved into its ``wv`` KeyedVectors.
_PRE_KV_ATTRS = ("syn0", "syn0norm", "vocab", "index2word")
#: What gensim 3.x kept in ``model.vocabulary`` / ``model.trainables``; gensim 4
#: puts them back on the model (``Word2Vec._load_specials``).
_MOVED_BACK = {
    "vocabulary": ("max_vocab_size", "min_count", "sample", "sorted_vocab", "null_word"),
    "trainables": ("layer1_size", "seed", "syn1neg", "syn1"),
}
#: Per-word fields of gensim < 4's ``Vocab`` records kept as 4.0's
#: ``expandos``. Only the counts: embedrs derives the downsampling
#: thresholds (``sample_int``) and Huffman codes (``code``/``point``) from them.
_VOCAB_FIELDS = {"count": np.int64}


def _upgrade_old_vocab(kv: GensimObject, where: str) -> None:
    """Turn a gensim < 4 ``vocab`` dict of ``Vocab`` records into 4.0's fields.

    ``index_to_key`` comes from ``index2word`` (or ``index2entity``), as in
    gensim's ``KeyedVectors._load_specials``; the records' ``count`` becomes
    the ``expandos`` array. Every record must carry a
    valid, distinct row number that names its own word, or the file is refused.
    """
    st = kv.state
    if "index_to_key" not in st:
        for old in ("index2word", "index2entity"):
            if old in st:
                st["index_to_key"] = st.pop(old)
                break
    if st.get("vectors") is None and isinstance(st.get("syn0"), np.ndarray):
        st["vectors"] = st.pop("syn0")
    vectors = st.get("vectors")
    if st.get("vector_size") is None and isinstance(vectors, np.ndarray) and vectors.ndim == 2:
        st["vector_size"] = int(vectors.shape[1])
    vocab = st.pop("vocab", None)
    if vocab is None or "expandos" in st:
        return
    keys = st.get("index_to_key")
    if not isinstance(vocab, dict) or not isinstance(keys, list):
        raise ValueError(f"{where}: old gensim vocabulary must be a dict beside a word list")  # noqa: TRY004
    n = len(keys)
    if len(vocab) != n:
        raise ValueError(f"{where}: old gensim vocabulary has {len(vocab)} words, the list {n}")
    fields = {name: np.zeros(n, dtype=t) for name, t in _VOCAB_FIELDS.items()}
    seen = np.zeros(n, dtype=bool)
    for word, rec in vocab.items():
        fs = rec.state if isinstance(rec, GensimObject) else None
        idx = fs.get("index") if fs is not None else None
        if type(idx) is not int or not 0 <= idx < n or seen[idx] or keys[idx] != word:
            raise ValueError(
                f"{where}: old gensim vocabulary: invalid entry for {str(word)[:40]!r}"
            )
        seen[idx] = True
        for name, arr in fields.items():
            v = fs.get(name, 0)
            if isinstance(v, np.generic):
                v = v.item()
            if type(v) is not int or not 0 <= v <= np.iinfo(arr.dtype).max:
                raise ValueError(
                    f"{where}: old gensim vocabulary: invalid {name} for {str(word)[:40]!r}"
                )
            arr[idx] = v
    st["expandos"] = fields


def upgrade_old_gensim(obj: GensimObject, fname: str) -> GensimObject:
    """Rename the attributes of a model saved by gensim < 4 to gensim 4's, in place.

    What gensim 4.4's ``load`` does for such files, on the inert stand-ins:
    ``syn0`` becomes ``vectors``, ``index2word`` ``index_to_key``, the
    ``vocab`` records ``expandos`` (:func:`_upgrade_old_vocab`); ``iter``
    becomes ``epochs``; the fields 3.x kept in ``vocabulary``/``trainables``
    go back on the model. A Word2Vec from before gensim 1.0 (vectors on the
    model itself, which gensim 4.4 no longer opens) gets its ``wv`` built
    from them. Files already in gensim 4's layout are left unchanged.
    """
    st = obj.state
    cls = str(obj.gensim_class)
    if cls.endswith(("Word2Vec", "Doc2Vec", "FastText")):
        if "wv" not in st and any(a in st for a in _PRE_KV_ATTRS):
            wv = _stand_in("gensim.models.keyedvectors", "KeyedVectors")()
            wv.state = {a: st.pop(a) for a in _PRE_KV_ATTRS if a in st}
            st["wv"] = wv
        if "epochs" not in st and "iter" in st:
            st["epochs"] = st.pop("iter")
        for part, names in _MOVED_BACK.items():
            sub = st.get(part)
            if isinstance(sub, GensimObject):
                for a in names:
                    if a in sub.state:
                        st[a] = sub.state[a]
                del st[part]
    # only vector models keep a word vocabulary to upgrade (a Phrases model's
    # ``vocab`` is its phrase-count table, already in gensim 4's form)
    own = obj if "Phrase" not in cls else None
    for kv in (own, st.get("wv"), st.get("kv")):
        if isinstance(kv, GensimObject) and any(
            a in kv.state for a in ("vocab", "syn0", "index2word", "index2entity")
        ):
            _upgrade_old_vocab(kv, fname)
    return obj


def _is_pickle(path: PathLike) -> bool:
    """Whether ``path`` starts like a pickle of protocol 2 or later (``.gz``/``.bz2`` looked into)."""
    p = os.fspath(path)
    try:
        if p.endswith(".gz"):
            with gzip.open(p, "rb") as fh:
                head = fh.read(2)
        elif p.endswith(".bz2"):
            with bz2.open(p, "rb") as fh:
                head = fh.read(2)
        else:
            with open(p, "rb") as fh:
                head = fh.read(2)
    except (OSError, EOFError, ValueError):
        return False
    return len(head) == 2 and head[0] == 0x80


__all__ = [
    "GensimObject",
    "Path",
    "RefusedPickleError",
    "WrongModelError",
    "atomic_open",
    "atomic_write",
    "check_regular_file",
    "decode_keys",
    "encode_keys",
    "is_container",
    "key_table",
    "load_gensim_pickle",
    "read_container",
    "read_header",
    "safe_dtype",
    "save_figure",
    "verify_container",
    "write_container",
]
