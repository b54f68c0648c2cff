"""Approximate similarity search (gensim's ``gensim.similarities`` home for indexers)."""

from embedrs.similarities.hnsw import HnswIndexer

__all__ = ["HnswIndexer"]
