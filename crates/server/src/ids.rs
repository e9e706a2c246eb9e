//! Ids the service makes up for what it creates (change requests,
//! schedules, plans, keys, webhooks, deliveries). A module of its own so
//! that anything can make one without reaching into `auth`.

use rand::RngExt as _;

/// A new random id: `{prefix}_` and 16 hex characters (`cr_…`, `sch_…`).
pub fn generate_id(prefix: &str) -> String {
    let bytes: [u8; 8] = rand::rng().random();
    format!("{prefix}_{}", hex::encode(bytes))
}
