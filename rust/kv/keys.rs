//! Key lookup over the keys as they are stored in a saved model: one UTF-8
//! blob with the keys separated by `\n`, read in place (memory-mapped when
//! the model is), instead of a list of Python strings and a dict per process.
//!
//! The index keeps, per key, where it ends in the blob and an open-addressing
//! table of row numbers (linear probing, at most half full). A lookup hashes
//! the key, then compares it with the stored bytes of each row the probe
//! meets. For 1,000,000 keys that is 12 MB of private memory (4 bytes of end
//! offset and up to 8 of table per key), against about 150 MB for a list and
//! a dict of `str`.
//!
//! The blob itself is not held here: every call takes it, so the owner (the
//! Python binding keeps the NumPy array) decides where it lives. The blob
//! given to a call must be the one the index was built from.

use std::hash::Hasher;

use rustc_hash::FxHasher;

use crate::{Error, Result};

/// Marks an empty slot of the table.
const EMPTY: u32 = u32::MAX;

/// End offsets of the keys in the blob, 32 bits wide when they fit.
#[derive(Debug, Clone)]
enum Ends {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Ends {
    fn get(&self, i: usize) -> usize {
        match self {
            Self::Narrow(e) => e[i] as usize,
            Self::Wide(e) => e[i] as usize,
        }
    }
}

/// Row-of-key and key-of-row lookups over a `\n`-separated UTF-8 key blob.
#[derive(Debug, Clone)]
pub struct KeyIndex {
    ends: Ends,
    slots: Vec<u32>,
    n: usize,
}

fn hash(key: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(key);
    // Fx mixes the low bits weakly; fold the high half in before masking
    let x = h.finish();
    x ^ (x >> 29)
}

impl KeyIndex {
    /// Indexes the `n` keys of `blob` (`n - 1` separators; an empty blob
    /// holds no key when `n == 0`, one empty key when `n == 1`). Refuses a
    /// blob that is not UTF-8 or holds another number of keys. When a key
    /// occurs twice its first row is the one found, as in gensim.
    pub fn build(blob: &[u8], n: usize) -> Result<Self> {
        if n >= EMPTY as usize {
            return Err(Error::InvalidArgument(format!(
                "{n} keys are more than the key index holds ({})",
                EMPTY - 1
            )));
        }
        if let Err(e) = std::str::from_utf8(blob) {
            return Err(Error::InvalidArgument(format!(
                "the stored keys are not UTF-8 ({e})"
            )));
        }
        let mut ends = Vec::with_capacity(n);
        if n > 0 {
            ends.extend(
                blob.iter()
                    .enumerate()
                    .filter(|&(_, &b)| b == b'\n')
                    .map(|(i, _)| i as u64),
            );
            ends.push(blob.len() as u64);
        } else if !blob.is_empty() {
            ends.push(0);
        }
        if ends.len() != n {
            return Err(Error::InvalidArgument(format!(
                "{} keys are stored, {n} expected",
                ends.len()
            )));
        }
        let ends = if blob.len() < u32::MAX as usize {
            Ends::Narrow(ends.iter().map(|&e| e as u32).collect())
        } else {
            Ends::Wide(ends)
        };
        let capacity = (2 * n).next_power_of_two().max(16);
        let mut index = Self {
            ends,
            slots: vec![EMPTY; capacity],
            n,
        };
        for row in 0..n {
            let key = index.bytes(blob, row);
            let mut s = hash(key) as usize & (capacity - 1);
            loop {
                let r = index.slots[s];
                if r == EMPTY {
                    index.slots[s] = row as u32;
                    break;
                }
                if index.bytes(blob, r as usize) == key {
                    break; // a repeated key: the first row stays
                }
                s = (s + 1) & (capacity - 1);
            }
        }
        Ok(index)
    }

    /// Number of keys (rows), repeated keys included.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn bytes<'a>(&self, blob: &'a [u8], row: usize) -> &'a [u8] {
        let start = if row == 0 {
            0
        } else {
            self.ends.get(row - 1) + 1
        };
        &blob[start..self.ends.get(row)]
    }

    /// The row of `key`, if it is stored.
    pub fn get(&self, blob: &[u8], key: &[u8]) -> Option<usize> {
        if self.n == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut s = hash(key) as usize & mask;
        loop {
            let r = self.slots[s];
            if r == EMPTY {
                return None;
            }
            if self.bytes(blob, r as usize) == key {
                return Some(r as usize);
            }
            s = (s + 1) & mask;
        }
    }

    /// The key of `row`; `None` past the last row.
    pub fn key<'a>(&self, blob: &'a [u8], row: usize) -> Option<&'a str> {
        if row >= self.n {
            return None;
        }
        // the blob was checked to be UTF-8 and keys end at a `\n` (ASCII),
        // so each key is a whole UTF-8 string; a blob swapped for another
        // one is reported as a bad key rather than read wrongly
        std::str::from_utf8(self.bytes(blob, row)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(keys: &[&str]) -> Vec<u8> {
        keys.join("\n").into_bytes()
    }

    #[test]
    fn finds_every_key_and_names_every_row() {
        let keys: Vec<String> = (0..5000).map(|i| format!("w{i}é")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let b = blob(&refs);
        let idx = KeyIndex::build(&b, keys.len()).unwrap();
        assert_eq!(idx.len(), 5000);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(idx.get(&b, k.as_bytes()), Some(i));
            assert_eq!(idx.key(&b, i), Some(k.as_str()));
        }
        assert_eq!(idx.get(&b, b"w5000\xc3\xa9"), None);
        assert_eq!(idx.get(&b, b"w1"), None);
        assert_eq!(idx.get(&b, b""), None);
        assert_eq!(idx.key(&b, 5000), None);
    }

    #[test]
    fn repeated_keys_find_the_first_row_and_empty_keys_count() {
        let b = blob(&["a", "", "b", "a", ""]);
        let idx = KeyIndex::build(&b, 5).unwrap();
        assert_eq!(idx.get(&b, b"a"), Some(0));
        assert_eq!(idx.get(&b, b""), Some(1));
        assert_eq!(idx.key(&b, 3), Some("a"));
        assert_eq!(idx.key(&b, 4), Some(""));
        // an empty blob is no key, or one empty key
        assert!(KeyIndex::build(b"", 0).unwrap().get(b"", b"").is_none());
        assert_eq!(KeyIndex::build(b"", 1).unwrap().get(b"", b""), Some(0));
    }

    #[test]
    fn refuses_bad_blobs() {
        let b = blob(&["a", "b"]);
        assert!(KeyIndex::build(&b, 3).is_err());
        assert!(KeyIndex::build(&b, 1).is_err());
        assert!(KeyIndex::build(b"x", 0).is_err());
        let err = KeyIndex::build(b"a\n\xff", 2).unwrap_err().to_string();
        assert!(err.contains("UTF-8"), "{err}");
    }
}
