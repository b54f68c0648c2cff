"""Models with gensim's names: ``Word2Vec``, ``KeyedVectors``, ``PoincareModel``."""

from embedrs.models.keyedvectors import KeyedVectors  # noqa: F401
