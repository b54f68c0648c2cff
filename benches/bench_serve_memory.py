"""Memory of N server worker processes sharing one memory-mapped model, embedrs vs gensim.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benches/bench_serve_memory.py \
        --n 1000000 --dim 300 --workers 4

A random ``--n`` x ``--dim`` float32 KeyedVectors (keys ``w0``, ``w1``, ...) is
saved once in embedrs' native format and once with gensim's ``save()``
(cached in ``--cache``). Then, one after the other, each server is started with
``--workers`` worker processes on 127.0.0.1:

* ``embedrs``: ``python -m embedrs serve MODEL --workers N`` as shipped (the
  parent builds exact search's int8 copy once into a file that every worker
  maps; keys are looked up in the model file's key blob, no dict per worker);
* ``embedrs-no-int8``: the same with ``--no-int8`` (no int8 copy: less
  memory, slower exact search);
* ``gensim``: the same application (:func:`embedrs.serve.create_app`) under
  uvicorn over gensim's ``KeyedVectors.load(MODEL, mmap='r')``.

Each server answers ``--requests`` ``GET /similar`` (exact search, which reads
every row) from ``--connections`` concurrent connections, so every worker has
touched the whole matrix. Then the memory of the server's whole process tree
is read from ``/proc/PID/smaps_rollup``: **PSS** (each shared page divided
among the processes mapping it: the honest total for shared mmap pages) and
RSS (shared pages counted once per process), against one copy of the vectors
(``n * dim * 4`` bytes). Target (issue 15): total at most 1.3x one copy.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_serve import free_port


def gensim_app():
    """uvicorn factory: gensim KeyedVectors (``BENCH_SERVE_MODEL``)."""
    from embedrs.serve import Served, create_app
    from gensim.models import KeyedVectors

    path = os.environ["BENCH_SERVE_MODEL"]
    return create_app(Served(path=path, kv=KeyedVectors.load(path, mmap="r")))


def make_models(cache: Path, n: int, dim: int) -> tuple[Path, Path]:
    import numpy as np

    ours, theirs = cache / f"mem_{n}x{dim}.kv", cache / f"mem_{n}x{dim}.gensim.kv"
    if ours.exists() and theirs.exists():
        return ours, theirs
    from embedrs.models import KeyedVectors
    from gensim.models import KeyedVectors as GensimKV

    rng = np.random.default_rng(20261202)
    vectors = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, 100_000):
        vectors[s : s + 100_000] = rng.normal(size=(min(100_000, n - s), dim))
    keys = [f"w{i}" for i in range(n)]
    kv = KeyedVectors(dim)
    kv.add_vectors(keys, vectors)
    kv.save(str(ours))
    del kv
    g = GensimKV(dim)
    g.add_vectors(keys, vectors)
    g.save(str(theirs))
    return ours, theirs


def start(backend: str, model: Path, workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'python'}:{HERE}", BENCH_SERVE_MODEL=str(model))
    if backend in ("embedrs", "embedrs-no-int8"):
        cmd = [sys.executable, "-m", "embedrs", "-q", "serve", str(model)]
        cmd += ["--port", str(port), "--workers", str(workers)]
        cmd += ["--no-int8"] if backend == "embedrs-no-int8" else []
    else:
        cmd = [sys.executable, "-m", "uvicorn", "bench_serve_memory:gensim_app", "--factory"]
        cmd += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{backend} server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                if r.status == 200 and len(tree(proc.pid)) > workers:
                    return proc, port
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{backend} server did not start")


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def rollup(pid: int) -> dict[str, int]:
    """Rss/Pss/Shared/Private in bytes from ``/proc/PID/smaps_rollup``."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return out


def hit(port: int, n: int, requests: int, connections: int) -> int:
    rng = random.Random(1)
    urls = [
        f"http://127.0.0.1:{port}/similar?key=w{rng.randrange(n)}&topn=10" for _ in range(requests)
    ]

    def get(url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=600) as r:
                r.read()
                return r.status
        except OSError as exc:
            print(f"  request failed: {exc!r}", flush=True)
            return 0

    with concurrent.futures.ThreadPoolExecutor(connections) as pool:
        return sum(s == 200 for s in pool.map(get, urls))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--backends", nargs="+", default=["embedrs", "embedrs-no-int8", "gensim"])
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    args = p.parse_args()
    ours, theirs = make_models(args.cache, args.n, args.dim)
    one_copy = args.n * args.dim * 4
    print(f"{args.n} x {args.dim} float32: one copy of the vectors {one_copy / 2**20:.0f} MiB")
    print(
        f"{args.workers} workers, {args.requests} GET /similar from {args.connections} connections"
    )
    for backend in args.backends:
        model = theirs if backend == "gensim" else ours
        proc, port = start(backend, model, args.workers)
        try:
            t0 = time.perf_counter()
            ok = hit(port, args.n, args.requests, args.connections)
            took = time.perf_counter() - t0
            pids = tree(proc.pid)
            rows = [(pid, rollup(pid)) for pid in pids]
        finally:
            proc.terminate()
            proc.wait(60)
        pss = sum(r["Pss"] for _, r in rows)
        rss = sum(r["Rss"] for _, r in rows)
        print(
            f"\n== {backend}: {ok}/{args.requests} answered in {took:.1f} s"
            f" ({ok / took:.1f} requests/s), {len(rows)} processes"
        )
        for pid, r in rows:
            print(
                f"  pid {pid}: PSS {r['Pss'] / 2**20:7.0f} MiB  RSS {r['Rss'] / 2**20:7.0f} MiB"
                f"  (shared {(r['Shared_Clean'] + r['Shared_Dirty']) / 2**20:.0f} MiB)"
            )
        print(
            f"  total PSS {pss / 2**20:.0f} MiB = {pss / one_copy:.2f}x one copy;"
            f" sum of RSS {rss / 2**20:.0f} MiB = {rss / one_copy:.2f}x"
        )


if __name__ == "__main__":
    main()
