"""Replay Python fuzz corpora through the oracles, in one process per call.

    python fuzz/python/replay.py TARGET FILE...

Prints ``START <file>`` before each input (so that a crash names it), then
``OK``/``FINDING <message>``, and exits 0 when every input passed, 1 if any
finding. Used by tests/test_fuzz_replay.py in a subprocess, so that a
segfault fails that test instead of killing pytest.
"""

import logging
import os
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracles

logging.disable(logging.CRITICAL)
warnings.simplefilter("ignore")


def main() -> int:
    target, files = sys.argv[1], sys.argv[2:]
    if target not in oracles.TARGETS:
        sys.exit(f"unknown target {target!r}; one of {sorted(oracles.TARGETS)}")
    bad = 0
    with tempfile.TemporaryDirectory() as scratch:
        for f in files:
            print(f"START {f}", flush=True)
            with open(f, "rb") as fh:
                data = fh.read()
            oracles.TRACE.clear()
            try:
                oracles.run(target, data, scratch)
                print("OK", flush=True)
            except oracles.Finding as exc:
                bad += 1
                print(f"FINDING {exc}", flush=True)
            if os.environ.get("EMBEDRS_FUZZ_TRACE") == "1":
                print("TRACE " + " ".join(oracles.TRACE), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
