//! `/api/v1/segments`: reusable sets of conditions, referenced by
//! `in_segment` / `not_in_segment`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_api_types::{Page, Segment, SegmentDeleted};
use ff_engine::{EnvironmentEntry, Flag, Rule};
use ff_store::{Change, Expect, Role, StoredSegment};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Path, if_match};
use crate::flag_ops::{members, parse_segment, rfc3339, strip_meta};
use crate::governance::WriteMeta;
use crate::state::AppState;
use crate::write::{apply, change, expect_version};

fn segment_response(stored: &StoredSegment, used_by: Vec<&str>) -> Segment {
    Segment {
        document: members(&stored.segment),
        version: stored.version,
        updated_at: rfc3339(stored.updated_at),
        used_by: used_by.into_iter().map(str::to_owned).collect(),
    }
}

/// The flags whose rules (any environment) refer to `segment_id`.
fn flags_using<'a>(flags: impl Iterator<Item = &'a Flag>, segment_id: &str) -> Vec<&'a str> {
    let rule_uses = |rules: &[Rule]| crate::governance::rules_use_segment(rules, segment_id);
    flags
        .filter(|flag| {
            rule_uses(&flag.targeting_rules)
                || flag.environments.values().any(|entry| match entry {
                    EnvironmentEntry::Config(config) => {
                        config.targeting_rules.as_deref().is_some_and(rule_uses)
                    }
                    EnvironmentEntry::Value(_) => false,
                })
        })
        .map(|flag| flag.flag_id.as_str())
        .collect()
}

/// `GET /api/v1/segments`.
pub async fn list_segments(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Page<Segment>>> {
    principal.require(Role::Viewer)?;
    let live = state.live.current();
    let items: Vec<Segment> = live
        .segments
        .values()
        .map(|s| {
            segment_response(
                s,
                flags_using(live.flags.values().map(|f| &f.flag), &s.segment.segment_id),
            )
        })
        .collect();
    Ok(Json(Page::all(items)))
}

/// `GET /api/v1/segments/{segment_id}`: with the flags that use it.
pub async fn get_segment(
    State(state): State<AppState>,
    principal: Principal,
    Path(segment_id): Path<String>,
) -> ApiResult<Json<Segment>> {
    principal.require(Role::Viewer)?;
    let live = state.live.current();
    let stored = live
        .segments
        .get(&segment_id)
        .ok_or_else(|| ApiError::not_found("segment", &segment_id))?;
    Ok(Json(segment_response(
        stored,
        flags_using(live.flags.values().map(|f| &f.flag), &segment_id),
    )))
}

/// `POST /api/v1/segments`.
pub async fn create_segment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(mut body): JsonBody<Value>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    strip_meta(&mut body)?;
    if let Value::Object(map) = &mut body {
        map.shift_remove("used_by");
    }
    let segment = parse_segment(&body)?;
    let segment_id = segment.segment_id.clone();
    let meta = WriteMeta::from_request(&principal, &headers);
    let live = apply(&state, meta, |live| {
        if live.segments.contains_key(&segment.segment_id) {
            return Err(ApiError::Conflict {
                code: "already_exists",
                message: format!(
                    "segment \"{}\" already exists; use PUT to replace it",
                    segment.segment_id
                ),
                details: Value::Null,
            });
        }
        Ok(vec![change(
            Change::PutSegment(segment, Expect::Absent),
            "segment.create",
            None,
        )])
    })
    .await?
    .into_commit()?
    .live;
    let stored = live
        .segments
        .get(&segment_id)
        .ok_or_else(|| ApiError::Internal("created segment missing".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(segment_response(stored, Vec::new())),
    )
        .into_response())
}

/// `PUT /api/v1/segments/{segment_id}`.
pub async fn replace_segment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(segment_id): Path<String>,
    JsonBody(mut body): JsonBody<Value>,
) -> ApiResult<Json<Segment>> {
    principal.require(Role::Editor)?;
    let body_version = strip_meta(&mut body)?;
    if let Value::Object(map) = &mut body {
        map.shift_remove("used_by");
        let given = map
            .entry("segment_id")
            .or_insert_with(|| segment_id.clone().into());
        if given.as_str() != Some(segment_id.as_str()) {
            return Err(ApiError::bad_request(
                "segment_id_mismatch",
                "segments cannot be renamed",
            ));
        }
    }
    let segment = parse_segment(&body)?;
    let client_version = if_match(&headers)?.or(body_version);
    let meta = WriteMeta::from_request(&principal, &headers);
    let live = apply(&state, meta, |live| {
        let current = live
            .segments
            .get(&segment_id)
            .ok_or_else(|| ApiError::not_found("segment", &segment_id))?;
        Ok(vec![change(
            Change::PutSegment(segment, expect_version(client_version, current.version)),
            "segment.update",
            None,
        )])
    })
    .await?
    .into_commit()?
    .live;
    let stored = live
        .segments
        .get(&segment_id)
        .ok_or_else(|| ApiError::Internal("updated segment missing".into()))?;
    Ok(Json(segment_response(
        stored,
        flags_using(live.flags.values().map(|f| &f.flag), &segment_id),
    )))
}

/// `DELETE /api/v1/segments/{segment_id}`: refused while a flag uses it.
pub async fn delete_segment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(segment_id): Path<String>,
) -> ApiResult<Json<SegmentDeleted>> {
    principal.require(Role::Editor)?;
    let client_version = if_match(&headers)?;
    let meta = WriteMeta::from_request(&principal, &headers);
    let committed = apply(&state, meta, |live| {
        let current = live
            .segments
            .get(&segment_id)
            .ok_or_else(|| ApiError::not_found("segment", &segment_id))?;
        let users = flags_using(live.flags.values().map(|f| &f.flag), &segment_id);
        if !users.is_empty() {
            return Err(ApiError::Conflict {
                code: "in_use",
                message: format!(
                    "segment \"{segment_id}\" is used by {}; change those flags first",
                    users.join(", ")
                ),
                details: json!({ "used_by": users }),
            });
        }
        Ok(vec![change(
            Change::DeleteSegment(
                segment_id.clone(),
                expect_version(client_version, current.version),
            ),
            "segment.delete",
            None,
        )])
    })
    .await?
    .into_commit()?;
    Ok(Json(SegmentDeleted {
        segment_id,
        deleted: true,
        revision: committed.revision,
    }))
}
