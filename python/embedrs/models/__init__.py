"""Models with gensim's names: ``Word2Vec``, ``KeyedVectors``, ``PoincareModel``."""

from embedrs.models.poincare import PoincareKeyedVectors, PoincareModel, PoincareRelations  # noqa: F401
