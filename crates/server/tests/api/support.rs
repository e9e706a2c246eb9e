//! The harness: a [`TestApp`] is the real service (`ff_testkit::Service`)
//! on a scratch database, listening on `127.0.0.1:0`, with a `reqwest`
//! client and helpers that answer status, headers and JSON, each answer
//! checked against the OpenAPI document.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use ff_server::{ManualClock, ServeConfig};
pub use ff_testkit::{ADMIN_TOKEN, Backend};
use ff_testkit::{Scope, Service};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

/// Runs `test` with a fresh app on `backend`; skips on PostgreSQL when
/// `FF_SKIP_POSTGRES=1`, fails when PostgreSQL is unreachable.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_with(backend, false, test).await;
}

/// Runs `test` with the environments as first start seeds them
/// (`production` requires approval and is protected) and a clock the test
/// controls ([`TestApp::clock`], starting at the real time).
pub async fn run_governed<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_with(backend, true, test).await;
}

async fn run_with<F, Fut>(backend: Backend, governed: bool, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let scope = Scope::default();
    let Some(app) = TestApp::start(backend, &scope, governed, |_| {}).await else {
        return;
    };
    let outcome = tokio::spawn(test(app)).await;
    scope.finish().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// A running service on its own database.
pub struct TestApp {
    /// The database it runs on.
    pub backend: Backend,
    /// `http://127.0.0.1:<port>` (`https://` with `--tls-cert`).
    pub base: String,
    /// The client (no default headers).
    pub client: reqwest::Client,
    /// The settings it was started with.
    pub config: ServeConfig,
    /// The clock of a governed app (`run_governed`); `None`: the system
    /// clock.
    pub clock: Option<Arc<ManualClock>>,
    scope: Scope,
    service: Service,
}

impl TestApp {
    /// Starts a service on a new scratch database; `configure` adjusts the
    /// settings. `None` when PostgreSQL is skipped.
    /// Unless `governed`, `production` is made an ordinary environment
    /// (no approvals, no protection), so that tests of other features can
    /// write to it directly; governed apps get a manual clock.
    async fn start(
        backend: Backend,
        scope: &Scope,
        governed: bool,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Option<TestApp> {
        let url = scope.database(backend).await?;
        let builder = Service::builder(&url)
            .configure(configure)
            .governed(governed)
            .scope(scope);
        let builder = if governed {
            builder.manual_clock()
        } else {
            builder
        };
        Some(TestApp::new(backend, scope, builder.start().await))
    }

    fn new(backend: Backend, scope: &Scope, service: Service) -> TestApp {
        TestApp {
            backend,
            base: service.url.clone(),
            client: reqwest::Client::new(),
            config: service.config.clone(),
            clock: service.clock.clone(),
            scope: scope.clone(),
            service,
        }
    }

    /// Another service on another fresh database of the same backend (for
    /// imports into an empty service, or other settings).
    pub async fn fresh(&self, configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
        TestApp::start(self.backend, &self.scope, false, configure)
            .await
            .expect("the backend is available")
    }

    /// A second node of the same service: another process's worth of state
    /// on the same database and settings, on the system clock (stopped when
    /// the test ends).
    pub async fn another_node(&self) -> TestApp {
        let service = self
            .service
            .again()
            .clock(None)
            .governed(false)
            .start()
            .await;
        TestApp::new(self.backend, &self.scope, service)
    }

    /// Shuts the service down gracefully (in-flight requests finish, key
    /// usage is flushed).
    pub async fn shutdown(self) {
        self.service.stop().await;
    }

    /// Shuts down and starts again on the same database and settings.
    pub async fn restart(self) -> TestApp {
        let (backend, scope) = (self.backend, self.scope.clone());
        TestApp::new(backend, &scope, self.service.restart().await)
    }

    /// A request to `path` (relative to the base URL) with `key` as bearer
    /// token, if any.
    pub fn request(&self, method: Method, path: &str, key: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base));
        match key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    /// Another device, as the service sees it: requests whose connections
    /// come from `local` (any `127.x.y.z` reaches the service on loopback).
    pub fn device(&self, local: &str) -> TestDevice<'_> {
        let address: std::net::IpAddr = local.parse().expect("an address");
        let client = reqwest::Client::builder()
            .local_address(address)
            .build()
            .expect("a client");
        TestDevice { app: self, client }
    }

    /// Sends a request and reads its answer.
    /// Every answer is checked against the OpenAPI document (`contract`).
    pub async fn send(&self, builder: RequestBuilder) -> Reply {
        self.send_with(&self.client, builder).await
    }

    async fn send_with(&self, client: &reqwest::Client, builder: RequestBuilder) -> Reply {
        let request = builder.build().expect("a request");
        let (method, path) = (request.method().clone(), request.url().path().to_owned());
        let response = client.execute(request).await.expect("the server answers");
        let reply = Reply::read(response).await;
        crate::contract::check(
            &method,
            &path,
            reply.status,
            reply.header("content-type"),
            &reply.body,
        );
        reply
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.send(self.request(Method::GET, path, Some(key))).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.send(self.request(Method::POST, path, Some(key)).json(body))
            .await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.send(self.request(Method::PUT, path, Some(key)).json(body))
            .await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.send(self.request(Method::PATCH, path, Some(key)).json(body))
            .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, key: &str) -> Reply {
        self.send(self.request(Method::DELETE, path, Some(key)))
            .await
    }

    /// Creates a flag as the admin; panics unless 201.
    pub async fn create_flag(&self, doc: &Value) -> Value {
        self.post("/api/v1/flags", ADMIN_TOKEN, doc)
            .await
            .expect_status(201)
            .body
    }

    /// Creates an API key as the admin; returns (id, secret).
    pub async fn create_key(&self, body: Value) -> (String, String) {
        let reply = self
            .post("/api/v1/api-keys", ADMIN_TOKEN, &body)
            .await
            .expect_status(201);
        (
            reply.body["id"].as_str().unwrap().to_owned(),
            reply.body["key"].as_str().unwrap().to_owned(),
        )
    }

    /// An admin key with `role`; returns its secret.
    pub async fn key_with_role(&self, role: &str) -> String {
        self.create_key(json!({"name": format!("{role} key"), "kind": "admin", "role": role}))
            .await
            .1
    }

    /// The audit entries matching a query string (`flag_id=x&action=y`).
    pub async fn audit(&self, query: &str) -> Vec<Value> {
        let reply = self
            .get(&format!("/api/v1/audit?{query}"), ADMIN_TOKEN)
            .await
            .expect_status(200);
        reply.body["items"].as_array().unwrap().clone()
    }
}

/// Requests to a [`TestApp`] from another local address ([`TestApp::device`]).
pub struct TestDevice<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
}

impl TestDevice<'_> {
    /// `POST path` with a JSON body, `key` as bearer token and extra headers.
    pub async fn post(
        &self,
        path: &str,
        key: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = self
            .client
            .post(format!("{}{path}", self.app.base))
            .bearer_auth(key)
            .json(body);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.app.send_with(&self.client, builder).await
    }
}

/// An answer: status, headers and body (JSON, or the text as a JSON string,
/// or null when empty).
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Value,
}

impl Reply {
    /// Reads an answer.
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        assert!(
            status < 500,
            "no input may cause a server error: {status} {text}"
        );
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Panics with the whole answer unless the status is `status`.
    #[track_caller]
    pub fn expect_status(self, status: u16) -> Reply {
        assert_eq!(self.status, status, "unexpected answer: {self}");
        self
    }

    /// Panics unless this is an error envelope
    /// `{"error": {"code", "message", "details"?}}` with `status` and `code`
    /// and a message. Returns the envelope's `error` object.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "unexpected answer: {self}");
        assert_envelope(&self.body, &self.to_string());
        assert_eq!(self.body["error"]["code"], code, "unexpected code: {self}");
        assert!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json")),
            "an error answers JSON: {self}"
        );
        &self.body["error"]
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body's `items`.
    #[track_caller]
    pub fn items(&self) -> &Vec<Value> {
        self.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items: {self}"))
    }
}

/// Panics unless `body` is exactly the error envelope.
#[track_caller]
pub fn assert_envelope(body: &Value, shown: &str) {
    let error = body
        .get("error")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("not an error envelope: {shown}"));
    assert_eq!(body.as_object().unwrap().len(), 1, "only `error`: {shown}");
    assert!(
        error
            .keys()
            .all(|k| ["code", "message", "details"].contains(&k.as_str())),
        "unexpected fields in the envelope: {shown}"
    );
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()),
        "a code: {shown}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a message: {shown}"
    );
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

/// The problems of a 422 answer, as `(path, message)`.
#[track_caller]
pub fn problems(reply: &Reply) -> Vec<(String, String)> {
    reply.expect_error(422, "validation_failed")["details"]["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems listed: {reply}"))
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap().to_owned(),
                p["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A response document without the metadata the API adds.
pub fn without_meta(mut doc: Value) -> Value {
    if let Value::Object(map) = &mut doc {
        for field in ["version", "created_at", "updated_at", "deleted", "warnings"] {
            map.shift_remove(field);
        }
    }
    doc
}

/// The four flag documents of the seed README, verbatim.
pub fn seed_flags() -> Vec<Value> {
    // The product description's documents, verbatim, kept once for every
    // test and SDK (`testdata/evaluation/seed.json`).
    let text = include_str!("../../../../testdata/evaluation/seed.json");
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|vectors| vectors.get("flags").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// A small boolean flag with tags, owner and lifecycle.
pub fn simple_flag(id: &str) -> Value {
    json!({
        "flag_id": id,
        "type": "boolean",
        "description": format!("the {id} flag"),
        "tags": ["test"],
        "owner": "team-a",
        "lifecycle": "development",
        "default_value": false,
        "environments": {"development": true}
    })
}
