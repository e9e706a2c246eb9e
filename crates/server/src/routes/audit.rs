//! `/api/v1/audit`: who changed what, when and why; and proof that the log
//! has not been edited.

use axum::Json;
use axum::extract::State;
use ff_api_types::{AuditEntry, AuditQuery, AuditVerification, Page};
use ff_store::Role;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::QueryParams;
use crate::state::AppState;
use crate::wire::{audit_entry, audit_query};
use crate::write::serialized_size;

/// `GET /api/v1/audit?flag_id=&environment=&actor=&action=&deployment_id=&since=&until=&before_id=&limit=`:
/// newest first; pass `next_cursor` as `before_id` for the next page.
///
/// A page ends at `limit` entries or once it holds [`PAGE_BYTES`] of
/// entries, whichever comes first, and is read from the store in small
/// chunks: entries carry whole documents (before and after), so a count
/// alone would let one request hold gigabytes.
pub async fn list_audit(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<AuditQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    principal.require(Role::Viewer)?;
    let mut query = audit_query(query);
    let limit = query.limit.unwrap_or(100).clamp(1, 1000) as usize;
    let mut items: Vec<ff_store::AuditEntry> = Vec::new();
    let mut bytes = 0usize;
    // Whether the page stopped at its size with entries left after it.
    let mut more = false;
    'reading: while items.len() < limit {
        let wanted = limit.saturating_sub(items.len()).min(CHUNK);
        query.limit = u32::try_from(wanted).ok();
        let chunk = state.store.audit(&query).await?;
        let exhausted = chunk.len() < wanted;
        for entry in chunk {
            if bytes >= PAGE_BYTES {
                more = true;
                break 'reading;
            }
            bytes = bytes.saturating_add(serialized_size(&entry));
            query.before_id = Some(entry.id);
            items.push(entry);
        }
        if exhausted {
            break;
        }
        if bytes >= PAGE_BYTES {
            more = true;
            break;
        }
    }
    let next_cursor = (more || items.len() == limit)
        .then(|| items.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: items.into_iter().map(audit_entry).collect(),
        total: None,
        next_cursor,
    }))
}

/// About how much of entries one page holds (at least one entry).
const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Entries read from the store at a time.
const CHUNK: usize = 50;

/// `GET /api/v1/audit/verify`: recomputes every entry's hash and link.
pub async fn verify_audit(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<AuditVerification>> {
    principal.require(Role::Viewer)?;
    let mut verification = ff_store::AuditVerification::start();
    let mut after = 0;
    loop {
        let page = state.store.audit_chain(after, 1000).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        verification.check_page(&page);
    }
    Ok(Json(AuditVerification {
        valid: verification.valid,
        entries: verification.entries,
        first_broken_id: verification.first_broken_id,
        head_hash: verification.head_hash,
    }))
}
