"""Before/after comparison of ``Doc2Vec.infer_vector`` latency for two embedrs builds.

The machine's speed drifts from minute to minute, so the two builds run in
alternating rounds (which goes first alternates too), each round a fresh
process per build and mode that trains the model of ``bench_doc2vec.py``'s
``infer`` section (the Lee background corpus, ``vector_size=100, min_count=2,
epochs=40, negative=5, seed=1``) and then calls ``infer_vector`` on the same
100-word documents for ``--seconds``. It prints each run's median latency and,
per round, ``before / after`` (above 1: the second build is faster), then the
medians over the rounds.

Each build is a directory holding an importable ``embedrs`` package (for
example a copy of ``python/embedrs`` with a release ``_embedrs.abi3.so``).

Usage::

    python benches/bench_infer_paired.py --before /path/to/old --after /path/to/new --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[3])
from bench_doc2vec import lee_corpora
from embedrs.models.doc2vec import Doc2Vec, TaggedDocument
dm, seconds = int(sys.argv[1]), float(sys.argv[2])
train, test, _ = lee_corpora()
stream = [w for d in test + train for w in d]
docs = [stream[i : i + 100] for i in range(0, len(stream) - 100, 37)][:200]
m = Doc2Vec([TaggedDocument(w, [i]) for i, w in enumerate(train)], dm=dm, vector_size=100,
            min_count=2, epochs=40, negative=5, seed=1, workers=2)
lat = []
t0 = time.monotonic()
while time.monotonic() - t0 < seconds:
    for d in docs:
        t = time.perf_counter_ns()
        m.infer_vector(d)
        lat.append(time.perf_counter_ns() - t)
print(np.median(lat) / 1e3, len(lat))
"""


def run(build: str, dm: int, seconds: float) -> float:
    """Median infer_vector latency (microseconds) of one fresh process of ``build``."""
    # without the OpenBLAS overrides, which bench_doc2vec would re-execute itself to drop
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    env["PYTHONPATH"] = build
    benches = str(Path(__file__).resolve().parent)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(dm), str(seconds), benches],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0])


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--before", required=True, help="directory with the old embedrs package")
    p.add_argument("--after", required=True, help="directory with the new embedrs package")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=4.0, help="calling time per run")
    p.add_argument("--modes", default="dm,dbow")
    args = p.parse_args()
    builds = {"before": args.before, "after": args.after}
    for mode in args.modes.split(","):
        dm = {"dm": 1, "dbow": 0}[mode]
        lat: dict[str, list[float]] = {"before": [], "after": []}
        for r in range(args.rounds):
            order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
            for name in order:
                lat[name].append(run(builds[name], dm, args.seconds))
            ratio = lat["before"][-1] / lat["after"][-1]
            print(
                f"{mode} round {r + 1}: before {lat['before'][-1]:.1f} us, "
                f"after {lat['after'][-1]:.1f} us, before/after {ratio:.3f}",
                flush=True,
            )
        ratios = [b / a for b, a in zip(lat["before"], lat["after"])]
        print(
            f"{mode}: median p50 before {statistics.median(lat['before']):.1f} us, after "
            f"{statistics.median(lat['after']):.1f} us; median ratio {statistics.median(ratios):.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
