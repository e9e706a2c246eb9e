//! Starting and stopping the real binary.

use std::path::Path;
use std::process::{Command, Stdio};

pub use ff_testkit::{ADMIN_TOKEN, ChildService as Server, free_port};
use serde_json::Value;

/// An HTTP client (installing the TLS provider reqwest may need).
pub fn client() -> reqwest::Client {
    Server::client()
}

/// `GET url` with the admin token: the JSON answer, whatever its status.
pub async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    http.get(url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `feature-flags serve` on `database_url`, run in `workdir` (the harness's
/// [`Server::builder`] with this crate's binary).
pub fn serve(database_url: &str, workdir: &Path) -> ff_testkit::ChildServiceBuilder {
    Server::builder(env!("CARGO_BIN_EXE_feature-flags"), database_url, workdir)
}

/// Starts the service on `database_url` and waits until it is ready.
pub async fn start(database_url: &str, port: u16, workdir: &Path) -> Server {
    serve(database_url, workdir).port(port).start().await
}

/// [`start`] with more environment variables (settings).
pub async fn start_with(
    database_url: &str,
    port: u16,
    workdir: &Path,
    settings: &[(&str, &std::ffi::OsStr)],
) -> Server {
    settings
        .iter()
        .fold(
            serve(database_url, workdir).port(port),
            |builder, (name, value)| builder.setting(name, value),
        )
        .start()
        .await
}

/// What a run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// Runs `feature-flags <args>` against `server` with `token`, in `dir`.
pub fn ff_as(server_url: &str, token: &str, dir: &Path, args: &[&str]) -> Run {
    ff_env(server_url, token, dir, args, &[])
}

/// [`ff_as`] with more environment variables (`EDITOR` …).
pub fn ff_env(
    server_url: &str,
    token: &str,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_feature-flags"))
        .args(args)
        .env("FEATURE_FLAGS_URL", server_url)
        .env("FEATURE_FLAGS_TOKEN", token)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("FEATURE_FLAGS_PROFILE")
        .env_remove("VISUAL")
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// [`ff_as`] with `input` on standard input (not a terminal).
pub fn ff_input(server_url: &str, token: &str, dir: &Path, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_feature-flags"))
        .args(args)
        .env("FEATURE_FLAGS_URL", server_url)
        .env("FEATURE_FLAGS_TOKEN", token)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("FEATURE_FLAGS_PROFILE")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// [`ff_as`] on a terminal: `script` runs the binary on a pseudo-terminal
/// (stdin, stdout and stderr; what is typed is `input`), as a person would.
pub fn ff_tty(
    server_url: &str,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    input: &str,
) -> Run {
    use std::io::Write;
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_feature-flags"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    // A terminal of a usual size (script's has the size of none).
    let command = format!("stty cols 160 rows 50; exec {}", quoted.join(" "));
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env("FEATURE_FLAGS_URL", server_url)
        .env("FEATURE_FLAGS_TOKEN", ADMIN_TOKEN)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("TERM", "xterm")
        .env_remove("FEATURE_FLAGS_PROFILE")
        .env_remove("VISUAL")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub struct Setup {
    pub server: Server,
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub async fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}", dir.path().join("flags.db").display());
        let server = start(&database, free_port(), dir.path()).await;
        Setup { server, dir }
    }

    pub fn ff(&self, args: &[&str]) -> Run {
        self.ff_with(ADMIN_TOKEN, args)
    }

    /// [`Setup::ff`] with another key.
    pub fn ff_with(&self, token: &str, args: &[&str]) -> Run {
        ff_as(&self.server.url, token, self.dir.path(), args)
    }

    /// Creates an admin key with the approver role (`keys create`): its
    /// secret.
    pub fn approver(&self, name: &str) -> String {
        self.ff(&[
            "keys", "create", "--name", name, "--kind", "admin", "--role", "approver",
        ])
        .ok()
        .stdout
        .trim()
        .to_owned()
    }

    /// The newest pending change request, as `change-requests list
    /// --status pending -o json` prints it.
    pub fn newest_pending(&self) -> Value {
        let pending = self
            .ff(&[
                "change-requests",
                "list",
                "--status",
                "pending",
                "-o",
                "json",
            ])
            .ok()
            .json();
        pending["items"][0].clone()
    }

    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// The service's document of a flag.
    pub async fn flag(&self, flag: &str) -> Value {
        get_json(
            &client(),
            &format!("{}/api/v1/flags/{flag}", self.server.url),
        )
        .await
    }

    /// Creates a flag from its document, outside the CLI.
    pub async fn create_flag(&self, document: Value) -> Value {
        self.call(reqwest::Method::POST, "/api/v1/flags", &[], document)
            .await
    }

    /// An admin call with headers, outside the CLI.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> Value {
        let mut request = client()
            .request(method, format!("{}{path}", self.server.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }
}

/// A request the [`Proxy`] passed on.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP/1.1 proxy in front of a service that records what it is sent
/// and can act between two requests of one command (`before` runs before
/// each request is passed on): what a concurrent user or a second service
/// does in the middle of a command, deterministically.
pub struct Proxy {
    pub url: String,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl Proxy {
    pub async fn start<F, Fut>(upstream: &str, before: F) -> Proxy
    where
        F: Fn(Seen) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        use std::sync::{Arc, Mutex};
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let before = Arc::new(before);
        let upstream = upstream.to_owned();
        tokio::spawn(async move {
            let http = client();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (http, upstream, before, recorded) = (
                    http.clone(),
                    upstream.clone(),
                    before.clone(),
                    recorded.clone(),
                );
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    let mut line = String::new();
                    stream.read_line(&mut line).await.unwrap();
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or_default().to_owned();
                    let path = parts.next().unwrap_or_default().to_owned();
                    let mut headers = Vec::new();
                    loop {
                        line.clear();
                        stream.read_line(&mut line).await.unwrap();
                        let Some((name, value)) = line.trim_end().split_once(':') else {
                            break;
                        };
                        headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
                    }
                    let length = headers
                        .iter()
                        .find(|(n, _)| n == "content-length")
                        .map_or(0, |(_, v)| v.parse().unwrap());
                    let mut body = vec![0; length];
                    stream.read_exact(&mut body).await.unwrap();
                    let request = Seen {
                        method,
                        path,
                        headers,
                    };
                    recorded.lock().unwrap().push(request.clone());
                    before(request.clone()).await;
                    let mut forwarded = http.request(
                        request.method.parse().unwrap(),
                        format!("{upstream}{}", request.path),
                    );
                    for (name, value) in &request.headers {
                        if !["host", "content-length", "connection"].contains(&name.as_str()) {
                            forwarded = forwarded.header(name, value);
                        }
                    }
                    let response = forwarded.body(body).send().await.unwrap();
                    let status = response.status();
                    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
                    for (name, value) in response.headers() {
                        if !["content-length", "connection", "transfer-encoding"]
                            .contains(&name.as_str())
                        {
                            head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
                        }
                    }
                    let body = response.bytes().await.unwrap();
                    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                    let stream = stream.get_mut();
                    stream.write_all(head.as_bytes()).await.unwrap();
                    stream.write_all(&body).await.unwrap();
                    let _ = stream.shutdown().await;
                });
            }
        });
        Proxy { url, seen }
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}
