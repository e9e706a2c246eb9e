//! The audit log's hash chain: each entry stores the hash of the one before,
//! so that editing, inserting or removing an entry is detectable.

use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::AuditEntry;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry: SHA-256 (hex) of the canonical JSON (keys sorted, no
/// spaces) of `prev_hash` and every field but `id` and `hash`, with the time
/// as Unix milliseconds. Stores keep times to the millisecond, so the hash is
/// computed over what is stored.
pub fn entry_hash(prev_hash: &str, entry: &AuditEntry) -> String {
    let fields = json!({
        "prev_hash": prev_hash,
        "at_ms": unix_millis(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "resource_kind": entry.resource_kind.as_str(),
        "resource_key": entry.resource_key,
        "environment": entry.environment,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
        "request_id": entry.request_id,
        "deployment_id": entry.deployment_id,
    });
    let canonical = canonical(&fields).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Milliseconds since the Unix epoch: the precision times are stored in.
pub fn unix_millis(at: time::OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The same JSON with every object's keys sorted.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let sorted: Map<String, Value> = keys
                .into_iter()
                .map(|k| (k.clone(), canonical(&map[k])))
                .collect();
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    /// Whether every entry's hash and link hold.
    pub valid: bool,
    /// How many entries were checked.
    pub entries: u64,
    /// The first entry whose hash or link does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken_id: Option<i64>,
    /// The last entry's hash: publish it to detect a rewritten tail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_hash: Option<String>,
}

impl AuditVerification {
    /// Checks entries given oldest first, continuing from `state` (use
    /// [`AuditVerification::start`] for the first page).
    pub fn check_page(&mut self, entries: &[AuditEntry]) {
        for entry in entries {
            self.entries = self.entries.saturating_add(1);
            let expected_prev = self.head_hash.as_deref().unwrap_or(GENESIS_HASH);
            let holds = entry.prev_hash == expected_prev
                && entry.hash == entry_hash(&entry.prev_hash, entry);
            if !holds && self.valid {
                self.valid = false;
                self.first_broken_id = Some(entry.id);
            }
            self.head_hash = Some(entry.hash.clone());
        }
    }

    /// A verification that has checked nothing yet.
    pub fn start() -> AuditVerification {
        AuditVerification {
            valid: true,
            entries: 0,
            first_broken_id: None,
            head_hash: None,
        }
    }
}
