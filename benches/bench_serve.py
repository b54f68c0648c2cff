"""Load test of ``embedrs serve`` against the same application backed by gensim.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benches/bench_serve.py \
        --duration 60 --connections 64 --workers 2

The model: a gensim Doc2Vec (PV-DM, 100 dimensions, min_count 5,
``--model-epochs`` epochs, gensim's default 10) trained on the first ``--tokens``
tokens of ``../shared/data/enwik_text8like.gz`` cut into 200-token documents,
saved with gensim's ``save()`` (cached in ``--cache``). ``/infer`` runs the
model's epochs, as ``infer_vector`` does by default. Both servers load that one
file memory-mapped:

* ``embedrs``: ``embedrs serve MODEL --workers N --index hnsw`` (embedrs reads
  gensim's pickle through its restricted unpickler);
* ``gensim``: the same Starlette application (:func:`embedrs.serve.create_app`)
  over ``gensim.models.Doc2Vec.load(MODEL, mmap='r')``, under uvicorn with the
  same worker count. Its approximate index is gensim's own,
  ``gensim.similarities.annoy.AnnoyIndexer`` (``pip install annoy``) with
  ``--annoy-trees`` trees, built once by this script and memory-mapped by every
  worker; without annoy the gensim side skips the approximate endpoint.

Before the load, the script measures recall@10 of both approximate indexes
against exact search, through the application's own ``similar`` (the query key
left out), on 500 random keys among the 10,000 most frequent, and the mean
time of one such call in this process.

The load generator (``--client``) is ``wrk`` (C, ``apt install wrk``; the
default where it is installed) or an aiohttp client in this process, with
``--connections`` concurrent connections, each sending its next request as
soon as the last one answered, for ``--duration`` seconds per endpoint. On a
machine whose cores the servers share, the client's own CPU counts: aiohttp
spends about as much per request as a lean server does, wrk a small fraction.
Endpoints: ``GET /similar`` (exact),
``POST /similar`` with ``"approximate": true``, ``POST /vectors`` (10 keys) and
``POST /infer`` (50 words). It prints requests/s, p50/p99 latency and errors
(non-200 answers or failed connections). Backends alternate per endpoint and
per round (``--repeats``); the table gives each side's median round.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data"


def gensim_app():
    """uvicorn factory of the gensim-backed server (``BENCH_SERVE_MODEL``)."""
    from embedrs.serve import Served, create_app
    from gensim.models import Doc2Vec

    path = os.environ["BENCH_SERVE_MODEL"]
    model = Doc2Vec.load(path, mmap="r")
    indexer = None
    annoy_path = os.environ.get("BENCH_SERVE_ANNOY")
    if annoy_path:
        from gensim.similarities.annoy import AnnoyIndexer

        indexer = AnnoyIndexer()
        indexer.load(annoy_path)  # annoy maps the file: one copy for all workers
        indexer.model = model
    return create_app(Served(path=path, kv=model.wv, model=model, indexer=indexer))


def annoy_index(cache: Path, model: Path, trees: int) -> Path | None:
    """gensim's AnnoyIndexer over ``model``'s words (cached); None without annoy."""
    try:
        import annoy  # noqa: F401
    except ImportError:
        return None
    from gensim.models import Doc2Vec
    from gensim.similarities.annoy import AnnoyIndexer

    path = cache / f"{model.stem}_annoy{trees}.ann"
    if not (path.exists() and Path(str(path) + ".dict").exists()):
        m = Doc2Vec.load(str(model), mmap="r")
        t = time.perf_counter()
        AnnoyIndexer(m.wv, trees).save(str(path))
        print(f"annoy index, {trees} trees: built in {time.perf_counter() - t:.1f} s (1 thread)")
    return path


def approximate_recall(
    model: Path, annoy_path: Path | None, words: list[str], ef_search: int | None = None
) -> None:
    """Recall@10 of each side's approximate ``/similar`` against exact search."""
    from embedrs.serve import Served
    from embedrs.serve.app import similar
    from embedrs.serve.holder import load_served

    rng = random.Random(7)
    queries = [rng.choice(words) for _ in range(500)]
    ours = load_served(model, index="hnsw")
    if ef_search is not None:
        ours.indexer.ef_search = ef_search
    truth = {w: {k for k, _ in similar(ours, [w], [], 10, False)} for w in queries}
    sides = [(f"embedrs HnswIndexer (ef_search {ours.indexer.ef_search})", ours)]
    if annoy_path is not None:
        from gensim.models import Doc2Vec
        from gensim.similarities.annoy import AnnoyIndexer

        g = Doc2Vec.load(str(model), mmap="r")
        ai = AnnoyIndexer()
        ai.load(str(annoy_path))
        ai.model = g
        sides.append(
            (
                f"gensim AnnoyIndexer ({ai.num_trees} trees)",
                Served(path=str(model), kv=g.wv, model=g, indexer=ai),
            )
        )
    for name, served in sides:
        t = time.perf_counter()
        hits = sum(
            len(truth[w] & {k for k, _ in similar(served, [w], [], 10, True)}) for w in queries
        )
        us = (time.perf_counter() - t) / len(queries) * 1e6
        print(
            f"approximate /similar, {name}: recall@10 {hits / (10 * len(queries)):.4f}, {us:.0f} us/call"
        )


def train_model(cache: Path, tokens: int, epochs: int) -> Path:
    path = cache / f"bench_serve_d2v_{tokens}_e{epochs}.model"
    if path.exists():
        return path
    from gensim.models.doc2vec import Doc2Vec, TaggedDocument

    with gzip.open(DATA / "enwik_text8like.gz", "rt") as fh:
        words = []
        for line in fh:
            words.extend(line.split())
            if len(words) >= tokens:
                break
    words = words[:tokens]
    docs = [TaggedDocument(words[i : i + 200], [i // 200]) for i in range(0, len(words), 200)]
    model = Doc2Vec(docs, vector_size=100, min_count=5, epochs=epochs, workers=2, seed=1)
    model.save(str(path))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    backend: str,
    model: Path,
    workers: int,
    blas_threads: int = 0,
    annoy: Path | None = None,
    ef_search: int | None = None,
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'python'}:{HERE}", BENCH_SERVE_MODEL=str(model))
    if annoy is not None:
        env["BENCH_SERVE_ANNOY"] = str(annoy)
    if blas_threads:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(blas_threads)
    if backend == "embedrs":
        cmd = [
            sys.executable,
            "-m",
            "embedrs",
            "-q",
            "serve",
            str(model),
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--index",
            "hnsw",
        ]
        if ef_search is not None:
            cmd += ["--ef-search", str(ef_search)]
    else:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench_serve:gensim_app",
            "--factory",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{backend} server did not start")


def requests_for(endpoint: str, words: list[str], rng: random.Random):
    while True:
        if endpoint == "similar":
            yield "GET", f"/similar?key={rng.choice(words)}&topn=10", None
        elif endpoint == "similar_approx":
            yield (
                "POST",
                "/similar",
                {"positive": [rng.choice(words)], "topn": 10, "approximate": True},
            )
        elif endpoint == "vectors":
            yield "POST", "/vectors", {"keys": rng.sample(words, 10)}
        else:
            yield "POST", "/infer", {"words": [rng.choice(words) for _ in range(50)]}


async def load(port: int, endpoint: str, words: list[str], connections: int, duration: float):
    import aiohttp

    lat: list[float] = []
    errors = 0
    stop = time.monotonic() + duration
    gen = requests_for(endpoint, words, random.Random(1))
    conn = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", connector=conn) as session:

        async def client() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                method, path, body = next(gen)
                t = time.perf_counter()
                try:
                    async with session.request(method, path, json=body) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except aiohttp.ClientError:
                    ok = False
                lat.append(time.perf_counter() - t)
                errors += not ok

        t0 = time.monotonic()
        await asyncio.gather(*(client() for _ in range(connections)))
        elapsed = time.monotonic() - t0
    lat.sort()
    return {
        "rps": len(lat) / elapsed,
        "p50_ms": 1e3 * statistics.median(lat),
        "p99_ms": 1e3 * lat[int(0.99 * (len(lat) - 1))],
        "errors": errors,
        "requests": len(lat),
    }


WRK_SCRIPT = r"""
local words = {}
for line in io.lines(os.getenv("BENCH_SERVE_WORDS")) do words[#words + 1] = line end
local endpoint = os.getenv("BENCH_SERVE_ENDPOINT")
local json_headers = {["Content-Type"] = "application/json"}
math.randomseed(tonumber(os.getenv("BENCH_SERVE_SEED") or "1"))

local function pick() return words[math.random(#words)] end

request = function()
  if endpoint == "similar" then
    return wrk.format("GET", "/similar?key=" .. pick() .. "&topn=10")
  elseif endpoint == "similar_approx" then
    return wrk.format("POST", "/similar", json_headers,
      '{"positive": ["' .. pick() .. '"], "topn": 10, "approximate": true}')
  elseif endpoint == "vectors" then
    local keys = {}
    for i = 1, 10 do keys[i] = '"' .. pick() .. '"' end
    return wrk.format("POST", "/vectors", json_headers,
      '{"keys": [' .. table.concat(keys, ", ") .. ']}')
  else
    local ws = {}
    for i = 1, 50 do ws[i] = '"' .. pick() .. '"' end
    return wrk.format("POST", "/infer", json_headers,
      '{"words": [' .. table.concat(ws, ", ") .. ']}')
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKRESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def load_wrk(
    port: int, endpoint: str, words: list[str], connections: int, duration: float, threads: int
) -> dict:
    """The same load as :func:`load` from ``wrk`` (C, one event loop per thread): the
    client's own CPU per request is a small fraction of aiohttp's, so on a machine whose
    cores the servers share, more of them go to the servers."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "load.lua"
        script.write_text(WRK_SCRIPT)
        wordfile = Path(tmp) / "words.txt"
        # every key is URL- and JSON-safe as written into the requests
        wordfile.write_text("\n".join(w for w in words if w.isascii() and w.isalnum()) + "\n")
        env = dict(os.environ, BENCH_SERVE_WORDS=str(wordfile), BENCH_SERVE_ENDPOINT=endpoint)
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration:.0f}s",
                "--timeout",
                "30s",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKRESULT "))
    r = json.loads(line[len("WRKRESULT ") :])
    return {
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1e3,
        "p99_ms": r["p99_us"] / 1e3,
        "errors": r["non2xx"] + r["socket_errors"],
        "requests": r["requests"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tokens", type=int, default=5_000_000)
    p.add_argument("--backends", nargs="+", default=["embedrs", "gensim"])
    p.add_argument(
        "--endpoints", nargs="+", default=["similar", "similar_approx", "vectors", "infer"]
    )
    p.add_argument(
        "--blas-threads",
        type=int,
        default=0,
        help="OPENBLAS_NUM_THREADS of the servers (0: BLAS default, every core)",
    )
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    p.add_argument(
        "--client",
        choices=["aiohttp", "wrk"],
        default="wrk" if shutil.which("wrk") else "aiohttp",
        help="load generator: wrk (apt install wrk; the default where installed) or the "
        "aiohttp client in this process",
    )
    p.add_argument("--model-epochs", type=int, default=10, help="the model's training epochs")
    p.add_argument("--client-threads", type=int, default=1, help="wrk's threads")
    p.add_argument(
        "--ef-search",
        type=int,
        default=None,
        help="embedrs serve --ef-search (default: the server's, 64)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="rounds over every endpoint; the table reports the median round (lower middle "
        "for an even count) and the errors of all rounds",
    )
    p.add_argument(
        "--annoy-trees",
        type=int,
        default=200,
        help="trees of the gensim side's AnnoyIndexer (200: recall@10 about 0.95 here)",
    )
    args = p.parse_args()
    import numpy  # noqa: F401 - loads BLAS so that threadpoolctl can report it
    from threadpoolctl import threadpool_info

    print("BLAS:", [(i["internal_api"], i.get("architecture")) for i in threadpool_info()])
    model = train_model(args.cache, args.tokens, args.model_epochs)
    from gensim.models import Doc2Vec

    wv = Doc2Vec.load(str(model), mmap="r").wv
    words = list(wv.index_to_key[:10000])
    print(
        f"model {model.name}: {len(wv)} words x {wv.vector_size}; {args.workers} workers, "
        f"{args.connections} connections, {args.duration:.0f} s per endpoint, "
        f"client {args.client}"
    )
    annoy_path = (
        annoy_index(args.cache, model, args.annoy_trees) if "gensim" in args.backends else None
    )
    if "similar_approx" in args.endpoints:
        approximate_recall(model, annoy_path, words, args.ef_search)
    servers = {
        b: start(b, model, args.workers, args.blas_threads, annoy_path, args.ef_search)
        for b in args.backends
    }
    runs: dict[tuple[str, str], list[dict]] = {}
    try:
        for rep in range(args.repeats):
            for i, endpoint in enumerate(args.endpoints):
                # the order of the backends alternates per endpoint and per round
                order = args.backends if (i + rep) % 2 == 0 else list(reversed(args.backends))
                for b in order:
                    if b == "gensim" and endpoint == "similar_approx" and annoy_path is None:
                        continue
                    if args.client == "wrk":
                        r = load_wrk(
                            servers[b][1],
                            endpoint,
                            words,
                            args.connections,
                            args.duration,
                            args.client_threads,
                        )
                    else:
                        r = asyncio.run(
                            load(servers[b][1], endpoint, words, args.connections, args.duration)
                        )
                    runs.setdefault((b, endpoint), []).append(r)
                    print(
                        f"  round {rep + 1} {endpoint:15s} {b:8s} {r['rps']:8.0f} req/s  "
                        f"p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
                        f"errors {r['errors']}/{r['requests']}",
                        flush=True,
                    )
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=60)
    # per backend and endpoint: the median round by requests/s, errors of all rounds
    results: dict[tuple[str, str], dict] = {}
    for key, rs in runs.items():
        mid = sorted(rs, key=lambda r: r["rps"])[(len(rs) - 1) // 2]
        results[key] = dict(
            mid,
            errors=sum(r["errors"] for r in rs),
            requests=sum(r["requests"] for r in rs),
            rounds=[round(r["rps"]) for r in rs],
        )
    print(
        "\n| endpoint | embedrs req/s | gensim req/s | ratio | embedrs p50/p99 ms | gensim p50/p99 ms | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for endpoint in args.endpoints:
        e, g = results.get(("embedrs", endpoint)), results.get(("gensim", endpoint))
        if e is None:
            continue
        ratio = f"{e['rps'] / g['rps']:.2f}x" if g else "n/a"
        gtxt = f"{g['rps']:.0f}" if g else "n/a"
        glat = f"{g['p50_ms']:.1f} / {g['p99_ms']:.1f}" if g else "n/a"
        errs = e["errors"] + (g["errors"] if g else 0)
        print(
            f"| {endpoint} | {e['rps']:.0f} | {gtxt} | {ratio} | {e['p50_ms']:.1f} / "
            f"{e['p99_ms']:.1f} | {glat} | {errs} |"
        )
    print(json.dumps({f"{b}:{e}": r for (b, e), r in results.items()}))


if __name__ == "__main__":
    main()
