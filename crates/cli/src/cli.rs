//! The command line: every command and option, in one place (also the
//! source of `docs/CLI.md` and the shell completions).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ff_server::ServeConfig;

use crate::offline::Scenario;
use crate::output::Format;

/// Feature flags for Kotlin Multiplatform apps and Python services: targeting,
/// gradual rollouts, a kill switch and a full audit trail.
///
/// `serve` runs the service; every other command is a client of a running
/// service over HTTP (`--url`, `--token`, or a profile saved by `login`),
/// except `validate` and `snapshot --from`, which work offline.
#[derive(Debug, Parser)]
#[command(name = "feature-flags", version, about, long_about)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
    /// Connection and output options.
    #[command(flatten)]
    pub global: Global,
}

/// Options of every client command.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// The service (default http://localhost:8001, or the profile's).
    #[arg(long, env = "FEATURE_FLAGS_URL", global = true)]
    pub url: Option<String>,
    /// An API key (default: the profile's).
    #[arg(
        long,
        env = "FEATURE_FLAGS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// A PEM file of CA certificates to trust besides the system's, for a
    /// service whose certificate a private CA signed (`serve --tls-cert`).
    #[arg(long, env = "FEATURE_FLAGS_CA_CERT", global = true)]
    pub ca_cert: Option<std::path::PathBuf>,
    /// A profile saved by `login` (default: the last one saved).
    #[arg(long, env = "FEATURE_FLAGS_PROFILE", global = true)]
    pub profile: Option<String>,
    /// How to print answers.
    #[arg(long, short, value_enum, default_value_t = Format::Table, global = true)]
    pub output: Format,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// Options of commands that change something.
#[derive(Debug, Args, Clone, Default)]
pub struct WriteArgs {
    /// What protected environments and change windows ask for.
    #[command(flatten)]
    pub protection: ProtectionArgs,
    /// The deployment this change belongs to (X-Deployment-Id).
    #[arg(long)]
    pub deployment_id: Option<String>,
}

/// What protected environments and change windows ask of a change (apart
/// from [`WriteArgs`] so that `deploy`, whose deployment id is required,
/// takes the same options).
#[derive(Debug, Args, Clone, Default)]
pub struct ProtectionArgs {
    /// Why (sent as X-Change-Reason; protected environments require one).
    #[arg(long)]
    pub reason: Option<String>,
    /// Confirm a destructive change in a protected environment.
    #[arg(long)]
    pub confirm: bool,
    /// Override a change window (admin keys, with --reason).
    #[arg(long)]
    pub override_window: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (REST API, evaluation) on one port.
    ///
    /// With no options it listens on 0.0.0.0:8001 and keeps everything in
    /// ./feature-flags.db. On first start it creates the environments
    /// development → staging → production and prints an admin API key once.
    // Boxed: the settings are by far the largest variant (clippy's
    // large_enum_variant), and parsed once per process.
    Serve(Box<ServeConfig>),
    /// Save a service URL and key as a profile for later commands.
    Login {
        /// The profile's name.
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// Kill switch: turn a flag off at once (never held by approvals or windows).
    EmergencyDisable(EmergencyArgs),
    /// Turn a flag back on where the kill switch turned it off (an ordinary
    /// change: held for approval where the environment requires it).
    EmergencyEnable(EmergencyArgs),
    /// Roll a flag back to a version, or undo a deployment's changes (held for
    /// approval, exit 8, where that turns a flag back on in such an environment).
    Rollback(RollbackArgs),
    /// Flags: list, show, create, change, history.
    #[command(subcommand)]
    Flags(FlagsCommand),
    /// Evaluate a flag for a context.
    Evaluate {
        /// The flag.
        #[arg(long)]
        flag: String,
        /// The environment.
        #[arg(long, alias = "environment")]
        env: String,
        /// Context attributes, `key=value` (values are JSON when they parse:
        /// `age=30`, `beta=true`; text otherwise).
        #[arg(long = "context", value_name = "KEY=VALUE")]
        context: Vec<String>,
    },
    /// Environments: list, diff, promote.
    #[command(subcommand)]
    Envs(EnvsCommand),
    /// Segments: list, show, create, delete.
    #[command(subcommand)]
    Segments(SegmentsCommand),
    /// The audit log (filters; `--follow` waits for new entries), or `audit verify`.
    Audit(AuditArgs),
    /// A flag's evaluations over time: a small chart, outcomes and reasons.
    Metrics(MetricsArgs),
    /// A flag's evaluation log for debugging: switch it on for a while, read it.
    #[command(name = "evaluation-log")]
    EvaluationLog(EvaluationLogArgs),
    /// Where flag keys appear in a source tree (respects .gitignore); with
    /// --stale, which stale flags still have code to remove.
    #[command(name = "code-refs")]
    CodeRefs(CodeRefsArgs),
    /// A/B experiments: list, create, results, stop.
    #[command(subcommand)]
    Experiments(ExperimentsCommand),
    /// Privacy requests: export or erase what is held about a person.
    #[command(subcommand)]
    Subjects(SubjectsCommand),
    /// API keys: create, list, revoke.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// People who sign in to the admin interface: create, list, update.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Outgoing webhooks: create, list, deliveries, test, delete.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Changes held for approval: list, show, approve, reject, rebase.
    #[command(subcommand, name = "change-requests")]
    ChangeRequests(ChangeRequestsCommand),
    /// Scheduled changes: list, create, cancel.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Gradual rollouts, a rule's percentage raised step by step: list,
    /// show, create, pause, resume.
    #[command(subcommand, name = "rollout-plans")]
    RolloutPlans(RolloutPlansCommand),
    /// Write the whole configuration (flags, segments, environments).
    Export {
        /// json or yaml.
        #[arg(long, default_value = "yaml")]
        format: String,
        /// The file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Apply an export document in one transaction.
    Import {
        /// The file (JSON or YAML).
        #[arg(long, short)]
        file: PathBuf,
        /// Show what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete flags and segments the file does not contain.
        #[arg(long)]
        prune: bool,
        /// The change's options.
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Flags as code: show the plan for files or directories, ask, apply atomically.
    Apply {
        /// Files or directories of flag documents (JSON or YAML) or exports.
        #[arg(long, short, required = true)]
        file: Vec<PathBuf>,
        /// Show the plan; change nothing (for CI).
        #[arg(long)]
        dry_run: bool,
        /// Also delete flags and segments the files do not contain.
        #[arg(long)]
        prune: bool,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
        /// The change's options.
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Check flag files offline with the engine (no service needed).
    Validate {
        /// Files or directories.
        #[arg(long, short, required = true)]
        file: Vec<PathBuf>,
    },
    /// Write a snapshot file for tests (FEATURE_FLAGS_OFFLINE_FILE).
    Snapshot {
        /// all_flags_off, all_flags_on or production_flags.
        #[arg(long, value_enum)]
        scenario: Scenario,
        /// The environment production_flags reads.
        #[arg(long, default_value = "production")]
        environment: String,
        /// Read an export file instead of the service (offline).
        #[arg(long)]
        from: Option<PathBuf>,
        /// Where to write it.
        #[arg(long, default_value = "flags.json")]
        out: PathBuf,
    },
    /// Run a deployment phase's steps (enable_flag, disable_flag, verify_flags).
    Deploy {
        /// The deployment YAML (the `deployment:` document).
        #[arg(long)]
        file: PathBuf,
        /// pre or post.
        #[arg(long, value_parser = ["pre", "post"])]
        phase: String,
        /// The deployment id (rollback --deployment-id undoes it).
        #[arg(long)]
        deployment_id: String,
        /// The environment.
        #[arg(long)]
        environment: String,
        /// The change's options.
        #[command(flatten)]
        protection: ProtectionArgs,
    },
    /// Cross-repository dependencies.
    #[command(subcommand)]
    Deps(DepsCommand),
    /// Print a shell completion script (bash, zsh, fish, …).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the command reference (docs/CLI.md).
    #[command(hide = true)]
    Docs,
}

/// `emergency-disable` / `emergency-enable`.
#[derive(Debug, Args)]
pub struct EmergencyArgs {
    /// The flag.
    #[arg(long)]
    pub flag: String,
    /// The environment (default: every environment).
    #[arg(long)]
    pub environment: Option<String>,
    /// Why (recorded in the audit log).
    #[arg(long)]
    pub reason: Option<String>,
}

/// `rollback`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["flag", "deployment_id"])))]
pub struct RollbackArgs {
    /// The flag to roll back (with --to-version).
    #[arg(long, requires = "to_version")]
    pub flag: Option<String>,
    /// A version number, or a deployment id / release (`1.2.3`): the flag's
    /// last version written by it.
    #[arg(long)]
    pub to_version: Option<String>,
    /// Undo every change of this deployment.
    #[arg(long, conflicts_with = "flag")]
    pub deployment_id: Option<String>,
    /// Only this environment's entries.
    #[arg(long)]
    pub environment: Option<String>,
    /// Why (recorded in the audit log).
    #[arg(long)]
    pub reason: Option<String>,
}

/// `flags …`.
#[derive(Debug, Subcommand)]
pub enum FlagsCommand {
    /// List flags.
    List {
        /// Only with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Only of this owner.
        #[arg(long)]
        owner: Option<String>,
        /// Only in this lifecycle stage.
        #[arg(long)]
        lifecycle: Option<String>,
        /// Text in the id, description, owner or tags.
        #[arg(long)]
        search: Option<String>,
        /// Deleted flags instead.
        #[arg(long)]
        deleted: bool,
        /// Flags per request (the service's most is 1000); every page is read.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
        page_size: u32,
    },
    /// Show a flag.
    Get {
        /// The flag.
        flag: String,
    },
    /// Create a flag from a file (JSON or YAML).
    Create {
        /// The file.
        #[arg(long, short)]
        file: PathBuf,
        /// The change's options.
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Edit a flag in $EDITOR, see the diff, confirm.
    Edit {
        /// The flag.
        flag: String,
        /// Apply without asking.
        #[arg(long, short)]
        yes: bool,
        /// The change's options.
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Set the value a flag serves in an environment.
    ///
    /// The rules in effect there are kept: an environment that inherited
    /// gets the inherited entry, with this value, as its own.
    ///
    /// The service makes the edit on the flag's latest version
    /// (`POST /api/v1/flags/{flag}/environments/{env}/actions`), sent with
    /// `If-Match` on the version read just before: a change someone made in
    /// between is a conflict (exit 6), and the environment's rules apply as
    /// to any write (a change request, exit 8, where it needs approval).
    SetValue {
        /// The flag.
        flag: String,
        /// The value (JSON: `true`, `45`, `"dark"`, `{"theme": "dark"}`; text otherwise).
        value: String,
        /// The environment.
        #[arg(long)]
        environment: String,
        /// The change's options.
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Turn a flag on in an environment.
    ///
    /// It is left on: an environment that inherits a switched-off entry gets
    /// what that entry serves when on as its own; an own `enabled: false` is
    /// removed (and the entry with it, when nothing else is in it and what
    /// the environment would then inherit is on).
    ///
    /// The service makes the edit on the flag's latest version
    /// (`POST /api/v1/flags/{flag}/environments/{env}/actions`), sent with
    /// `If-Match` on the version read just before: a change someone made in
    /// between is a conflict (exit 6), and the environment's rules apply as
    /// to any write (a change request, exit 8, where it needs approval).
    Enable(FlagEnvArgs),
    /// Turn a flag off in an environment.
    ///
    /// Writes `enabled: false` into the environment's own entry. For an
    /// emergency that must not wait for approvals, use `emergency-disable`.
    ///
    /// The service makes the edit on the flag's latest version
    /// (`POST /api/v1/flags/{flag}/environments/{env}/actions`), sent with
    /// `If-Match` on the version read just before: a change someone made in
    /// between is a conflict (exit 6), and the environment's rules apply as
    /// to any write (a change request, exit 8, where it needs approval).
    Disable(FlagEnvArgs),
    /// Set a rule's rollout percentage in an environment.
    ///
    /// Among the rules in effect there (its own, inherited, or the flag's),
    /// which become the environment's own.
    ///
    /// The service makes the edit on the flag's latest version
    /// (`POST /api/v1/flags/{flag}/environments/{env}/actions`), sent with
    /// `If-Match` on the version read just before: a change someone made in
    /// between is a conflict (exit 6), and the environment's rules apply as
    /// to any write (a change request, exit 8, where it needs approval).
    Rollout {
        /// The flag.
        flag: String,
        /// The environment.
        #[arg(long)]
        environment: String,
        /// 0–100.
        #[arg(long)]
        percentage: f64,
        /// The rule's name or index (default: the first with a percentage).
        #[arg(long)]
        rule: Option<String>,
        /// The change's options.
        #[command(flatten)]
        write: WriteArgs,
    },
    /// A flag's versions, newest first.
    History {
        /// The flag.
        flag: String,
    },
    /// What changed between two versions.
    Diff {
        /// The flag.
        flag: String,
        /// The older version.
        #[arg(long)]
        from: i64,
        /// The newer version (default: current).
        #[arg(long)]
        to: Option<i64>,
    },
    /// Delete a flag (restorable).
    Delete {
        /// The flag.
        flag: String,
        /// The change's options.
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Bring back a deleted flag as it was.
    Restore {
        /// The flag.
        flag: String,
        /// The change's options.
        #[command(flatten)]
        write: WriteArgs,
    },
}

/// A flag and an environment.
#[derive(Debug, Args)]
pub struct FlagEnvArgs {
    /// The flag.
    pub flag: String,
    /// The environment.
    #[arg(long)]
    pub environment: String,
    /// The change's options.
    #[command(flatten)]
    pub write: WriteArgs,
}

/// `envs …`.
#[derive(Debug, Subcommand)]
pub enum EnvsCommand {
    /// The environment tree.
    List,
    /// Flags whose configuration differs between two environments.
    Diff {
        /// One environment.
        #[arg(long)]
        from: String,
        /// The other.
        #[arg(long)]
        to: String,
    },
    /// Copy flags' configuration from the parent.
    Promote {
        /// The environment promoted into.
        environment: String,
        /// These flags (comma-separated).
        #[arg(long, value_delimiter = ',', required_unless_present = "all")]
        flags: Vec<String>,
        /// Every flag.
        #[arg(long)]
        all: bool,
        /// The change's options.
        #[command(flatten)]
        write: WriteArgs,
    },
}

/// `segments …`.
#[derive(Debug, Subcommand)]
pub enum SegmentsCommand {
    /// List segments.
    List,
    /// Show a segment.
    Get {
        /// The segment.
        segment: String,
    },
    /// Create a segment from a file.
    Create {
        /// The file (JSON or YAML).
        #[arg(long, short)]
        file: PathBuf,
        /// The change's options.
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Delete a segment no flag uses.
    Delete {
        /// The segment.
        segment: String,
        /// The change's options.
        #[command(flatten)]
        write: WriteArgs,
    },
}

/// `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// `verify`: recompute the hash chain.
    #[command(subcommand)]
    pub verify: Option<AuditCommand>,
    /// Entries about this flag.
    #[arg(long)]
    pub flag: Option<String>,
    /// Entries about this environment.
    #[arg(long)]
    pub environment: Option<String>,
    /// Entries by this key id.
    #[arg(long)]
    pub actor: Option<String>,
    /// This action (e.g. flag.update).
    #[arg(long)]
    pub action: Option<String>,
    /// Entries of this deployment.
    #[arg(long)]
    pub deployment_id: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Keep printing new entries as they come.
    #[arg(long)]
    pub follow: bool,
}

/// `audit verify`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit log's hash chain; exit 1 if it is broken.
    Verify,
}

/// `code-refs [PATH]`.
#[derive(Debug, clap::Args)]
pub struct CodeRefsArgs {
    /// The tree to scan.
    #[arg(default_value = ".")]
    pub path: std::path::PathBuf,
    /// Look for these keys (repeatable) instead of the service's flags.
    #[arg(long = "key")]
    pub keys: Vec<String>,
    /// Compare with the service's stale flags: which still have references
    /// (remove the code first) and which have none (safe to delete).
    #[arg(long, conflicts_with = "keys")]
    pub stale: bool,
}

/// `evaluation-log FLAG --env ENV`.
#[derive(Debug, clap::Args)]
pub struct EvaluationLogArgs {
    /// The flag.
    pub flag: String,
    /// The environment.
    #[arg(long = "env")]
    pub environment: String,
    /// Switch logging on for this many minutes (1–60).
    #[arg(long, value_name = "MINUTES", conflicts_with = "off")]
    pub on: Option<u32>,
    /// With --on: keep context attribute values in clear (default: hashed).
    #[arg(long, requires = "on")]
    pub clear: bool,
    /// Switch logging off.
    #[arg(long)]
    pub off: bool,
}

/// `metrics FLAG`.
#[derive(Debug, clap::Args)]
pub struct MetricsArgs {
    /// The flag.
    pub flag: String,
    /// Only this environment.
    #[arg(long = "env")]
    pub environment: Option<String>,
    /// How far back: `90m`, `24h` (default), `7d`.
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Bucket width: minute, hour (default) or day.
    #[arg(long, default_value = "hour", value_parser = ["minute", "hour", "day"])]
    pub granularity: String,
}

/// `experiments …`.
#[derive(Debug, Subcommand)]
pub enum ExperimentsCommand {
    /// List experiments.
    List,
    /// Start an experiment on a flag's weighted split.
    Create {
        /// Its id.
        id: String,
        /// The flag.
        #[arg(long)]
        flag: String,
        /// The environment.
        #[arg(long = "env")]
        environment: String,
        /// The control variant.
        #[arg(long)]
        control: String,
        /// The primary metric: `EVENT` (a conversion) or `EVENT:numeric`.
        #[arg(long)]
        metric: String,
        /// Secondary metrics, as `--metric` (repeatable).
        #[arg(long = "secondary")]
        secondary: Vec<String>,
        /// What it tests.
        #[arg(long)]
        description: Option<String>,
    },
    /// Results: per metric and variant, and the verdict.
    Results {
        /// The experiment.
        id: String,
    },
    /// Stop recording exposures.
    Stop {
        /// The experiment.
        id: String,
    },
}

/// `subjects …`.
#[derive(Debug, Subcommand)]
pub enum SubjectsCommand {
    /// Everything held about a person (JSON).
    Export {
        /// Their user id.
        user_id: String,
    },
    /// Erase a person's exposures and events, and their id from rules.
    Erase {
        /// Their user id.
        user_id: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

/// `users …`. Passwords are read from standard input (one line), never
/// from the command line, where other users of the machine could see them.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List accounts (never their passwords).
    List,
    /// Create an account; its password is the first line of standard input.
    Create {
        /// The sign-in email.
        #[arg(long)]
        email: String,
        /// How the interface names them.
        #[arg(long)]
        name: String,
        /// viewer, editor, approver or admin.
        #[arg(long, value_parser = ["viewer", "editor", "approver", "admin"])]
        role: String,
        /// Scope the role to these environments, none elsewhere
        /// (repeatable, or comma-separated).
        #[arg(long = "environment", value_delimiter = ',')]
        environments: Vec<String>,
        /// A role in one environment, as ENV=ROLE (repeatable; takes
        /// precedence over --environment).
        #[arg(
            long = "environment-role",
            value_name = "ENV=ROLE",
            value_delimiter = ','
        )]
        environment_roles: Vec<String>,
    },
    /// Change an account: its name, role or password, or disable it.
    Update {
        /// The account's email.
        email: String,
        /// A new display name.
        #[arg(long)]
        name: Option<String>,
        /// A new role.
        #[arg(long, value_parser = ["viewer", "editor", "approver", "admin"])]
        role: Option<String>,
        /// Read a new password from standard input (ends its sessions).
        #[arg(long)]
        password_stdin: bool,
        /// Disable the account (ends its sessions).
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Enable a disabled account.
        #[arg(long)]
        enable: bool,
        /// A new scope: the role in these environments only (repeatable,
        /// or comma-separated).
        #[arg(long = "environment", value_delimiter = ',')]
        environments: Vec<String>,
        /// A new scope: a role in one environment, as ENV=ROLE (repeatable).
        #[arg(
            long = "environment-role",
            value_name = "ENV=ROLE",
            value_delimiter = ','
        )]
        environment_roles: Vec<String>,
        /// Remove the scope: the role holds in every environment again.
        #[arg(long, conflicts_with_all = ["environments", "environment_roles"])]
        unscoped: bool,
    },
}

/// `keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys (never their secrets).
    List,
    /// Create a key; its secret is printed once.
    Create {
        /// A name for people.
        #[arg(long)]
        name: String,
        /// admin, server or client.
        #[arg(long, value_parser = ["admin", "server", "client"])]
        kind: String,
        /// For admin keys: viewer, editor, approver or admin.
        #[arg(long)]
        role: Option<String>,
        /// For server and client keys: their one environment. For admin
        /// keys: scopes the role to these environments, none elsewhere
        /// (repeatable, or comma-separated).
        #[arg(long = "environment", value_delimiter = ',')]
        environments: Vec<String>,
        /// For admin keys: a role in one environment, as ENV=ROLE
        /// (repeatable; takes precedence over --environment).
        #[arg(
            long = "environment-role",
            value_name = "ENV=ROLE",
            value_delimiter = ','
        )]
        environment_roles: Vec<String>,
    },
    /// Revoke a key at once.
    Revoke {
        /// The key id.
        id: String,
    },
}

/// `webhooks …`.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// List endpoints (never their secrets).
    List,
    /// Register an endpoint; its signing secret is printed once.
    Create {
        /// Where to POST (http or https; redirects are not followed).
        #[arg(value_name = "URL")]
        endpoint: String,
        /// An event to send (repeatable, or comma-separated): flag.changed,
        /// flag.killed, change_request.opened, change_request.decided,
        /// schedule.applied, schedule.failed.
        #[arg(long = "event", required = true, value_delimiter = ',')]
        events: Vec<String>,
        /// Only events in this environment (repeatable, or comma-separated;
        /// none: every environment).
        #[arg(long = "environment", value_delimiter = ',')]
        environments: Vec<String>,
        /// json (the event) or slack (a Slack incoming webhook's `{"text"}`).
        #[arg(long, value_parser = ["json", "slack"])]
        format: Option<String>,
        /// Register it paused.
        #[arg(long)]
        disabled: bool,
        /// For people.
        #[arg(long)]
        description: Option<String>,
    },
    /// An endpoint's newest deliveries: status, attempts, last answer.
    Deliveries {
        /// The endpoint id (`wh_…`).
        id: String,
    },
    /// Send a signed ping to an endpoint now.
    Test {
        /// The endpoint id.
        id: String,
    },
    /// Remove an endpoint and its deliveries.
    Delete {
        /// The endpoint id.
        id: String,
    },
}

/// The size of a list the service answers in one request, with no next
/// page (change requests, schedules, rollout plans).
#[derive(Debug, Args, Clone, Copy)]
pub struct LimitArgs {
    /// At most this many, newest first (the service's most is 1000). A list
    /// cut there says so on standard error.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
}

/// `change-requests …`.
#[derive(Debug, Subcommand)]
pub enum ChangeRequestsCommand {
    /// List change requests.
    List {
        /// pending, applied or rejected.
        #[arg(long)]
        status: Option<String>,
        /// Needing this environment's approval.
        #[arg(long)]
        environment: Option<String>,
        /// Changing this flag.
        #[arg(long)]
        flag: Option<String>,
        /// At most this many.
        #[command(flatten)]
        limit: LimitArgs,
    },
    /// Show one, with its diff.
    Get {
        /// The id.
        id: String,
    },
    /// Approve (never your own); the last approval applies it.
    Approve {
        /// The id.
        id: String,
        /// A comment.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject.
    Reject {
        /// The id.
        id: String,
        /// A comment.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Re-apply onto the flags' latest versions (clears approvals).
    Rebase {
        /// The id.
        id: String,
    },
}

/// `schedule …`.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// List scheduled changes.
    List {
        /// scheduled, applied, held, failed or cancelled.
        #[arg(long)]
        status: Option<String>,
        /// About this flag.
        #[arg(long)]
        flag: Option<String>,
        /// At most this many.
        #[command(flatten)]
        limit: LimitArgs,
    },
    /// Schedule a change.
    Create {
        /// The flag.
        #[arg(long)]
        flag: String,
        /// The environment.
        #[arg(long)]
        environment: Option<String>,
        /// When (RFC 3339, e.g. 2026-12-01T09:00:00Z).
        #[arg(long)]
        at: String,
        /// enable, disable, set-value or percentage.
        #[arg(long, value_parser = ["enable", "disable", "set-value", "percentage"])]
        action: String,
        /// For set-value (JSON or text).
        #[arg(long)]
        value: Option<String>,
        /// For percentage.
        #[arg(long)]
        percentage: Option<f64>,
        /// For percentage: the rule's name or index.
        #[arg(long)]
        rule: Option<String>,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Cancel a scheduled change.
    Cancel {
        /// The id.
        id: String,
    },
}

/// `rollout-plans …`.
#[derive(Debug, Subcommand)]
pub enum RolloutPlansCommand {
    /// List rollout plans.
    List {
        /// active, paused, completed or failed.
        #[arg(long)]
        status: Option<String>,
        /// About this flag.
        #[arg(long)]
        flag: Option<String>,
        /// In this environment.
        #[arg(long)]
        environment: Option<String>,
        /// At most this many.
        #[command(flatten)]
        limit: LimitArgs,
    },
    /// Show a plan: its steps, which are applied, why it is paused.
    Get {
        /// The id.
        id: String,
    },
    /// Raise a rule's percentage step by step, every N hours from a time on.
    Create {
        /// The flag.
        #[arg(long)]
        flag: String,
        /// The environment.
        #[arg(long)]
        environment: String,
        /// The rule's name or index (default: the first with a percentage).
        #[arg(long)]
        rule: Option<String>,
        /// The steps' percentages, in order (comma-separated: 5,25,50,100).
        #[arg(long, value_delimiter = ',', required = true)]
        percentages: Vec<f64>,
        /// When the first step applies (RFC 3339, e.g. 2026-12-01T09:00:00Z).
        #[arg(long)]
        start_at: String,
        /// Hours between two steps.
        #[arg(long)]
        every_hours: f64,
        /// Why (protected environments require one).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Pause a plan: no further step applies until it is resumed.
    Pause {
        /// The id.
        id: String,
        /// Why (shown by `get`).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Resume a paused plan (steps whose time has passed apply one per
    /// scheduler run).
    Resume {
        /// The id.
        id: String,
    },
}

/// `deps …`.
#[derive(Debug, Subcommand)]
pub enum DepsCommand {
    /// Check flag-dependencies.yaml against an environment; exit 1 if one does not hold.
    Check {
        /// The dependencies file.
        #[arg(long)]
        file: PathBuf,
        /// The environment.
        #[arg(long)]
        environment: String,
    },
}

/// What `FEATURE_FLAGS_*` environment variables are settings: those some
/// option of `command` (or of its subcommands) reads with `env = "…"`, so
/// that the list is the command line's own and cannot fall behind it.
fn settings(command: &clap::Command, known: &mut Vec<String>) {
    for arg in command.get_arguments() {
        if let Some(name) = arg.get_env().and_then(|name| name.to_str()) {
            known.push(name.to_owned());
        }
    }
    for subcommand in command.get_subcommands() {
        settings(subcommand, known);
    }
}

/// A warning for each variable of `environment` that starts with
/// `FEATURE_FLAGS_` but is no setting of `command`, naming the known one it
/// most likely misspells: a misspelt setting is otherwise silently ignored
/// and its default used.
pub fn unknown_settings(
    command: &clap::Command,
    environment: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<String> {
    const PREFIX: &str = "FEATURE_FLAGS_";
    let mut known = Vec::new();
    settings(command, &mut known);
    // The SDKs' settings (crates/sdk, sdks/python): an application that
    // embeds an SDK may well start the service in the same environment.
    known.extend(
        [
            "FEATURE_FLAGS_URL",
            "FEATURE_FLAGS_API_KEY",
            "FEATURE_FLAGS_ENVIRONMENT",
            "FEATURE_FLAGS_OFFLINE_FILE",
        ]
        .map(str::to_owned),
    );
    let mut unknown: Vec<String> = environment
        .into_iter()
        .filter_map(|name| name.into_string().ok())
        .filter(|name| name.starts_with(PREFIX) && !known.contains(name))
        .collect();
    unknown.sort();
    unknown
        .into_iter()
        .map(|name| {
            // Compared without the prefix every setting shares, which would
            // make every name look alike; below half alike is no suggestion.
            let closest = known
                .iter()
                .filter_map(|setting| Some((setting, setting.strip_prefix(PREFIX)?)))
                .map(|(setting, rest)| {
                    let given = name.strip_prefix(PREFIX).unwrap_or(&name);
                    (setting, strsim::normalized_damerau_levenshtein(given, rest))
                })
                .filter(|(_, likeness)| *likeness >= 0.5)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match closest {
                Some((setting, _)) => format!("{name} is not a setting; did you mean {setting}?"),
                None => format!("{name} is not a setting"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn unknown_settings_are_named_with_the_closest_known_one() {
        let environment = [
            "FEATURE_FLAGS_RATE_LIMT",
            "FEATURE_FLAGS_RATE_LIMIT",
            "FEATURE_FLAGS_TOKEN",
            "FEATURE_FLAGS_CLOCK_FILE",
            "FEATURE_FLAGS_WHATEVER",
            "DATABASE_URL",
            "PATH",
        ]
        .map(std::ffi::OsString::from);
        assert_eq!(
            unknown_settings(&Cli::command(), environment),
            [
                "FEATURE_FLAGS_RATE_LIMT is not a setting; did you mean FEATURE_FLAGS_RATE_LIMIT?",
                "FEATURE_FLAGS_WHATEVER is not a setting",
            ]
        );
    }
}
