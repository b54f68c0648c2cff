"""embedrs: production embeddings with a Rust core.

word2vec, Poincaré embeddings, Barnes-Hut t-SNE and KeyedVectors, behind an
API that follows gensim (``from embedrs.models import Word2Vec``) and
scikit-learn (``from embedrs.manifold import TSNE``). Heavy work runs in Rust
on all cores with the GIL released.
"""

from __future__ import annotations

import logging

from embedrs._embedrs import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
