"""Serving: queries while the model changes, atomic model swap, and the
``embedrs serve`` HTTP service started as a user would (a subprocess on
127.0.0.1, a free port), every endpoint and bad request, then SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from embedrs.corpora import TaggedDocument
from embedrs.models import Doc2Vec, KeyedVectors, Word2Vec
from embedrs.serve import ModelHolder, load_served

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import embedrs

#: Where the embedrs under test lives (the source tree or an installed wheel):
#: the server subprocesses import the same one.
PACKAGE_PARENT = Path(embedrs.__file__).resolve().parent.parent


def corpus(seed: int = 0, n: int = 400) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(120)]
    return [list(rng.choice(vocab, size=12)) for _ in range(n)]


# --------------------------------------------------------------------------
# queries while the model changes
# --------------------------------------------------------------------------


def test_queries_keep_working_while_vectors_are_added() -> None:
    """A query thread hammers most_similar while another thread adds vectors."""
    rng = np.random.default_rng(1)
    kv = KeyedVectors(8)
    kv.add_vectors([f"k{i}" for i in range(200)], rng.normal(size=(200, 8)).astype(np.float32))
    errors: list[BaseException] = []
    done = threading.Event()
    answered = [0]

    def reader() -> None:
        try:
            while not done.is_set() or answered[0] < 20:
                res = kv.most_similar("k1", topn=5)
                assert len(res) == 5 and all(k != "k1" for k, _ in res)
                assert kv["k2"].shape == (8,)
                answered[0] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(200, 1200, 10):
            kv.add_vectors(
                [f"k{j}" for j in range(i, i + 10)], rng.normal(size=(10, 8)).astype(np.float32)
            )
    finally:
        done.set()
        t.join(timeout=120)
    assert not errors, errors[:3]
    assert len(kv) == 1200 and answered[0] >= 20


def test_doc2vec_queries_and_inference_while_it_trains() -> None:
    docs = [TaggedDocument(w, [i]) for i, w in enumerate(corpus(2, 600))]
    model = Doc2Vec(docs, vector_size=16, min_count=1, epochs=1, workers=2, seed=1)
    errors: list[BaseException] = []
    done = threading.Event()
    answered = [0]

    def reader() -> None:
        try:
            while not done.is_set() or answered[0] < 5:
                assert len(model.wv.most_similar("w3", topn=3)) == 3
                assert len(model.dv.most_similar(0, topn=3)) == 3
                assert np.isfinite(model.infer_vector(["w1", "w2"], epochs=5)).all()
                answered[0] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    try:
        model.train(docs, total_examples=len(docs), epochs=10)
    finally:
        done.set()
        t.join(timeout=120)
    assert not errors, errors[:3]


def test_model_swap_is_atomic_for_requests_in_flight(tmp_path: Path) -> None:
    a = Word2Vec(corpus(3), vector_size=8, min_count=1, epochs=1, workers=1, seed=1)
    b = Word2Vec(
        [[w.replace("w", "v") for w in s] for s in corpus(4)],
        vector_size=8,
        min_count=1,
        epochs=1,
        workers=1,
        seed=2,
    )
    pa, pb = tmp_path / "a.model", tmp_path / "b.model"
    a.save(str(pa))
    b.save(str(pb))
    holder = ModelHolder(load_served(pa))
    in_flight = holder.current  # a request that started before the swap
    errors: list[BaseException] = []
    stop = threading.Event()

    def requests() -> None:
        try:
            while not stop.is_set():
                s = holder.current
                key = s.kv.index_to_key[0]
                assert s.kv.most_similar(key, topn=2)[0][0] in s.kv.key_to_index
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=requests) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(5):
        holder.swap(pb)
        holder.swap(pa)
    old = holder.swap(pb)
    # the replaced model still answers the request that holds it
    assert old.path == str(pa)
    assert in_flight.kv.most_similar("w1", topn=1)[0][0].startswith("w")
    with pytest.raises(FileNotFoundError):
        holder.swap(tmp_path / "missing.model")
    assert holder.current.path == str(pb)  # a failed swap keeps the current model
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


# --------------------------------------------------------------------------
# the HTTP service
# --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(port: int, method: str, path: str, body: Any = None, raw: bytes | None = None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


class Server:
    def __init__(self, model: Path, *extra: str) -> None:
        self.port = _free_port()
        env = dict(os.environ, PYTHONPATH=str(PACKAGE_PARENT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "embedrs", "-q", "serve", str(model), "--port", str(self.port)]
            + list(extra),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(self.proc.stdout.read().decode())
            try:
                if _call(self.port, "GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("the server did not come up in 60 s")

    def stop(self) -> bool:
        """SIGTERM; True when the server shut down gracefully (uvicorn finishes the
        requests in flight, logs it, then exits 0 or re-raises the signal)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        out = self.proc.stdout.read().decode(errors="replace")
        return code in (0, -signal.SIGTERM) and "Finished server process" in out


@pytest.fixture(scope="module")
def d2v_server(tmp_path_factory: pytest.TempPathFactory):
    docs = [TaggedDocument(w, [f"d{i}"]) for i, w in enumerate(corpus(5, 300))]
    model = Doc2Vec(docs, vector_size=16, min_count=1, epochs=3, workers=1, seed=1)
    path = tmp_path_factory.mktemp("serve") / "d2v.model"
    model.save(str(path))
    server = Server(path, "--index", "hnsw", "--workers", "2")
    yield server, model
    assert server.stop(), "graceful SIGTERM"


def test_health(d2v_server) -> None:
    server, model = d2v_server
    status, body = _call(server.port, "GET", "/health")
    assert status == 200
    assert body["keys"] == len(model.wv) and body["vector_size"] == 16
    assert body["index"] and body["infer"]


def test_similar_get_and_post_match_the_library(d2v_server) -> None:
    server, model = d2v_server
    want = model.wv.most_similar("w5", topn=4)
    status, body = _call(server.port, "GET", "/similar?key=w5&topn=4")
    assert status == 200
    assert [k for k, _ in body["results"]] == [k for k, _ in want]
    assert np.allclose([s for _, s in body["results"]], [s for _, s in want], atol=1e-5)
    want = model.wv.most_similar(positive=["w1", "w2"], negative=["w3"], topn=3)
    status, body = _call(
        server.port, "POST", "/similar", {"positive": ["w1", "w2"], "negative": ["w3"], "topn": 3}
    )
    assert status == 200 and [k for k, _ in body["results"]] == [k for k, _ in want]
    status, body = _call(
        server.port, "POST", "/similar", {"positive": ["w5"], "topn": 5, "approximate": True}
    )
    assert status == 200 and len(body["results"]) == 5
    exact = {k for k, _ in model.wv.most_similar("w5", topn=5)}
    assert len(exact & {k for k, _ in body["results"]}) >= 4
    assert "w5" not in {k for k, _ in body["results"]}


def test_vectors_and_infer(d2v_server) -> None:
    server, model = d2v_server
    status, body = _call(server.port, "POST", "/vectors", {"keys": ["w1", "w7"]})
    assert status == 200
    # float32 values written as their shortest decimals read back exactly
    assert np.array_equal(np.array(body["vectors"], dtype=np.float32), model.wv[["w1", "w7"]])
    status, body = _call(server.port, "POST", "/infer", {"words": ["w1", "w2", "w3"]})
    assert status == 200
    # inference is deterministic for a given document
    want = model.infer_vector(["w1", "w2", "w3"])
    assert np.array_equal(np.array(body["vector"], dtype=np.float32), want)


def test_floats_json_reads_back_exactly() -> None:
    from embedrs.serve.app import floats_json

    rng = np.random.default_rng(5)
    values = (rng.standard_normal((7, 33)) * 10.0 ** rng.integers(-40, 38, (7, 33))).astype(
        np.float32
    )
    values[0, :4] = [0.0, -0.0, np.float32(1e-45), np.finfo(np.float32).max]
    text = floats_json(values)
    assert np.array_equal(np.array(json.loads(text), dtype=np.float32), values)
    # the shortest decimal of each float32, not its float64 widening
    assert floats_json(np.array([0.1, -2.5, 1.0], dtype=np.float32)) == b"[0.1,-2.5,1.0]"
    # JSON has no NaN or infinity: null, which every parser reads
    assert json.loads(floats_json(np.array([np.nan, np.inf, -np.inf, 3.0]))) == [
        None,
        None,
        None,
        3.0,
    ]
    # strided and float64 input; empty shapes
    assert json.loads(floats_json(values[:, ::5])) == json.loads(floats_json(values[:, ::5].copy()))
    assert floats_json(np.zeros((2, 0), dtype=np.float32)) == b"[[],[]]"
    assert floats_json(np.zeros(0)) == b"[]"
    with pytest.raises(ValueError, match="1-D or 2-D"):
        floats_json(np.zeros((2, 2, 2), dtype=np.float32))


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("GET", "/similar?key=nope", None, 404, "nope"),
        ("POST", "/similar", {"positive": ["w1", "nope2"]}, 404, "nope2"),
        ("POST", "/vectors", {"keys": ["w1", "nope3"]}, 404, "nope3"),
        ("GET", "/similar", None, 422, "key"),
        ("GET", "/similar?key=w1&topn=abc", None, 422, "topn"),
        ("GET", "/similar?key=w1&topn=0", None, 422, "topn"),
        ("GET", "/similar?key=w1&topn=100000", None, 413, "1000"),
        ("POST", "/similar", {"positive": "w1", "topn": "ten"}, 422, "topn"),
        ("POST", "/similar", {"positive": [1.5]}, 422, "positive"),
        ("POST", "/similar", {}, 422, "positive"),
        ("POST", "/similar", [1, 2], 422, "object"),
        ("POST", "/similar", {"positive": ["w1"], "approximate": "yes"}, 422, "approximate"),
        ("POST", "/similar", {"positive": ["w1"] * 1001}, 413, "1000"),
        ("POST", "/vectors", {}, 422, "keys"),
        ("POST", "/vectors", {"keys": ["w1"] * 1001}, 413, "1000"),
        ("POST", "/infer", {"words": "w1 w2"}, 422, "words"),
        ("POST", "/infer", {"words": ["w1"] * 10001}, 413, "10000"),
    ],
)
def test_bad_requests(d2v_server, method, path, body, status, needle) -> None:
    server, _ = d2v_server
    got, answer = _call(server.port, method, path, body)
    assert got == status, answer
    assert needle in answer["detail"]


def test_malformed_and_oversized_bodies(d2v_server) -> None:
    server, _ = d2v_server
    status, answer = _call(server.port, "POST", "/similar", raw=b"{not json")
    assert status == 400 and "JSON" in answer["detail"]
    # declared too large: answered before the body is sent (a client sending all
    # of it would see the connection closed under it, as with any server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /vectors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2097152\r\n\r\n" + b"x" * 1000
        )
        reply = b""
        while not reply.endswith(b"}"):
            part = sock.recv(65536)
            if not part:
                break
            reply += part
        text = reply.decode()
    assert text.startswith("HTTP/1.1 413") and "1048576 bytes" in text

    # streamed without a length: cut off at the limit
    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    req = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/vectors", data=chunks(), method="POST"
    )
    try:
        urllib.request.urlopen(req, timeout=30)
        raise AssertionError("accepted an oversized body")
    except urllib.error.HTTPError as err:
        assert err.code == 413
    except urllib.error.URLError:
        pass  # the server answered and closed while the client was still sending
    # the workers are still up
    assert _call(server.port, "GET", "/health")[0] == 200


def test_word_vectors_server_without_index_or_inference(tmp_path: Path) -> None:
    model = Word2Vec(corpus(6), vector_size=8, min_count=1, epochs=1, workers=1, seed=1)
    path = tmp_path / "vectors.txt"
    model.wv.save_word2vec_format(str(path))
    server = Server(path)
    try:
        status, body = _call(server.port, "POST", "/infer", {"words": ["w1"]})
        assert status == 400 and "Doc2Vec" in body["detail"]
        status, body = _call(
            server.port, "POST", "/similar", {"positive": ["w1"], "approximate": True}
        )
        assert status == 400 and "index" in body["detail"]
        status, body = _call(server.port, "GET", "/similar?key=w1&topn=3")
        assert status == 200 and len(body["results"]) == 3
    finally:
        assert server.stop()


def test_serve_refuses_a_missing_model_with_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_PARENT))
    proc = subprocess.run(
        [sys.executable, "-m", "embedrs", "serve", str(tmp_path / "missing.model")],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("embedrs serve: error:") and "missing.model" in proc.stderr


def test_load_served_reads_gensim_files_memory_mapped(tmp_path: Path) -> None:
    gensim_models = pytest.importorskip("gensim.models")
    from gensim.models.doc2vec import TaggedDocument as GensimDoc

    docs = [GensimDoc(w, [i]) for i, w in enumerate(corpus(7, 100))]
    g = gensim_models.Doc2Vec(docs, vector_size=8, min_count=1, epochs=1, workers=1, seed=1)
    d2v_path = tmp_path / "gensim_d2v.model"
    g.save(str(d2v_path), sep_limit=0)  # arrays in .npy side files: mapped
    served = load_served(d2v_path)
    assert served.model is not None and served.model.infer_vector(["w1"]).shape == (8,)
    assert isinstance(served.kv.vectors, np.memmap)
    assert served.kv.most_similar("w1", topn=1)[0][0] == g.wv.most_similar("w1", topn=1)[0][0]
    w2v_path = tmp_path / "gensim_w2v.model"
    gensim_models.Word2Vec(corpus(8, 50), vector_size=8, min_count=1, epochs=1).save(str(w2v_path))
    served = load_served(w2v_path)
    assert served.model is None and "w1" in served.kv.key_to_index


def _saved_random_vectors(tmp_path: Path, n: int, dim: int, seed: int) -> tuple[KeyedVectors, Path]:
    """``n`` random vectors with keys ``w0..``, saved natively to ``tmp_path``."""
    rng = np.random.default_rng(seed)
    kv = KeyedVectors(dim)
    kv.add_vectors([f"w{i}" for i in range(n)], rng.normal(size=(n, dim)).astype(np.float32))
    path = tmp_path / "kv.model"
    kv.save(str(path))
    return kv, path


def _worker_env(
    monkeypatch: pytest.MonkeyPatch,
    model: Path,
    index: str = "",
    int8: str = "",
    ef_search: str = "",
) -> None:
    """What ``embedrs serve --workers N`` hands its workers (``app_from_env``)."""
    monkeypatch.setenv("EMBEDRS_SERVE_MODEL", str(model))
    monkeypatch.setenv("EMBEDRS_SERVE_INDEX", index)
    monkeypatch.setenv("EMBEDRS_SERVE_INT8", int8)
    monkeypatch.setenv("EMBEDRS_SERVE_EF_SEARCH", ef_search)


def test_workers_map_one_int8_copy_built_by_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embedrs._cli.serve import _shared_int8
    from embedrs.serve.app import app_from_env

    kv, path = _saved_random_vectors(tmp_path, 33000, 64, seed=11)
    assert kv.vectors.size >= kv.int8_min_size  # large enough for the int8 pass
    parent = load_served(path)
    int8 = _shared_int8(parent.kv, str(tmp_path))
    assert int8 is not None and os.path.getsize(int8) > 33000 * 64
    _worker_env(monkeypatch, path, int8=int8)
    worker = app_from_env().state.holder.current.kv
    assert worker._int8[1].is_mapped  # the parent's file, not a private copy
    assert worker.most_similar("w5", topn=6) == kv.most_similar("w5", topn=6)
    assert worker._keytab is not None  # keys looked up in the stored blob, no dict
    # a small model gets no int8 file
    small = KeyedVectors(4)
    small.add_vectors(["a", "b"], np.eye(2, 4, dtype=np.float32))
    assert _shared_int8(small, str(tmp_path)) is None


def test_ef_search_reaches_every_worker_and_needs_an_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embedrs.serve.app import app_from_env
    from embedrs.similarities import HnswIndexer

    kv, path = _saved_random_vectors(tmp_path, 300, 8, seed=5)
    index = tmp_path / "kv.hnsw"
    HnswIndexer(kv, ef_search=40).save(str(index))
    _worker_env(monkeypatch, path, index=str(index))
    assert app_from_env().state.holder.current.indexer.ef_search == 40  # the file's value
    _worker_env(monkeypatch, path, index=str(index), ef_search="7")
    assert app_from_env().state.holder.current.indexer.ef_search == 7  # --ef-search 7
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_PARENT))
    for extra, needle in [
        (["--ef-search", "10"], "--index hnsw"),  # nothing for it to set
        (["--index", "hnsw", "--ef-search", "0"], "must be >= 1"),
    ]:
        proc = subprocess.run(
            [sys.executable, "-m", "embedrs", "serve", str(path), *extra],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2 and needle in proc.stderr, proc.stderr


def test_work_estimates_send_long_calls_to_the_pool() -> None:
    """Short calls run on the event loop, long ones in the pool: the estimates grow with
    the model's size, the document's length and the output rows' width."""
    from embedrs.serve.app import INLINE_WORK, infer_work, similar_work
    from embedrs.serve.holder import Served

    small = KeyedVectors(100)
    small.add_vectors([f"w{i}" for i in range(1000)], np.zeros((1000, 100), np.float32))
    big = KeyedVectors(300)
    big.add_vectors([f"w{i}" for i in range(20000)], np.zeros((20000, 300), np.float32))
    assert similar_work(Served(path="s", kv=small), 1, False) <= INLINE_WORK
    assert similar_work(Served(path="b", kv=big), 1, False) > INLINE_WORK
    # approximate search without an index is exact search
    assert similar_work(Served(path="b", kv=big), 1, True) > INLINE_WORK

    def doc2vec(**kw: Any) -> Served:
        docs = [TaggedDocument(["w1", "w2", "w3"], [0])]
        m = Doc2Vec(docs, vector_size=100, min_count=1, epochs=10, workers=1, **kw)
        return Served(path="d", kv=m.wv, model=m)

    mean, concat = doc2vec(dm=1), doc2vec(dm=1, dm_concat=1)
    assert infer_work(mean, 50) <= INLINE_WORK < infer_work(mean, 5000)
    assert infer_work(concat, 50) > 3 * infer_work(mean, 50)
    assert infer_work(Served(path="k", kv=small), 50) == 0
