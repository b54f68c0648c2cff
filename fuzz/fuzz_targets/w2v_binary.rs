//! `embedrs::io::word2vec::read` on binary-format input; options come from the
//! first two bytes (see `common/w2v_check.rs`).
#![no_main]

#[path = "../common/w2v_check.rs"]
mod w2v_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    w2v_check::check(data, true, w2v_check::scratch_dir());
});
