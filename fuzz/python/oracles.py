"""Oracles of the Python fuzz targets, shared with ``tests/test_fuzz_replay.py``.

Each ``check_<target>(data, scratch)`` writes the input to a file in the
directory ``scratch``, runs the parser and then the public loader that users
call, and raises :class:`Finding` when something happens that the documented
contract does not allow. A documented refusal (``ValueError`` naming the
file, ``pickle.UnpicklingError`` for names outside the allow-list,
``FileNotFoundError`` for a missing side file) is a pass; anything else that
escapes (``RecursionError``, ``MemoryError``, ``AttributeError``,
``IndexError``, ``SystemError``, a Rust ``PanicException``...) is a finding,
and a segfault kills the process (libFuzzer or the replay subprocess reports
it).

Input layout: byte 0 holds the options of the target (documented per
function), the rest is the file.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import math
import os
import pickle
import struct
import zlib
from typing import Any, Callable

import numpy as np


class Finding(Exception):
    """A contract violation; ``signature`` deduplicates findings."""

    def __init__(self, message: str, signature: str) -> None:
        super().__init__(message)
        self.signature = signature


def _signature(exc: BaseException) -> str:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    where = (
        f"{os.path.basename(last.tb_frame.f_code.co_filename)}:{last.tb_lineno}" if last else "?"
    )
    return f"{type(exc).__name__}@{where}"


#: Steps run for the current input, as "step:ok" or "step:ExceptionName"
#: (the replay prints them with EMBEDRS_FUZZ_TRACE=1).
TRACE: list = []


def _guard(step: str, allowed: tuple, fn: Callable[[], Any]) -> tuple[bool, Any]:
    """Run ``fn``; (True, result) on success, (False, exc) on an allowed error."""
    try:
        res = fn()
        TRACE.append(f"{step}:ok")
        return True, res
    except allowed as exc:
        TRACE.append(f"{step}:{type(exc).__name__}")
        return False, exc
    except Finding:
        raise
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise Finding(
            f"{step}: undocumented {type(exc).__name__}: {str(exc)[:300]}",
            f"{step}:{_signature(exc)}",
        ) from exc


def _require(cond: bool, what: str, signature: str | None = None) -> None:
    if not cond:
        raise Finding(what, signature or what)


def _no_memory_bomb(step: str, exc: BaseException, data: bytes) -> None:
    """A loader that turns MemoryError into ValueError still let a small file
    ask for more memory than the cap of :func:`run` allows."""
    _require(
        "MemoryError" not in str(exc),
        f"{step}: a {len(data)}-byte input needs more than {CAP_MB} MiB: {str(exc)[:200]}",
        f"{step}:memory-bomb",
    )


def _no_object_arrays(obj: Any, where: str, depth: int = 0, seen: set | None = None) -> None:
    """No array with Python objects inside anything a loader returned."""
    from embedrs import _persist

    seen = set() if seen is None else seen
    if depth > 200 or id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        _require(not obj.dtype.hasobject, f"{where}: object-dtype array returned")
    elif isinstance(obj, _persist.GensimObject):
        _no_object_arrays(obj.state, where, depth + 1, seen)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _no_object_arrays(k, where, depth + 1, seen)
            _no_object_arrays(v, where, depth + 1, seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            _no_object_arrays(v, where, depth + 1, seen)


# --------------------------------------------------------------------------- pickles
PICKLE_ALLOWED = (ValueError, pickle.UnpicklingError, FileNotFoundError)


def _query_kv(kv: Any, where: str) -> None:
    """A loaded model must answer a query or refuse it cleanly."""
    # Keys are decoded lazily, so a damaged key table is reported (ValueError
    # naming the file) at the first access rather than by load().
    ok, keys = _guard(f"{where}.index_to_key", (ValueError,), lambda: list(kv.index_to_key))
    if not ok:
        return
    n = len(keys)
    _require(kv.vectors.shape[0] == n, f"{where}: {kv.vectors.shape[0]} rows for {n} keys")
    if n == 0:
        return
    key = keys[0]
    ok, res = _guard(
        f"{where}.most_similar", (ValueError, KeyError), lambda: kv.most_similar(key, topn=3)
    )
    if ok:
        for _, score in res:
            _require(
                not (isinstance(score, float) and abs(score) > 1.0 + 1e-3),
                f"{where}: most_similar gave cosine {score}, outside [-1, 1]",
                f"{where}:cosine-out-of-range",
            )


def check_gensim_pickle(data: bytes, scratch: str) -> None:
    """gensim 4 pickle: ``load_gensim_pickle``, then ``KeyedVectors.load`` /
    ``Word2Vec.load`` and a query.

    byte 0, bits 0-1: 0 plain file, 1 the rest gzip-compressed as ``.gz``,
    2 bz2-compressed as ``.bz2``, 3 the rest written raw as ``.gz``.
    """
    if not data:
        return
    from embedrs import _persist
    from embedrs.models import KeyedVectors, Word2Vec

    mode, body = data[0] & 3, data[1:]
    name, blob = {
        0: ("m.model", body),
        1: ("m.model.gz", gzip.compress(body, compresslevel=1)),
        2: ("m.model.bz2", bz2.compress(body, compresslevel=1)),
        3: ("m.model.gz", body),
    }[mode]
    path = os.path.join(scratch, name)
    with open(path, "wb") as fh:
        fh.write(blob)
    ok, obj = _guard(
        "load_gensim_pickle", PICKLE_ALLOWED, lambda: _persist.load_gensim_pickle(path)
    )
    if not ok:
        _no_memory_bomb("load_gensim_pickle", obj, data)
        _require(
            str(path) in str(obj) or isinstance(obj, FileNotFoundError),
            f"load_gensim_pickle: message does not name the file: {str(obj)[:120]}",
        )
        return
    _require(
        isinstance(obj, _persist.GensimObject),
        "load_gensim_pickle: top object is not a GensimObject",
    )
    _no_object_arrays(obj, "load_gensim_pickle")
    ok, kv = _guard("KeyedVectors.load", PICKLE_ALLOWED, lambda: KeyedVectors.load(path))
    if ok:
        _no_object_arrays(kv.vectors, "KeyedVectors.load")
        _query_kv(kv, "KeyedVectors.load")
    if obj.gensim_class.endswith("Word2Vec"):
        ok, model = _guard("Word2Vec.load", PICKLE_ALLOWED, lambda: Word2Vec.load(path))
        if ok:
            _query_kv(model.wv, "Word2Vec.load")


# --------------------------------------------------------------------------- native container
CONTAINER_ALLOWED = (ValueError, FileNotFoundError)


def _align(n: int) -> int:
    return (n + 63) // 64 * 64


def reseal(raw: bytes, arrays_too: bool) -> bytes:
    """Recompute the checksums of a (mutated) container, as a forger would, so
    that the fuzzer reaches the validation behind them. Returns ``raw``
    unchanged when it is not shaped like a container."""
    from embedrs import _persist

    magic, tag = _persist.MAGIC, _persist.SUM_TAG
    if len(raw) < 16 or not raw.startswith(magic):
        return raw
    (hlen,) = struct.unpack("<Q", raw[8:16])
    if 16 + hlen > len(raw):
        return raw
    blob = raw[16 : 16 + hlen]
    data = raw[_align(16 + hlen + 16) :]
    if arrays_too:
        try:
            header = json.loads(blob.decode("utf-8"))
            for e in header["arrays"].values():
                try:
                    dt = np.dtype(e["dtype"])
                    n = math.prod(int(s) for s in e["shape"]) * dt.itemsize
                    off = int(e["offset"])
                    if "crc32" in e and 0 <= off and off + n <= len(data) and n < (1 << 24):
                        e["crc32"] = f"{zlib.crc32(data[off : off + n]):08x}"
                except Exception:  # noqa: BLE001,S112 - best effort on fuzzed input
                    continue
            blob = json.dumps(header).encode("utf-8")
        except Exception:  # noqa: BLE001,S110
            pass
    head = magic + struct.pack("<Q", len(blob)) + blob
    out = head + tag + struct.pack("<II", zlib.crc32(head), 0)
    return out + b"\0" * (_align(len(out)) - len(out)) + data


def check_container(data: bytes, scratch: str) -> None:
    """embedrs native file: ``read_container``, then the model loaders and a query.

    byte 0, bits 0-1: 0 the rest as it is, 1 header checksum recomputed,
    2-3 header and array checksums recomputed (see :func:`reseal`);
    bit 2: ``mmap='r'`` instead of reading into memory.
    """
    if not data:
        return
    from embedrs import _persist
    from embedrs.models import KeyedVectors, Word2Vec
    from embedrs.models.poincare import PoincareKeyedVectors, PoincareModel

    body = data[1:]
    if data[0] & 3:
        try:
            body = reseal(body, arrays_too=data[0] & 2 != 0)
        except Exception:  # noqa: BLE001,S110 - the harness must not be the finding
            pass
    mmap = "r" if data[0] & 4 else None
    path = os.path.join(scratch, "m.embedrs")
    with open(path, "wb") as fh:
        fh.write(body)
    ok, res = _guard(
        "read_container", CONTAINER_ALLOWED, lambda: _persist.read_container(path, mmap=mmap)
    )
    if not ok:
        _no_memory_bomb("read_container", res, data)
    legacy = False
    if ok:
        meta, arrays = res
        _require(isinstance(meta, dict), "read_container: meta is not a dict")
        for name, a in arrays.items():
            _require(
                isinstance(a, np.ndarray) and not a.dtype.hasobject,
                f"read_container: array {name!r} is not a plain array",
            )
    else:
        _require(
            str(path) in str(res) or isinstance(res, FileNotFoundError),
            f"read_container: message does not name the file: {str(res)[:120]}",
        )
        if body[:4] != b"PK\x03\x04":
            return
        legacy, meta = True, {"class": "PoincareModel"}  # the .npz of embedrs 0.1
    cls = meta.get("class")
    if cls == "Word2Vec":
        ok, model = _guard(
            "Word2Vec.load", CONTAINER_ALLOWED, lambda: Word2Vec.load(path, mmap=mmap)
        )
        if ok:
            _query_kv(model.wv, "Word2Vec.load")
    elif cls in ("PoincareModel", "PoincareKeyedVectors"):
        if cls == "PoincareModel":
            ok, model = _guard(
                # it also opens gensim pickles, so a refused pickle is documented
                "PoincareModel.load",
                PICKLE_ALLOWED,
                lambda: PoincareModel.load(path),
            )
            if ok:
                _query_poincare(model.kv, "PoincareModel.load")
        if not legacy:
            ok, kv = _guard(
                "PoincareKeyedVectors.load",
                CONTAINER_ALLOWED,
                lambda: PoincareKeyedVectors.load(path, mmap=mmap),
            )
            if ok:
                _query_poincare(kv, "PoincareKeyedVectors.load")
    else:
        ok, kv = _guard(
            "KeyedVectors.load", CONTAINER_ALLOWED, lambda: KeyedVectors.load(path, mmap=mmap)
        )
        if ok:
            _query_kv(kv, "KeyedVectors.load")


def _query_poincare(kv: Any, where: str) -> None:
    ok, keys = _guard(f"{where}.index_to_key", (ValueError,), lambda: list(kv.index_to_key))
    if not ok:
        return
    n = len(keys)
    _require(kv.vectors.shape[0] == n, f"{where}: {kv.vectors.shape[0]} rows for {n} keys")
    if n == 0:
        return
    key = keys[0]
    _guard(f"{where}.most_similar", (ValueError, KeyError), lambda: kv.most_similar(key, topn=3))


# --------------------------------------------------------------------------- relations TSV
RELATIONS_DELIMITERS = ("\t", " ", ",", ";")
# csv.Error (e.g. "line contains NUL") is what gensim's PoincareRelations
# raises too; it is not a ValueError subclass. Allowed here, noted in FUZZING.md.
RELATIONS_ALLOWED = (ValueError, csv.Error)


def check_relations(data: bytes, scratch: str) -> None:
    """``PoincareRelations`` on a delimited file, then a Poincaré model built,
    trained for one epoch, saved and loaded back.

    byte 0, bits 0-1: delimiter (tab, space, comma, semicolon); bit 2: the rest
    gzip-compressed as ``.tsv.gz``; bit 3: encoding latin-1 instead of UTF-8.
    """
    if not data:
        return
    from embedrs.models.poincare import PoincareModel, PoincareRelations

    delim = RELATIONS_DELIMITERS[data[0] & 3]
    encoding = "latin-1" if data[0] & 8 else "utf8"
    body = data[1:]
    if data[0] & 4:
        path = os.path.join(scratch, "rel.tsv.gz")
        blob = gzip.compress(body, compresslevel=1)
    else:
        path = os.path.join(scratch, "rel.tsv")
        blob = body
    with open(path, "wb") as fh:
        fh.write(blob)
    rel = PoincareRelations(path, encoding=encoding, delimiter=delim)
    ok, rows = _guard("PoincareRelations", RELATIONS_ALLOWED, lambda: list(rel))
    if not ok:
        return
    for r in rows:
        _require(
            isinstance(r, tuple) and all(isinstance(x, str) for x in r),
            "PoincareRelations: a row is not a tuple of str",
        )
    if len(rows) > 2000:
        return  # keep an iteration short
    ok, model = _guard(
        "PoincareModel",
        RELATIONS_ALLOWED,
        lambda: PoincareModel(rel, size=2, negative=1, workers=1, seed=1, burn_in=1),
    )
    if not ok:
        return
    ok, _ = _guard(
        "PoincareModel.train", (ValueError,), lambda: model.train(epochs=1, batch_size=4)
    )
    if not ok:
        return
    v = np.asarray(model.kv.vectors, dtype=np.float64)
    _require(bool(np.all(np.isfinite(v))), "PoincareModel.train: non-finite vector")
    _require(
        bool(np.all(np.linalg.norm(v, axis=1) < 1.0)),
        "PoincareModel.train: vector outside the ball",
    )
    out = os.path.join(scratch, "poincare.model")
    _guard("PoincareModel.save", (), lambda: model.save(out))
    ok, back = _guard("PoincareModel.load(save)", (), lambda: PoincareModel.load(out))
    _require(
        back.kv.index_to_key == model.kv.index_to_key, "PoincareModel save/load changed the keys"
    )
    _require(
        np.array_equal(np.asarray(back.kv.vectors), np.asarray(model.kv.vectors)),
        "PoincareModel save/load changed the vectors",
    )
    _require(
        sorted(back.all_relations) == sorted(model.all_relations),
        "PoincareModel save/load changed the relations",
    )


TARGETS: dict[str, Callable[[bytes, str], None]] = {
    "gensim_pickle": check_gensim_pickle,
    "container": check_container,
    "relations": check_relations,
}

#: Address space an input may add to the process, in MiB (see :func:`run`).
CAP_MB = 1024


def _vm_size() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1


def run(target: str, data: bytes, scratch: str) -> None:
    """Run one input under a soft address-space cap of the current size plus
    :data:`CAP_MB`, so that a memory bomb becomes a ``MemoryError`` (a finding,
    directly or through the loader's message) instead of an OOM kill."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    vm = _vm_size()
    capped = vm > 0 and (hard == resource.RLIM_INFINITY or vm + (CAP_MB << 20) < hard)
    if capped:
        resource.setrlimit(resource.RLIMIT_AS, (vm + (CAP_MB << 20), hard))
    # Errors the interpreter can only print (PyErr_Print in a dealloc, e.g.
    # "deallocated bytearray object has exported buffers", or exceptions in
    # __del__) never reach the caller; catch them through sys.last_value and
    # the unraisable hook.
    import sys

    sys.last_value = None
    unraisable: list = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: unraisable.append(u.exc_value)
    try:
        TARGETS[target](data, scratch)
        import gc

        gc.collect(0)
    finally:
        sys.unraisablehook = old_hook
        if capped:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    printed = [e for e in [getattr(sys, "last_value", None), *unraisable] if e is not None]
    if printed:
        e = printed[0]
        raise Finding(
            f"{target}: the interpreter printed {type(e).__name__}: {str(e)[:200]}",
            f"{target}:printed:{type(e).__name__}:{str(e)[:60]}",
        )
