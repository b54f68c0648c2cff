//! [`ByteLookup`]: the word id of each token of a corpus file, or of a
//! Python token list (the iterable path's feed looks tokens up by their
//! UTF-8 bytes here too).
//!
//! Every token the file readers produce is looked up once per epoch, so on
//! the `corpus_file` path this is the readers' main cost. A general hash
//! map of boxed byte strings costs three dependent cache misses per token
//! (control bytes, bucket, the key's own allocation) plus a `memcmp` call;
//! perf put `HashMap::get` and `memcmp` at 16% of a one-worker CBOW
//! hierarchical-softmax epoch.
//!
//! Here a key of up to [`INLINE`] bytes (nearly every word) lives inside its
//! slot, zero-padded into three `u64`s next to its length and id: a token is
//! packed the same way, hashed from those words, and compared with a slot in
//! four integer comparisons, in the one cache line that holds the slot.
//! Open addressing with linear probing, the table at most two-thirds full.
//! Longer keys go to an ordinary map.

use rustc_hash::FxHashMap;

/// Longest key stored in the table itself.
const INLINE: usize = 24;

/// `len` of a free slot.
const EMPTY: u32 = u32::MAX;

/// One slot: a key's bytes (little-endian words, zero after the key), its
/// length and its id. Two slots per cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))]
struct Slot {
    key: [u64; 3],
    len: u32,
    id: u32,
}

const FREE: Slot = Slot {
    key: [0; 3],
    len: EMPTY,
    id: 0,
};

/// Word ids of tokens given as bytes: the byte-string form of `key_to_index`,
/// built once per model for the corpus-file readers and once per epoch by
/// the iterable path's feed (from the dict itself).
#[derive(Debug)]
pub struct ByteLookup {
    slots: Vec<Slot>,
    /// `slots.len() - 1` (a power of two minus one).
    mask: usize,
    /// Keys longer than [`INLINE`] bytes.
    long: FxHashMap<Box<[u8]>, u32>,
}

impl Default for ByteLookup {
    fn default() -> Self {
        ByteLookup::new(&[])
    }
}

#[inline(always)]
fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

#[inline(always)]
fn le32(b: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes(b[..4].try_into().expect("4 bytes")))
}

/// The bytes of `t` (at most [`INLINE`]) as three little-endian words,
/// zero after the end. Reads only within `t`: a partial last word comes
/// from an overlapping load that ends at the end of `t`, or for tokens
/// under 8 bytes from two overlapping 4-byte loads or three single bytes
/// (overlapping loads put equal bytes in the same places).
#[inline(always)]
fn pack(t: &[u8]) -> [u64; 3] {
    let len = t.len();
    debug_assert!(len <= INLINE);
    let mut w = [0u64; 3];
    let full = len / 8;
    for (i, word) in w.iter_mut().enumerate().take(full) {
        *word = le64(&t[8 * i..]);
    }
    let n = len % 8;
    if n != 0 {
        w[full] = if len >= 8 {
            le64(&t[len - 8..]) >> (8 * (8 - n))
        } else if len >= 4 {
            le32(t) | (le32(&t[len - 4..]) << (8 * (len - 4)))
        } else {
            u64::from(t[0])
                | (u64::from(t[len / 2]) << (8 * (len / 2)))
                | (u64::from(t[len - 1]) << (8 * (len - 1)))
        };
    }
    w
}

/// The high and low halves of a 128-bit product, folded together.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline(always)]
fn hash(w: &[u64; 3], len: usize) -> u64 {
    let h = fold_mul(
        w[0] ^ 0x243F_6A88_85A3_08D3,
        w[1] ^ 0x1319_8A2E_0370_7344 ^ len as u64,
    );
    fold_mul(h ^ w[2], 0x9E37_79B9_7F4A_7C15)
}

/// A token half looked up by [`ByteLookup::start`]: packed, hashed and its
/// slot prefetched; [`ByteLookup::finish`] gives its id.
#[derive(Clone, Copy, Debug)]
pub enum Pending {
    /// A key stored in the table: its packed bytes, length and home slot.
    Inline { key: [u64; 3], len: u32, at: usize },
    /// A token whose answer is already known (a long key, or a token the
    /// caller looked up another way).
    Known(Option<u32>),
}

impl Default for Pending {
    fn default() -> Self {
        Pending::Known(None)
    }
}

impl ByteLookup {
    /// The lookup of `words`, whose ids are their positions (a word given
    /// twice gets its last position).
    pub fn new(words: &[String]) -> Self {
        let pairs: Vec<(&[u8], u32)> = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let id = u32::try_from(i).expect("vocabulary ids fit in u32");
                (w.as_bytes(), id)
            })
            .collect();
        ByteLookup::from_pairs(&pairs)
    }

    /// The lookup of `(key, id)` pairs (a key given twice gets its last id).
    pub fn from_pairs(pairs: &[(&[u8], u32)]) -> Self {
        let short = pairs.iter().filter(|(k, _)| k.len() <= INLINE).count();
        let size = (short + short / 2 + 16).next_power_of_two();
        let mut table = ByteLookup {
            slots: vec![FREE; size],
            mask: size - 1,
            long: FxHashMap::default(),
        };
        for &(k, id) in pairs {
            table.insert(k, id);
        }
        table
    }

    fn insert(&mut self, key: &[u8], id: u32) {
        if key.len() > INLINE {
            self.long.insert(key.into(), id);
            return;
        }
        let w = pack(key);
        let len = key.len() as u32;
        let mut i = hash(&w, key.len()) as usize & self.mask;
        loop {
            let s = &mut self.slots[i];
            if s.len == EMPTY || (s.len == len && s.key == w) {
                *s = Slot { key: w, len, id };
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The id of `token`, if it is a word of the vocabulary.
    #[inline]
    pub fn get(&self, token: &[u8]) -> Option<u32> {
        if token.len() > INLINE {
            return self.long.get(token).copied();
        }
        let w = pack(token);
        self.probe(&w, token.len(), hash(&w, token.len()) as usize & self.mask)
    }

    /// The first half of looking `token` up: packs and hashes it and
    /// prefetches its slot, so that the misses of a group of tokens overlap
    /// when their [`ByteLookup::finish`] calls follow.
    #[inline(always)]
    pub fn start(&self, token: &[u8]) -> Pending {
        if token.len() > INLINE {
            return Pending::Known(self.long.get(token).copied());
        }
        let key = pack(token);
        let at = hash(&key, token.len()) as usize & self.mask;
        crate::mem::prefetch(self.slots.as_ptr().wrapping_add(at));
        Pending::Inline {
            key,
            len: token.len() as u32,
            at,
        }
    }

    /// The id of a token [`ByteLookup::start`] began: what
    /// [`ByteLookup::get`] gives for it.
    #[inline(always)]
    pub fn finish(&self, p: &Pending) -> Option<u32> {
        match *p {
            Pending::Inline { key, len, at } => self.probe(&key, len as usize, at),
            Pending::Known(id) => id,
        }
    }

    /// Appends to `out` the ids of the `tokens` that are words of the
    /// vocabulary, in order: what [`ByteLookup::get`] gives for each, but
    /// looked up in groups of [`GROUP`] tokens whose slots are all
    /// prefetched before the first is read, so that their cache misses
    /// overlap instead of following one another.
    pub fn extend_ids(&self, tokens: &[&[u8]], out: &mut Vec<u32>) {
        let mut pending = [Pending::default(); GROUP];
        for group in tokens.chunks(GROUP) {
            for (t, p) in group.iter().zip(&mut pending) {
                *p = self.start(t);
            }
            for p in &pending[..group.len()] {
                if let Some(id) = self.finish(p) {
                    out.push(id);
                }
            }
        }
    }

    /// The id stored for the packed key `w` of length `len`, probing from
    /// slot `i` (its hash's).
    #[inline(always)]
    fn probe(&self, w: &[u64; 3], len: usize, mut i: usize) -> Option<u32> {
        let len = len as u32;
        loop {
            let s = &self.slots[i];
            if s.len == len && s.key == *w {
                return Some(s.id);
            }
            if s.len == EMPTY {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// Tokens per group of [`ByteLookup::extend_ids`].
const GROUP: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A small deterministic generator (the tests need no crate for it).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
    }

    #[test]
    fn pack_reads_each_length_exactly() {
        let bytes: Vec<u8> = (1..=INLINE as u8).map(|b| b.wrapping_mul(37) | 1).collect();
        for len in 0..=INLINE {
            let mut padded = [0u8; INLINE];
            padded[..len].copy_from_slice(&bytes[..len]);
            let want = [le64(&padded[0..]), le64(&padded[8..]), le64(&padded[16..])];
            assert_eq!(pack(&bytes[..len]), want, "length {len}");
        }
    }

    #[test]
    fn gives_the_maps_answer() {
        let mut rng = Lcg(7);
        let mut words: Vec<String> = Vec::new();
        // every length from empty to past the inline limit, prefixes of each
        // other, bytes that pad as zero would, and multi-byte characters
        for len in 0..40 {
            for _ in 0..50 {
                let w: String = (0..len)
                    .map(|_| match rng.next() % 6 {
                        0 => '\0',
                        1 => 'é',
                        _ => char::from(b'a' + (rng.next() % 4) as u8),
                    })
                    .collect();
                words.push(w);
            }
        }
        words.push("abc".into());
        words.push("abc".into()); // a duplicate: the last position wins
        let lookup = ByteLookup::new(&words);
        let mut want: HashMap<&[u8], u32> = HashMap::new();
        for (i, w) in words.iter().enumerate() {
            want.insert(w.as_bytes(), i as u32);
        }
        for w in &words {
            assert_eq!(
                lookup.get(w.as_bytes()),
                want.get(w.as_bytes()).copied(),
                "{w:?}"
            );
        }
        for len in 0..40 {
            for _ in 0..200 {
                let probe: Vec<u8> = (0..len).map(|_| (rng.next() % 5) as u8 + b'`').collect();
                assert_eq!(
                    lookup.get(&probe),
                    want.get(probe.as_slice()).copied(),
                    "{probe:?}"
                );
            }
        }
        // the grouped form gives the same ids, in order, over group boundaries
        let mut stream: Vec<&[u8]> = Vec::new();
        let mut expect = Vec::new();
        let long_probe = vec![b'a'; INLINE + 3];
        for (k, w) in words.iter().enumerate() {
            stream.push(w.as_bytes());
            expect.push(want[w.as_bytes()]);
            if k % 7 == 0 {
                stream.push(b"not a word");
                stream.push(&long_probe);
            }
        }
        let mut got = vec![u32::MAX]; // appended to, never cleared
        lookup.extend_ids(&stream, &mut got);
        assert_eq!(got[0], u32::MAX);
        assert_eq!(&got[1..], &expect[..]);
        assert_eq!(ByteLookup::new(&[]).get(b"a"), None);
        assert_eq!(ByteLookup::default().get(b""), None);
    }
}
