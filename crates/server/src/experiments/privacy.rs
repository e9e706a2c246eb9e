//! Subjects (user ids) in exposures and events are stored as keyed hashes:
//! SHA-256 of the installation's secret key and the id, so that the stored
//! value neither reveals the id nor can be recomputed without the key. The
//! key is made once per installation and kept in the store (shared by every
//! node). `--clear-subject-ids` stores ids as they are instead.

use sha2::{Digest, Sha256};

/// The store's name of the hashing key.
pub const KEY_NAME: &str = "subject_hash_key";

/// A new random key (hex).
pub fn new_key() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// How a user id is stored: its keyed hash (`h:` and 32 hex digits), or
/// the id itself (`id:…`) when ids are kept in clear.
pub fn subject(key: &str, user_id: &str, clear: bool) -> String {
    if clear {
        return format!("id:{user_id}");
    }
    let mut hasher = Sha256::new();
    // Length-prefixed, so that no (key, id) pair collides with another.
    hasher.update((key.len() as u64).to_be_bytes());
    hasher.update(key.as_bytes());
    hasher.update(user_id.as_bytes());
    let digest = hasher.finalize();
    format!("h:{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_keyed_hashes_unless_kept_in_clear() {
        let a = subject("key-a", "user-1", false);
        assert_eq!(a, subject("key-a", "user-1", false), "stable");
        assert_ne!(a, subject("key-b", "user-1", false), "keyed");
        assert_ne!(a, subject("key-a", "user-2", false));
        assert!(
            a.starts_with("h:") && a.len() == 34 && !a.contains("user-1"),
            "{a}"
        );
        assert_eq!(subject("key-a", "user-1", true), "id:user-1");
    }
}
