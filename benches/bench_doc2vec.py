"""Side-by-side Doc2Vec benchmark: embedrs against gensim, in one run.

Three sections (``--sections``), each alternating the two libraries
(A B, then B A, ...) and reporting medians:

``imdb``
    Le & Mikolov's IMDB sentiment task as gensim's doc2vec-IMDB tutorial runs it:
    the 100,000 reviews of ``aclImdb_v1_text.tar.gz`` in tar order, tokenised
    by ``str.split()`` of the UTF-8 text (errors replaced), shuffled once,
    tag = position; ``vector_size=100, min_count=2, sample=0, negative=5,
    hs=0``; modes PV-DBOW (``dbow``), PV-DM mean (``dmm``: ``window=10,
    alpha=0.05``) and PV-DM concat (``dmc``: ``dm_concat=1, window=5``), and
    DBOW+DM-mean concatenated (``dbow+dmm``, from the two runs). A
    ``sklearn`` ``LogisticRegression`` is fitted on the 25,000 train-review
    vectors; the test error is reported for the trained test vectors and for
    test vectors from ``infer_vector``. Every training run also gives the
    speed: training words/s (raw corpus words x epochs / seconds of
    ``train()``), on the iterable path (the same in-memory token lists for
    both) and the ``corpus_file`` path (the same file for both), and the peak
    RSS of the process (each run is its own process).
``lee``
    gensim's Lee-corpus tutorial: train on ``lee_background.cor``
    (``simple_preprocess``, ``vector_size=50, min_count=2, epochs=40``),
    infer vectors for the 50 documents of ``lee.cor``, Pearson correlation of
    their cosine similarities with the human judgements (upper triangle of
    ``similarities0-1.txt``), over several seeds; and the tutorial's self-rank
    check (share of training documents whose inferred vector ranks itself
    first among all document vectors).
``infer``
    ``infer_vector`` latency (p50/p99 over ``--infer-calls`` calls on
    100-word documents, the model's 40 epochs) for PV-DBOW and PV-DM models
    trained on the Lee background corpus, and batched inference documents/s on
    ``--workers`` threads (embedrs: its batched ``infer_vectors`` when the
    class has one; gensim: a thread pool calling ``infer_vector``).

One evaluator serves both libraries (vectors are taken out as NumPy arrays).
``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` are removed from the environment
(the script re-executes itself), the BLAS kernels threadpoolctl sees are
printed, and the load average is recorded with every run.

Usage::

    python benches/bench_doc2vec.py                        # full run (hours on 2 cores)
    python benches/bench_doc2vec.py --max-docs 10000 --epochs 2 --repeats 1 \
        --lee-seeds 2 --infer-calls 500                    # quick look
    python benches/bench_doc2vec.py --sections infer --libs gensim
"""

from __future__ import annotations

import os
import sys

_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in _BLAS_VARS):  # must happen before NumPy loads OpenBLAS
    _env = {k: v for k, v in os.environ.items() if k not in _BLAS_VARS}
    os.execve(sys.executable, [sys.executable, *sys.argv], _env)

import argparse
import json
import platform
import random
import re
import resource
import statistics
import subprocess
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
LEE = DATA / "gensim_test_data"

COMMON = {"vector_size": 100, "min_count": 2, "sample": 0, "negative": 5, "hs": 0}
MODES = {
    "dbow": {"dm": 0},
    "dmm": {"dm": 1, "window": 10, "alpha": 0.05},
    "dmc": {"dm": 1, "dm_concat": 1, "window": 5},
}
SPLITS = {"train": 0, "test": 1, "extra": 2}
_MEMBER = re.compile(r"aclImdb/(train|test)/(pos|neg|unsup)/\d+_\d+.txt$")


def doc2vec_class(lib: str) -> tuple[Any, Any]:
    """(Doc2Vec, TaggedDocument) of one library."""
    if lib == "embedrs":
        from embedrs.models.doc2vec import Doc2Vec, TaggedDocument
    else:
        from gensim.models.doc2vec import Doc2Vec, TaggedDocument  # type: ignore[no-redef]
    return Doc2Vec, TaggedDocument


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fin:
            for line in fin:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def blas_info() -> list[str]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed"]
    return [
        f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} "
        f"threads={i.get('num_threads')} ({Path(i.get('filepath', '')).name})"
        for i in threadpool_info()
    ]


# --------------------------------------------------------------------------- IMDB


def prepare_imdb(workdir: Path, max_docs: int, shuffle_seed: int) -> tuple[Path, Path, np.ndarray]:
    """One document per line (shuffled once) and its (split, sentiment) rows, cached."""
    tag = f"{max_docs or 'all'}_{shuffle_seed}"
    docs_path = workdir / f"imdb_{tag}.txt"
    meta_path = workdir / f"imdb_{tag}.npy"
    if docs_path.exists() and meta_path.exists():
        return docs_path, meta_path, np.load(meta_path)
    docs: list[str] = []
    meta: list[tuple[int, float]] = []
    with tarfile.open(DATA / "aclImdb_v1_text.tar.gz", mode="r:gz") as tar:
        for member in tar:
            m = _MEMBER.match(member.name)
            if not m:
                continue
            f = tar.extractfile(member)
            assert f is not None
            text = f.read().decode("utf-8", errors="replace")
            split, sentiment = m.group(1), m.group(2)
            if sentiment == "unsup":
                split = "extra"
            docs.append(" ".join(text.split()))
            meta.append((SPLITS[split], {"pos": 1.0, "neg": 0.0, "unsup": -1.0}[sentiment]))
    order = list(range(len(docs)))
    random.Random(shuffle_seed).shuffle(order)
    if max_docs:
        order = order[:max_docs]
    tmp = docs_path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf8") as fout:
        fout.writelines(docs[i] + "\n" for i in order)
    os.replace(tmp, docs_path)
    arr = np.array([meta[i] for i in order], dtype=np.float64)
    np.save(meta_path, arr)
    return docs_path, meta_path, arr


def read_docs(path: Path, keep: np.ndarray | None = None) -> list[list[str]]:
    """Token lists of the file's lines (those where ``keep`` is true), strings shared."""
    pool: dict[str, str] = {}
    out = []
    with open(path, encoding="utf8") as fin:
        for i, line in enumerate(fin):
            if keep is None or keep[i]:
                out.append([pool.setdefault(w, w) for w in line.split()])
    return out


def infer_many(model: Any, docs: list[list[str]], workers: int) -> np.ndarray:
    """Inferred vectors of ``docs``: the batched API if the model has one, else a thread pool."""
    batched = getattr(model, "infer_vectors", None)
    if batched is not None:
        return np.asarray(batched(docs), dtype=np.float32)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return np.vstack(list(pool.map(model.infer_vector, docs, chunksize=64)))


def imdb_job(spec: dict[str, Any]) -> dict[str, Any]:
    """One training run, in its own process (so its peak RSS is its own)."""
    Doc2Vec, TaggedDocument = doc2vec_class(spec["lib"])
    docs_path = Path(spec["docs"])
    meta = np.load(spec["meta"])
    params = dict(COMMON, **MODES[spec["mode"]], workers=spec["workers"], seed=spec["seed"])
    model = Doc2Vec(**params)
    epochs = spec["epochs"]
    if spec["path"] == "iterable":
        tokens = read_docs(docs_path)
        docs = [TaggedDocument(w, [i]) for i, w in enumerate(tokens)]
        model.build_vocab(docs)
        start = time.perf_counter()
        model.train(docs, total_examples=len(docs), epochs=epochs)
        elapsed = time.perf_counter() - start
        n_docs = len(docs)
        test_tokens = [tokens[i] for i in np.flatnonzero(meta[:, 0] == SPLITS["test"])]
    else:
        model.build_vocab(corpus_file=str(docs_path))
        start = time.perf_counter()
        model.train(corpus_file=str(docs_path), total_words=model.corpus_total_words, epochs=epochs)
        elapsed = time.perf_counter() - start
        n_docs = int(model.corpus_count)
        test_tokens = read_docs(docs_path, meta[:, 0] == SPLITS["test"])
    rss = peak_rss_mb()
    out = Path(spec["out"])
    dv = np.asarray(model.dv[list(range(n_docs))], dtype=np.float32)
    np.save(out / "dv.npy", dv)
    infer_seconds = float("nan")
    if spec["infer"] and test_tokens:
        start = time.perf_counter()
        inferred = infer_many(model, test_tokens, spec["workers"])
        infer_seconds = time.perf_counter() - start
        np.save(out / "inferred.npy", inferred)
    return {
        "seconds": elapsed,
        "words_per_sec": model.corpus_total_words * epochs / elapsed,
        "corpus_words": int(model.corpus_total_words),
        "vocab": len(model.wv),
        "peak_rss_mb": rss,
        "infer_docs_per_sec": len(test_tokens) / infer_seconds,
    }


def logistic_error(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray
) -> float:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=1000)
    clf.fit(train_x, train_y)
    return float(np.mean(clf.predict(test_x) != test_y))


def section_imdb(args: argparse.Namespace, libs: list[str], workdir: Path) -> list[dict]:
    t0 = time.perf_counter()
    docs_path, meta_path, meta = prepare_imdb(workdir, args.max_docs, args.shuffle_seed)
    is_train, is_test = meta[:, 0] == SPLITS["train"], meta[:, 0] == SPLITS["test"]
    print(
        f"# IMDB: {len(meta):,} documents ({int(is_train.sum()):,} train, "
        f"{int(is_test.sum()):,} test, {int((meta[:, 0] == SPLITS['extra']).sum()):,} unlabelled), "
        f"prepared in {time.perf_counter() - t0:.0f} s; epochs={args.epochs}, workers={args.workers}",
        flush=True,
    )
    train_y, test_y = meta[is_train, 1], meta[is_test, 1]
    runs: list[dict] = []
    modes = [m for m in args.modes.split(",") if m in MODES]
    k = 0
    for mode in modes:
        for path_kind in args.paths.split(","):
            for rep in range(args.repeats):
                for lib in libs if k % 2 == 0 else libs[::-1]:
                    out = Path(tempfile.mkdtemp(dir=workdir, prefix=f"{lib}_{mode}_"))
                    spec = {
                        "lib": lib,
                        "mode": mode,
                        "path": path_kind,
                        "epochs": args.epochs,
                        "workers": args.workers,
                        "seed": args.seed,
                        "docs": str(docs_path),
                        "meta": str(meta_path),
                        "out": str(out),
                        "infer": not args.no_infer_eval,
                    }
                    load = os.getloadavg()[0]
                    res = subprocess.run(
                        [sys.executable, __file__, "--job", json.dumps(spec)],
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    if res.returncode != 0:
                        sys.exit(f"{lib} {mode} {path_kind} failed:\n{res.stderr[-4000:]}")
                    r = json.loads(res.stdout.strip().splitlines()[-1])
                    dv = np.load(out / "dv.npy")
                    r.update(lib=lib, mode=mode, path=path_kind, rep=rep, load=load, out=str(out))
                    r["error"] = logistic_error(dv[is_train], train_y, dv[is_test], test_y)
                    r["error_inferred"] = float("nan")
                    if (out / "inferred.npy").exists():
                        r["error_inferred"] = logistic_error(
                            dv[is_train], train_y, np.load(out / "inferred.npy"), test_y
                        )
                    runs.append(r)
                    print(
                        f"  {mode:4s} {path_kind:8s} {lib:8s} {r['seconds']:8.1f}s "
                        f"{r['words_per_sec'] / 1e6:6.3f}M words/s  error {r['error']:.4f}  "
                        f"inferred {r['error_inferred']:.4f}  rss {r['peak_rss_mb']:6.0f} MB  "
                        f"load {load:.1f}",
                        flush=True,
                    )
                k += 1
    # DBOW + DM-mean: concatenated vectors of the two runs with the same lib, path and repeat.
    if "dbow" in modes and "dmm" in modes:
        for a in [r for r in runs if r["mode"] == "dbow"]:
            for b in runs:
                if (b["mode"], b["lib"], b["path"], b["rep"]) != (
                    "dmm",
                    a["lib"],
                    a["path"],
                    a["rep"],
                ):
                    continue
                dv = np.hstack(
                    [np.load(Path(a["out"]) / "dv.npy"), np.load(Path(b["out"]) / "dv.npy")]
                )
                c = {k: a[k] for k in ("lib", "path", "rep")}
                c.update(
                    mode="dbow+dmm",
                    error=logistic_error(dv[is_train], train_y, dv[is_test], test_y),
                )
                c["error_inferred"] = float("nan")
                fa, fb = Path(a["out"]) / "inferred.npy", Path(b["out"]) / "inferred.npy"
                if fa.exists() and fb.exists():
                    test_x = np.hstack([np.load(fa), np.load(fb)])
                    c["error_inferred"] = logistic_error(dv[is_train], train_y, test_x, test_y)
                runs.append(c)
    return runs


def report_imdb(runs: list[dict], libs: list[str]) -> None:
    def med(lib: str, mode: str, path: str, key: str) -> float:
        vals = [
            r[key]
            for r in runs
            if (r["lib"], r["mode"], r["path"]) == (lib, mode, path) and key in r
        ]
        return statistics.median(vals) if vals else float("nan")

    keys = sorted(
        {(r["mode"], r["path"]) for r in runs},
        key=lambda mp: (list(MODES) + ["dbow+dmm"]).index(mp[0]),
    )
    print("\n## IMDB sentiment: test error of LogisticRegression (medians)\n")
    head = " | ".join(f"{lib} error | {lib} error (inferred test)" for lib in libs)
    print(f"| mode | path | {head} |")
    print("|---|---|" + "---:|" * (2 * len(libs)))
    for mode, path in keys:
        cells = " | ".join(
            f"{med(lib, mode, path, 'error') * 100:.2f}% | {med(lib, mode, path, 'error_inferred') * 100:.2f}%"
            for lib in libs
        )
        print(f"| {mode} | {path} | {cells} |")
    print("\n## IMDB training speed and memory (medians)\n")
    head = " | ".join(f"{lib} words/s | {lib} peak RSS" for lib in libs)
    ratio = " ratio |" if len(libs) == 2 else ""
    print(f"| mode | path | {head} |{ratio}")
    print("|---|---|" + "---:|" * (2 * len(libs) + (len(libs) == 2)))
    for mode, path in keys:
        if mode not in MODES:
            continue
        speeds = [med(lib, mode, path, "words_per_sec") for lib in libs]
        cells = " | ".join(
            f"{s / 1e6:.3f}M | {med(lib, mode, path, 'peak_rss_mb'):.0f} MB"
            for lib, s in zip(libs, speeds)
        )
        extra = f" {speeds[0] / speeds[1]:.2f}x |" if len(libs) == 2 else ""
        print(f"| {mode} | {path} | {cells} |{extra}")


# --------------------------------------------------------------------------- Lee


def lee_corpora() -> tuple[list[list[str]], list[list[str]], np.ndarray]:
    from gensim.utils import simple_preprocess

    with open(LEE / "lee_background.cor", encoding="latin-1") as fin:
        train = [simple_preprocess(line) for line in fin]
    with open(LEE / "lee.cor", encoding="latin-1") as fin:
        test = [simple_preprocess(line) for line in fin]
    human = np.loadtxt(LEE / "similarities0-1.txt")
    return train, test, human


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    n = x / np.linalg.norm(x, axis=1, keepdims=True)
    return n @ n.T


def section_lee(args: argparse.Namespace, libs: list[str]) -> list[dict]:
    from scipy.stats import pearsonr

    train, test, human = lee_corpora()
    iu = np.triu_indices(len(test), 1)
    print(
        f"# Lee: {len(train)} training documents, {len(test)} test documents; "
        f"vector_size=50, min_count=2, epochs=40, workers={args.lee_workers}, seeds 1..{args.lee_seeds}",
        flush=True,
    )
    runs = []
    for k, seed in enumerate(range(1, args.lee_seeds + 1)):
        for lib in libs if k % 2 == 0 else libs[::-1]:
            Doc2Vec, TaggedDocument = doc2vec_class(lib)
            docs = [TaggedDocument(w, [i]) for i, w in enumerate(train)]
            for mode, dm in (("dbow", 0), ("dm", 1)):
                model = Doc2Vec(
                    docs,
                    dm=dm,
                    vector_size=50,
                    min_count=2,
                    epochs=40,
                    seed=seed,
                    workers=args.lee_workers,
                )
                inferred = np.vstack([model.infer_vector(d) for d in test])
                pearson = float(pearsonr(cosine_matrix(inferred)[iu], human[iu])[0])
                dv = np.asarray(model.dv[list(range(len(train)))], dtype=np.float64)
                dvn = dv / np.linalg.norm(dv, axis=1, keepdims=True)
                firsts = 0
                for i, d in enumerate(train):
                    v = np.asarray(model.infer_vector(d), dtype=np.float64)
                    sims = dvn @ (v / np.linalg.norm(v))
                    firsts += int(np.sum(sims > sims[i]) == 0)
                r = {
                    "lib": lib,
                    "mode": mode,
                    "seed": seed,
                    "pearson": pearson,
                    "self_rank1": firsts / len(train),
                }
                runs.append(r)
                print(
                    f"  seed {seed} {lib:8s} {mode:4s} pearson {pearson:.4f}  self-rank-1 {r['self_rank1']:.3f}",
                    flush=True,
                )
    print("\n## Lee corpus (mean over seeds; std in brackets)\n")
    head = " | ".join(f"{lib} Pearson | {lib} self-rank 1" for lib in libs)
    print(f"| mode | {head} |")
    print("|---|" + "---:|" * (2 * len(libs)))
    for mode in ("dbow", "dm"):
        cells = []
        for lib in libs:
            p = [r["pearson"] for r in runs if (r["lib"], r["mode"]) == (lib, mode)]
            s = [r["self_rank1"] for r in runs if (r["lib"], r["mode"]) == (lib, mode)]
            sd = statistics.stdev(p) if len(p) > 1 else 0.0
            cells.append(f"{statistics.mean(p):.3f} ({sd:.3f}) | {statistics.mean(s) * 100:.1f}%")
        print(f"| {mode} | {' | '.join(cells)} |")
    return runs


# --------------------------------------------------------------------------- inference speed


def section_infer(args: argparse.Namespace, libs: list[str]) -> list[dict]:
    train, test, _ = lee_corpora()
    stream = [w for d in test + train for w in d]
    docs = [stream[i : i + 100] for i in range(0, len(stream) - 100, 37)]
    print(
        f"# infer_vector: models on the Lee background corpus (vector_size={args.infer_vector_size}, "
        f"min_count=2, epochs=40, negative=5, workers={args.workers}); {len(docs)} distinct "
        f"100-word documents; {args.infer_calls} calls per library and mode",
        flush=True,
    )
    runs = []
    for mode, dm in (("dbow", 0), ("dm", 1)):
        models = {}
        for lib in libs:
            Doc2Vec, TaggedDocument = doc2vec_class(lib)
            tagged = [TaggedDocument(w, [i]) for i, w in enumerate(train)]
            models[lib] = Doc2Vec(
                tagged,
                dm=dm,
                vector_size=args.infer_vector_size,
                min_count=2,
                epochs=40,
                seed=1,
                workers=args.workers,
            )
        lat: dict[str, list[float]] = {lib: [] for lib in libs}
        blocks = max(1, min(10, args.infer_calls // 100))
        per_block = args.infer_calls // blocks
        for b in range(blocks):
            for lib in libs if b % 2 == 0 else libs[::-1]:
                model = models[lib]
                for j in range(per_block):
                    doc = docs[(b * per_block + j) % len(docs)]
                    t = time.perf_counter_ns()
                    model.infer_vector(doc)
                    lat[lib].append((time.perf_counter_ns() - t) / 1e6)
        batch = [docs[i % len(docs)] for i in range(args.batch_docs)]
        dps: dict[str, list[float]] = {lib: [] for lib in libs}
        for b in range(args.repeats):
            for lib in libs if b % 2 == 0 else libs[::-1]:
                t0 = time.perf_counter()
                infer_many(models[lib], batch, args.workers)
                dps[lib].append(len(batch) / (time.perf_counter() - t0))
        for lib in libs:
            a = np.array(lat[lib])
            r = {
                "lib": lib,
                "mode": mode,
                "p50_ms": float(np.percentile(a, 50)),
                "p99_ms": float(np.percentile(a, 99)),
                "calls": len(a),
                "batch_docs_per_sec": statistics.median(dps[lib]),
                "batched_api": hasattr(models[lib], "infer_vectors"),
            }
            runs.append(r)
            print(
                f"  {mode:4s} {lib:8s} p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  "
                f"batched {r['batch_docs_per_sec']:.0f} docs/s "
                f"({'infer_vectors' if r['batched_api'] else f'{args.workers}-thread pool'})",
                flush=True,
            )
    print("\n## infer_vector latency (100-word document, 40 epochs) and batched throughput\n")
    head = " | ".join(f"{lib} p50 | {lib} p99 | {lib} batched docs/s" for lib in libs)
    ratio = libs[:2] == ["embedrs", "gensim"]
    extra = " | p50 gensim/embedrs | p99 gensim/embedrs" if ratio else ""
    print(f"| mode | {head}{extra} |")
    print("|---|" + "---:|" * (3 * len(libs) + 2 * ratio))
    for mode in ("dbow", "dm"):
        cells = []
        by_lib = {r["lib"]: r for r in runs if r["mode"] == mode}
        for lib in libs:
            r = by_lib[lib]
            cells.append(
                f"{r['p50_ms']:.3f} ms | {r['p99_ms']:.3f} ms | {r['batch_docs_per_sec']:.0f}"
            )
        if ratio:
            e, g = by_lib["embedrs"], by_lib["gensim"]
            cells.append(f"{g['p50_ms'] / e['p50_ms']:.2f}x | {g['p99_ms'] / e['p99_ms']:.2f}x")
        print(f"| {mode} | {' | '.join(cells)} |")
    return runs


# --------------------------------------------------------------------------- main


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--job", help=argparse.SUPPRESS)
    p.add_argument("--sections", default="imdb,lee,infer")
    p.add_argument("--libs", default="embedrs,gensim")
    p.add_argument(
        "--modes", default="dbow,dmm,dmc", help="IMDB modes (dbow+dmm is added when both run)"
    )
    p.add_argument("--paths", default="iterable,file")
    p.add_argument("--epochs", type=int, default=20, help="IMDB epochs")
    p.add_argument(
        "--max-docs", type=int, default=0, help="IMDB: first N shuffled reviews (0: all)"
    )
    p.add_argument("--shuffle-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-infer-eval", action="store_true", help="IMDB: skip inferred test vectors")
    p.add_argument("--lee-seeds", type=int, default=5)
    p.add_argument("--lee-workers", type=int, default=1)
    p.add_argument("--infer-calls", type=int, default=10000)
    p.add_argument("--infer-vector-size", type=int, default=100)
    p.add_argument("--batch-docs", type=int, default=2000)
    p.add_argument("--workdir", type=Path, default=None, help="keeps the prepared IMDB files")
    p.add_argument("--json-out", type=Path, default=None)
    args = p.parse_args()

    if args.job:
        print(json.dumps(imdb_job(json.loads(args.job))))
        return 0

    libs = [lib for lib in args.libs.split(",") if lib]
    if "embedrs" in libs:
        try:
            doc2vec_class("embedrs")
        except ImportError as exc:
            print(f"# embedrs Doc2Vec unavailable ({exc}); running without it", flush=True)
            libs.remove("embedrs")
    import gensim

    versions = f"gensim {gensim.__version__}"
    try:
        import embedrs

        versions = f"embedrs {embedrs.__version__}, " + versions
    except ImportError:
        pass
    for lib in libs:
        doc2vec_class(lib)  # load both before asking threadpoolctl
    print(
        f"# {versions}, python {platform.python_version()}, {os.cpu_count()} cpus, "
        f"{platform.processor() or platform.machine()}; load average {os.getloadavg()}"
    )
    for line in blas_info():
        print(f"# BLAS: {line}")
    print(f"# command: {' '.join(sys.argv)}", flush=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="embedrs-bench-d2v-"))
    workdir.mkdir(parents=True, exist_ok=True)

    results: dict[str, Any] = {}
    sections = args.sections.split(",")
    if "imdb" in sections:
        results["imdb"] = section_imdb(args, libs, workdir)
        report_imdb(results["imdb"], libs)
    if "lee" in sections:
        results["lee"] = section_lee(args, libs)
    if "infer" in sections:
        results["infer"] = section_infer(args, libs)
    print(f"\n# load average at the end {os.getloadavg()}")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
