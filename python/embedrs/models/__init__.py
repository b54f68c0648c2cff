"""Models with gensim's names: ``Word2Vec``, ``Doc2Vec``, ``KeyedVectors``, ``PoincareModel``."""

from embedrs.models.doc2vec import Doc2Vec  # noqa: F401
from embedrs.models.keyedvectors import KeyedVectors  # noqa: F401
from embedrs.models.phrases import Phrases  # noqa: F401
from embedrs.models.poincare import PoincareKeyedVectors, PoincareModel, PoincareRelations  # noqa: F401
from embedrs.models.translation_matrix import (  # noqa: F401
    BackMappingTranslationMatrix,
    TranslationMatrix,
)
from embedrs.models.word2vec import Word2Vec  # noqa: F401
