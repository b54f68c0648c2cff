//! Phrase (collocation) detection, gensim 4's `models.phrases`.
//!
//! * [`count`]: unigram and bigram counting with connector words, in
//!   parallel, with gensim's pruning under `max_vocab_size`.
//! * `ids` and `table`: the fast representation of the counts (interned
//!   word ids, bigrams as id tuples in an open-addressing table), used
//!   whenever it gives the same keys as gensim's text keys.
//! * [`score`]: the `default` (Mikolov) and `npmi` scorers.
//! * [`analyze`]: joining detected phrases in a sentence, greedily from the
//!   left, and listing the phrases a table supports.

pub mod analyze;
pub mod count;
mod ids;
pub mod score;
mod table;

pub use analyze::{
    analyze_sentence, export_phrases, CandidateScorer, FrozenScorer, Piece, TableScorer,
};
pub use count::{PhraseCounts, PhraseSettings, TokenBatch, SHARDS};
pub use score::{npmi_score, original_score, Scoring};
