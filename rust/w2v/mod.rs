//! word2vec training.
