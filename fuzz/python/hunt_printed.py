"""Find inputs that make the interpreter *print* an error (PyErr_Print in a
dealloc, "Exception ignored in ..."), which atheris cannot attribute to an
input because nothing is raised. Random mutations of a corpus, each run
in-process with ``sys.stderr`` captured; the first hit is written to
``fuzz/artifacts/python_<target>/printed-<sha1>``.

    PYTHONPATH=python python fuzz/python/hunt_printed.py gensim_pickle SECONDS CORPUS_DIR
"""

import gc
import glob
import hashlib
import io
import logging
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import oracles

logging.disable(logging.CRITICAL)
warnings.simplefilter("ignore")
# pickle opcodes worth inserting (protocol 2-5 length-prefixed and container opcodes)
OPS = [
    b"\x96",
    b"\x97",
    b"\x98",
    b"\x95",
    b"\x94",
    b"B",
    b"C",
    b"\x8e",
    b"(",
    b".",
    b"R",
    b"b",
    b"}",
    b"]",
    b"q",
    b"h",
    b"r",
    b"j",
]


def main() -> int:
    target, seconds, corpus = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    seeds = [Path(f).read_bytes() for f in sorted(glob.glob(os.path.join(corpus, "*")))]
    rng = random.Random(1)
    scratch = tempfile.mkdtemp()
    t0, n = time.time(), 0
    while time.time() - t0 < seconds:
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            k, pos = rng.random(), rng.randrange(len(data)) if data else 0
            if k < 0.4 and data:
                data[pos] = rng.randrange(256)
            elif k < 0.7:
                data[pos:pos] = rng.choice(OPS) + bytes(
                    rng.randrange(256) for _ in range(rng.randint(0, 8))
                )
            elif data:
                del data[pos : pos + rng.randint(1, 16)]
        data = bytes(data)
        cap, old = io.StringIO(), sys.stderr
        sys.stderr = cap
        try:
            try:
                oracles.TARGETS[target](data, scratch)
            except oracles.Finding:
                pass
            gc.collect()
        finally:
            sys.stderr = old
        n += 1
        text = cap.getvalue()
        if "SystemError" in text or "Exception ignored" in text or "Fatal Python" in text:
            out = os.path.join(os.path.dirname(here), "artifacts", f"python_{target}")
            os.makedirs(out, exist_ok=True)
            name = os.path.join(out, f"printed-{hashlib.sha1(data).hexdigest()}")
            with open(name, "wb") as fh:
                fh.write(data)
            print(f"HIT after {n} inputs: {name}\n{text[:500]}")
            return 1
    print(f"no hit in {n} inputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
