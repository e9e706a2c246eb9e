//! Evaluation logs for debugging: switched on for a flag in an environment
//! for a while (`POST …/evaluation-log`), every node keeps what it
//! evaluated there — the context (attribute values as keyed hashes unless
//! asked in clear), value, variant, reason and rule — and flushes it to the
//! store with the counts. The switches are read from the store every tick,
//! so a switch made on one node reaches the others within seconds; an
//! evaluation of a flag without one costs a map lookup.

use std::collections::HashMap;
use std::sync::Mutex;

use arc_swap::ArcSwap;
use ff_engine::{Context, Resolution};
use ff_store::{LogEntry, LogSwitch};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// Entries held between flushes (more are dropped: a log is a sample).
const MAX_PENDING: usize = 5_000;

/// The switches in force and the entries not yet stored.
#[derive(Debug, Default)]
pub struct EvaluationLog {
    switches: ArcSwap<HashMap<String, HashMap<String, LogSwitch>>>,
    pending: Mutex<Vec<LogEntry>>,
}

impl EvaluationLog {
    /// Replaces the switches (from the store).
    pub fn set_switches(&self, switches: Vec<LogSwitch>) {
        let mut by_flag: HashMap<String, HashMap<String, LogSwitch>> = HashMap::new();
        for switch in switches {
            by_flag
                .entry(switch.flag_id.clone())
                .or_default()
                .insert(switch.environment.clone(), switch);
        }
        self.switches.store(std::sync::Arc::new(by_flag));
    }

    /// Logs an evaluation if a log is on for the flag there (and not expired).
    pub fn note(
        &self,
        flag_id: &str,
        environment: &str,
        context: &Context,
        resolution: &Resolution<'_>,
        now: OffsetDateTime,
        key: &str,
    ) {
        let switches = self.switches.load();
        let Some(switch) = switches.get(flag_id).and_then(|envs| envs.get(environment)) else {
            return;
        };
        if now >= switch.until {
            return;
        }
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        if pending.len() >= MAX_PENDING {
            return;
        }
        pending.push(LogEntry {
            flag_id: flag_id.to_owned(),
            environment: environment.to_owned(),
            at: now,
            entry: json!({
                "context": shown(context, switch.clear_context, key),
                "value": resolution.value,
                "variant": resolution.variant,
                "reason": resolution.reason.as_str(),
                "error_code": resolution.error_code.map(ff_engine::ErrorCode::as_str),
                "rule": resolution.rule,
            }),
        });
    }

    /// Takes the entries to store.
    pub fn take(&self) -> Vec<LogEntry> {
        self.pending
            .lock()
            .map(|mut pending| std::mem::take(&mut *pending))
            .unwrap_or_default()
    }
}

/// The context as logged: attribute names in clear, values as keyed hashes
/// (the same as stored subjects) unless the log keeps them in clear.
fn shown(context: &Context, clear: bool, key: &str) -> Value {
    let attributes: Map<String, Value> = context
        .attributes()
        .map(|(name, value)| {
            let shown = if clear {
                value.clone()
            } else {
                Value::String(crate::experiments::privacy::subject(
                    key,
                    &value.to_string(),
                    false,
                ))
            };
            (name.to_owned(), shown)
        })
        .collect();
    Value::Object(attributes)
}
