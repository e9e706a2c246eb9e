//! `/api/v1/subjects/{user_id}`: what the service holds about a person, and
//! erasing it (privacy requests such as the GDPR's access and erasure).
//!
//! Held about a person: their exposures to experiments and the events
//! tracked for them (stored under a keyed hash of their id), and the flag
//! rules and segments that name their id. Erasing deletes the former and
//! takes the id out of the latter through an ordinary governed, audited
//! write (approvals apply in protected environments), whose reason does not
//! name the person. Earlier flag versions and audit entries keep what they
//! recorded: the audit log is hash-chained, and rewriting it would break
//! the evidence it exists for; the answer says where the id remains.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use ff_store::{Change, Expect, Role};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::experiments::privacy;
use crate::extract::Path;
use crate::flag_ops::rfc3339;
use crate::governance::WriteMeta;
use crate::live::LiveConfig;
use crate::state::AppState;
use crate::write::{Outcome, apply, change};

/// `GET /api/v1/subjects/{user_id}`: everything held about a person.
pub async fn export_subject(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Admin)?;
    // Exposures still in memory belong in the answer too.
    crate::flush_evaluation_counts(&state).await;
    let subject = privacy::subject(
        state.subject_key(),
        &user_id,
        state.config.clear_subject_ids,
    );
    let (exposures, events) = state.store.subject_records(&subject).await?;
    let live = state.live.current();
    Ok(Json(json!({
        "user_id": user_id,
        "subject": subject,
        "exposures": exposures.iter().map(|e| json!({
            "experiment_id": e.experiment_id, "variant": e.variant, "first_at": rfc3339(e.at),
        })).collect::<Vec<_>>(),
        "events": events.iter().map(|e| json!({
            "event": e.event, "value": e.value, "at": rfc3339(e.at),
        })).collect::<Vec<_>>(),
        "named_in": mentions(&live, &user_id),
    })))
}

/// `DELETE /api/v1/subjects/{user_id}`: erases a person's exposures and
/// events at once and takes their id out of flag rules and segments (a
/// change request where an environment requires approval).
pub async fn erase_subject(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> ApiResult<Response> {
    principal.require(Role::Admin)?;
    crate::flush_evaluation_counts(&state).await;
    let subject = privacy::subject(
        state.subject_key(),
        &user_id,
        state.config.clear_subject_ids,
    );
    let (exposures, events) = state.store.erase_subject(&subject).await?;
    // The reason names the request, never the person.
    let meta = WriteMeta::from_request(&principal, &headers)
        .with_default_reason(|| format!("privacy erasure of subject {subject}"));
    let named = mentions(&state.live.current(), &user_id);
    // Flags and segments apart: a change request holds flag changes only.
    let rules = status(
        apply(&state, meta.clone(), |live| {
            Ok(flag_erasures(live, &user_id))
        })
        .await,
    );
    let segments = status(apply(&state, meta, |live| Ok(segment_erasures(live, &user_id))).await);
    Ok(Json(json!({
        "subject": subject,
        "exposures_erased": exposures,
        "events_erased": events,
        "rules": rules,
        "segments": segments,
        "named_in": named,
        "retained": "earlier flag versions and audit entries keep what they recorded (the audit log is hash-chained)",
    }))
    .into_response())
}

/// Where `user_id` is named: flags and segments, with the conditions' paths.
fn mentions(live: &LiveConfig, user_id: &str) -> Value {
    let mut flags: Vec<Value> = live
        .flags
        .values()
        .filter_map(|stored| {
            let paths = ff_engine::privacy::flag_mentions(&stored.flag, user_id);
            (!paths.is_empty())
                .then(|| json!({"flag_id": stored.flag.flag_id, "conditions": paths}))
        })
        .collect();
    flags.sort_by(|a, b| a["flag_id"].as_str().cmp(&b["flag_id"].as_str()));
    let mut segments: Vec<Value> = live
        .segments
        .values()
        .filter_map(|stored| {
            let paths = ff_engine::privacy::segment_mentions(&stored.segment, user_id);
            (!paths.is_empty())
                .then(|| json!({"segment_id": stored.segment.segment_id, "conditions": paths}))
        })
        .collect();
    segments.sort_by(|a, b| a["segment_id"].as_str().cmp(&b["segment_id"].as_str()));
    json!({"flags": flags, "segments": segments})
}

/// What became of one erasure write: erased, held for approval, nothing
/// to do, or refused (with the refusal's code and message: the data
/// erasure stands either way).
fn status(outcome: Result<Outcome, crate::error::ApiError>) -> Value {
    match outcome {
        Ok(Outcome::Committed(commit)) => json!({"status": "erased", "revision": commit.revision}),
        Ok(Outcome::Unchanged) => json!({"status": "not_named"}),
        Ok(Outcome::Held(request)) => {
            json!({"status": "pending_approval", "change_request": request.id})
        }
        Err(error) => json!({"status": "refused", "error": error.to_string()}),
    }
}

/// The flags without `user_id`, as the changes of one write.
fn flag_erasures(live: &LiveConfig, user_id: &str) -> Vec<ff_store::AuditedChange> {
    let mut changes = Vec::new();
    for stored in live.flags.values() {
        if let Some(erased) = ff_engine::privacy::erase_from_flag(&stored.flag, user_id) {
            changes.push(change(
                Change::PutFlag(erased, Expect::Version(stored.version)),
                "subject.erase",
                None,
            ));
        }
    }
    changes
}

/// The segments without `user_id`, as the changes of one write.
fn segment_erasures(live: &LiveConfig, user_id: &str) -> Vec<ff_store::AuditedChange> {
    let mut changes = Vec::new();
    for stored in live.segments.values() {
        if let Some(erased) = ff_engine::privacy::erase_from_segment(&stored.segment, user_id) {
            changes.push(change(
                Change::PutSegment(erased, Expect::Version(stored.version)),
                "subject.erase",
                None,
            ));
        }
    }
    changes
}
