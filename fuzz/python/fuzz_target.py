#!/usr/bin/env python3
"""atheris driver for the Python parsers (see FUZZING.md).

Usage::

    PYTHONPATH=python python fuzz/python/fuzz_target.py TARGET CORPUS_DIR [SEED_DIR...] [libFuzzer flags]

TARGET is one of ``gensim_pickle``, ``container``, ``relations`` (the
oracles live in ``oracles.py``). With ``EMBEDRS_FUZZ_CONTINUE=1`` a finding
(a Python exception outside the documented ones) is written once per
signature to ``fuzz/artifacts/python_<TARGET>/`` with its traceback, and
fuzzing goes on; without it the first finding stops the run as a libFuzzer
crash. Segfaults always stop the run (libFuzzer writes the crashing input).
"""

import hashlib
import logging
import os
import stat
import sys
import tempfile
import traceback
import warnings

import atheris

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

with atheris.instrument_imports(include=["embedrs"]):
    import embedrs
    import embedrs._persist
    import embedrs.models
    import embedrs.models.poincare  # noqa: F401

import oracles

logging.disable(logging.CRITICAL)
warnings.simplefilter("ignore")

# The target comes first on the command line; it is also kept in the
# environment because libFuzzer's -merge/-fork re-run this script (it must be
# executable, with the right python first on PATH) without it.
if len(sys.argv) > 1 and sys.argv[1] in oracles.TARGETS:
    os.environ["EMBEDRS_FUZZ_TARGET"] = sys.argv.pop(1)
target = os.environ["EMBEDRS_FUZZ_TARGET"]
scratch = tempfile.mkdtemp(
    prefix=f"embedrs-fuzz-{target}-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
)
keep_going = os.environ.get("EMBEDRS_FUZZ_CONTINUE") == "1"
artifacts = os.path.join(os.path.dirname(here), "artifacts", f"python_{target}")
seen: set = set()


printed: list = []
previous = [b""]


def _hook(tp, value, tb):  # PyErr_Print (e.g. in a dealloc) ends up here
    printed.append(value)
    sys.__excepthook__(tp, value, tb)


sys.excepthook = _hook


def _stderr_size() -> int:
    try:
        st = os.fstat(2)
        return st.st_size if stat.S_ISREG(st.st_mode) else -1
    except OSError:
        return -1


def _stderr_since(offset: int) -> str:
    with open("/proc/self/fd/2", "rb") as fh:
        fh.seek(offset)
        return fh.read(1 << 16).decode("utf-8", "replace")


def one_input(data: bytes) -> None:
    try:
        printed.clear()
        before = _stderr_size()
        try:
            oracles.run(target, data, scratch)
        finally:
            prev, previous[0] = previous[0], data
        # When stderr is a file (as under pyrun.sh), anything the interpreter
        # printed by itself while this input ran (PyErr_Print in a dealloc,
        # which no hook sees under atheris) is a finding too.
        if before >= 0 and _stderr_size() > before:
            text = _stderr_since(before)
            for line in text.splitlines():
                if line.startswith(("SystemError", "Exception ignored", "Fatal Python")):
                    printed.append(SystemError(line))
                    break
        if printed:
            e = printed[0]
            # Printed while this input ran, or when the previous one's last
            # objects were freed: keep both.
            if keep_going and f"prev:{type(e).__name__}" not in seen:
                os.makedirs(artifacts, exist_ok=True)
                with open(
                    os.path.join(artifacts, f"printed-prev-{hashlib.sha1(prev).hexdigest()}"), "wb"
                ) as fh:
                    fh.write(prev)
                seen.add(f"prev:{type(e).__name__}")
            raise oracles.Finding(
                f"{target}: the interpreter printed {type(e).__name__}: {str(e)[:200]}",
                f"{target}:printed:{type(e).__name__}",
            )
    except oracles.Finding as f:
        if not keep_going:
            raise
        if f.signature in seen:
            return
        seen.add(f.signature)
        os.makedirs(artifacts, exist_ok=True)
        digest = hashlib.sha1(data).hexdigest()
        with open(os.path.join(artifacts, f"finding-{digest}"), "wb") as fh:
            fh.write(data)
        with open(os.path.join(artifacts, f"finding-{digest}.txt"), "w") as fh:
            fh.write(f"{f.signature}\n{f}\n\n")
            fh.write("".join(traceback.format_exception(f)))
        print(f"FINDING {f.signature} -> finding-{digest}", file=sys.stderr, flush=True)


atheris.Setup(sys.argv, one_input)
atheris.Fuzz()
