"""Small fixtures with gensim's names (``embedrs.test.utils``), so gensim's
documentation examples run with only the import changed."""
