"""Small fixtures with gensim's names, so gensim's documentation examples run unchanged."""
