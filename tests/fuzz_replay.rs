//! Replays the committed fuzz corpora and crash reproducers of the word2vec
//! readers (`fuzz/corpus/w2v_*`, `fuzz/artifacts/w2v_*`) through the same
//! oracle the fuzz targets use, so every input the fuzzer ever kept is
//! re-checked by a plain `cargo test`, no fuzzer or nightly needed.

#[path = "../fuzz/common/w2v_check.rs"]
mod w2v_check;

use std::path::{Path, PathBuf};

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn replay(target: &str, binary: bool) {
    let corpus = inputs("corpus", target);
    assert!(
        !corpus.is_empty(),
        "no corpus for {target} under fuzz/corpus/{target}"
    );
    let all: Vec<PathBuf> = corpus
        .into_iter()
        .chain(inputs("artifacts", target))
        .collect();
    let dir = std::env::temp_dir().join(format!(
        "embedrs-fuzz-replay-{target}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failed = Vec::new();
    for p in &all {
        let data = std::fs::read(p).unwrap();
        let r = std::panic::catch_unwind(|| w2v_check::check(&data, binary, &dir));
        if r.is_err() {
            failed.push(p.display().to_string());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failed.is_empty(),
        "{} of {} inputs of {target} fail (messages above):\n{}",
        failed.len(),
        all.len(),
        failed.join("\n")
    );
}

#[test]
fn replay_w2v_text() {
    replay("w2v_text", false);
}

#[test]
fn replay_w2v_binary() {
    replay("w2v_binary", true);
}
