"""Serving embedrs models over HTTP: an ASGI application and the model holder behind it.

``embedrs serve MODEL`` runs :func:`create_app` under uvicorn. The same pieces
embed in an existing service:

* :class:`ModelHolder` loads a model memory-mapped (so worker processes share
  its pages) and swaps to a newly saved file atomically: a request takes
  :attr:`ModelHolder.current` once and finishes on it, whatever swaps happen
  meanwhile.
* :func:`create_app` builds the Starlette application (``pip install
  "embedrs[serve]"``). A call of more than about half a millisecond of work
  (:data:`embedrs.serve.app.INLINE_WORK`) runs in Starlette's thread pool and
  releases the GIL, so one process answers concurrent requests on all cores;
  shorter ones run on the event loop, where they cost less than the hand-off.
  Vectors are answered as the shortest decimals that read back to the same
  float32 (:func:`embedrs.serve.app.floats_json`).
"""

from embedrs.serve.app import Limits, create_app
from embedrs.serve.holder import ModelHolder, Served, load_served

__all__ = ["Limits", "ModelHolder", "Served", "create_app", "load_served"]
