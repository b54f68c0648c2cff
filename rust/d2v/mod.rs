//! Doc2Vec (paragraph vectors, Le and Mikolov 2014) on the word2vec engine.
//!
//! A Doc2Vec model is word2vec's model plus one input vector per document
//! tag (`dv`). Its examples are a document's tags with its words, in one of
//! three generators run by the same worker harness as word2vec
//! ([`crate::w2v::engine`]):
//!
//! * [`dbow`] (PV-DBOW, `dm=0`): each tag's vector predicts each word of the
//!   document, as a skip-gram pair; optionally (`dbow_words`) the words are
//!   trained by skip-gram too, interleaved document by document.
//! * [`dm`] (PV-DM, `dm=1`): the sum or mean of the tags' vectors and the
//!   window's word vectors predicts the centre word, as CBOW; with
//!   `dm_concat` the input is instead the concatenation of `dm_tag_count`
//!   tag vectors and the `2·window` word vectors around the centre (padded
//!   with the null word), so the output layer is that much wider.
//!
//! Inference ([`trainer::Doc2VecTrainer::infer`]) runs the same generators
//! on a frozen model: the word vectors and output layers are read-only
//! (`SharedMatrix::read_only`, whose writes panic), and only a fresh
//! document vector is trained.

pub mod dbow;
pub mod dm;
pub mod trainer;

pub use trainer::{D2vConfig, Doc2VecTrainer, Frozen};
