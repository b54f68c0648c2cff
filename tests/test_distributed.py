"""embedrs.distributed on a real local multi-node Ray cluster.

The fixture starts a head node and a second node process with ``ray start`` on
127.0.0.1 (one CPU each, a private temp dir, a free port), so two actors land
on two raylets and exchange deltas through Ray's object store. The nodes are
stopped by killing the process groups this module started, never with
``ray stop`` (which would stop every Ray process of the user).
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from embedrs.distributed import _sync
from embedrs.distributed._plan import Range, plan_shares, read_lines, write_chunks

ray = pytest.importorskip("ray")

from embedrs.distributed import (
    SyncStats,
    _train,
    infer_vectors,
    lookup_vectors,
    most_similar,
    train_doc2vec,
    train_word2vec,
)
from embedrs.models.doc2vec import Doc2Vec
from embedrs.models.word2vec import Word2Vec

GROUPS, PER_GROUP = 8, 12


def _corpus(dirname: str, files: int = 3, lines: int = 900, seed: int = 0) -> list[str]:
    """Sentences drawn from one of GROUPS topics each, spread over ``files`` files."""
    rng = random.Random(seed)
    paths = []
    for k in range(files):
        path = os.path.join(dirname, f"part{k}.txt")
        with open(path, "w", encoding="utf-8") as fh:
            for _ in range(lines):
                g = rng.randrange(GROUPS)
                words = [f"g{g}w{rng.randrange(PER_GROUP)}" for _ in range(rng.randint(4, 20))]
                fh.write(" ".join(words) + "\n")
        paths.append(path)
    return paths


def _concat(paths: list[str], out: str) -> str:
    with open(out, "wb") as fh:
        for p in paths:
            with open(p, "rb") as src:
                fh.write(src.read())
    return out


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _group_accuracy(wv) -> float:
    """Share of words whose 5 nearest neighbours are mostly from their own topic."""
    hits = 0
    for w in wv.index_to_key:
        group = w.split("w")[0]
        near = [n for n, _ in wv.most_similar(w, topn=5)]
        hits += sum(n.split("w")[0] == group for n in near) >= 3
    return hits / len(wv.index_to_key)


# ---------------------------------------------------------------- no cluster needed


def test_shares_cover_the_corpus_once(tmp_path):
    paths = _corpus(str(tmp_path), files=3, lines=50)
    whole = b"".join(_read(p) for p in paths)
    for n in (1, 2, 3, 5, 40):
        shares = plan_shares(paths, n)
        assert len(shares) == n
        got = b"".join(line for share in shares for r in share for line in read_lines(r))
        assert got == whole


def test_word2vec_chunks_cut_long_lines_where_the_reader_does(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(f"t{i}" for i in range(25000)) + "\nshort line\n")
    chunks = write_chunks([Range(str(path))], 0, 12000, str(tmp_path), split_lines=True)
    lines = [ln.split() for c in chunks for ln in _read(c.path).splitlines()]
    assert [len(x) for x in lines] == [10000, 10000, 5000, 2]
    assert sum(c.words for c in chunks) == 25002
    docs = write_chunks([Range(str(path))], 7, 12000, str(tmp_path), split_lines=False)
    assert [(c.first_line, c.lines) for c in docs] == [(7, 1), (8, 1)]


def test_chunks_of_a_counted_share_are_equal_rounds(tmp_path):
    # 43 lines of 100 words: cut every 1,000 words the last chunk would hold 300
    path = tmp_path / "share.txt"
    path.write_text("".join(" ".join(f"w{i}" for i in range(100)) + "\n" for _ in range(43)))
    share = [Range(str(path))]
    greedy = write_chunks(share, 0, 1000, str(tmp_path), split_lines=True)
    assert [c.words for c in greedy] == [1000] * 4 + [300]
    for target, sizes in (
        (1000, [1100, 1100, 1100, 1000]),
        (1500, [1500, 1400, 1400]),
        (10**6, [4300]),
    ):
        chunks = write_chunks(share, 5, target, str(tmp_path), split_lines=False, share_words=4300)
        assert [c.words for c in chunks] == sizes
        assert [c.first_line for c in chunks] == [
            5 + sum(sizes[:k]) // 100 for k in range(len(sizes))
        ]
        text = b"".join(_read(c.path) for c in chunks)
        assert text == path.read_bytes()
    # a count that is off (here too low) never makes more chunks than it planned
    assert len(write_chunks(share, 0, 1000, str(tmp_path), split_lines=True, share_words=2000)) == 2


def test_combine_sum_and_mean():
    a = _sync.RowDelta(np.array([0, 2], np.int32), np.array([[1.0], [2.0]], np.float32))
    b = _sync.RowDelta(np.array([2, 3], np.int32), np.array([[4.0], [8.0]], np.float32))
    s = _sync.combine([a, b], 5, 1, "sum")
    m = _sync.combine([a, b], 5, 1, "mean")
    assert s.rows.tolist() == [0, 2, 3] and s.values[:, 0].tolist() == [1.0, 6.0, 8.0]
    assert m.values[:, 0].tolist() == [1.0, 3.0, 8.0]
    w = np.zeros((5, 1), np.float32)
    _sync.apply(w, s)
    assert w[:, 0].tolist() == [1.0, 0.0, 6.0, 8.0, 0.0]
    _sync.add_rows(w, _sync.combine([a, b], 5, 1, "mean", dtype=np.float16), -1.0)
    assert w[:, 0].tolist() == [0.0, 0.0, 3.0, 0.0, 0.0]


@pytest.mark.parametrize("mode", ["sum", "mean", "adaptive", "scaled"])
def test_combine_in_half_precision_on_threads_equals_the_encoded_float32_combine(mode):
    rng = np.random.default_rng(3)
    n, width = 30_000, 5

    def delta(share: float) -> _sync.RowDelta:
        rows = np.sort(rng.choice(n, size=int(n * share), replace=False)).astype(np.int32)
        return _sync.RowDelta(rows, rng.normal(size=(len(rows), width)).astype(np.float16))

    parts = [delta(0.7), delta(0.4), delta(0.05)]
    # the reference: the float32 combine rounded by NumPy (to nearest, ties to even)
    f32 = _sync.combine(parts, n, width, mode, 2)
    want = _sync.RowDelta(f32.rows, f32.values.astype(np.float16))
    for threads in (1, 2, 5):
        got = _sync.combine(parts, n, width, mode, 2, np.float16, threads=threads)
        assert got.values.dtype == np.float16
        assert np.array_equal(got.rows, want.rows)
        assert np.array_equal(got.values.view(np.uint16), want.values.view(np.uint16))
    # a sum beyond float16's range is refused, not sent as infinity
    big = _sync.RowDelta(np.array([1], np.int32), np.full((1, width), 6e4, np.float32))
    assert np.isfinite(_sync.combine([big, big], n, width, "sum").values).all()
    with pytest.raises(FloatingPointError, match="not finite"):
        _sync.combine([big, big], n, width, "sum", 1, np.float16, threads=2)


def test_adaptive_combine_means_alike_rows_and_sums_independent_ones():
    rows = np.array([0, 1, 2], np.int32)
    a = _sync.RowDelta(rows, np.array([[1.0, 0.0], [1.0, 0.0], [2.0, 2.0]], np.float32))
    b = _sync.RowDelta(rows[:2], np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))
    c = _sync.combine([a, b], 4, 2, "adaptive")
    assert c.rows.tolist() == [0, 1, 2]
    assert c.values.tolist() == [[1.0, 0.0], [1.0, 1.0], [2.0, 2.0]]  # mean, sum, own
    assert _sync.resolve("mean", 8) == "mean"


def test_scaled_combine_gives_one_senders_rows_the_plain_rate_and_shared_rows_the_mean():
    a = _sync.RowDelta(np.array([0, 1], np.int32), np.array([[4.0], [8.0]], np.float32))
    b = _sync.RowDelta(np.array([1, 2], np.int32), np.array([[4.0], [2.0]], np.float32))
    c = _sync.RowDelta(np.array([1], np.int32), np.array([[6.0]], np.float32))
    # three replicas at twice the rate: rows 0 and 2 (one sender) halved, row 1
    # (three senders, more than the factor) averaged
    s = _sync.combine([a, b, c], 3, 1, "scaled", 2)
    assert s.rows.tolist() == [0, 1, 2] and s.values[:, 0].tolist() == [2.0, 6.0, 1.0]
    s = _sync.combine([a, b, c], 3, 1, "scaled", 4)
    assert s.values[:, 0].tolist() == [1.0, 4.5, 0.5]
    with pytest.raises(ValueError, match="scale"):
        _sync.combine([a], 3, 1, "scaled", 0)
    # the replicas' learning-rate factor: the replica count, capped
    assert [_sync.lr_scale("scaled", k) for k in (1, 2, 3, 4, 16)] == [1, 2, 3, 4, 4]
    assert _sync.MAX_LR_SCALE == 4
    assert _sync.lr_scale("sum", 4) == _sync.lr_scale("adaptive", 4) == 1
    for k in (2, 4, 16):
        assert _sync.resolve("auto", k) == "scaled"
    assert _sync.resolve("auto", 1) == "sum"


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_take_finds_changed_rows_and_adopts_the_encoded_values(dtype):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 3)).astype(np.float32)
    cur = base.copy()
    cur[1, 2] += 0.123456
    cur[4] = -1.0
    old, trained = base.copy(), cur.copy()
    d = _sync.take(cur, base, dtype)
    assert d.rows.tolist() == [1, 4] and d.values.dtype == dtype
    assert d.nbytes == 2 * 4 + 2 * 3 * np.dtype(dtype).itemsize
    # the encoded differences are NumPy's own rounding of the float32 differences
    assert np.array_equal(d.values, (trained - old)[[1, 4]].astype(dtype))
    assert np.array_equal(cur, base)  # both adopted base + encoded difference
    assert np.array_equal(base[1], old[1] + d.values[0].astype(np.float32))
    assert np.array_equal(np.delete(base, [1, 4], axis=0), np.delete(old, [1, 4], axis=0))
    assert len(_sync.take(cur, base, dtype).rows) == 0  # nothing changed since


def test_sync_kernels_refuse_bad_arrays():
    m = np.zeros((4, 3), np.float32)
    bad_rows = _sync.RowDelta(np.array([4], np.int32), np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="out of range"):
        _sync.add_rows(m, bad_rows)
    with pytest.raises(ValueError, match="C-contiguous"):
        _sync.take(np.zeros((4, 6), np.float32)[:, ::2], m, np.float16)
    with pytest.raises(TypeError, match="shape"):
        _sync.take(m, np.zeros((4, 2), np.float32), np.float16)
    with pytest.raises(ValueError, match="mirror"):
        good = _sync.RowDelta(np.array([0], np.int32), np.ones((1, 3), np.float32))
        _sync.add_rows(m, good, mirror=np.zeros((3, 3), np.float32))
    assert not m.any()


def _pipeline(model, shares, depth, rounds, kill=None, first_lines=None, pipelined=None):
    """Replica objects driven in-process as ``_train.train`` drives the actors: ``depth``
    rounds queued per replica, each step carrying the newest combined delta at the time
    it was queued; ``kill=(rank, g)`` rebuilds that replica from the master copy before
    its round ``g``, as a dead actor is. ``model`` is the master copy. The replicas keep
    three copies of each matrix if ``pipelined`` (default: ``depth > 1``), else two."""
    if pipelined is None:
        pipelined = depth > 1
    import copy

    from embedrs.distributed._replica import Replica, matrices

    master = matrices(model)

    def make(rank, synced_round):
        rep = copy.deepcopy(model)
        first = first_lines[rank] if first_lines else 0
        return Replica(rep, rank, shares[rank], first, 400, 1, "float16", synced_round, pipelined)

    reps = [make(r, -1) for r in range(len(shares))]
    total = int(model.corpus_total_words) * rounds
    latest, undelivered = None, []
    queues = [[] for _ in reps]
    for g in range(min(depth, rounds)):
        for q in queues:
            q.append(latest)
    for g in range(rounds):
        parts = []
        for r in range(len(reps)):
            combined = queues[r].pop(0)
            if kill == (r, g):
                reps[r] = make(r, g - 1)
            chunk = g % len(reps[r].plan())
            sched = dict(
                epoch=g, alpha=0.05, min_alpha=0.001, words_before=g * 400, total_words=total
            )
            parts.append(reps[r].step(combined, chunk, sched, g)[0])
        combined = {}
        for name in master:
            c = _sync.combine(
                [p[name] for p in parts], *master[name].shape, "sum", dtype=np.float16
            )
            _sync.apply(master[name], c)
            combined[name] = c
        latest = (g, combined)
        undelivered.append(latest)
        if g + depth < rounds:
            for q in queues:
                q.append(latest)
            undelivered.pop(0)
    for rep in reps:
        for c in undelivered:
            rep.apply(c)
    return reps


@pytest.mark.parametrize("depth, kill", [(1, None), (2, None), (2, (0, 3)), (3, (1, 5))])
def test_pipelined_replicas_end_equal_to_the_master(tmp_path, depth, kill):
    from embedrs.distributed._replica import fingerprint

    paths = _corpus(str(tmp_path), files=2, lines=300)
    model = Word2Vec(vector_size=16, min_count=1, window=3, negative=3, seed=3, workers=1)
    model.build_vocab(corpus_file=_concat(paths, str(tmp_path / "all.txt")))
    start = fingerprint(model)
    reps = _pipeline(model, plan_shares(paths, 2), depth, rounds=16, kill=kill)
    assert fingerprint(model) != start  # the master trained
    assert {rep.fingerprint() for rep in reps} == {fingerprint(model)}
    assert all(not rep.pending for rep in reps)
    model.wv.fill_norms(force=True)
    assert _group_accuracy(model.wv) > 0.6  # untrained: 0.01


@pytest.mark.parametrize("kill", [None, (1, 4)])
def test_unpipelined_replicas_keep_two_copies_and_train_the_same_model(tmp_path, kill):
    """Without pipelining a replica keeps no separate base copy and writes nothing when
    it takes its delta; the run is bit-identical to one with three copies."""
    import copy

    from embedrs.distributed._replica import fingerprint

    paths = _corpus(str(tmp_path), files=2, lines=300)
    model = Doc2Vec(vector_size=16, min_count=1, window=3, negative=3, seed=3, workers=1)
    model.build_vocab(corpus_file=_concat(paths, str(tmp_path / "all.txt")))
    shares = plan_shares(paths, 2)
    first_lines = [0, sum(1 for r in shares[0] for _ in read_lines(r))]
    prints = []
    for pipelined in (True, False):
        master = copy.deepcopy(model)
        reps = _pipeline(
            master, shares, 1, 10, kill=kill, first_lines=first_lines, pipelined=pipelined
        )
        assert {rep.fingerprint() for rep in reps} == {fingerprint(master)}
        assert all((rep.base is rep.snap) != pipelined for rep in reps)
        prints.append(fingerprint(master))
    assert prints[0] == prints[1] != fingerprint(model)
    # a pipelined round reaching a replica built without pipelining is refused
    rep = reps[0]
    delta = rep.step(
        None, 0, dict(epoch=0, alpha=0.05, min_alpha=0.001, words_before=0, total_words=10**6), 100
    )[0]
    rep.step(
        None, 1, dict(epoch=1, alpha=0.05, min_alpha=0.001, words_before=0, total_words=10**6), 101
    )
    with pytest.raises(RuntimeError, match="unpipelined"):
        rep.apply((100, delta))


@pytest.mark.parametrize("depth", [1, 2])
def test_pipelined_pv_dbow_replicas_end_equal_to_the_master(tmp_path, depth):
    """Pure PV-DBOW: the word vectors are not tracked (training never writes them);
    the replicas still end bit-identical to the master, word vectors untouched."""
    from embedrs.distributed._replica import fingerprint, matrices

    paths = _corpus(str(tmp_path), files=2, lines=300)
    model = Doc2Vec(vector_size=16, min_count=1, window=3, negative=3, seed=3, workers=1, dm=0)
    model.build_vocab(corpus_file=_concat(paths, str(tmp_path / "all.txt")))
    words = model.wv.vectors.copy()
    assert set(matrices(model)) == {"syn1neg", "dv"}
    shares = plan_shares(paths, 2)
    first_lines = [0, sum(1 for r in shares[0] for _ in read_lines(r))]
    reps = _pipeline(model, shares, depth, rounds=12, first_lines=first_lines)
    assert {rep.fingerprint() for rep in reps} == {fingerprint(model)}
    master = matrices(model)
    for rep in reps:
        for name, m in master.items():
            assert np.array_equal(rep.mats[name], m) and np.array_equal(rep.base[name], m)
    assert np.array_equal(model.wv.vectors, words)
    assert set(matrices(Doc2Vec(dm=0, dbow_words=1))) == {"syn0", "syn1neg", "dv"}


def test_bad_input_raises_before_any_cluster_work(tmp_path):
    with pytest.raises(FileNotFoundError):
        train_word2vec([str(tmp_path / "missing-*.txt")])
    path = _corpus(str(tmp_path), files=1, lines=5)
    with pytest.raises(ValueError, match="combine"):
        train_word2vec(path, combine="median")
    with pytest.raises(ValueError, match="sync_dtype"):
        train_word2vec(path, sync_dtype="int8")
    with pytest.raises(TypeError, match="corpus_files"):
        train_word2vec(path, sentences=[["a"]])
    with pytest.raises(ValueError, match="sync_every_words"):
        train_word2vec(path, sync_every_words=0)
    with pytest.raises(ValueError, match="vector_size"):
        train_word2vec(path, vector_size=0)


# ---------------------------------------------------------------- a two-node cluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli(*args: str, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", *args, "--block"]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _marked(marker: str) -> list[int]:
    """Pids of this user's processes whose environment holds ``EMBEDRS_TEST_RAY=marker``."""
    tag = f"EMBEDRS_TEST_RAY={marker}".encode()
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/environ", "rb") as fh:
                    if tag in fh.read().split(b"\0"):
                        pids.append(int(name))
            except OSError:
                continue
    return pids


def _stop(procs: list, marker: str) -> None:
    """Stop the nodes this module started: their process groups, then any process of
    theirs (found by the marker in its environment) that left its group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while time.time() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.2)
    for _ in range(20):
        left = _marked(marker)
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.25)


@pytest.fixture(scope="module")
def cluster():
    """A head node and one more node process, 1 CPU each, on 127.0.0.1."""
    tmp = tempfile.mkdtemp(prefix="ert", dir="/tmp")  # short: Ray's socket paths
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    marker = secrets.token_hex(8)
    # Token authentication is off for this short-lived private cluster (Ray 2.5x's
    # token mode would read or write ~/.ray/auth_token, which belongs to the user).
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled", EMBEDRS_TEST_RAY=marker)
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("RAY_")}
    os.environ["RAY_AUTH_MODE"] = "disabled"
    # No usage reporting from this process either: Ray Data's collector threads
    # poll a Prometheus that is not there and format a traceback per failure,
    # and on CPython 3.11 that races with ``ast.parse`` in the main thread
    # ("AST constructor recursion depth mismatch", cpython#106905).
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_DATA_USAGE_DISABLED"] = "1"
    port = _free_port()
    common = ["--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats"]
    head = _ray_cli(
        "--head",
        f"--port={port}",
        "--node-ip-address=127.0.0.1",
        f"--temp-dir={tmp}",
        "--include-dashboard=false",
        *common,
        env=env,
    )
    procs = [head]
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while not ray.is_initialized():
            try:
                ray.init(address=address, log_to_driver=False)
            except ConnectionError:
                if time.time() > deadline or head.poll() is not None:
                    raise
                time.sleep(1)
        procs.append(
            _ray_cli(f"--address={address}", "--node-ip-address=127.0.0.1", *common, env=env)
        )
        while sum(n["Alive"] for n in ray.nodes()) < 2:
            assert time.time() < deadline, "the second Ray node did not join"
            time.sleep(0.5)
        yield address
    except Exception:
        if not ray.is_initialized():
            pytest.skip("could not start a local Ray cluster")
        raise
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _stop(procs[::-1], marker)
        shutil.rmtree(tmp, ignore_errors=True)
        for key in ("RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED", "RAY_DATA_USAGE_DISABLED"):
            os.environ.pop(key, None)
        os.environ.update(saved)


@pytest.fixture
def corpus(tmp_path):
    return _corpus(str(tmp_path))


PARAMS = dict(vector_size=16, min_count=2, window=3, epochs=3, seed=3, sample=1e-3)


def test_vocabulary_equals_single_process(cluster, corpus, tmp_path):
    whole = _concat(corpus, str(tmp_path / "all.txt"))

    def rule(word, count, min_count):
        return 1 if word.endswith("w11") else 0  # keep (RULE_KEEP) or default

    for extra in ({}, {"max_final_vocab": 40}, {"min_count": 300, "trim_rule": rule}):
        extra = dict(PARAMS, **extra)
        ref = Word2Vec(**{k: v for k, v in extra.items() if k != "trim_rule"}, workers=1)
        ref.build_vocab(corpus_file=whole, trim_rule=extra.get("trim_rule"))
        m = train_word2vec(corpus, address=cluster, num_actors=2, **dict(extra, epochs=1))
        assert m.wv.index_to_key == ref.wv.index_to_key
        assert np.array_equal(m.wv.expandos["count"], ref.wv.expandos["count"])
        assert (m.corpus_count, m.corpus_total_words) == (ref.corpus_count, ref.corpus_total_words)
        assert m.effective_min_count == ref.effective_min_count


def test_max_vocab_size_pruning_equals_single_process(cluster, corpus, tmp_path):
    whole = _concat(corpus, str(tmp_path / "all.txt"))
    params = dict(PARAMS, max_vocab_size=50, min_count=1, epochs=1)
    ref = Word2Vec(**params, workers=1)
    ref.build_vocab(corpus_file=whole)
    m = train_word2vec(corpus, address=cluster, num_actors=2, **params)
    assert m.wv.index_to_key == ref.wv.index_to_key
    assert np.array_equal(m.wv.expandos["count"], ref.wv.expandos["count"])


def test_two_actors_train_like_single_process(cluster, corpus, tmp_path):
    whole = _concat(corpus, str(tmp_path / "all.txt"))
    ref = Word2Vec(corpus_file=whole, workers=1, **PARAMS)
    stats = SyncStats()
    m = train_word2vec(
        corpus, address=cluster, num_actors=2, sync_every_words=8000, stats=stats, **PARAMS
    )
    assert isinstance(m, Word2Vec)
    assert stats.syncs >= 3 * 3 and stats.words == 3 * ref.corpus_total_words
    # Sparse: each sync moves fewer bytes than the two float32 matrices would.
    full = 2 * len(m.wv) * m.vector_size * 4
    assert 0 < stats.bytes_up / stats.syncs < 2 * full
    acc, ref_acc = _group_accuracy(m.wv), _group_accuracy(ref.wv)
    assert acc >= ref_acc - 0.1 and acc > 0.8
    path = str(tmp_path / "m.model")
    m.save(path)
    assert np.array_equal(Word2Vec.load(path).wv.vectors, m.wv.vectors)


def test_divergence_stops_training_with_a_clear_error(cluster, corpus):
    params = dict(PARAMS, alpha=1e30, min_alpha=1e30)
    with pytest.raises(RuntimeError, match="diverged.*lower alpha"):
        train_word2vec(corpus, address=cluster, num_actors=2, sync_every_words=8000, **params)


def test_more_actors_than_the_cluster_can_place_is_an_error_not_a_hang(cluster, corpus):
    # The fixture's cluster has two CPUs; Ray would leave a third actor pending forever.
    for actors, workers in ((3, 1), (1, 3), (2, 2)):
        with pytest.raises(ValueError, match=rf"needs {actors * workers} CPUs.*has 2\b"):
            train_word2vec(
                corpus, address=cluster, num_actors=actors, workers_per_actor=workers, **PARAMS
            )


def test_killed_actor_is_replaced_and_the_run_completes(cluster, corpus):
    stats = SyncStats()
    killed = []

    def kill_in_round_2(rnd, actors):
        if rnd == 2 and not killed:
            killed.append(actors[0])
            ray.kill(actors[0], no_restart=True)

    m = _train_with(cluster, corpus, None, stats, kill_in_round_2, combine="sum", overlap=True)
    assert killed and stats.restarts == 1
    assert stats.words == 3 * m.corpus_total_words  # the lost chunk was trained again
    assert _group_accuracy(m.wv) > 0.8


def test_checkpoint_lets_a_new_driver_resume(cluster, corpus, tmp_path):
    ckpt = tmp_path / "ckpt"

    class DriverDied(Exception):
        pass

    def die_in_epoch_2(rnd, actors, seen=[]):  # noqa: B006 - counts calls
        seen.append(rnd)
        if rnd == 0 and len(seen) > 1:
            raise DriverDied

    kwargs = dict(
        num_actors=2,
        address=cluster,
        sync_every_words=20000,
        checkpoint_dir=str(ckpt),
        workers_per_actor=1,
        combine="sum",
        sync_dtype="float16",
        overlap=True,
        report_delay=1.0,
        trim_rule=None,
        params=dict(PARAMS),
    )
    with pytest.raises(DriverDied):
        _train.train(Word2Vec, corpus, stats=SyncStats(), _on_round=die_in_epoch_2, **kwargs)
    assert (ckpt / "state.json").exists()
    stats = SyncStats()
    m = _train.train(Word2Vec, corpus, stats=stats, **kwargs)
    assert len(stats.per_epoch) == PARAMS["epochs"] - 1  # epoch 0 came from the checkpoint
    assert stats.words == (PARAMS["epochs"] - 1) * m.corpus_total_words
    assert _group_accuracy(m.wv) > 0.8


def test_doc2vec_two_actors(cluster, corpus, tmp_path):
    m = train_doc2vec(
        corpus,
        address=cluster,
        num_actors=2,
        sync_every_words=8000,
        dm=0,
        vector_size=16,
        min_count=1,
        epochs=20,
        seed=1,
    )
    assert isinstance(m, Doc2Vec)
    lines = [ln.split() for p in corpus for ln in _read(p).decode().splitlines()]
    assert len(m.dv) == len(lines) == m.corpus_count
    topic = [doc[0].split("w")[0] for doc in lines]
    # A document's nearest document (by its trained vector) shares its topic.
    hits = 0
    sample = range(0, len(lines), 37)
    for i in sample:
        j = m.dv.most_similar(i, topn=1)[0][0]
        hits += topic[int(j)] == topic[i]
    assert hits / len(sample) > 0.8  # single-process: 0.99 (chance: 1/8)

    path = str(tmp_path / "d2v.model")
    m.save(path)
    ds = ray.data.from_items([{"words": lines[i], "i": i} for i in range(20)])
    rows = sorted(infer_vectors(ds, path, epochs=5, seed=7).take_all(), key=lambda r: r["i"])
    for r in rows:
        assert np.allclose(r["vector"], m.infer_vector(lines[r["i"]], epochs=5, seed=7))


def test_vector_lookup_and_most_similar_over_ray_data(cluster, corpus, tmp_path):
    m = Word2Vec(corpus_file=_concat(corpus, str(tmp_path / "a.txt")), workers=1, **PARAMS)
    path = str(tmp_path / "kv.kv")
    m.wv.save(path)
    keys = [*m.wv.index_to_key[:10], "not-a-word"]
    ds = ray.data.from_items([{"word": k} for k in keys])
    got = {r["word"]: r for r in lookup_vectors(ds, path).take_all()}
    for k in keys[:10]:
        assert got[k]["vector_found"] and np.array_equal(got[k]["vector"], m.wv[k])
    assert not got["not-a-word"]["vector_found"]
    near = {r["word"]: r for r in most_similar(ds, path, topn=3).take_all()}
    for k in keys[:10]:
        want = m.wv.most_similar(k, topn=3)
        assert list(near[k]["similar"]) == [w for w, _ in want]
        assert np.allclose(near[k]["similarity"], [s for _, s in want], atol=1e-5)
    assert len(near["not-a-word"]["similar"]) == 0


@pytest.mark.parametrize("documents", [True, False])
def test_default_round_is_words_per_thread_times_threads(cluster, corpus, monkeypatch, documents):
    """Without ``sync_every_words``, both models with two actors sync every
    DEFAULT_WORDS_PER_THREAD words per engine thread."""
    monkeypatch.setattr(_train, "DEFAULT_WORDS_PER_THREAD", 4000)
    monkeypatch.setattr(_train, "MIN_OUTPUT_ONLY_WORDS_PER_THREAD", 3000)
    stats = SyncStats()
    fn = train_doc2vec if documents else train_word2vec
    extra = {"dm": 0} if documents else {}
    m = fn(
        corpus,
        address=cluster,
        num_actors=2,
        stats=stats,
        vector_size=8,
        min_count=1,
        epochs=1,
        seed=1,
        **extra,
    )
    # 2 actors x 1 thread x 4,000 words a round
    assert stats.words == m.corpus_total_words
    assert stats.syncs >= m.corpus_total_words // 8000 - 1 >= 3


def test_default_round_shrinks_with_the_learning_rate_factor():
    per_thread = _train.default_words_per_thread
    assert per_thread("scaled", 2) == _train.DEFAULT_WORDS_PER_THREAD == 4_000_000
    assert per_thread("scaled", 4) == 1_000_000
    assert per_thread("scaled", 3) == 16_000_000 // 9
    for mode in ("sum", "mean", "adaptive"):
        assert per_thread(mode, 1) == _train.PLAIN_WORDS_PER_THREAD == 1_000_000
    # one update per word (CBOW, PV-DM, pure PV-DBOW): the round shrinks with the factor
    assert per_thread("scaled", 2, skip_gram=False) == 4_000_000
    assert per_thread("scaled", 4, skip_gram=False) == 2_000_000
    assert per_thread("scaled", 3, skip_gram=False) == 8_000_000 // 3
    assert per_thread("sum", 4, skip_gram=False) == _train.PLAIN_WORDS_PER_THREAD
    # pure PV-DBOW (only the output layer is shared) keeps at least 3M
    assert per_thread("scaled", 2, skip_gram=False, output_only=True) == 4_000_000
    assert per_thread("scaled", 4, skip_gram=False, output_only=True) == 3_000_000
    assert _train.MIN_OUTPUT_ONLY_WORDS_PER_THREAD == 3_000_000
    assert per_thread("sum", 4, skip_gram=False, output_only=True) == 1_000_000


def test_take_into_buffers_is_the_fresh_take_and_checks_the_buffers():
    rng = np.random.default_rng(4)
    base = rng.standard_normal((40, 6)).astype(np.float32)
    w = base.copy()
    w[[3, 17, 39]] += 0.25
    fresh = _sync.take(w, base, np.float16, adopt=False)
    buf = _sync.take_buffer(40, 6, np.float16)
    buf[0].fill(-1)
    buf[1].fill(7)
    into = _sync.take(w, base, np.float16, adopt=False, out=buf)
    assert list(into.rows) == [3, 17, 39] and np.array_equal(into.values, fresh.values)
    assert into.values.shape == (3, 6) and np.shares_memory(into.values, buf[1])
    adopted = _sync.take(w, base, np.float32, out=_sync.take_buffer(40, 6, np.float32))
    assert np.array_equal(w, base) and len(adopted.rows) == 3  # adopt writes both
    with pytest.raises(ValueError, match="buffers of 39 rows"):
        _sync.take(w + 1, base, np.float16, out=(buf[0][:39], buf[1]))
    with pytest.raises(TypeError, match="uint16"):
        _sync.take(w, base, np.float16, out=(buf[0], np.zeros(240, np.float32)))


@pytest.mark.skipif(sys.platform != "linux", reason="counts the page faults Linux reports")
def test_buffers_are_touched_when_made_so_the_first_take_pays_no_page_faults():
    import resource

    # 2,000 x 100 float16 values: 400 kB, under numpy's 4 MB huge-page threshold, so a
    # lazily mapped buffer faults about a hundred 4 kB pages on its first take (101
    # measured before the buffers were touched when made)
    rng = np.random.default_rng(5)
    base = rng.standard_normal((2000, 100)).astype(np.float32)
    w = base + np.float32(0.5)
    rows, values = _sync.take_buffer(2000, 100, np.float16)
    assert not rows.any() and not values.any()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    d = _sync.take(w, base, np.float16, adopt=False, out=(rows, values))
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert len(d.rows) == 2000 and faults < 25, faults
    combined = _sync.combine_buffer(2000, 100, np.float16)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    c = _sync.combine([d, d], 2000, 100, "sum", 1, np.float16, out=combined)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert len(c.rows) == 2000 and faults < 25, faults


def test_skip_gram_is_word2vec_sg_or_doc2vec_dbow_words():
    sg = _train.trains_skip_gram
    assert sg(Word2Vec(sg=1)) and not sg(Word2Vec(sg=0))
    assert not sg(Doc2Vec(dm=0)) and sg(Doc2Vec(dm=0, dbow_words=1))
    assert not sg(Doc2Vec(dm=1)) and not sg(Doc2Vec(dm=1, dbow_words=1))


def test_only_pure_pv_dbow_leaves_the_word_vectors_alone():
    from embedrs.distributed._replica import trains_word_vectors as words

    assert words(Word2Vec(sg=0)) and words(Word2Vec(sg=1))
    assert words(Doc2Vec(dm=1)) and words(Doc2Vec(dm=0, dbow_words=1))
    assert not words(Doc2Vec(dm=0))


def test_combine_into_a_buffer_is_the_fresh_combine_and_checks_the_buffer():
    rng = np.random.default_rng(3)
    parts = [
        _sync.RowDelta(
            np.sort(rng.choice(50, 20, replace=False)).astype(np.int32),
            rng.standard_normal((20, 6)).astype(np.float16),
        )
        for _ in range(3)
    ]
    fresh = _sync.combine(parts, 50, 6, "scaled", 3, np.float16, threads=2)
    buf = _sync.combine_buffer(50, 6, np.float16)
    for _ in range(2):  # the same buffer again
        into = _sync.combine(parts, 50, 6, "scaled", 3, np.float16, threads=2, out=buf)
        assert np.array_equal(into.rows, fresh.rows)
        assert into.values.dtype == np.float16 and np.array_equal(into.values, fresh.values)
    assert np.shares_memory(into.values, buf)
    with pytest.raises(ValueError, match="out holds 6 values"):
        _sync.combine(parts, 50, 6, "sum", 1, np.float16, out=buf[:6])
    with pytest.raises(TypeError, match="uint16"):
        _sync.combine(parts, 50, 6, "sum", 1, np.float16, out=np.zeros(300, np.float32))
    f32 = _sync.combine(
        parts, 50, 6, "sum", 1, np.float32, out=_sync.combine_buffer(50, 6, np.float32)
    )
    assert np.array_equal(f32.values, _sync.combine(parts, 50, 6, "sum", 1, np.float32).values)


class _FakeHost:
    """An actor handle whose ``host.remote()`` answers at once (no Ray)."""

    def __init__(self, ip: str, cpus: int) -> None:
        self.host = type("M", (), {"remote": staticmethod(lambda: (ip, cpus))})


class _FakeRay:
    @staticmethod
    def get(refs):
        return list(refs)


def test_turns_start_as_many_actors_per_machine_as_it_runs_and_then_the_waiting_ones():
    actors = [_FakeHost(ip, 2) for ip in ("a", "a", "b", "a", "a", "b")]
    turns = _train._Turns(_FakeRay, actors, workers=1, limit=None, overlap=False)
    assert turns.active
    assert turns.first(0) == [0, 1, 2, 5]  # two on machine a, both of b's
    assert turns.next(2) is None  # nothing waits on b
    assert turns.next(1) == 3 and turns.next(0) == 4 and turns.next(3) is None
    assert turns.first(1) == [0, 1, 2, 5]  # a new round starts the same way
    # two threads per actor on two CPUs: one actor at a time
    turns = _train._Turns(_FakeRay, actors[:2], workers=2, limit=None, overlap=False)
    assert turns.first(0) == [0] and turns.next(0) == 1
    # room for everyone, or overlap: all start at once
    for limit, overlap in ((None, True), (4, False)):
        turns = _train._Turns(_FakeRay, actors, workers=1, limit=limit, overlap=overlap)
        assert not turns.active and turns.first(0) == list(range(6))
    turns = _train._Turns(_FakeRay, actors[:3], workers=1, limit=None, overlap=False)
    assert turns.max_overlap([(0.0, 2.0), (1.0, 3.0), (0.5, 9.0)]) == 2  # per machine
    assert turns.max_overlap([(0.0, 1.0), (1.0, 2.0), (0.0, 1.0)]) == 1  # end, then start


def test_usable_cpus_is_at_most_the_affinity_mask():
    from embedrs.distributed._replica import usable_cpus

    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))


def _train_with(cluster, corpus, limit, stats, on_round=None, combine="auto", overlap=False):
    """The driver on two one-thread actors, with its test hook ``_on_round``."""
    return _train.train(
        Word2Vec,
        corpus,
        num_actors=2,
        address=cluster,
        sync_every_words=8000,
        checkpoint_dir=None,
        workers_per_actor=1,
        combine=combine,
        sync_dtype="float16",
        overlap=overlap,
        report_delay=1.0,
        stats=stats,
        trim_rule=None,
        params=dict(PARAMS),
        max_concurrent_per_node=limit,
        _on_round=on_round,
    )


def test_actors_taking_turns_train_the_same_model_one_at_a_time(cluster, corpus):
    # Both nodes of the fixture are processes on one machine (127.0.0.1). With room
    # for one actor at a time, the two take turns within each round; each still
    # trains from the same synced state, so the model is the one they train at once.
    side_by_side = _train_with(cluster, corpus, None, SyncStats())
    stats = SyncStats()
    turns = _train_with(cluster, corpus, 1, stats)
    assert stats.max_concurrent == 1 and stats.syncs >= 9
    assert _train.check_arrays_equal(side_by_side, turns)
    assert _group_accuracy(turns.wv) > 0.8
    with pytest.raises(ValueError, match="max_concurrent_per_node"):
        train_word2vec(corpus, address=cluster, num_actors=2, max_concurrent_per_node=0, **PARAMS)


@pytest.mark.parametrize("victim", [0, 1])  # training when killed, or waiting its turn
def test_killed_actor_taking_turns_is_replaced_and_the_model_is_unchanged(cluster, corpus, victim):
    killed = []

    def kill_in_round_2(rnd, actors):
        if rnd == 2 and not killed:
            killed.append(actors[victim])
            ray.kill(actors[victim], no_restart=True)

    undisturbed = _train_with(cluster, corpus, 1, SyncStats())
    stats = SyncStats()
    m = _train_with(cluster, corpus, 1, stats, kill_in_round_2)
    assert killed and stats.restarts == 1 and stats.max_concurrent == 1
    # the replacement redid the round from the last sync point: nothing changed
    assert stats.words == 3 * m.corpus_total_words
    assert _train.check_arrays_equal(undisturbed, m)
