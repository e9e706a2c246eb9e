//! The service in this process, over a real socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ff_server::{AppState, Clock, ManualClock, ServeConfig, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{ADMIN_TOKEN, Scope, install_crypto_provider};

/// How to start a [`Service`]: [`Service::builder`], then
/// [`ServiceBuilder::start`].
pub struct ServiceBuilder {
    config: ServeConfig,
    address: SocketAddr,
    clock: Option<Arc<ManualClock>>,
    governed: bool,
    scope: Option<Scope>,
}

impl ServiceBuilder {
    /// Changes the settings (`ServeConfig::for_tests` to start with).
    pub fn configure(mut self, configure: impl FnOnce(&mut ServeConfig)) -> ServiceBuilder {
        configure(&mut self.config);
        self
    }

    /// Listens on `address` (by default `127.0.0.1:0`, any free port): to
    /// come back on the address of a service that was stopped.
    pub fn address(mut self, address: SocketAddr) -> ServiceBuilder {
        self.address = address;
        self
    }

    /// Reads the time from `clock` (by default the system clock).
    pub fn clock(mut self, clock: Option<Arc<ManualClock>>) -> ServiceBuilder {
        self.clock = clock;
        self
    }

    /// A manual clock starting now, in whole seconds (times are stored in
    /// milliseconds).
    pub fn manual_clock(self) -> ServiceBuilder {
        let start = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|e| panic!("zero nanoseconds: {e}"));
        self.clock(Some(Arc::new(ManualClock::new(start))))
    }

    /// `true`: the environments as first start seeds them (`production`
    /// requires approval and is protected). `false`, the default:
    /// `production` is made an ordinary environment, so that tests of other
    /// features can write to it directly.
    pub fn governed(mut self, governed: bool) -> ServiceBuilder {
        self.governed = governed;
        self
    }

    /// A server dropped without [`Service::stop`] is waited for by
    /// `scope`'s [`Scope::finish`] (before its databases are removed).
    pub fn scope(mut self, scope: &Scope) -> ServiceBuilder {
        self.scope = Some(scope.clone());
        self
    }

    /// Starts the service and waits until its scheduler has run once.
    pub async fn start(self) -> Service {
        install_crypto_provider();
        let ServiceBuilder {
            config,
            address,
            clock,
            governed,
            scope,
        } = self;
        let time_source: Arc<dyn Clock> = match &clock {
            Some(clock) => clock.clone(),
            None => Arc::new(SystemClock),
        };
        let (state, _) = ff_server::prepare(config.clone(), time_source)
            .await
            .unwrap_or_else(|e| panic!("the service does not start: {e}"));
        if !governed {
            make_production_ordinary(&state).await;
        }
        let listener = TcpListener::bind(address)
            .await
            .unwrap_or_else(|e| panic!("cannot listen on {address}: {e}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"));
        // With `--tls-cert`, the service speaks https.
        let scheme = if config.serves_tls() { "https" } else { "http" };
        let (shutdown, signal) = oneshot::channel::<()>();
        let scheduler_runs = state.metrics.scheduler_runs.clone();
        let task = tokio::spawn(ff_server::serve(listener, state, async move {
            // A dropped sender (a panicking test) stops the server too.
            let _ = signal.await;
        }));
        // The scheduler runs once as the service starts. A test that moves
        // its clock right after starting must not race that first run, so
        // wait for it: afterwards the scheduler sleeps for the configured
        // interval (an hour in tests) and tests run due work explicitly.
        let first_run = async {
            while scheduler_runs.get() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), first_run)
            .await
            .is_err()
        {
            panic!("the scheduler did not run at start");
        }
        Service {
            url: format!("{scheme}://{address}"),
            address,
            config,
            clock,
            governed,
            scope,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }
}

/// A running service. Dropped, it stops (and its [`Scope`], if any, waits
/// for it); [`Service::stop`] stops it gracefully and waits.
pub struct Service {
    /// `http://127.0.0.1:<port>` (`https://` with `--tls-cert`).
    pub url: String,
    /// Where it listens.
    pub address: SocketAddr,
    /// The settings it was started with.
    pub config: ServeConfig,
    /// Its manual clock; `None`: the system clock.
    pub clock: Option<Arc<ManualClock>>,
    governed: bool,
    scope: Option<Scope>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Service {
    /// A service on `database_url` with the test settings
    /// (`ServeConfig::for_tests` with [`ADMIN_TOKEN`]).
    pub fn builder(database_url: &str) -> ServiceBuilder {
        ServiceBuilder {
            config: ServeConfig::for_tests(database_url, ADMIN_TOKEN),
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock: None,
            governed: false,
            scope: None,
        }
    }

    /// Another service with the same settings, clock and scope, on a new
    /// port (a second node on the same database, or the same service
    /// again).
    pub fn again(&self) -> ServiceBuilder {
        ServiceBuilder {
            config: self.config.clone(),
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock: self.clock.clone(),
            governed: self.governed,
            scope: self.scope.clone(),
        }
    }

    /// Shuts the service down gracefully (in-flight requests finish, key
    /// usage is flushed) and waits; panics if it failed.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the service failed: {e}"),
                Err(e) => panic!("the service's task failed: {e}"),
            }
        }
    }

    /// Shuts down and starts again on the same database and settings (on a
    /// new port).
    pub async fn restart(self) -> Service {
        let again = self.again();
        self.stop().await;
        again.start().await
    }
}

impl Drop for Service {
    /// Stops the server (dropping the sender is the shutdown signal) and
    /// leaves it to the scope to wait for.
    fn drop(&mut self) {
        self.shutdown.take();
        if let (Some(task), Some(scope)) = (self.task.take(), &self.scope) {
            scope.keep(task);
        }
    }
}

/// Turns off approvals and protection of the seeded `production` (through
/// the store, so that no request counts against rate limits), unless that
/// was done before.
async fn make_production_ordinary(state: &AppState) {
    let Some(production) = state.live.current().environments.get("production").cloned() else {
        return;
    };
    if !production.environment.approval_required && !production.environment.protected {
        return;
    }
    let mut settings = production.environment.clone();
    settings.approval_required = false;
    settings.protected = false;
    state
        .store
        .commit(ff_store::ChangeSet {
            changes: vec![ff_store::AuditedChange {
                change: ff_store::Change::PutEnvironment(
                    settings,
                    ff_store::Expect::Version(production.version),
                ),
                action: "environment.update".to_owned(),
                environment: Some("production".to_owned()),
            }],
            actor: "system".to_owned(),
            at: time::OffsetDateTime::now_utc(),
            reason: Some("tests of other features write to production directly".to_owned()),
            request_id: None,
            deployment_id: None,
        })
        .await
        .unwrap_or_else(|e| panic!("production not relaxed: {e}"));
    state
        .live
        .refresh()
        .await
        .unwrap_or_else(|e| panic!("not refreshed: {e}"));
}
