//! `/api/v1/audit`: who changed what, when and why; and proof that the log
//! has not been edited.

use axum::Json;
use axum::extract::State;
use ff_api_types::Page;
use ff_store::{AuditEntry, AuditQuery, AuditVerification, Role};
use serde_json::Value;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::QueryParams;
use crate::state::AppState;

/// `GET /api/v1/audit?flag_id=&environment=&actor=&action=&deployment_id=&since=&until=&before_id=&limit=`:
/// newest first; pass `next_cursor` as `before_id` for the next page.
pub async fn list_audit(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(mut query): QueryParams<AuditQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    principal.require(Role::Viewer)?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    query.limit = Some(limit);
    let entries = state.store.audit(&query).await?;
    let next_cursor = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: entries,
        total: None,
        next_cursor,
    }))
}

/// `GET /api/v1/audit/verify`: recomputes every entry's hash and link.
pub async fn verify_audit(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Viewer)?;
    let mut verification = AuditVerification::start();
    let mut after = 0;
    loop {
        let page = state.store.audit_chain(after, 1000).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        verification.check_page(&page);
    }
    Ok(Json(serde_json::to_value(verification).unwrap_or_default()))
}
