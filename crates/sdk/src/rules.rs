//! The environment's rules as the stream describes them, and their compiled
//! form that evaluations read.
//!
//! The stream (`GET /api/v1/stream`) sends a `put` with every flag (already
//! projected to the key's environment: inheritance and auto-sync resolved by
//! the service) and every segment, then a `patch` or `delete` per changed
//! flag or segment. The last event of each committed batch carries the
//! revision as its id; only then is the new state published, so that an
//! evaluation never sees half a batch.

use std::collections::BTreeMap;
use std::sync::Arc;

use ff_api_types::{ChangeEvent, PutEvent, event};
use ff_engine::{Environment, EnvironmentSnapshot, Flag, Segment, Snapshot};
use serde_json::Value;

/// What evaluations read: one environment's compiled flags at a revision.
#[derive(Debug)]
pub struct Published {
    /// The service revision these rules reflect.
    pub revision: i64,
    /// The environment of the key.
    pub environment: String,
    snapshot: Snapshot,
}

impl Published {
    /// The compiled flags of the environment.
    pub fn flags(&self) -> Option<&EnvironmentSnapshot> {
        self.snapshot
            .environment(&self.environment)
            .map(|s| s.as_ref())
    }
}

/// The documents behind [`Published`], kept by the task that follows the
/// stream and changed event by event.
#[derive(Debug, Default)]
pub struct Rules {
    environment: String,
    flags: BTreeMap<String, Flag>,
    segments: BTreeMap<String, Segment>,
    snapshot: Snapshot,
    /// Flags changed since the last publication (recompiled alone), or
    /// `None` when everything must be (a segment changed).
    changed_flags: Option<Vec<String>>,
}

/// Why an event could not be applied (the stream is then reopened: a fresh
/// `put` puts things right).
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Not the JSON the protocol describes.
    #[error("a malformed `{event}` event: {detail}")]
    Malformed {
        /// The event's name.
        event: String,
        /// What is wrong.
        detail: String,
    },
}

impl Rules {
    /// Applies one stream event (`put`, `patch`, `delete`; others are
    /// ignored, as the protocol asks of clients).
    pub fn apply(&mut self, event: &str, data: &str) -> Result<(), EventError> {
        let malformed = |detail: String| EventError::Malformed {
            event: event.to_owned(),
            detail,
        };
        match event {
            event::PUT => {
                let put: PutEvent =
                    serde_json::from_str(data).map_err(|e| malformed(e.to_string()))?;
                self.environment = put.environment;
                self.flags = put
                    .flags
                    .iter()
                    .map(|doc| parse_flag(doc).map(|f| (f.flag_id.clone(), f)))
                    .collect::<Result<_, _>>()
                    .map_err(malformed)?;
                self.segments = put
                    .segments
                    .iter()
                    .map(|doc| parse_segment(doc).map(|s| (s.segment_id.clone(), s)))
                    .collect::<Result<_, _>>()
                    .map_err(malformed)?;
                self.changed_flags = None;
            }
            event::PATCH | event::DELETE => {
                let change: ChangeEvent =
                    serde_json::from_str(data).map_err(|e| malformed(e.to_string()))?;
                match (change.kind.as_str(), event, change.document) {
                    ("flag", event::PATCH, Some(doc)) => {
                        let flag = parse_flag(&doc).map_err(malformed)?;
                        self.flags.insert(change.key.clone(), flag);
                        self.note_flag_change(change.key);
                    }
                    ("flag", event::DELETE, _) => {
                        self.flags.remove(&change.key);
                        self.note_flag_change(change.key);
                    }
                    ("segment", event::PATCH, Some(doc)) => {
                        let segment = parse_segment(&doc).map_err(malformed)?;
                        self.segments.insert(change.key, segment);
                        self.changed_flags = None;
                    }
                    ("segment", event::DELETE, _) => {
                        self.segments.remove(&change.key);
                        self.changed_flags = None;
                    }
                    (kind, _, _) => {
                        return Err(malformed(format!(
                            "a {event} of kind \"{kind}\" without what it needs"
                        )));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn note_flag_change(&mut self, key: String) {
        if let Some(changed) = &mut self.changed_flags {
            changed.push(key);
        }
    }

    /// Compiles what changed since the last call and returns the state to
    /// publish at `revision`.
    pub fn publish(&mut self, revision: i64) -> Arc<Published> {
        let tree = [Environment::new(&self.environment, None, false)];
        self.snapshot = match self.changed_flags.take() {
            Some(changed) if self.snapshot.environment(&self.environment).is_some() => {
                let present: Vec<&Flag> =
                    changed.iter().filter_map(|k| self.flags.get(k)).collect();
                let removed: Vec<&str> = changed
                    .iter()
                    .filter(|k| !self.flags.contains_key(*k))
                    .map(String::as_str)
                    .collect();
                self.snapshot.with_flags_changed(&present, &removed, &tree)
            }
            _ => {
                let flags: Vec<&Flag> = self.flags.values().collect();
                let segments: Vec<Segment> = self.segments.values().cloned().collect();
                Snapshot::build(&flags, &segments, &tree)
            }
        };
        self.changed_flags = Some(Vec::new());
        Arc::new(Published {
            revision,
            environment: self.environment.clone(),
            snapshot: self.snapshot.clone(),
        })
    }
}

fn parse_flag(doc: &Value) -> Result<Flag, String> {
    ff_engine::parse_flag(doc).map_err(|problems| describe(doc, &problems))
}

fn parse_segment(doc: &Value) -> Result<Segment, String> {
    ff_engine::parse_segment(doc).map_err(|problems| describe(doc, &problems))
}

fn describe(doc: &Value, problems: &[ff_engine::Problem]) -> String {
    let id = doc
        .get("flag_id")
        .or_else(|| doc.get("segment_id"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let first = problems
        .first()
        .map(|p| format!("{}: {}", p.path, p.message))
        .unwrap_or_default();
    format!(
        "\"{id}\" does not parse ({} problems; first {first})",
        problems.len()
    )
}
