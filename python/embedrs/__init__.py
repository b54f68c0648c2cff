"""embedrs: production embeddings with a Rust core.

word2vec, Poincaré embeddings, Barnes-Hut t-SNE and KeyedVectors, behind an
API that follows gensim (``from embedrs.models import Word2Vec``) and
scikit-learn (``from embedrs.manifold import TSNE``). Heavy work runs in Rust
on all cores with the GIL released.

Errors are ordinary Python exceptions (``ValueError``, ``KeyError``,
``OSError``, ``TypeError``, ``MemoryError``); a failure inside the Rust core
that is a bug rather than bad input raises :class:`InternalError`, a
``RuntimeError`` subclass, and leaves the process running.
"""

from __future__ import annotations

import logging

from embedrs._embedrs import InternalError, __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

# as ``import gensim`` makes ``gensim.models`` and ``gensim.utils`` available
from embedrs import models, utils

__all__ = ["InternalError", "__version__", "models", "utils"]
