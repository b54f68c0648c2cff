"""Fixed cost of one ``Doc2Vec.infer_vector`` call: embedrs builds side by side with gensim.

The latency benchmark (``bench_doc2vec.py --sections infer``) times 100-word
documents over 40 epochs, where the training dominates. This one times what
every call pays besides: a one-word document inferred for one epoch (and a
document of unknown words, which trains nothing), so the figure is the
argument checks, the look-ups and the hand-off to Rust and back. Each library
(and each ``--builds`` directory, an importable ``embedrs`` package) runs in
its own process, in alternating rounds; the table gives the median over the
rounds of each process's best-of-5 mean per call.

Both libraries train the same small model (the Lee background corpus,
``vector_size=100, min_count=2, epochs=40, negative=5, seed=1``, PV-DM).

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benches/bench_infer_overhead.py \\
        --builds /path/to/old /path/to/new --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = r"""
import json, sys, time
lib, build, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
if build:
    sys.path.insert(0, build)
from gensim.utils import simple_preprocess
lee = "LEE"
train = [simple_preprocess(l) for l in open(lee + "/lee_background.cor", encoding="latin-1")]
if lib == "gensim":
    from gensim.models.doc2vec import Doc2Vec, TaggedDocument
else:
    from embedrs.models.doc2vec import Doc2Vec, TaggedDocument
m = Doc2Vec([TaggedDocument(w, [i]) for i, w in enumerate(train)], dm=1, vector_size=100,
            min_count=2, epochs=40, seed=1, workers=2)
word = m.wv.index_to_key[100]
def per_call(doc):
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            m.infer_vector(doc, epochs=1)
        best = min(best, (time.perf_counter_ns() - t0) / calls / 1e3)
    return best
print(json.dumps({"one_word": per_call([word]), "unknown": per_call(["zzqxjv"])}))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--builds", nargs="*", default=[], help="embedrs package folders")
    p.add_argument("--no-gensim", action="store_true")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--calls", type=int, default=20000)
    args = p.parse_args()
    sys.path.insert(0, str(HERE))
    from bench_doc2vec import LEE

    child = _CHILD.replace('"LEE"', repr(str(LEE)))
    runs = [("embedrs", b) for b in args.builds] or [("embedrs", "")]
    if not args.no_gensim:
        runs.append(("gensim", ""))
    env = dict(os.environ)
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(k, None)
    out: dict[tuple[str, str], list[dict]] = {r: [] for r in runs}
    for rnd in range(args.rounds):
        for lib, build in runs if rnd % 2 == 0 else runs[::-1]:
            res = subprocess.run(
                [sys.executable, "-c", child, lib, build, str(args.calls)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            r = json.loads(res.stdout.strip().splitlines()[-1])
            out[(lib, build)].append(r)
            print(f"round {rnd + 1} {lib} {build or '(installed)'}: {r}", flush=True)
    print("\n| library | build | one known word, 1 epoch (us/call) | unknown word (us/call) |")
    print("|---|---|---:|---:|")
    for (lib, build), rs in out.items():
        one = statistics.median(r["one_word"] for r in rs)
        unk = statistics.median(r["unknown"] for r in rs)
        print(f"| {lib} | {build or '(installed)'} | {one:.2f} | {unk:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
