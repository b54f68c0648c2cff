"""Manifold learning with scikit-learn's interface: ``TSNE``."""
