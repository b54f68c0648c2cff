//! Readers and writers for the word2vec C text and binary formats, and the
//! JSON text of float arrays.

pub mod floatfmt;
pub mod json;
pub mod word2vec;
