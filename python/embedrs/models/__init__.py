"""Models with gensim's names: ``Word2Vec``, ``KeyedVectors``, ``PoincareModel``."""
