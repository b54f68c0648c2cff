"""Manifold learning with scikit-learn's interface: ``TSNE``."""

from embedrs.manifold.tsne import TSNE

__all__ = ["TSNE"]
