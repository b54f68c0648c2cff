//! The bigram table of the id representation ([`super::ids`]): open
//! addressing with linear probing over 32-byte slots, key and counts side by
//! side, so a look-up of a key not in cache costs one cache line (hashbrown
//! keeps control bytes and entries apart: two). [`PairTable::prefetch`]
//! lets the counting loop ask for a slot's line a few keys ahead, so the
//! misses of consecutive look-ups overlap instead of queueing.
//!
//! Keys are `u128` (see `ids.rs`); `u128::MAX` marks an empty slot and is
//! never a key (ids and run ids are below `u32::MAX`). The table holds at
//! most 3/4 of its slots and doubles when that is reached.

use crate::vocab::Counted;

/// Marks an empty slot.
pub(crate) const EMPTY: u128 = u128::MAX;

/// One slot: a key and its counts, one per half cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))]
struct Slot {
    key: u128,
    c: Counted,
}

const VACANT: Slot = Slot {
    key: EMPTY,
    c: Counted { count: 0, rank: 0 },
};

/// The hash of a key: multiplicative, best mixed in the top bits. The top
/// four choose the shard (see `ids.rs`), the bits below them the slot.
#[inline]
pub(crate) fn hash(k: u128) -> u64 {
    let lo = k as u64;
    let hi = (k >> 64) as u64;
    (lo ^ hi.wrapping_mul(0xD6E8_FEB8_6659_FD93)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The shard of a key hash, one of `16`.
#[inline]
pub(crate) fn shard_of_hash(h: u64) -> usize {
    (h >> 60) as usize
}

/// A `u128 -> Counted` table (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct PairTable {
    slots: Vec<Slot>,
    len: usize,
    /// `64 - log2(slots.len())`.
    shift: u32,
}

impl Default for PairTable {
    fn default() -> Self {
        PairTable::with_capacity(0)
    }
}

impl PairTable {
    /// A table that holds `n` keys before it grows.
    pub(crate) fn with_capacity(n: usize) -> Self {
        let slots = (n.saturating_mul(4) / 3 + 1).next_power_of_two().max(64);
        PairTable {
            slots: vec![VACANT; slots],
            len: 0,
            shift: 64 - slots.trailing_zeros(),
        }
    }

    /// Keys held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn home(&self, h: u64) -> usize {
        // the bits below the shard's four
        ((h << 4) >> self.shift) as usize
    }

    /// Asks for the cache line of the slot where a key of hash `h` starts
    /// its probe (a hint: no effect on the result).
    #[inline]
    pub(crate) fn prefetch(&self, h: u64) {
        crate::mem::prefetch(self.slots.as_ptr().wrapping_add(self.home(h)));
    }

    /// Adds one to the count of `k` (hash `h`), inserting it with rank
    /// `pos` if absent.
    #[inline]
    pub(crate) fn bump(&mut self, k: u128, h: u64, pos: u64) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(h);
        loop {
            let s = &mut self.slots[i];
            if s.key == k {
                s.c.count += 1;
                return;
            }
            if s.key == EMPTY {
                break;
            }
            i = (i + 1) & mask;
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
            self.insert_new(
                k,
                h,
                Counted {
                    count: 1,
                    rank: pos,
                },
            );
        } else {
            self.slots[i] = Slot {
                key: k,
                c: Counted {
                    count: 1,
                    rank: pos,
                },
            };
            self.len += 1;
        }
    }

    /// Inserts `k`, known to be absent, with room for it.
    #[inline]
    fn insert_new(&mut self, k: u128, h: u64, c: Counted) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(h);
        while self.slots[i].key != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot { key: k, c };
        self.len += 1;
    }

    fn grow(&mut self) {
        let mut bigger = PairTable::with_capacity(self.slots.len());
        for s in self.slots.iter().filter(|s| s.key != EMPTY) {
            bigger.insert_new(s.key, hash(s.key), s.c);
        }
        *self = bigger;
    }

    /// Inserts `k` (absent) with its counts: building a table.
    pub(crate) fn insert(&mut self, k: u128, c: Counted) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        self.insert_new(k, hash(k), c);
    }

    /// The counts of `k`.
    #[inline]
    pub(crate) fn get(&self, k: u128) -> Option<Counted> {
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash(k));
        loop {
            let s = &self.slots[i];
            if s.key == k {
                return Some(s.c);
            }
            if s.key == EMPTY {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Every key and its counts, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u128, Counted)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.key != EMPTY)
            .map(|s| (s.key, s.c))
    }

    /// Keeps the keys for which `keep` is true (the table is rebuilt, sized
    /// for what is kept).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Counted) -> bool) {
        let kept: Vec<Slot> = self
            .slots
            .iter()
            .filter(|s| s.key != EMPTY && keep(&s.c))
            .copied()
            .collect();
        let mut t = PairTable::with_capacity(kept.len());
        for s in kept {
            t.insert_new(s.key, hash(s.key), s.c);
        }
        *self = t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_a_hash_map_through_growth_and_retain() {
        let mut t = PairTable::default();
        let mut m = std::collections::HashMap::new();
        let mut x = 5u64;
        for pos in 0..20_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = ((x >> 50) as u128) | (((x >> 60) as u128) << 64);
            t.bump(k, hash(k), pos);
            m.entry(k)
                .and_modify(|c: &mut Counted| c.count += 1)
                .or_insert(Counted {
                    count: 1,
                    rank: pos,
                });
        }
        let check = |t: &PairTable, m: &std::collections::HashMap<u128, Counted>| {
            assert_eq!(t.len(), m.len());
            for (k, c) in m {
                let got = t.get(*k).unwrap();
                assert_eq!((got.count, got.rank), (c.count, c.rank));
            }
            assert_eq!(t.iter().count(), m.len());
        };
        check(&t, &m);
        assert!(t.get(1 << 100).is_none());
        t.retain(|c| c.count >= 3);
        m.retain(|_, c| c.count >= 3);
        check(&t, &m);
    }
}
