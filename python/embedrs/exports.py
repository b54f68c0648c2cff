"""Exports of keyed vectors to other tools.

* :func:`embedding_matrix` -- a matrix with a reserved padding row 0 and its
  ``{key: row}`` map, ready for ``keras.layers.Embedding(weights=[matrix])`` or
  ``torch.nn.Embedding.from_pretrained(torch.from_numpy(matrix), padding_idx=0)``.
* :func:`export_projector` -- a TensorBoard Embedding Projector folder
  (``tensors.tsv``, ``metadata.tsv``, ``projector_config.pbtxt``), also
  available as ``embedrs projector MODEL OUTDIR``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from embedrs._persist import atomic_write


def _matrix(kv: Any) -> tuple[np.ndarray, list]:
    vectors = getattr(kv, "vectors", None)
    keys = getattr(kv, "index_to_key", None)
    if vectors is None or keys is None:
        wv = getattr(kv, "wv", None)
        if wv is None:
            raise TypeError("expected a KeyedVectors or a model with a .wv attribute")
        return _matrix(wv)
    return np.asarray(vectors), list(keys)


def embedding_matrix(
    kv: Any, padding: bool = True, limit: int | None = None, dtype: Any = np.float32
) -> tuple[np.ndarray, dict]:
    """Embedding-layer weights with a reserved all-zero padding row 0.

    Parameters
    ----------
    kv : KeyedVectors or a model with ``.wv``
        The vectors.
    padding : bool, optional
        Reserve row 0 for padding (keys then start at row 1).
    limit : int, optional
        Only the first ``limit`` keys (the most frequent for trained models).
    dtype : numpy dtype, optional
        Element type of the matrix.

    Returns
    -------
    matrix : numpy.ndarray
        ``(n_keys + padding, vector_size)``.
    key_to_row : dict
        Row of each key in ``matrix``.
    """
    vectors, keys = _matrix(kv)
    if limit is not None:
        if limit < 0:
            raise ValueError("limit must be non-negative")
        vectors, keys = vectors[:limit], keys[:limit]
    off = 1 if padding else 0
    matrix = np.zeros((len(keys) + off, vectors.shape[1]), dtype=dtype)
    matrix[off:] = vectors
    return matrix, {k: i + off for i, k in enumerate(keys)}


def _tsv_field(value: Any) -> str:
    s = str(value)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _pbtxt_string(value: str) -> str:
    """``value`` as a quoted protobuf text-format string (quotes, backslashes, control characters escaped)."""
    out = []
    for ch in str(value):
        if ch in _PBTXT_ESCAPES:
            out.append(_PBTXT_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_PBTXT_ESCAPES = {"\\": "\\\\", '"': '\\"', "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def export_projector(
    kv: Any,
    outdir: str | os.PathLike,
    limit: int | None = None,
    tensor_name: str = "embedrs",
    metadata: dict[str, Sequence] | None = None,
) -> dict:
    """Write a TensorBoard Embedding Projector folder.

    Parameters
    ----------
    kv : KeyedVectors or a model with ``.wv``
        The vectors.
    outdir : str or os.PathLike
        Folder to create (or fill).
    limit : int, optional
        Only the first ``limit`` keys (``limit >= 0``; a larger value than the
        number of keys exports them all).
    tensor_name : str, optional
        Name shown in the projector (any text: it is escaped for the
        ``.pbtxt`` file).
    metadata : dict of str to sequence, optional
        Extra label columns (one value per exported key); the key itself is the
        first column, ``"key"``. With no extra column, one label per line is
        written, without header, as TensorBoard expects.

    Returns
    -------
    dict
        Paths of the files written (``tensors``, ``metadata``, ``config``).
    """
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
            raise TypeError(
                f"limit must be a non-negative integer or None, not {type(limit).__name__}"
            )
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
    if not isinstance(tensor_name, str):
        raise TypeError(f"tensor_name must be a str, not {type(tensor_name).__name__}")
    vectors, keys = _matrix(kv)
    if limit is not None:
        vectors, keys = vectors[:limit], keys[:limit]
    extra = metadata or {}
    for name, col in extra.items():
        if len(col) != len(keys):
            raise ValueError(f"metadata column {name!r} has {len(col)} values for {len(keys)} keys")
    os.makedirs(outdir, exist_ok=True)
    paths = {
        "tensors": os.path.join(outdir, "tensors.tsv"),
        "metadata": os.path.join(outdir, "metadata.tsv"),
        "config": os.path.join(outdir, "projector_config.pbtxt"),
    }
    with atomic_write(paths["tensors"]) as tmp:
        np.savetxt(tmp, np.asarray(vectors, dtype=np.float32), delimiter="\t", fmt="%.7g")
    with (
        atomic_write(paths["metadata"]) as tmp,
        open(tmp, "w", encoding="utf8", newline="\n") as fh,
    ):
        if extra:
            fh.write("\t".join(["key", *(_tsv_field(n) for n in extra)]) + "\n")
            fh.writelines(
                "\t".join([_tsv_field(k), *(_tsv_field(c[i]) for c in extra.values())]) + "\n"
                for i, k in enumerate(keys)
            )
        else:
            fh.writelines(_tsv_field(k) + "\n" for k in keys)
    config = (
        "embeddings {\n"
        f"  tensor_name: {_pbtxt_string(tensor_name)}\n"
        f"  tensor_shape: {len(keys)}\n"
        f"  tensor_shape: {vectors.shape[1]}\n"
        '  tensor_path: "tensors.tsv"\n'
        '  metadata_path: "metadata.tsv"\n'
        "}\n"
    )
    with atomic_write(paths["config"]) as tmp, open(tmp, "w", encoding="utf8") as fh:
        fh.write(config)
    return paths


__all__ = ["embedding_matrix", "export_projector"]
