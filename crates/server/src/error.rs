//! `ApiError`: every failure a handler can answer, mapped to one JSON envelope
//! `{"error": {"code", "message", "details"}}`. Internal causes are logged
//! once here and never sent to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ff_api_types::{ErrorBody, ErrorDetail};
use ff_engine::Problem;
use ff_store::StoreError;
use serde_json::{Value, json};

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (not JSON, wrong types, bad parameters).
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// What to fix.
        message: String,
    },
    /// A document failed validation; every problem is listed with its path.
    #[error("validation failed")]
    Validation(Vec<Problem>),
    /// No or an unknown API key.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid key without the right.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A version check failed or the resource already exists.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// What happened and what to do.
        message: String,
        /// E.g. the current version.
        details: Value,
    },
    /// An environment's rule refuses the write (a change window, a missing
    /// reason or confirmation); `status` is 403, 409 or 422.
    #[error("{message}")]
    Refused {
        /// The HTTP status.
        status: StatusCode,
        /// Machine-readable, e.g. `outside_change_window`.
        code: &'static str,
        /// For people: what to do.
        message: String,
        /// Structured details (the next window, the dependents …).
        details: Value,
    },
    /// The body is larger than the limit.
    #[error("the request body is larger than the server accepts (see --max-body-bytes)")]
    PayloadTooLarge,
    /// The client did not send its request in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// Too many requests for this key.
    #[error("rate limit exceeded; retry in {retry_after} s")]
    RateLimited {
        /// Whole seconds to wait.
        retry_after: u64,
    },
    /// The database is unreachable (the store's error, logged with its
    /// chain of causes, never sent).
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    /// A bug or an unexpected failure (logged, never shown).
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 with a code and a message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 422: the request is well formed (its schema holds) but what it
    /// asks is not valid (an email without `@`, a time too far back).
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// A 404 for a named resource.
    pub fn not_found(what: &str, key: &str) -> ApiError {
        ApiError::NotFound(format!("{what} \"{key}\" does not exist"))
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::Refused { status, code, .. } => (*status, code),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let details = match &self {
            ApiError::Validation(problems) => json!({ "problems": problems }),
            ApiError::Conflict { details, .. } | ApiError::Refused { details, .. } => {
                details.clone()
            }
            ApiError::RateLimited { retry_after } => json!({ "retry_after": retry_after }),
            _ => Value::Null,
        };
        let message = match &self {
            ApiError::Validation(problems) => {
                let errors = problems
                    .iter()
                    .filter(|p| p.severity == ff_engine::Severity::Error)
                    .count();
                let first = problems
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                if errors > 1 {
                    format!("{errors} problems; the first: {first}")
                } else {
                    first
                }
            }
            ApiError::Unavailable(cause) => {
                // As an error value, so that the subscriber also writes its
                // sources (`error.cause.sources=[…]`): the database's own
                // cause, e.g. the I/O error behind a lost connection.
                tracing::error!(
                    error.cause = cause as &dyn std::error::Error,
                    status = status.as_u16(),
                    "request failed"
                );
                self.to_string()
            }
            ApiError::Internal(cause) => {
                tracing::error!(error.cause = %cause, status = status.as_u16(), "request failed");
                self.to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
                details,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Conflict {
                kind,
                key,
                expected,
                actual,
            } => {
                let message = match (expected, actual) {
                    (ff_store::Expect::Absent, Some(_)) => {
                        format!("{} \"{key}\" already exists", kind.as_str())
                    }
                    (_, Some(actual)) => format!(
                        "{} \"{key}\" was changed by someone else: it is at version {actual}; \
                         fetch it again and reapply your change",
                        kind.as_str()
                    ),
                    (_, None) => format!("{} \"{key}\" does not exist (any more)", kind.as_str()),
                };
                ApiError::Conflict {
                    code: if matches!(expected, ff_store::Expect::Absent) {
                        "already_exists"
                    } else {
                        "version_conflict"
                    },
                    message,
                    details: json!({ "kind": kind.as_str(), "key": key, "current_version": actual }),
                }
            }
            StoreError::NotFound { kind, key } => ApiError::not_found(kind.as_str(), &key),
            StoreError::Invalid { field, message } => {
                ApiError::Validation(vec![ff_engine::Problem::error(field, message)])
            }
            database @ StoreError::Database(_) => ApiError::Unavailable(database),
            corrupt @ StoreError::Corrupt { .. } => ApiError::Internal(corrupt.to_string()),
        }
    }
}

/// Handlers return this.
pub type ApiResult<T> = Result<T, ApiError>;
