"""Before/after comparison of two embedrs builds, run *at the same time*.

On a shared 2-core virtual machine the CPU time of the very same training run
varies by up to 2x from one minute to the next (measured: 7.5 s to 15 s for
one skip-gram run), so builds benchmarked one after the other are compared
under different conditions. This script runs the two builds concurrently, one
worker each (one core each), so that every pair of runs sees the same machine;
it reports the train() CPU time of each run and, per pair, the speed ratio
``before_cpu / after_cpu`` (above 1: the second build is faster).

Each build is a directory holding an importable ``embedrs`` package (for
example a copy of ``python/embedrs`` with a release ``_embedrs.abi3.so``).

Usage::

    python benches/bench_w2v_paired.py --before /path/to/old --after /path/to/new --rounds 5

With ``--workers N`` (N > 1) the builds cannot share the cores, so they run one
after the other instead (which one goes first alternates by round), each with N
workers, and the figure compared is the wall time of ``train()``: this is how a
change in the way workers share the work (not in the per-core speed) shows.

The corpus is the first ``--words`` tokens of ``../shared/data/enwik_text8like.gz``
as 1,000-token lines; settings are the word2vec benchmark's (``vector_size=100,
window=5, min_count=5, sample=1e-4``, 5 negatives or hierarchical softmax).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MODES = {"cbow_ns": (0, 0), "sg_ns": (1, 0), "sg_hs": (1, 1), "cbow_hs": (0, 1)}

_CHILD = r"""
import resource, sys, time
from embedrs.models import Word2Vec
path, path_kind, sg, hs, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
workers = int(sys.argv[6])
m = Word2Vec(vector_size=100, window=5, min_count=5, sample=1e-4, sg=sg, hs=hs,
             negative=0 if hs else 5, workers=workers, seed=1)
if path_kind == "file":
    m.build_vocab(corpus_file=path)
else:
    sents = [line.split() for line in open(path)]
    m.build_vocab(sents)
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.monotonic()
if path_kind == "file":
    m.train(corpus_file=path, total_words=m.corpus_total_words, epochs=epochs)
else:
    m.train(sents, total_examples=len(sents), epochs=epochs)
wall = time.monotonic() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
print((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), wall)
"""


def _corpus(words: int) -> Path:
    """The first ``words`` tokens of the benchmark corpus, as 1,000-token lines."""
    src = Path(__file__).resolve().parents[2] / "shared" / "data" / "enwik_text8like.gz"
    out = Path(tempfile.gettempdir()) / f"embedrs_paired_{words}.txt"
    if not out.exists():
        with gzip.open(src, "rt") as f:
            toks = f.read(words * 12).split()[:words]
        tmp = out.with_suffix(".part")
        with open(tmp, "w") as f:
            f.writelines(" ".join(toks[i : i + 1000]) + "\n" for i in range(0, len(toks), 1000))
        os.replace(tmp, out)
    return out


def _start(
    build: str, corpus: Path, kind: str, sg: int, hs: int, epochs: int, workers: int
) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=build, PYTHONWARNINGS="ignore")
    args = [
        sys.executable,
        "-c",
        _CHILD,
        str(corpus),
        kind,
        str(sg),
        str(hs),
        str(epochs),
        str(workers),
    ]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)


def _result(p: subprocess.Popen) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child's train()."""
    cpu, wall = p.communicate()[0].strip().splitlines()[-1].split()
    return float(cpu), float(wall)


def main() -> None:
    """Runs the paired rounds and prints a markdown table."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--before", required=True, help="directory with the old build's embedrs package"
    )
    ap.add_argument("--after", required=True, help="directory with the new build's embedrs package")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--words", type=int, default=1_000_000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--paths", default="file,iterable")
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="workers per build; above 1 the builds run one after the other and wall time is compared",
    )
    a = ap.parse_args()
    corpus = _corpus(a.words)
    together = a.workers == 1
    metric = "CPU s" if together else "wall s"
    print(
        f"# load average {os.getloadavg()}; {a.words} tokens x {a.epochs} epochs, "
        f"{a.workers} worker(s) per build, "
        + ("both builds at once" if together else "one build at a time")
    )
    rows = []
    for mode in a.modes.split(","):
        sg, hs = MODES[mode]
        for kind in a.paths.split(","):
            pairs = []
            for r in range(a.rounds):
                # alternate which build starts first
                order = [a.before, a.after] if r % 2 == 0 else [a.after, a.before]
                if together:
                    procs = {b: _start(b, corpus, kind, sg, hs, a.epochs, 1) for b in order}
                    res = {b: _result(p) for b, p in procs.items()}
                else:
                    res = {
                        b: _result(_start(b, corpus, kind, sg, hs, a.epochs, a.workers))
                        for b in order
                    }
                pick = 0 if together else 1
                pairs.append((res[a.before][pick], res[a.after][pick]))
                busy = "".join(
                    f" {name} CPU/wall {res[b][0] / res[b][1]:.2f}"
                    for name, b in (("before", a.before), ("after", a.after))
                )
                print(
                    f"  {mode:8s} {kind:8s} round {r + 1}: before {pairs[-1][0]:.2f}s "
                    f"after {pairs[-1][1]:.2f}s ({metric};{busy})",
                    flush=True,
                )
            ratios = [b / f for b, f in pairs]
            rows.append(
                (
                    mode,
                    kind,
                    statistics.median(p[0] for p in pairs),
                    statistics.median(p[1] for p in pairs),
                    ratios,
                )
            )
    print(
        f"\n| mode | path | before {metric} | after {metric} | speed ratio per pair | median | faster |"
    )
    print("|---|---|---:|---:|---|---:|---:|")
    for mode, kind, b, f, ratios in rows:
        per = " ".join(f"{r:.2f}" for r in ratios)
        faster = sum(r > 1 for r in ratios)
        print(
            f"| {mode} | {kind} | {b:.2f} | {f:.2f} | {per} | **{statistics.median(ratios):.2f}x** | "
            f"{faster}/{len(ratios)} |"
        )


if __name__ == "__main__":
    main()
