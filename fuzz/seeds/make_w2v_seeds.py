"""Write the starting corpora of the word2vec fuzz targets.

Each input is: one flags byte, one limit byte, then the file (see
fuzz/common/w2v_check.rs). Run from the repository root with gensim
installed: ``python fuzz/seeds/make_w2v_seeds.py``.
"""

import os
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

root = Path(__file__).resolve().parents[1] / "corpus"
NO_HEADER, STRICT, IGNORE, REPLACE, RAW = 1, 0, 2, 4, 6
NONFINITE, LIMIT, GZ, BADGZ = 8, 16, 32, 64


def put(target, name, flags, limit, body):
    d = root / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(bytes([flags, limit]) + body)


def binfile(rows, dim, header=None, sep=b""):
    out = header or f"{len(rows)} {dim}\n".encode()
    for k, v in rows:
        out += k + b" " + struct.pack(f"<{dim}f", *v) + sep
    return out


text = b"3 4\nthe 0.1 -0.25 1e-05 3.0\nof -1.0 0.0 2.5e+08 0.5\n\xc3\xa9t\xc3\xa9 1 2 3 4 \n"
put("w2v_text", "plain", STRICT, 0, text)
put("w2v_text", "limit", LIMIT, 2, text)
put("w2v_text", "gz", GZ, 0, text)
put("w2v_text", "noheader", NO_HEADER, 0, b"a 1 2\nb 3 4\nc -5e-3 6\n")
put("w2v_text", "latin1-raw", RAW, 0, b"2 2\ncaf\xe9 1 2\nx 3 4\n")
put("w2v_text", "latin1-replace", REPLACE, 0, b"2 2\ncaf\xe9 1 2\nx 3 4\n")
put("w2v_text", "nonfinite", NONFINITE, 0, b"2 3\na nan inf -inf\nb 1 2 3\n")
put("w2v_text", "crlf-trailing", STRICT, 0, b"1 2\r\nk 1.5 2.5\r\n\r\nextra 1 2\n")

rows = [(b"the", [0.1, -0.25, 1e-5]), (b"of", [-1.0, 0.0, 2.5e8]), ("été".encode(), [1, 2, 3])]
put("w2v_binary", "gensim-style", STRICT, 0, binfile(rows, 3))
put("w2v_binary", "c-style", STRICT, 0, binfile(rows, 3, sep=b"\n"))
put("w2v_binary", "limit", LIMIT, 1, binfile(rows, 3))
put("w2v_binary", "gz", GZ, 0, binfile(rows, 3, sep=b"\n"))
put("w2v_binary", "raw", RAW, 0, binfile([(b"caf\xe9", [1, 2]), (b"x", [3, 4])], 2))
put("w2v_binary", "ignore", IGNORE, 0, binfile([(b"caf\xe9", [1, 2]), (b"x", [3, 4])], 2))
put(
    "w2v_binary",
    "nonfinite",
    NONFINITE,
    0,
    binfile([(b"a", [float("nan"), float("inf")]), (b"b", [1, 2])], 2),
)
put("w2v_binary", "text-as-binary", STRICT, 0, text)

# Files as gensim itself writes them.
try:
    from gensim.models import KeyedVectors
except ImportError:
    sys.exit("gensim not installed: hand-written seeds only")
kv = KeyedVectors(vector_size=5)
rng = np.random.default_rng(0)
kv.add_vectors(
    ["king", "queen", "man", "woman", "ß"], rng.standard_normal((5, 5)).astype(np.float32)
)
with tempfile.TemporaryDirectory() as t:
    for binary, target in ((False, "w2v_text"), (True, "w2v_binary")):
        p = os.path.join(t, "m")
        kv.save_word2vec_format(p, binary=binary)
        put(target, "gensim", STRICT, 0, Path(p).read_bytes())
