//! Similarity search over a matrix of keyed vectors.
