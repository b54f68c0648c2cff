"""The ASGI application of ``embedrs serve`` (Starlette).

Endpoints (JSON in, JSON out; errors are ``{"detail": "..."}``):

* ``GET /health``: 200 with the model's size once it is loaded.
* ``GET /similar?key=WORD&topn=10``, ``POST /similar`` with ``{"positive": [...],
  "negative": [...], "topn": 10, "approximate": false}``: ``{"results": [[key,
  score], ...]}``, the inputs left out (as ``most_similar``).
* ``POST /vectors`` with ``{"keys": [...]}``: ``{"vectors": [[...], ...]}``.
* ``POST /infer`` with ``{"words": [...]}``: ``{"vector": [...]}`` (Doc2Vec).

Status codes: 404 for an unknown key (named in the message), 400 for a body
that is not JSON or a request the model cannot answer (``/infer`` on word
vectors, ``approximate`` without an index), 422 for JSON of the wrong shape,
413 for a request over a limit (:class:`Limits`, named in the message), 500
for a failure inside the library (the worker keeps serving).
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from embedrs._embedrs import json_f32
from embedrs.serve.holder import ModelHolder, Served, load_served

logger = logging.getLogger(__name__)

#: Estimated multiply-adds of a library call under which it runs on the event
#: loop rather than in the thread pool: up to about half a millisecond of work,
#: such as an exact scan of 40,000 x 100. Handing a call to a pool thread and
#: taking the GIL back afterwards costs more than the loop loses by waiting
#: that long: exact ``/similar`` on 21,628 x 100 (2 workers, 64 connections)
#: answered 5,665 requests/s inline against 4,844 through the pool. Longer
#: calls (an exact scan of a large model, a long document's inference) go to
#: the pool, where embedrs releases the GIL and the loop keeps answering.
INLINE_WORK = 1 << 22


def floats_json(values: Any) -> bytes:
    """JSON text of a 1-D or 2-D array of floats: each value the shortest decimal
    that reads back to the same float32, ``null`` for NaN and infinities.

    The values are float32 (a model's precision); wider input is rounded to it.
    """
    return json_f32(np.ascontiguousarray(values, dtype=np.float32))


@dataclass(frozen=True)
class Limits:
    """Request limits; a request over one gets 413 naming it.

    Attributes
    ----------
    max_topn : int
        Largest ``topn``.
    max_keys : int
        Most keys in one request (``positive`` + ``negative``, or ``keys``).
    max_words : int
        Most words in one ``/infer`` document.
    max_body_bytes : int
        Largest request body.
    """

    max_topn: int = 1000
    max_keys: int = 1000
    max_words: int = 10000
    max_body_bytes: int = 1 << 20


class _Reject(Exception):
    """A request answered with ``status`` and ``{"detail": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _int_field(value: Any, name: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Reject(422, f"{name} must be an integer, got {json.dumps(value)[:40]}")
    if value < 1:
        raise _Reject(422, f"{name} must be at least 1, got {value}")
    if value > limit:
        raise _Reject(413, f"{name}={value} is over this server's limit of {limit}")
    return value


def _key_list(value: Any, name: str) -> list:
    if value is None:
        return []
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list) or not all(
        isinstance(k, (str, int)) and not isinstance(k, bool) for k in value
    ):
        raise _Reject(422, f"{name} must be a list of keys (strings or integers)")
    return value


def _row(kv: Any, key: Any) -> int:
    """Row of ``key``; a query-string key that reads as an int also finds an int key."""
    if kv.has_index_for(key):
        return kv.get_index(key)
    if isinstance(key, str) and key.lstrip("-").isdigit() and kv.has_index_for(int(key)):
        return kv.get_index(int(key))
    raise _Reject(404, f"unknown key {key!r}")


def _finite(x: float) -> Optional[float]:
    return x if math.isfinite(x) else None


def similar(
    served: Served, positive: list, negative: list, topn: int, approximate: bool = False
) -> list:
    """The ``[key, score]`` pairs ``/similar`` answers (see the module docs)."""
    kv = served.kv
    rows = [_row(kv, k) for k in positive] + [_row(kv, k) for k in negative]
    if not rows:
        raise _Reject(422, "give at least one key in positive or negative")
    # a loaded embedrs model's stored keys (no list per worker); else the list
    by_row = getattr(kv, "_keys_by_row", None)
    keys = by_row() if by_row is not None else kv.index_to_key
    pos = [keys[r] for r in rows[: len(positive)]]
    neg = [keys[r] for r in rows[len(positive) :]]
    if not approximate:
        res = kv.most_similar(positive=pos, negative=neg, topn=topn)
    else:
        if served.indexer is None:
            raise _Reject(400, "approximate search needs an index: start with --index hnsw")
        weights = [1.0] * len(pos) + [-1.0] * len(neg)
        mean = kv.get_mean_vector(pos + neg, weights, pre_normalize=True, post_normalize=True)
        found = served.indexer.most_similar(mean, topn + len(rows))
        excl = set(rows)
        res = [(k, s) for k, s in found if kv.get_index(k) not in excl][:topn]
    return [[k, _finite(float(s))] for k, s in res]


def vectors(served: Served, keys: list) -> bytes:
    """The JSON body ``/vectors`` answers: the rows in the order of ``keys``."""
    kv = served.kv
    rows = [_row(kv, k) for k in keys]
    return b'{"vectors":' + floats_json(kv.vectors[rows]) + b"}"


def infer(served: Served, words: list) -> bytes:
    """The JSON body ``/infer`` answers."""
    if served.model is None or not hasattr(served.model, "infer_vector"):
        raise _Reject(400, "this model cannot infer document vectors (not a Doc2Vec model)")
    return b'{"vector":' + floats_json(served.model.infer_vector(words)) + b"}"


def similar_work(served: Served, n_keys: int, approximate: bool) -> int:
    """Estimated multiply-adds of a ``/similar`` request (see :data:`INLINE_WORK`)."""
    dim = int(served.kv.vector_size)
    if approximate and served.indexer is not None:
        # a graph search visits a few thousand rows whatever the model's size
        return dim * (4096 + n_keys)
    return dim * (len(served.kv) + n_keys)


def infer_work(served: Served, n_words: int) -> int:
    """Estimated multiply-adds of an ``/infer`` request (see :data:`INLINE_WORK`)."""
    m = served.model
    if m is None:
        return 0
    outputs = int(getattr(m, "negative", 0) or 0) + 1
    if getattr(m, "hs", 0):
        outputs += max(1, len(m.wv).bit_length())
    dim = int(getattr(m, "vector_size", 100))
    window = int(getattr(m, "window", 5))
    dm = getattr(m, "dm", 1)
    context = 2 * window if dm else 1
    # the output rows of a concatenated input are one vector per input slot
    width = dim
    if dm and getattr(m, "dm_concat", 0):
        width = (int(getattr(m, "dm_tag_count", 1)) + 2 * window) * dim
    per_word = width * outputs + dim * context
    return n_words * int(getattr(m, "epochs", 10) or 10) * per_word


def create_app(
    model: Served | ModelHolder | str | os.PathLike,
    index: Optional[str] = None,
    limits: Limits = Limits(),
) -> Any:
    """The Starlette application serving ``model``.

    Parameters
    ----------
    model : ModelHolder, Served, or a path
        What to serve; a path is loaded memory-mapped with :func:`load_served`.
        Pass a :class:`ModelHolder` to swap models while serving.
    index : {None, 'hnsw'}
        For a path: build an approximate index (``"approximate": true``).
    limits : Limits
        Request limits.

    Returns
    -------
    starlette.applications.Starlette
        The application; ``app.state.holder`` is its :class:`ModelHolder`.
    """
    try:
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            'embedrs serve needs Starlette and uvicorn: pip install "embedrs[serve]"'
        ) from exc

    if isinstance(model, ModelHolder):
        holder = model
    elif isinstance(model, Served):
        holder = ModelHolder(model)
    else:
        holder = ModelHolder(load_served(model, index=index))

    async def body_of(request: Request) -> dict:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise _Reject(
                413, f"request body over this server's limit of {limits.max_body_bytes} bytes"
            )
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise _Reject(
                    413, f"request body over this server's limit of {limits.max_body_bytes} bytes"
                )
            chunks.append(chunk)
        try:
            body = json.loads(b"".join(chunks))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Reject(400, f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _Reject(422, "the body must be a JSON object")
        return body

    async def call(work: int, fn: Any, *args: Any) -> Any:
        if work <= INLINE_WORK:
            return fn(*args)
        return await run_in_threadpool(fn, *args)

    def json_body(body: bytes) -> Response:
        return Response(body, media_type="application/json")

    def results(res: list) -> Response:
        text = json.dumps({"results": res}, ensure_ascii=False, separators=(",", ":"))
        return json_body(text.encode())

    def check_keys(keys: list) -> None:
        if len(keys) > limits.max_keys:
            raise _Reject(413, f"{len(keys)} keys is over this server's limit of {limits.max_keys}")

    async def health(request: Request) -> JSONResponse:
        s = holder.current
        return JSONResponse(
            {
                "status": "ok",
                "model": os.path.basename(s.path),
                "keys": len(s.kv),
                "vector_size": int(s.kv.vector_size),
                "index": s.indexer is not None,
                "infer": s.model is not None,
            }
        )

    async def similar_get(request: Request) -> Response:
        key = request.query_params.get("key")
        if key is None:
            raise _Reject(422, "missing query parameter 'key'")
        raw = request.query_params.get("topn", "10")
        try:
            topn = int(raw)
        except ValueError:
            raise _Reject(422, f"topn must be an integer, got {raw[:40]!r}") from None
        topn = _int_field(topn, "topn", limits.max_topn)
        approx = request.query_params.get("approximate", "false").lower() in ("1", "true", "yes")
        s = holder.current
        res = await call(similar_work(s, 1, approx), similar, s, [key], [], topn, approx)
        return results(res)

    async def similar_post(request: Request) -> Response:
        body = await body_of(request)
        pos = _key_list(body.get("positive"), "positive")
        neg = _key_list(body.get("negative"), "negative")
        check_keys(pos + neg)
        topn = _int_field(body.get("topn", 10), "topn", limits.max_topn)
        approx = body.get("approximate", False)
        if not isinstance(approx, bool):
            raise _Reject(422, "approximate must be true or false")
        s = holder.current
        work = similar_work(s, len(pos) + len(neg), approx)
        return results(await call(work, similar, s, pos, neg, topn, approx))

    async def vectors_post(request: Request) -> Response:
        body = await body_of(request)
        if "keys" not in body:
            raise _Reject(422, "missing field 'keys'")
        keys = _key_list(body["keys"], "keys")
        check_keys(keys)
        s = holder.current
        work = len(keys) * int(s.kv.vector_size)
        return json_body(await call(work, vectors, s, keys))

    async def infer_post(request: Request) -> Response:
        body = await body_of(request)
        words = body.get("words")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise _Reject(422, "words must be a list of strings")
        if len(words) > limits.max_words:
            raise _Reject(
                413, f"{len(words)} words is over this server's limit of {limits.max_words}"
            )
        s = holder.current
        return json_body(await call(infer_work(s, len(words)), infer, s, words))

    async def rejected(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, _Reject)
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    async def failed(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("request %s %s failed", request.method, request.url.path)
        return JSONResponse(
            {"detail": f"internal error: {type(exc).__name__}: {str(exc)[:200]}"},
            status_code=500,
        )

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/similar", similar_get, methods=["GET"]),
            Route("/similar", similar_post, methods=["POST"]),
            Route("/vectors", vectors_post, methods=["POST"]),
            Route("/infer", infer_post, methods=["POST"]),
        ],
        exception_handlers={_Reject: rejected, Exception: failed},
    )
    app.state.holder = holder
    return app


def app_from_env() -> Any:
    """uvicorn factory of the ``embedrs serve`` workers: the model and index
    come from ``EMBEDRS_SERVE_MODEL`` and ``EMBEDRS_SERVE_INDEX`` (a saved
    HnswIndexer file, memory-mapped: the workers share its pages), and exact
    search's int8 copy from ``EMBEDRS_SERVE_INT8`` (a file the parent built,
    mapped likewise; ``off``: no int8 copy); ``EMBEDRS_SERVE_EF_SEARCH``, when
    set, is the index's ``ef_search``."""
    path = os.environ["EMBEDRS_SERVE_MODEL"]
    index_path = os.environ.get("EMBEDRS_SERVE_INDEX") or None
    served = load_served(path, index="hnsw" if index_path else None, index_path=index_path)
    ef_search = os.environ.get("EMBEDRS_SERVE_EF_SEARCH")
    if ef_search and served.indexer is not None:
        served.indexer.ef_search = int(ef_search)
    int8_path = os.environ.get("EMBEDRS_SERVE_INT8") or None
    if int8_path == "off":
        served.kv.int8_search = False
    elif int8_path is not None:
        # the int8 copy the parent built, mapped: every worker shares its pages
        try:
            served.kv.use_int8_file(int8_path, build=False)
        except (OSError, ValueError) as exc:
            logger.warning("not sharing the int8 search copy (%s); this worker builds its own", exc)
    return create_app(served)
