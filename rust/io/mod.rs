//! Readers and writers for the word2vec C text and binary formats.

pub mod floatfmt;
pub mod word2vec;
