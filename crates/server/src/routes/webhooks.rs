//! `/api/v1/webhooks`: outgoing webhook endpoints, their deliveries and a
//! test ping. Admins only, reads included: an endpoint's URL may itself be
//! a credential (a Slack incoming webhook's is). Registrations are written
//! like API keys (audited commits, never held for approval); the signing
//! secret is made here and answered once, at creation.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_api_types::{
    CreateWebhookRequest, Page, UpdateWebhookRequest, Webhook, WebhookDeleted, WebhookDelivery,
};
use ff_store::{Change, Delivery, Expect, Role, StoredWebhook, WebhookRecord};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Path};
use crate::flag_ops::rfc3339;
use crate::governance::{WriteMeta, WriteMode};
use crate::ids::generate_id;
use crate::state::AppState;
use crate::webhooks::dispatch;
use crate::webhooks::settings::{Settings, new_secret, wire};
use crate::write::{apply, change};

/// Deliveries answered per endpoint, newest first.
const RECENT_DELIVERIES: u32 = 100;

/// `GET /api/v1/webhooks`: every endpoint (never a secret).
pub async fn list_webhooks(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Page<Webhook>>> {
    principal.require(Role::Admin)?;
    let endpoints = state.store.webhooks().await?;
    Ok(Json(Page::all(
        endpoints.iter().map(|stored| wire(stored, None)).collect(),
    )))
}

/// `POST /api/v1/webhooks`: registers an endpoint; answers its signing
/// secret once, under `secret`.
pub async fn create_webhook(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<serde_json::Value>,
) -> ApiResult<Response> {
    principal.require(Role::Admin)?;
    let request: CreateWebhookRequest = object(request)?;
    let live = state.live.current();
    let settings = Settings::create(request, &|env| live.environments.contains_key(env))?;
    let id = generate_id("wh");
    let secret = new_secret();
    let record = WebhookRecord {
        id: id.clone(),
        url: settings.url.clone(),
        document: settings.document(),
        secret: Some(secret.clone()),
    };
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    apply(&state, meta, |_| {
        Ok(vec![change(
            Change::PutWebhook(record, Expect::Absent),
            "webhook.create",
            None,
        )])
    })
    .await?
    .into_commit()?;
    let stored = find(&state, &id).await?;
    Ok((StatusCode::CREATED, Json(wire(&stored, Some(secret)))).into_response())
}

/// `GET /api/v1/webhooks/{id}`: one endpoint.
pub async fn get_webhook(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Webhook>> {
    principal.require(Role::Admin)?;
    Ok(Json(wire(&find(&state, &id).await?, None)))
}

/// `PATCH /api/v1/webhooks/{id}`: changes the fields given (a change made
/// meanwhile by someone else is a 409).
pub async fn update_webhook(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<serde_json::Value>,
) -> ApiResult<Json<Webhook>> {
    principal.require(Role::Admin)?;
    let request: UpdateWebhookRequest = object(request)?;
    let current = find(&state, &id).await?;
    let live = state.live.current();
    let before = Settings::of(&current);
    let settings = before
        .clone()
        .update(request, &|env| live.environments.contains_key(env))?;
    if settings == before {
        return Ok(Json(wire(&current, None)));
    }
    let record = WebhookRecord {
        id: id.clone(),
        url: settings.url.clone(),
        document: settings.document(),
        secret: None,
    };
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    apply(&state, meta, |_| {
        Ok(vec![change(
            Change::PutWebhook(record, Expect::Version(current.version)),
            "webhook.update",
            None,
        )])
    })
    .await?
    .into_commit()?;
    Ok(Json(wire(&find(&state, &id).await?, None)))
}

/// `DELETE /api/v1/webhooks/{id}`: removes an endpoint and its deliveries
/// (pending ones are never sent).
pub async fn delete_webhook(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookDeleted>> {
    principal.require(Role::Admin)?;
    let current = find(&state, &id).await?;
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    apply(&state, meta, |_| {
        Ok(vec![change(
            Change::DeleteWebhook(id.clone(), Expect::Version(current.version)),
            "webhook.delete",
            None,
        )])
    })
    .await?
    .into_commit()?;
    Ok(Json(WebhookDeleted { id, deleted: true }))
}

/// `GET /api/v1/webhooks/{id}/deliveries`: the newest deliveries and how
/// each went.
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<WebhookDelivery>>> {
    principal.require(Role::Admin)?;
    find(&state, &id).await?;
    let deliveries = state
        .store
        .webhook_deliveries(&id, RECENT_DELIVERIES)
        .await?;
    Ok(Json(Page::all(deliveries.iter().map(delivery).collect())))
}

/// `POST /api/v1/webhooks/{id}/test`: sends a `ping` now; answers the
/// delivery as it stands after the attempt.
pub async fn test_webhook(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookDelivery>> {
    principal.require(Role::Admin)?;
    let endpoint = find(&state, &id).await?;
    let sent = dispatch::ping(&state, &endpoint).await?;
    Ok(Json(delivery(&sent)))
}

/// A body that is a JSON object of `T`'s fields. serde would also read a
/// struct from an array of its fields in order (`[null, null]`), which the
/// schema does not allow.
fn object<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> Result<T, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize(body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("{}: {}", e.path(), e.inner())))
}

async fn find(state: &AppState, id: &str) -> Result<StoredWebhook, ApiError> {
    // No id has a NUL, which PostgreSQL refuses in text: not a 5xx.
    if id.contains('\0') {
        return Err(ApiError::not_found("webhook", id));
    }
    state
        .store
        .webhook(id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", id))
}

fn delivery(delivery: &Delivery) -> WebhookDelivery {
    WebhookDelivery {
        id: delivery.id.clone(),
        webhook_id: delivery.webhook_id.clone(),
        event_id: delivery.event_id.clone(),
        event: delivery.event.clone(),
        status: delivery.status.as_str().to_owned(),
        attempts: delivery.attempts,
        next_attempt_at: delivery.next_attempt_at.map(rfc3339),
        last_status_code: delivery.last_status,
        last_error: delivery.last_error.clone(),
        created_at: rfc3339(delivery.created_at),
        updated_at: rfc3339(delivery.updated_at),
        payload: serde_json::from_str(&delivery.payload)
            .unwrap_or(serde_json::Value::String(delivery.payload.clone())),
    }
}
