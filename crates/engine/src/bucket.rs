//! Bucketing: which of 100 000 buckets a context falls into for a flag.
//!
//! `bucket = murmur3_x86_32(seed 0, UTF-8 bytes of "{flag_id}:{value}") mod 100000`
//!
//! The hash is fed in pieces (flag id, `:`, value) so that no string is built
//! on the evaluation path; the result is the same as hashing the joined bytes.

/// The number of buckets; a percentage `p` covers buckets `0 .. p × 1000`.
pub const BUCKETS: u32 = 100_000;

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

/// Streaming MurmurHash3, x86 32-bit variant.
#[derive(Debug, Clone)]
pub struct Murmur3 {
    hash: u32,
    pending: [u8; 4],
    pending_len: usize,
    total_len: u32,
}

impl Murmur3 {
    /// A hasher with the given seed.
    pub fn with_seed(seed: u32) -> Murmur3 {
        Murmur3 {
            hash: seed,
            pending: [0; 4],
            pending_len: 0,
            total_len: 0,
        }
    }

    /// The state after hashing `"{flag_id}:"` with seed 0: the part of every
    /// bucket hash of a flag that does not depend on the context.
    pub fn with_prefix(flag_id: &str) -> Murmur3 {
        let mut hasher = Murmur3::with_seed(0);
        hasher.write(flag_id.as_bytes());
        hasher.write(b":");
        hasher
    }

    /// Feeds more bytes.
    #[expect(
        clippy::arithmetic_side_effects,
        reason = "pending_len stays within 0..4 and take within 0..=4 - pending_len"
    )]
    pub fn write(&mut self, mut bytes: &[u8]) {
        self.total_len = self.total_len.wrapping_add(bytes.len() as u32);
        if self.pending_len > 0 {
            let take = (4 - self.pending_len).min(bytes.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            if self.pending_len < 4 {
                return;
            }
            self.mix_block(u32::from_le_bytes(self.pending));
            self.pending_len = 0;
        }
        let mut blocks = bytes.chunks_exact(4);
        for block in &mut blocks {
            self.mix_block(u32::from_le_bytes([block[0], block[1], block[2], block[3]]));
        }
        let tail = blocks.remainder();
        self.pending[..tail.len()].copy_from_slice(tail);
        self.pending_len = tail.len();
    }

    fn mix_block(&mut self, block: u32) {
        self.hash ^= scramble(block);
        self.hash = self
            .hash
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }

    /// The hash of everything written.
    #[expect(clippy::arithmetic_side_effects, reason = "i < pending_len < 4")]
    pub fn finish(&self) -> u32 {
        let mut hash = self.hash;
        if self.pending_len > 0 {
            let mut tail = 0u32;
            for (i, byte) in self.pending[..self.pending_len].iter().enumerate() {
                tail |= u32::from(*byte) << (8 * i);
            }
            hash ^= scramble(tail);
        }
        hash ^= self.total_len;
        hash ^= hash >> 16;
        hash = hash.wrapping_mul(0x85eb_ca6b);
        hash ^= hash >> 13;
        hash = hash.wrapping_mul(0xc2b2_ae35);
        hash ^ (hash >> 16)
    }
}

fn scramble(k: u32) -> u32 {
    k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

/// MurmurHash3 x86_32 of `bytes` with `seed`.
pub fn murmur3_x86_32(bytes: &[u8], seed: u32) -> u32 {
    let mut hasher = Murmur3::with_seed(seed);
    hasher.write(bytes);
    hasher.finish()
}

/// The bucket (0 ..= 99 999) of `value` for `flag_id`.
pub fn bucket(flag_id: &str, value: &str) -> u32 {
    let mut hasher = Murmur3::with_prefix(flag_id);
    hasher.write(value.as_bytes());
    hasher.finish() % BUCKETS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // Published MurmurHash3 x86_32 test values.
        assert_eq!(murmur3_x86_32(b"", 0), 0);
        assert_eq!(murmur3_x86_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_x86_32(b"hello", 0), 0x248b_fa47);
        assert_eq!(murmur3_x86_32(b"Hello, world!", 1234), 0xfaf6_cdb3);
        assert_eq!(
            murmur3_x86_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
    }

    #[test]
    fn streaming_equals_one_shot_for_every_split() {
        let text = b"new_payment_flow:user-12345-\xc3\xa9";
        let whole = murmur3_x86_32(text, 0);
        for a in 0..text.len() {
            for b in a..text.len() {
                let mut hasher = Murmur3::with_seed(0);
                hasher.write(&text[..a]);
                hasher.write(&text[a..b]);
                hasher.write(&text[b..]);
                assert_eq!(hasher.finish(), whole, "split at {a}, {b}");
            }
        }
    }

    #[test]
    fn bucket_hashes_the_joined_string() {
        assert_eq!(
            bucket("flag", "user"),
            murmur3_x86_32(b"flag:user", 0) % BUCKETS
        );
    }
}
