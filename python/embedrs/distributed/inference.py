"""Inference over a Ray Dataset: Doc2Vec ``infer_vector`` and KeyedVectors look-ups.

Each helper maps the dataset with ``map_batches`` and a callable class, so the
model is loaded once per worker process, memory-mapped (``mmap="r"``): the
workers of a node share the model's pages instead of holding a copy each.
The model file must be readable from every node (shared storage, or copied
beforehand).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def _load_model(path: str) -> Any:
    from embedrs.models.doc2vec import Doc2Vec

    return Doc2Vec.load(path, mmap="r")


def _load_vectors(path: str) -> Any:
    """KeyedVectors saved on their own, or the ``wv`` of a saved Word2Vec/Doc2Vec."""
    from embedrs.models.keyedvectors import KeyedVectors
    from embedrs.models.word2vec import Word2Vec

    try:
        return KeyedVectors.load(path, mmap="r")
    except (TypeError, ValueError, AttributeError):
        return Word2Vec.load(path, mmap="r").wv


def _tokens(column: Any) -> list[list[str]]:
    docs = []
    for doc in column:
        if isinstance(doc, str):
            doc = doc.split()
        docs.append([str(t) for t in doc])
    return docs


class _InferVectors:
    """``map_batches`` callable: one Doc2Vec per worker, vectors of a column of token lists."""

    def __init__(self, path: str, column: str, output: str, kwargs: dict[str, Any]) -> None:
        self.model = _load_model(path)
        self.column, self.output, self.kwargs = column, output, kwargs

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        docs = _tokens(batch[self.column])
        vectors = self.model.infer_vectors(docs, **self.kwargs)
        return {**batch, self.output: vectors}


class _LookupVectors:
    """``map_batches`` callable: the vector of each key (zeros and False when unknown)."""

    def __init__(self, path: str, column: str, output: str) -> None:
        self.kv = _load_vectors(path)
        self.column, self.output = column, output

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        keys = [str(k) for k in batch[self.column]]
        rows = np.array([self.kv.key_to_index.get(k, -1) for k in keys], dtype=np.int64)
        known = rows >= 0
        out = np.zeros((len(keys), self.kv.vector_size), dtype=np.float32)
        out[known] = self.kv.vectors[rows[known]]
        return {**batch, self.output: out, f"{self.output}_found": known}


class _MostSimilar:
    """``map_batches`` callable: the ``topn`` neighbours of each key (empty when unknown)."""

    def __init__(self, path: str, column: str, topn: int) -> None:
        self.kv = _load_vectors(path)
        self.column, self.topn = column, topn

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        keys = [str(k) for k in batch[self.column]]
        known = [k for k in keys if k in self.kv.key_to_index]
        answers = (
            dict(zip(known, self.kv.most_similar_batch(known, topn=self.topn))) if known else {}
        )
        words = np.empty(len(keys), dtype=object)
        scores = np.empty(len(keys), dtype=object)
        for i, k in enumerate(keys):
            pairs = answers.get(k, [])
            words[i] = [w for w, _ in pairs]
            scores[i] = np.asarray([s for _, s in pairs], dtype=np.float32)
        return {**batch, "similar": words, "similarity": scores}


def _check(dataset: Any, path: Any, column: str) -> str:
    if not hasattr(dataset, "map_batches"):
        raise TypeError(f"dataset must be a ray.data.Dataset, got {type(dataset).__name__}")
    if not isinstance(column, str):
        raise TypeError(f"column must be a column name (str), got {type(column).__name__}")
    path = os.fspath(path)
    return path


def infer_vectors(
    dataset: Any,
    model_path: str | os.PathLike,
    *,
    column: str = "words",
    output_column: str = "vector",
    batch_size: int = 256,
    concurrency: int = 1,
    **infer_kwargs: Any,
) -> Any:
    """Add Doc2Vec-inferred vectors of a token column to a Ray Dataset.

    Parameters
    ----------
    dataset : ray.data.Dataset
        Rows with ``column`` holding a list of str tokens (or a str, split on whitespace).
    model_path : str or path
        A Doc2Vec saved with ``save()``; loaded memory-mapped once per worker.
    column, output_column : str
        Input tokens and the added float32 vector column.
    batch_size : int
        Rows per batch.
    concurrency : int
        Worker processes (Ray actors) holding the model.
    **infer_kwargs
        ``alpha``, ``min_alpha``, ``epochs``, ``seed`` of ``infer_vector``.

    Returns
    -------
    ray.data.Dataset
        The lazily mapped dataset (row ``i`` equals ``model.infer_vector(words_i, ...)``).
    """
    path = _check(dataset, model_path, column)
    return dataset.map_batches(
        _InferVectors,
        fn_constructor_kwargs={
            "path": path,
            "column": column,
            "output": output_column,
            "kwargs": infer_kwargs,
        },
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=concurrency,
    )


def lookup_vectors(
    dataset: Any,
    vectors_path: str | os.PathLike,
    *,
    column: str = "word",
    output_column: str = "vector",
    batch_size: int = 1024,
    concurrency: int = 1,
) -> Any:
    """Add the vector of each key of ``column`` (``<output_column>_found`` says if known).

    ``vectors_path`` holds KeyedVectors, or a Word2Vec/Doc2Vec (its ``wv``), saved with
    ``save()``; loaded memory-mapped once per worker. Unknown keys get zeros.
    """
    path = _check(dataset, vectors_path, column)
    return dataset.map_batches(
        _LookupVectors,
        fn_constructor_kwargs={"path": path, "column": column, "output": output_column},
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=concurrency,
    )


def most_similar(
    dataset: Any,
    vectors_path: str | os.PathLike,
    *,
    column: str = "word",
    topn: int = 10,
    batch_size: int = 1024,
    concurrency: int = 1,
) -> Any:
    """Add each key's ``topn`` nearest keys (``similar``) and cosine similarities (``similarity``).

    As ``KeyedVectors.most_similar(key, topn=topn)``; unknown keys get empty lists.
    """
    path = _check(dataset, vectors_path, column)
    return dataset.map_batches(
        _MostSimilar,
        fn_constructor_kwargs={"path": path, "column": column, "topn": int(topn)},
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=concurrency,
    )
