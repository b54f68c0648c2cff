"""Hostile and broken model files, and the one atomic writer (issue 11, findings 1, 5, 6, 7).

Each loader case is a row of :data:`CASES`: a builder that writes a bad file,
the entry point that reads it, the exception type and a message fragment. The
message must also name the file. Cases that could take the interpreter down
(the object-array pickle used to segfault) run in a subprocess.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import stat
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from embedrs import _persist
from embedrs.models import KeyedVectors, Word2Vec
from embedrs.models.poincare import PoincareKeyedVectors, PoincareModel

SENTENCES = [["a", "b", "c", "d"], ["b", "c", "e"], ["a", "e", "d"]] * 10
POSIX = os.name == "posix"


# ----------------------------------------------------------------------------- builders


def small_kv(n: int = 6, dim: int = 4) -> KeyedVectors:
    kv = KeyedVectors(dim)
    rng = np.random.default_rng(0)
    kv.add_vectors([f"k{i}" for i in range(n)], rng.standard_normal((n, dim)).astype(np.float32))
    for i in range(n):
        kv.set_vecattr(f"k{i}", "count", 10 - i)
    return kv


def small_w2v() -> Word2Vec:
    return Word2Vec(SENTENCES, vector_size=4, min_count=1, workers=1, epochs=1, seed=1)


def split_container(data: bytes) -> tuple[dict, bytes]:
    """(header dict, data section) of a native file."""
    (hlen,) = struct.unpack("<Q", data[8:16])
    header = json.loads(data[16 : 16 + hlen])
    start = (
        _persist._align(16 + hlen + 16)
        if data[16 + hlen : 24 + hlen] == _persist.SUM_TAG
        else _persist._align(16 + hlen)
    )
    return header, data[start:]


def join_container(header: dict, body: bytes, checksum: bool = True) -> bytes:
    """A native file with ``header`` (re-checksummed: tests the validation behind it)."""
    blob = json.dumps(header).encode()
    head = _persist.MAGIC + struct.pack("<Q", len(blob)) + blob
    if checksum:
        head += _persist.SUM_TAG + struct.pack("<II", zlib.crc32(head), 0)
    return head + b"\0" * (_persist._align(len(head)) - len(head)) + body


def native(tmp: Path, obj: Any = None) -> Path:
    p = tmp / "model.bin"
    (obj if obj is not None else small_kv()).save(str(p))
    return p


def edit_header(
    edit: Callable[[dict], None], obj_factory: Callable[[], Any] = small_kv, checksum: bool = True
) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        p = native(tmp, obj_factory())
        header, body = split_container(p.read_bytes())
        edit(header)
        p.write_bytes(join_container(header, body, checksum))
        return p

    return build


def custom_container(mutate: Callable[[dict, dict], None]) -> Callable[[Path], Path]:
    """A native file written by the real writer from edited metadata and arrays."""

    def build(tmp: Path) -> Path:
        meta, arrays = small_kv()._to_persist()
        meta = {"class": "KeyedVectors", **meta}
        mutate(meta, arrays)
        p = tmp / "model.bin"
        _persist.write_container(p, meta, arrays)
        return p

    return build


def raw_file(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(data)
        return p

    return build


def nested_json_header(tmp: Path) -> Path:
    blob = (
        b'{"format": "embedrs", "version": 1, "meta": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b', "arrays": {}}'
    )
    p = tmp / "model.bin"
    p.write_bytes(_persist.MAGIC + struct.pack("<Q", len(blob)) + blob + b"\0" * 64)
    return p


def edit_bytes(edit: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        p = native(tmp)
        p.write_bytes(edit(p.read_bytes()))
        return p

    return build


def array_entry(name: str, **changes: Any) -> Callable[[dict], None]:
    def edit(h: dict) -> None:
        h["arrays"][name].update(changes)

    return edit


def w2v_params(**changes: Any) -> Callable[[dict], None]:
    def edit(h: dict) -> None:
        h["meta"]["params"].update(changes)

    return edit


def flip_array_byte(tmp: Path) -> Path:
    p = native(tmp)
    data = bytearray(p.read_bytes())
    header, body = split_container(bytes(data))
    start = len(data) - len(body) + header["arrays"]["vectors"]["offset"]
    data[start + 3] ^= 0x10
    p.write_bytes(bytes(data))
    return p


def write_pickle(obj: Any, name: str = "model.pkl", protocol: int = 4) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        p = tmp / name
        raw = obj() if callable(obj) and not isinstance(obj, type) else obj
        data = raw if isinstance(raw, bytes) else pickle.dumps(raw, protocol=protocol)
        p.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        return p

    return build


def gensim_kv(**state: Any) -> Any:
    gkv = pytest.importorskip("gensim.models.keyedvectors")
    kv = gkv.KeyedVectors(2)
    kv.add_vectors(["a", "b"], np.ones((2, 2), np.float32))
    kv.__dict__.update(state)
    return kv


class _Reduce:
    """Pickles as ``func(*args)`` (then ``__setstate__(state)``): hand-made hostile pickles."""

    def __init__(self, func: Any, args: tuple, state: Any = None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self) -> tuple:
        if self.state is None:
            return self.func, self.args
        return self.func, self.args, self.state


def wrong_size_array() -> Any:
    from numpy.core.multiarray import _reconstruct

    return gensim_kv(
        vectors=_Reduce(
            _reconstruct, (np.ndarray, (0,), b"b"), (1, (5, 2), np.dtype("f4"), False, b"\0" * 8)
        )
    )


def cyclic_saveloads() -> Any:
    kv = gensim_kv()
    kv.__dict__["__recursive_saveloads"] = ["inner"]
    kv.__dict__["inner"] = kv
    return kv


def nested_lists() -> bytes:
    # 10k nested lists: cheap to unpickle, too deep to walk recursively
    return b"\x80\x04" + b"]" * 10_000 + b"a" * 9_999 + b"."


def npy_side_file(
    array_bytes: Callable[[Path], None], attr: str = "vectors"
) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        p = tmp / "model.kv"
        kv = gensim_kv()
        kv.__dict__["__numpys"] = [attr]
        kv.__dict__[attr] = None
        p.write_bytes(pickle.dumps(kv, protocol=4))
        array_bytes(Path(f"{p}.{attr}.npy"))
        return p

    return build


def object_npy(path: Path) -> None:
    np.save(path, np.array([1, "x"], dtype=object), allow_pickle=True)


def huge_shape_npy(path: Path) -> None:
    np.save(path, np.zeros((2, 2), np.float32))
    data = path.read_bytes().replace(b"(2, 2)", b"(10**6, 9)".replace(b"10**6", b"1000000"))
    path.write_bytes(data)


def gz_bomb(tmp: Path) -> Path:
    """3 MiB of zeros in one BINBYTES8 opcode, 3 KiB compressed (the test lowers the cap to 1 MiB)."""
    p = tmp / "bomb.model.gz"
    p.write_bytes(
        gzip.compress(b"\x80\x04\x8e" + struct.pack("<Q", 3 << 20) + b"\0" * (3 << 20) + b".")
    )
    return p


def poincare_model() -> PoincareModel:
    return PoincareModel([("a", "b"), ("b", "c"), ("c", "d"), ("d", "a")], size=2, negative=1)


def poincare_container(mutate: Callable[[dict, dict], None]) -> Callable[[Path], Path]:
    """A PoincareModel file written by the real writer, with edited arrays."""

    def build(tmp: Path) -> Path:
        p = tmp / "model.bin"
        poincare_model().save(str(p))
        meta, arrays = _persist.read_container(p)
        arrays = {k: np.array(v) for k, v in arrays.items()}
        mutate(meta, arrays)
        _persist.write_container(p, meta, arrays)
        return p

    return build


def kv_load(p: Path) -> Any:
    return KeyedVectors.load(str(p))


def w2v_load(p: Path) -> Any:
    return Word2Vec.load(str(p))


def poincare_load(p: Path) -> Any:
    return PoincareModel.load(str(p))


@dataclass
class Case:
    name: str
    build: Callable[[Path], Path]
    entry: Callable[[Path], Any]
    exc: type[BaseException]
    fragment: str
    patches: dict = field(default_factory=dict)


CASES = [
    # --- native container: structure
    Case("truncated", edit_bytes(lambda d: d[:-10]), kv_load, ValueError, "truncated"),
    Case("empty file", edit_bytes(lambda d: b""), kv_load, ValueError, "corrupt"),
    Case("wrong magic", edit_bytes(lambda d: b"EMBEDRX\0" + d[8:]), kv_load, ValueError, "corrupt"),
    Case(
        "huge header length",
        edit_bytes(lambda d: d[:8] + struct.pack("<Q", 2**63) + d[16:]),
        kv_load,
        ValueError,
        "header length",
    ),
    Case(
        "flipped header byte",
        edit_bytes(lambda d: d[:40] + bytes([d[40] ^ 1]) + d[41:]),
        kv_load,
        ValueError,
        "damaged",
    ),
    Case(
        "flipped array byte", flip_array_byte, kv_load, ValueError, "'vectors': checksum mismatch"
    ),
    Case(
        "missing header checksum",
        edit_header(lambda h: None, checksum=False),
        kv_load,
        ValueError,
        "checksum missing",
    ),
    Case(
        "newer version",
        edit_header(lambda h: h.update(version=99)),
        kv_load,
        ValueError,
        "newer embedrs",
    ),
    Case(
        "version not an int",
        edit_header(lambda h: h.update(version="2")),
        kv_load,
        ValueError,
        "version",
    ),
    Case("deeply nested JSON", nested_json_header, kv_load, ValueError, "corrupt metadata"),
    Case(
        "negative shape",
        edit_header(array_entry("vectors", shape=[-6, 4])),
        kv_load,
        ValueError,
        "shape",
    ),
    Case(
        "float shape",
        edit_header(array_entry("vectors", shape=[6.0, 4])),
        kv_load,
        ValueError,
        "shape",
    ),
    Case(
        "huge shape",
        edit_header(array_entry("vectors", shape=[2**40, 2**40])),
        kv_load,
        ValueError,
        "too large",
    ),
    Case(
        "shape past EOF",
        edit_header(array_entry("vectors", shape=[6000, 4])),
        kv_load,
        ValueError,
        "truncated?",
    ),
    Case(
        "offset past EOF",
        edit_header(array_entry("vectors", offset=64 * 10**6)),
        kv_load,
        ValueError,
        "truncated?",
    ),
    Case(
        "negative offset",
        edit_header(array_entry("vectors", offset=-64)),
        kv_load,
        ValueError,
        "offset",
    ),
    Case(
        "misaligned offset",
        edit_header(array_entry("vectors", offset=3)),
        kv_load,
        ValueError,
        "offset",
    ),
    Case(
        "overlapping arrays",
        edit_header(
            lambda h: h["arrays"]["expandos.count"].update(offset=h["arrays"]["vectors"]["offset"])
        ),
        kv_load,
        ValueError,
        "overlap",
    ),
    Case(
        "object dtype",
        edit_header(array_entry("vectors", dtype="|O")),
        kv_load,
        ValueError,
        "not allowed",
    ),
    Case(
        "structured dtype",
        edit_header(array_entry("vectors", dtype="f4,i4")),
        kv_load,
        ValueError,
        "not allowed",
    ),
    Case(
        "garbage dtype",
        edit_header(array_entry("vectors", dtype="not a dtype")),
        kv_load,
        ValueError,
        "dtype",
    ),
    Case(
        "big-endian dtype",
        edit_header(array_entry("vectors", dtype=">f4")),
        kv_load,
        ValueError,
        "big-endian",
    ),
    Case(
        "bad crc field", edit_header(array_entry("vectors", crc32=12)), kv_load, ValueError, "crc32"
    ),
    Case(
        "array table not a dict",
        edit_header(lambda h: h.update(arrays=[])),
        kv_load,
        ValueError,
        "not an embedrs native file",
    ),
    # --- native container: values
    Case(
        "n_keys mismatch",
        edit_header(lambda h: h["meta"].update(n_keys=7)),
        kv_load,
        ValueError,
        "corrupt model",
    ),
    Case(
        "n_keys a string",
        edit_header(lambda h: h["meta"].update(n_keys="6")),
        kv_load,
        ValueError,
        "n_keys",
    ),
    Case(
        "unknown key encoding",
        edit_header(lambda h: h["meta"].update(keys="pickle")),
        kv_load,
        ValueError,
        "key encoding",
    ),
    Case(
        "bad typed key",
        edit_header(lambda h: h["meta"].update(keys="typed-json", key_list=[{"x": 1}] * 6)),
        kv_load,
        ValueError,
        "invalid stored key",
    ),
    Case(
        "expando of the wrong length",
        custom_container(lambda m, a: a.update({"expandos.count": np.zeros(3, np.int64)})),
        kv_load,
        ValueError,
        "expected 6 rows",
    ),
    Case(
        "vectors of ints",
        custom_container(lambda m, a: a.update(vectors=np.zeros((6, 4), np.int32))),
        kv_load,
        ValueError,
        "floating-point",
    ),
    Case(
        "key blob not UTF-8",
        custom_container(lambda m, a: a.update(keys=np.full(11, 0xFF, np.uint8))),
        lambda p: KeyedVectors.load(str(p)).index_to_key,
        ValueError,
        "not UTF-8",
    ),
    Case(
        "w2v workers=0",
        edit_header(w2v_params(workers=0), small_w2v),
        w2v_load,
        ValueError,
        "workers",
    ),
    Case(
        "w2v alpha negative",
        edit_header(w2v_params(alpha=-1.0), small_w2v),
        w2v_load,
        ValueError,
        "alpha",
    ),
    Case(
        "w2v window a string",
        edit_header(w2v_params(window="5"), small_w2v),
        w2v_load,
        ValueError,
        "window",
    ),
    Case(
        "w2v negative corpus_count",
        edit_header(w2v_params(corpus_count=-1), small_w2v),
        w2v_load,
        ValueError,
        "corpus_count",
    ),
    Case(
        "w2v nan training time",
        edit_header(w2v_params(total_train_time=None), small_w2v),
        w2v_load,
        ValueError,
        "total_train_time",
    ),
    Case(
        "w2v params not a dict",
        edit_header(lambda h: h["meta"].update(params=[]), small_w2v),
        w2v_load,
        ValueError,
        "params",
    ),
    Case(
        "w2v vector_size mismatch",
        edit_header(w2v_params(vector_size=5), small_w2v),
        w2v_load,
        ValueError,
        "corrupt model",
    ),
    Case("w2v wrong class", lambda tmp: native(tmp), w2v_load, ValueError, "not a Word2Vec"),
    Case(
        "poincare relation out of range",
        poincare_container(lambda m, a: a["relations"].__setitem__((0, 1), 99)),
        poincare_load,
        ValueError,
        "relations must be",
    ),
    Case(
        "poincare duplicate keys",
        poincare_container(
            lambda m, a: m["kv"].update(keys="typed-json", key_list=["a", "a", "b", "c"])
        ),
        poincare_load,
        ValueError,
        "duplicate",
    ),
    Case(
        "poincare float32 vectors for float64",
        poincare_container(
            lambda m, a: a.update({"kv.vectors": a["kv.vectors"].astype(np.float32)})
        ),
        poincare_load,
        ValueError,
        "dtype=float64",
    ),
    Case(
        "poincare workers=-1",
        edit_header(lambda h: h["meta"]["params"].update(workers=-1), poincare_model),
        poincare_load,
        ValueError,
        "workers",
    ),
    Case(
        "poincare from a pickle",
        write_pickle({"a": 1}),
        poincare_load,
        ValueError,
        "not an embedrs PoincareModel",
    ),
    Case(
        "poincare from garbage zip",
        raw_file("z.npz", b"PK\x05\x06" + b"\0" * 18),
        poincare_load,
        ValueError,
        "PoincareModel",
    ),
    # --- gensim pickles
    Case(
        "os.system global",
        write_pickle(_Reduce(os.system, ("true",))),
        kv_load,
        pickle.UnpicklingError,
        "refusing to load",
    ),
    Case(
        "builtins.range",
        write_pickle(_Reduce(range, (10,))),
        kv_load,
        pickle.UnpicklingError,
        "refusing to load builtins.range",
    ),
    Case(
        "builtins.bytearray",
        write_pickle(_Reduce(bytearray, (b"xx",))),
        kv_load,
        pickle.UnpicklingError,
        "refusing to load builtins.bytearray",
    ),
    Case(
        "builtins.object",
        write_pickle(_Reduce(getattr, (object, "__subclasses__"))),
        kv_load,
        pickle.UnpicklingError,
        "refusing",
    ),
    Case(
        "numpy.ndarray called directly",
        write_pickle(_Reduce(np.ndarray, ((2,), np.dtype("f4"), b"\0" * 8))),
        kv_load,
        ValueError,
        "not callable",
    ),
    Case(
        "2-D object array",
        write_pickle(lambda: gensim_kv(vectors=np.empty((2, 2), dtype=object))),
        kv_load,
        pickle.UnpicklingError,
        "object arrays",
    ),
    Case(
        "structured array",
        write_pickle(lambda: gensim_kv(vectors=np.zeros(2, dtype=[("a", "f4")]))),
        kv_load,
        pickle.UnpicklingError,
        "not allowed",
    ),
    Case(
        "array data of the wrong size",
        write_pickle(wrong_size_array),
        kv_load,
        pickle.UnpicklingError,
        "bytes of data for shape",
    ),
    Case(
        "truncated pickle",
        write_pickle(lambda: pickle.dumps(gensim_kv(), protocol=4)[:-40]),
        kv_load,
        ValueError,
        "corrupt gensim pickle",
    ),
    Case("not a gensim object", write_pickle([1, 2, 3]), kv_load, ValueError, "not a gensim model"),
    Case(
        "cyclic __recursive_saveloads", write_pickle(cyclic_saveloads), kv_load, ValueError, "cycle"
    ),
    Case(
        "path in __numpys",
        write_pickle(lambda: gensim_kv(__numpys=["../../etc/x"])),
        kv_load,
        ValueError,
        "invalid __numpys",
    ),
    Case(
        "deep nesting",
        write_pickle(nested_lists),
        kv_load,
        pickle.UnpicklingError,
        "nested too deeply",
    ),
    Case("object side .npy", npy_side_file(object_npy), kv_load, ValueError, "not allowed"),
    Case(
        "side .npy with a huge shape", npy_side_file(huge_shape_npy), kv_load, ValueError, "needs"
    ),
    Case(
        "missing side .npy",
        write_pickle(lambda: gensim_kv(__numpys=["vectors"])),
        kv_load,
        FileNotFoundError,
        "missing",
    ),
    Case(
        "gz bomb",
        gz_bomb,
        kv_load,
        ValueError,
        "decompression bomb",
        {"PICKLE_FLOOR_BYTES": 1 << 20, "PICKLE_MAX_RATIO": 10},
    ),
    Case(
        "gz garbage",
        raw_file("m.gz", b"\x1f\x8b" + b"x" * 50),
        kv_load,
        ValueError,
        "corrupt gensim pickle",
    ),
    Case(
        "w2v from a KeyedVectors pickle",
        write_pickle(gensim_kv),
        w2v_load,
        ValueError,
        "not a Word2Vec",
    ),
    Case("directory", lambda tmp: tmp, kv_load, IsADirectoryError, "directory"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_file(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in case.patches.items():
        monkeypatch.setattr(_persist, name, value)
    path = case.build(tmp_path)
    with pytest.raises(case.exc) as info:
        case.entry(path)
    msg = str(info.value)
    assert case.fragment in msg, msg
    assert str(path) in msg or path.name in msg, f"message does not name the file: {msg}"
    assert "\n" not in msg.strip(), "the message must be one line"


# ----------------------------------------------------------------------------- crash cases


SEGFAULT_PICKLE = """
import pickle, sys, numpy as np
class R:
    def __init__(self, f, a): self.f, self.a = f, a
    def __reduce__(self): return self.f, self.a
from gensim.models.keyedvectors import KeyedVectors as G
kv = G(2)
kv.vectors = R(np.ndarray, ((4,), np.dtype(object), {buf}))
open(sys.argv[1], "wb").write(pickle.dumps(kv, protocol={proto}))
"""


@pytest.mark.parametrize("entry", ["KeyedVectors", "Word2Vec", "projector"])
@pytest.mark.parametrize("buf,proto", [("bytearray(b'A' * 32)", 5), ("b'A' * 32", 4)])
def test_object_array_pickle_cannot_crash(tmp_path: Path, entry: str, buf: str, proto: int) -> None:
    """A ~300-byte pickle whose ndarray(buffer=...) has dtype object used to segfault."""
    pytest.importorskip("gensim")
    p = tmp_path / "evil.model"
    subprocess.run(
        [sys.executable, "-c", SEGFAULT_PICKLE.format(buf=buf, proto=proto), str(p)], check=True
    )
    assert p.stat().st_size < 1000
    if entry == "projector":
        cmd = [sys.executable, "-m", "embedrs", "projector", str(p), str(tmp_path / "out")]
    else:
        code = (
            f"from embedrs.models import {entry}\n"
            "try:\n"
            f"    {entry}.load({str(p)!r})\n"
            "except Exception as exc:\n"
            "    print('REFUSED', type(exc).__name__, exc)\n"
        )
        cmd = [sys.executable, "-c", code]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    out = r.stdout + r.stderr
    assert r.returncode >= 0, f"killed by signal {-r.returncode}: {out}"
    if entry == "projector":
        assert r.returncode != 0 and "evil.model" in out
    else:
        assert r.returncode == 0 and "REFUSED" in out and "evil.model" in out, out


# ----------------------------------------------------------------------------- native integrity


def test_mmap_skips_array_checksums_but_verify_finds_them(tmp_path: Path) -> None:
    p = flip_array_byte(tmp_path)
    kv = KeyedVectors.load(str(p), mmap="r")  # documented: mapped arrays are checked on request
    assert kv.vectors.shape == (6, 4)
    with pytest.raises(ValueError, match="'vectors': checksum mismatch"):
        _persist.verify_container(p)


def test_version_1_files_still_load(tmp_path: Path) -> None:
    kv = small_kv()
    meta, arrays = kv._to_persist()
    meta = {"class": "KeyedVectors", **meta}
    entries, body, off = {}, b"", 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        body += b"\0" * (off - len(body)) + a.tobytes()
        entries[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "offset": off}
        off = _persist._align(len(body))
    p = tmp_path / "v1.kv"
    p.write_bytes(
        join_container(
            {"format": "embedrs", "version": 1, "meta": meta, "arrays": entries},
            body,
            checksum=False,
        )
    )
    back = KeyedVectors.load(str(p))
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)


def test_stored_norms_are_not_trusted(tmp_path: Path) -> None:
    """embedrs 0.1 stored norms; an edited one gave cosine 13.36."""
    kv = small_kv()
    meta, arrays = kv._to_persist()
    arrays["norms"] = np.full(6, 0.1, np.float32)
    p = tmp_path / "n.kv"
    _persist.write_container(p, {"class": "KeyedVectors", **meta}, arrays)
    back = KeyedVectors.load(str(p))
    assert back.similarity("k0", "k0") == pytest.approx(1.0, abs=1e-5)
    assert back.most_similar("k0", topn=1)[0][1] <= 1.0 + 1e-5
    assert "norms" not in _persist.read_header(native(tmp_path, kv))[0]["arrays"]


def test_absurd_workers_are_capped_as_by_the_constructor(tmp_path: Path) -> None:
    """A saved workers=100000 goes through the constructor's own rule (a capped
    thread count with a warning), so train() does not start 100000 threads."""
    p = edit_header(w2v_params(workers=100000), small_w2v)(tmp_path)
    with pytest.warns(UserWarning, match="workers") as direct:
        cap = Word2Vec(workers=100000).workers
    assert cap < 100000
    with pytest.warns(UserWarning, match="workers"):
        loaded = Word2Vec.load(str(p))
    assert loaded.workers == cap
    assert str(direct[0].message)
    # Without subsampling every sentence trains, whichever of the many workers
    # takes the single job (with sample=1e-3 this 5-word corpus keeps so few
    # words that the vectors may not move at all).
    loaded.sample = 0.0
    before = loaded.wv.vectors.copy()
    _, raw = loaded.train(SENTENCES, total_examples=len(SENTENCES), epochs=1)
    assert raw == sum(len(s) for s in SENTENCES)
    assert not np.array_equal(loaded.wv.vectors, before)
    assert loaded.workers == cap


# ----------------------------------------------------------------------------- keys


ODD_KEYS = [
    1,
    None,
    (2, "a"),
    "s",
    2.5,
    False,
    -(2**70),
    (None, (1.5, False)),
    "with\nnewline",
    "日本",
]


def test_keyed_vectors_keep_key_types(tmp_path: Path) -> None:
    kv = KeyedVectors(3)
    kv.add_vectors(ODD_KEYS, np.arange(30, dtype=np.float32).reshape(10, 3))
    p = tmp_path / "k.kv"
    kv.save(str(p))
    back = KeyedVectors.load(str(p))
    assert back.index_to_key == ODD_KEYS
    assert [type(k) for k in back.index_to_key] == [type(k) for k in ODD_KEYS]
    np.testing.assert_array_equal(back[1], kv[1])


def test_unsupported_key_type_is_refused_before_writing(tmp_path: Path) -> None:
    p = native(tmp_path)
    before = p.read_bytes()
    kv = KeyedVectors(2)
    kv.add_vectors([b"bytes", frozenset()], np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="cannot save key"):
        kv.save(str(p))
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.bin"]


def test_poincare_keys_round_trip(tmp_path: Path) -> None:
    rel = [(1, 2), (2, 3), (4, 3), (5, 3), (None, 3), ((1, "a"), 3), ("x", 2.5)]
    m = PoincareModel(rel, size=2, negative=1)
    m.train(epochs=2)
    p = tmp_path / "p.model"
    m.save(str(p))
    back = PoincareModel.load(str(p))
    assert back.kv.index_to_key == m.kv.index_to_key
    for key in (3, None, (1, "a"), 2.5):  # integer keys read their own row, not row 3
        np.testing.assert_array_equal(back.kv.get_vector(key), m.kv.get_vector(key))
    assert back.kv.get_index(3) == m.kv.get_index(3) != 3
    back.train(epochs=1)
    m.kv.save(str(tmp_path / "p.kv"))
    assert PoincareKeyedVectors.load(str(tmp_path / "p.kv")).index_to_key == m.kv.index_to_key


def test_poincare_legacy_npz_still_loads(tmp_path: Path) -> None:
    m = poincare_model()
    legacy = {
        "format": "embedrs.PoincareModel/1",
        "size": 2,
        "alpha": 0.1,
        "negative": 1,
        "workers": 1,
        "epsilon": 1e-5,
        "regularization_coeff": 1.0,
        "burn_in": 10,
        "burn_in_alpha": 0.01,
        "init_range": [-0.001, 0.001],
        "dtype": "float64",
        "seed": 0,
        "negative_sampling": "frequency",
        "burn_in_done": False,
        "epochs_trained": 0,
        "epoch_losses": [],
        "keys": m.kv.index_to_key,
    }
    p = tmp_path / "old.npz"
    with open(p, "wb") as f:
        np.savez(
            f,
            meta=np.frombuffer(json.dumps(legacy).encode(), dtype=np.uint8),
            vectors=m.kv.vectors,
            relations=np.asarray(m.all_relations, dtype=np.int64),
            counts=m.kv.expandos["count"],
        )
    back = PoincareModel.load(str(p))
    np.testing.assert_array_equal(back.kv.vectors, m.kv.vectors)
    assert back.kv.index_to_key == m.kv.index_to_key
    assert back.geometry == "ball"  # the format predates the setting


# ----------------------------------------------------------------------------- the atomic writer


def _savers(tmp_path: Path) -> dict[str, Callable[[str], None]]:
    kv, w2v, pm = small_kv(), small_w2v(), poincare_model()
    return {
        "KeyedVectors.save": kv.save,
        "Word2Vec.save": w2v.save,
        "PoincareModel.save": pm.save,
        "PoincareKeyedVectors.save": pm.kv.save,
        "save_word2vec_format": kv.save_word2vec_format,
        "save_word2vec_format.gz": lambda p: kv.save_word2vec_format(p + ".gz"),
        "poincare save_word2vec_format": pm.kv.save_word2vec_format,
    }


@pytest.mark.skipif(not POSIX, reason="symbolic links")
@pytest.mark.parametrize(
    "saver",
    [
        "KeyedVectors.save",
        "Word2Vec.save",
        "PoincareModel.save",
        "PoincareKeyedVectors.save",
        "save_word2vec_format",
        "save_word2vec_format.gz",
        "poincare save_word2vec_format",
    ],
)
def test_save_writes_through_a_symlink(tmp_path: Path, saver: str) -> None:
    save = _savers(tmp_path)[saver]
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    suffix = ".gz" if saver.endswith(".gz") else ""
    target = real_dir / f"model{suffix}"
    target.write_bytes(b"old")
    link = tmp_path / f"link{suffix}"
    link.symlink_to(target)
    save(str(tmp_path / "link"))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() != b"old" and target.stat().st_size > 0
    assert sorted(os.listdir(real_dir)) == [target.name]


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
@pytest.mark.parametrize("umask,expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_honour_the_umask(tmp_path: Path, umask: int, expected: int) -> None:
    old = os.umask(umask)
    try:
        for name, save in _savers(tmp_path).items():
            p = tmp_path / name.replace(" ", "_")
            save(str(p))
            written = Path(str(p) + ".gz") if name.endswith(".gz") else p
            assert stat.S_IMODE(written.stat().st_mode) == expected, name
    finally:
        os.umask(old)


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_replacing_a_file_keeps_its_mode(tmp_path: Path) -> None:
    p = tmp_path / "m.kv"
    p.write_bytes(b"old")
    p.chmod(0o640)
    small_kv().save(str(p))
    assert stat.S_IMODE(p.stat().st_mode) == 0o640


@pytest.mark.parametrize(
    "saver",
    [
        "KeyedVectors.save",
        "Word2Vec.save",
        "PoincareModel.save",
        "save_word2vec_format",
        "save_word2vec_format.gz",
        "poincare save_word2vec_format",
    ],
)
def test_failed_save_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, saver: str
) -> None:
    save = _savers(tmp_path)[saver]
    suffix = ".gz" if saver.endswith(".gz") else ""
    p = tmp_path / f"m{suffix}"
    p.write_bytes(b"the old model")
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_persist.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        save(str(tmp_path / "m"))
    monkeypatch.setattr(_persist.os, "replace", real_replace)
    assert p.read_bytes() == b"the old model"
    assert sorted(os.listdir(tmp_path)) == [p.name]


def test_gzip_finish_errors_propagate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "v.txt.gz"
    p.write_bytes(b"old")

    def failing_close(self: Any) -> None:
        raise OSError(5, "I/O error while finishing the stream")

    monkeypatch.setattr(gzip.GzipFile, "close", failing_close)
    with pytest.raises(OSError, match="finishing"):
        small_kv().save_word2vec_format(str(p))
    monkeypatch.undo()
    assert p.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == [p.name]


def test_poincare_save_word2vec_format_checks_keys_first(tmp_path: Path) -> None:
    m = PoincareModel([("a b", "c"), ("c", "d"), ("d", "e")], size=2, negative=1)
    p = tmp_path / "v.txt"
    p.write_bytes(b"old")
    with pytest.raises(ValueError, match="no space"):  # the one (Rust) writer's check
        m.kv.save_word2vec_format(str(p))
    assert p.read_bytes() == b"old"


def test_poincare_save_is_atomic(tmp_path: Path) -> None:
    """PoincareModel.save wrote in place: a killed save destroyed the previous model."""
    p = tmp_path / "p.model"
    m = poincare_model()
    m.save(str(p))
    code = (
        "import os\n"
        "from embedrs import _persist\n"
        "from embedrs.models.poincare import PoincareModel\n"
        "real = _persist.zlib.crc32\n"
        "def die(*a):\n"
        "    os._exit(3)\n"
        "_persist.zlib.crc32 = die\n"
        "m = PoincareModel([('x', 'y'), ('y', 'z')], size=3, negative=1)\n"
        f"m.save({str(p)!r})\n"
    )
    r = subprocess.run([sys.executable, "-c", code], check=False)
    assert r.returncode == 3
    back = PoincareModel.load(str(p))
    np.testing.assert_array_equal(back.kv.vectors, m.kv.vectors)
    temps = [n for n in os.listdir(tmp_path) if ".embedrs-tmp." in n]
    assert len(temps) == 1  # left by the killed process ...
    m.save(str(p))  # ... and removed by the next save of the same target
    assert sorted(os.listdir(tmp_path)) == ["p.model"]


def test_stale_temps_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".m.kv.embedrs-tmp.{dead_pid}.0badc0de"
    alive = tmp_path / f".m.kv.embedrs-tmp.{os.getpid()}.0badc0de"  # a save in progress here
    other = tmp_path / f".other.kv.embedrs-tmp.{dead_pid}.0badc0de"  # another target's
    for f in (stale, alive, other):
        f.write_bytes(b"partial")
    small_kv().save(str(tmp_path / "m.kv"))
    names = set(os.listdir(tmp_path))
    assert stale.name not in names
    assert alive.name in names and other.name in names


# ----------------------------------------------------------------------------- real gensim files


def _gensim_models() -> dict[str, Any]:
    gensim = pytest.importorskip("gensim")
    from gensim.models import Doc2Vec
    from gensim.models import Word2Vec as GW2V
    from gensim.models.doc2vec import TaggedDocument
    from gensim.models.poincare import PoincareModel as GPM

    w2v = GW2V(SENTENCES, vector_size=8, min_count=1, workers=1, epochs=1, seed=1)
    hs = GW2V(SENTENCES, vector_size=8, min_count=1, workers=1, epochs=1, seed=1, hs=1, negative=0)
    d2v = Doc2Vec(
        [TaggedDocument(s, [i]) for i, s in enumerate(SENTENCES)],
        vector_size=8,
        min_count=1,
        workers=1,
        epochs=1,
    )
    pm = GPM([("a", "b"), ("b", "c"), ("c", "d"), (1, "d"), ((2, "x"), "d")], size=2, negative=1)
    pm.train(epochs=1)
    del gensim
    return {
        "w2v": (w2v, w2v.wv),
        "w2v-hs": (hs, hs.wv),
        "kv": (w2v.wv, w2v.wv),
        "d2v": (d2v, d2v.wv),
        "poincare": (pm, pm.kv),
        "poincare-kv": (pm.kv, pm.kv),
    }


@pytest.mark.parametrize("name", ["w2v", "w2v-hs", "kv", "d2v", "poincare", "poincare-kv"])
@pytest.mark.parametrize(
    "suffix,sep_limit,protocol",
    [
        ("", 10 * 1024**2, 4),
        ("", 0, 4),
        (".gz", 0, 4),
        ("", 10 * 1024**2, 2),
        (".bz2", 10 * 1024**2, 5),
    ],
)
def test_real_gensim_files_load_with_the_same_vectors(
    tmp_path: Path, name: str, suffix: str, sep_limit: int, protocol: int
) -> None:
    model, wv = _gensim_models()[name]
    p = str(tmp_path / f"g.model{suffix}")
    model.save(p, sep_limit=sep_limit, pickle_protocol=protocol)
    kv = KeyedVectors.load(p)
    assert list(kv.index_to_key) == list(wv.index_to_key)
    np.testing.assert_array_equal(kv.vectors, wv.vectors)
    if name.startswith("w2v"):
        m = Word2Vec.load(p)
        np.testing.assert_array_equal(m.wv.vectors, wv.vectors)
        assert (m.negative, m.hs, m.window) == (model.negative, model.hs, model.window)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_pickle_lengths_beyond_the_file_are_refused_before_allocating(
    tmp_path: Path, suffix: str
) -> None:
    """A 12-byte pickle whose FRAME claims 2**61 bytes (found by fuzzing) made the
    unpickler try to allocate that much; now the length is checked against what
    the file (or the capped decompressed stream) can still hold."""
    body = b"\x80\x04\x95" + (2**61).to_bytes(8, "little") + b"q\x01)."
    p = tmp_path / f"frame.model{suffix}"
    p.write_bytes(gzip.compress(body) if suffix else body)
    code = f"""
import resource
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from embedrs.models import KeyedVectors
try:
    KeyedVectors.load({str(p)!r})
except ValueError as exc:
    print("RAISED", exc)
"""
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("RAISED") and str(p) in res.stdout, res.stdout
    assert "MemoryError" not in res.stdout


# ----------------------------------------------------------------------------- pickle nesting and amplification


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _memo_amplified(scalar: str, width: int, levels: int) -> bytes:
    """``numpy.<scalar>(outer)`` where each level is a list of ``width`` memo references to the one below."""
    body = b"]q\x01(" + b"K\x00" * width + b"e"
    for level in range(2, levels + 1):
        body += b"0]q" + bytes([level]) + b"(" + (b"h" + bytes([level - 1])) * width + b"e"
    return b"\x80\x02" + _global("numpy", scalar) + body + b"\x85R."


#: name -> (pickle bytes, exception type name, message fragment). Each crashed
#: (SIGSEGV: C stack overflow while hashing) or hung the process before.
HOSTILE_PICKLES = {
    "deep tuple as a dict key": (
        b"\x80\x02})" + b"\x85" * 1_000_000 + b"Ns.",
        "RefusedPickleError",
        "nested too deeply",
    ),
    "deep tuple in frozenset REDUCE": (
        b"\x80\x02" + _global("builtins", "frozenset") + b"])" + b"\x85" * 1_000_000 + b"a\x85R.",
        "RefusedPickleError",
        "nested too deeply",
    ),
    "deep tuple in FROZENSET opcode": (
        b"\x80\x04()" + b"\x85" * 1_000_000 + b"\x91.",
        "RefusedPickleError",
        "nested too deeply",
    ),
    "deep tuple in a set": (
        b"\x80\x04\x8f(" + b")" + b"\x85" * 1_000_000 + b"\x90.",
        "RefusedPickleError",
        "nested too deeply",
    ),
    "list chain deepened after nesting": (
        b"\x80\x02"
        + b"".join(b"]q" + bytes([i]) for i in range(150))
        + b"0" * 150
        + b"".join(b"h" + bytes([i]) + b"h" + bytes([i + 1]) + b"a0" for i in range(149))
        + b"h\x00.",
        "RefusedPickleError",
        "nested too deeply",
    ),
    "numpy.int8 on memo-amplified lists": (
        _memo_amplified("int8", 3000, 3),
        "RefusedPickleError",
        "numpy.int8: only a plain number",
    ),
    "numpy.float64 on memo-amplified lists": (
        _memo_amplified("float64", 20000, 2),
        "RefusedPickleError",
        "numpy.float64: only a plain number",
    ),
    "numpy.int8 through NEWOBJ": (
        _memo_amplified("int8", 3000, 3)[:-2] + b"\x81.",
        "RefusedPickleError",
        "numpy.int8: only a plain number",
    ),
    "BUILD on a function": (
        b"\x80\x02"
        + _global("numpy.core.multiarray", "_reconstruct")
        + b"N}X\x0c\x00\x00\x00__defaults__K\x07K\x08\x86s\x86b.",
        "RefusedPickleError",
        "refusing to set the state",
    ),
    "invalid opcode": (b"\x80\x02\xe0.", "ValueError", "invalid load key"),
}


@pytest.mark.parametrize("name", list(HOSTILE_PICKLES))
def test_hostile_pickle_cannot_crash_or_hang(tmp_path: Path, name: str) -> None:
    data, exc, fragment = HOSTILE_PICKLES[name]
    p = tmp_path / "evil.model"
    p.write_bytes(data)
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from embedrs.models import KeyedVectors\n"
        "try:\n"
        f"    KeyedVectors.load({str(p)!r})\n"
        "except Exception as exc:\n"
        "    print('REFUSED', type(exc).__name__, exc)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert r.returncode == 0, f"rc={r.returncode}: {r.stderr[-2000:]}"
    assert r.stdout.startswith(f"REFUSED {exc} ") and fragment in r.stdout and str(p) in r.stdout, (
        r.stdout
    )


@pytest.mark.parametrize("arg", ["G?\xf8\x00\x00\x00\x00\x00\x00", "K\x05", "\x88"])
def test_numpy_scalar_types_accept_plain_numbers(tmp_path: Path, arg: str) -> None:
    p = tmp_path / "scalar.pkl"
    p.write_bytes(b"\x80\x02" + _global("numpy", "float64") + arg.encode("latin-1") + b"\x85R.")
    with pytest.raises(ValueError, match="top object is float64"):
        _persist.load_gensim_pickle(p)


def test_gensim_pickle_keeps_shared_and_cyclic_objects(tmp_path: Path) -> None:
    """Objects are leaves for the nesting rule: a cycle through an object still loads."""
    kv = gensim_kv()
    shared = [(1, 2), frozenset({(3,)})]
    kv.__dict__.update(a=shared, b={"s": shared, "me": kv})
    p = write_pickle(kv)(tmp_path)
    obj = _persist.load_gensim_pickle(p)
    assert obj.state["a"] is obj.state["b"]["s"] and obj.state["b"]["me"] is obj


# ----------------------------------------------------------------------------- saving to special files

ALL_SAVERS = [
    "KeyedVectors.save",
    "Word2Vec.save",
    "PoincareModel.save",
    "PoincareKeyedVectors.save",
    "save_word2vec_format",
    "save_word2vec_format.gz",
    "poincare save_word2vec_format",
]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
@pytest.mark.parametrize("saver", ALL_SAVERS)
def test_save_into_a_fifo_writes_into_it(tmp_path: Path, saver: str) -> None:
    """A FIFO (like a device) is written into, never replaced by a regular file."""
    import threading

    suffix = ".gz" if saver.endswith(".gz") else ""
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    _savers(tmp_path)[saver](str(tmp_path / "pipe"))
    reader.join(30)
    assert got and len(got[0]) > 0
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == [fifo.name], "no temporary file may be left"


@pytest.mark.parametrize("saver", ALL_SAVERS)
def test_save_over_a_character_device_does_not_replace_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, saver: str
) -> None:
    """``kv.save('/dev/null')`` renamed a regular file over the device node (as root).

    Simulated: a regular file that ``os.stat`` reports as a character device
    must be written in place (same inode), never renamed over.
    """
    suffix = ".gz" if saver.endswith(".gz") else ""
    dev = tmp_path / f"null{suffix}"
    dev.write_bytes(b"old")
    inode = dev.stat().st_ino
    real_stat = os.stat

    def fake_stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        st = real_stat(path, *args, **kwargs)
        if os.fspath(path) == str(dev):
            fields = list(st)
            fields[0] = stat.S_IFCHR | 0o666
            return os.stat_result(fields)
        return st

    monkeypatch.setattr(_persist.os, "stat", fake_stat)
    _savers(tmp_path)[saver](str(tmp_path / "null"))
    assert real_stat(dev).st_ino == inode
    assert dev.read_bytes() != b"old"
    assert not [n for n in os.listdir(tmp_path) if n != dev.name]


@pytest.mark.parametrize(
    "target,exc",
    [
        ("nodir/x.kv", FileNotFoundError),
        ("afile/x.kv", NotADirectoryError),
        ("adir", IsADirectoryError),
    ],
)
@pytest.mark.parametrize("saver", ALL_SAVERS)
def test_save_errors_name_the_target(tmp_path: Path, saver: str, target: str, exc: type) -> None:
    (tmp_path / "afile").write_bytes(b"")
    (tmp_path / "adir").mkdir()
    (tmp_path / "adir.gz").mkdir()
    suffix = ".gz" if saver.endswith(".gz") else ""
    path = str(tmp_path / target)
    with pytest.raises(exc) as info:
        _savers(tmp_path)[saver](path)
    assert path in str(info.value) or path + suffix in str(info.value), str(info.value)
    assert ".embedrs-tmp" not in str(info.value)


# ----------------------------------------------------------------------------- loading from special files

SPECIAL_LOAD = """
import os, sys
from embedrs import _persist
from embedrs.models import KeyedVectors, Word2Vec
from embedrs.models.poincare import PoincareKeyedVectors, PoincareModel
entry = {{"KeyedVectors": KeyedVectors.load, "Word2Vec": Word2Vec.load, "PoincareModel": PoincareModel.load,
         "PoincareKeyedVectors": PoincareKeyedVectors.load, "load_gensim_pickle": _persist.load_gensim_pickle}}
try:
    entry[{entry!r}]({path!r})
except OSError as exc:
    print("REFUSED", type(exc).__name__, exc)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"), reason="POSIX")
@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero"])
@pytest.mark.parametrize(
    "entry",
    ["KeyedVectors", "Word2Vec", "PoincareModel", "PoincareKeyedVectors", "load_gensim_pickle"],
)
def test_model_loads_refuse_non_regular_files(tmp_path: Path, entry: str, kind: str) -> None:
    """``PoincareModel.load('/dev/zero')`` read forever, ``KeyedVectors.load(fifo)`` hung in ``open()``."""
    p = tmp_path / "model"
    if kind == "fifo":
        os.mkfifo(p)
    else:
        p.symlink_to("/dev/zero")
    r = subprocess.run(
        [sys.executable, "-c", SPECIAL_LOAD.format(entry=entry, path=str(p))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("REFUSED OSError") and "is not a regular file" in r.stdout, r.stdout
    assert str(p) in r.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
@pytest.mark.parametrize("ext", [".npy", ".npz"])
def test_side_arrays_must_be_regular_files(tmp_path: Path, ext: str) -> None:
    p = write_pickle(lambda: gensim_kv(__numpys=["vectors"]))(tmp_path)
    side = Path(f"{p}.vectors{ext}")
    os.mkfifo(side)
    code = (
        "from embedrs.models import KeyedVectors\n"
        "try:\n"
        f"    KeyedVectors.load({str(p)!r})\n"
        "except OSError as exc:\n"
        "    print('REFUSED', type(exc).__name__, exc)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert (
        r.stdout.startswith("REFUSED OSError") and f"{side}: is not a regular file" in r.stdout
    ), r.stdout


def test_missing_model_file_is_still_file_not_found(tmp_path: Path) -> None:
    for load in (KeyedVectors.load, Word2Vec.load, PoincareModel.load, PoincareKeyedVectors.load):
        with pytest.raises(FileNotFoundError, match="no such file"):
            load(str(tmp_path / "nope"))


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        # LONG_BINPUT with index 2**26: the C unpickler grew (and zeroed) its memo
        # array to twice the index before anything was checked (fuzzing, F2)
        (b"\x80\x02Nr\x00\x00\x00\x04.", "not a gensim model"),
        # BYTEARRAY8 of 2**34 bytes: allocated and zeroed before reading (fuzzing, F5)
        (b"\x80\x05\x96" + (2**34).to_bytes(8, "little") + b"abc.", "at most 4 remain"),
        # out-of-band buffers: never in a model file
        (b"\x80\x05\x97.", "out-of-band pickle buffers"),
    ],
)
def test_pickle_opcodes_that_allocate_before_reading_are_harmless(
    tmp_path: Path, body: bytes, fragment: str
) -> None:
    p = tmp_path / "m.model"
    p.write_bytes(body)
    code = f"""
import pickle
import resource
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from embedrs.models import KeyedVectors
try:
    KeyedVectors.load({str(p)!r})
except (ValueError, pickle.UnpicklingError) as exc:
    print("RAISED", exc)
print("MAXRSS_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("RAISED") and fragment in res.stdout, res.stdout
    assert "MemoryError" not in res.stdout
    assert int(res.stdout.split("MAXRSS_MB")[1]) < 500
