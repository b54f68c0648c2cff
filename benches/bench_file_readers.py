"""Before/after of two embedrs builds on the file readers, end to end.

``Word2Vec(LineSentence(path))``, ``Word2Vec(Text8Corpus(path))`` and
``Doc2Vec(TaggedLineDocument(path))`` are the ways gensim users most often train
from a file. This script times ``build_vocab`` and one epoch of ``train`` on the
same reader object, for two builds alternating round by round (each run in its
own process, so that each build is imported fresh), and prints the medians and
the per-round speed-up of the total.

Each build is a directory holding an importable ``embedrs`` package (for example
a copy of ``python/embedrs`` with a release ``_embedrs.abi3.so``). With
``--gensim`` gensim's own readers run in the same rounds, for reference.

Usage::

    python benches/bench_file_readers.py --before /path/to/old --after /path/to/new --rounds 3

The corpus is the first ``--words`` tokens of ``../shared/data/enwik_text8like.gz``:
as 1,000-token lines (``LineSentence``, ``TaggedLineDocument``) and on one line
(``Text8Corpus``). Settings: ``vector_size=100, window=5, min_count=5,
sample=1e-4``, negative sampling, 2 workers, 1 epoch.
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

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

# case -> (reader, model, model parameters)
CASES = {
    "lines_cbow": ("LineSentence", "Word2Vec", "sg=0"),
    "lines_sg": ("LineSentence", "Word2Vec", "sg=1"),
    "text8_cbow": ("Text8Corpus", "Word2Vec", "sg=0"),
    "text8_sg": ("Text8Corpus", "Word2Vec", "sg=1"),
    "tagged_dbow": ("TaggedLineDocument", "Doc2Vec", "dm=0"),
    "tagged_dm": ("TaggedLineDocument", "Doc2Vec", "dm=1"),
}

CHILD = """
import sys, time
lib, reader, model, params, path = sys.argv[1:6]
if lib == "gensim":
    from gensim.models import Word2Vec, Doc2Vec
    from gensim.models.word2vec import LineSentence, Text8Corpus
    from gensim.models.doc2vec import TaggedLineDocument
else:
    from embedrs.models import Word2Vec, Doc2Vec
    from embedrs.models.word2vec import LineSentence, Text8Corpus
    from embedrs.models.doc2vec import TaggedLineDocument
kw = dict(vector_size=100, window=5, min_count=5, sample=1e-4, negative=5, workers=2, seed=1)
name, value = params.split("=")
kw[name] = int(value)
m = {"Word2Vec": Word2Vec, "Doc2Vec": Doc2Vec}[model](**kw)
corpus = {"LineSentence": LineSentence, "Text8Corpus": Text8Corpus,
          "TaggedLineDocument": TaggedLineDocument}[reader](path)
t = time.perf_counter(); m.build_vocab(corpus); v = time.perf_counter() - t
t = time.perf_counter(); m.train(corpus, total_examples=m.corpus_count, epochs=1)
print(v, time.perf_counter() - t)
"""


def run(lib: str, pythonpath: str | None, case: str, files: dict[str, str]) -> tuple[float, float]:
    """``(build_vocab seconds, train seconds)`` of one run in a fresh process."""
    reader, model, params = CASES[case]
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    path = files["text8" if reader == "Text8Corpus" else "lines"]
    out = subprocess.run(
        [sys.executable, "-c", CHILD, lib, reader, model, params, path],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    v, t = out.stdout.split()
    return float(v), float(t)


def main() -> None:
    """Runs the alternating rounds and prints a markdown table."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--before", required=True, help="directory with the old build's embedrs")
    ap.add_argument("--after", required=True, help="directory with the new build's embedrs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--words", type=int, default=4_000_000)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--gensim", action="store_true", help="also run gensim's readers")
    a = ap.parse_args()
    with gzip.open(DATA / "enwik_text8like.gz", "rb") as fin:
        tokens = fin.read(a.words * 9).decode("utf8").split()[: a.words]
    tmp = Path(tempfile.mkdtemp())
    files = {"lines": str(tmp / "lines.txt"), "text8": str(tmp / "text8")}
    Path(files["lines"]).write_text(
        "".join(" ".join(tokens[i : i + 1000]) + "\n" for i in range(0, len(tokens), 1000)),
        encoding="utf8",
    )
    Path(files["text8"]).write_text(" ".join(tokens), encoding="utf8")
    print(f"# {len(tokens):,} tokens, {a.rounds} rounds, load {os.getloadavg()}")
    sides = [("before", "embedrs", a.before), ("after", "embedrs", a.after)]
    if a.gensim:
        sides.append(("gensim", "gensim", None))
    rows = []
    for case in a.cases.split(","):
        times: dict[str, list[tuple[float, float]]] = {s: [] for s, _, _ in sides}
        for r in range(a.rounds):
            for side, lib, path in sides:
                v, t = run(lib, path, case, files)
                times[side].append((v, t))
                print(f"  {case:12s} round {r + 1} {side:7s} build_vocab {v:.3f}s train {t:.3f}s")
        total = {s: [v + t for v, t in times[s]] for s in times}
        ups = [b / af for b, af in zip(total["before"], total["after"])]
        med = {s: statistics.median(total[s]) for s in total}
        rows.append(
            f"| {case} | {med['before']:.2f} | {med['after']:.2f} | "
            + (f"{med['gensim']:.2f} | " if a.gensim else "")
            + f"{' '.join(f'{u:.2f}' for u in ups)} | **{statistics.median(ups):.2f}x** |"
        )
    print()
    g = "gensim total s | " if a.gensim else ""
    print(f"| case | before total s | after total s | {g}speed-up per round | median |")
    print("|---|---:|---:|" + ("---:|" if a.gensim else "") + "---|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
