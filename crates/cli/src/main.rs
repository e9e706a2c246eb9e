#![doc = include_str!("../README.md")]

mod cli;
mod client;
mod code_refs;
mod commands;
mod offline;
mod output;
mod profiles;
mod reference;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{CommandFactory, Parser};
use ff_server::{ServeConfig, SystemClock};
use tokio::net::TcpListener;

use crate::cli::{Cli, Command};
use crate::client::{CliError, CliResult, Client, exit};
use crate::output::Printer;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Serve(config) = cli.command {
        return match serve(*config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::from(exit::FAILED)
            }
        };
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if !error.message.is_empty() {
                eprintln!("error: {}", error.message);
            }
            error.exit_code()
        }
    }
}

/// Every command but `serve`.
async fn run(cli: Cli) -> CliResult {
    let printer = Printer::new(cli.global.output, cli.global.quiet);
    let connection = || profiles::resolve(&cli.global);
    let client = || {
        connection()
            .and_then(|(url, token)| Client::new(&url, token, cli.global.ca_cert.as_deref()))
    };
    match &cli.command {
        Command::Serve(_) => Ok(()),
        Command::Login { name } => profiles::login(&cli.global, name, &printer).await,
        Command::EmergencyDisable(args) => {
            commands::emergency(&client()?, &printer, args, false).await
        }
        Command::EmergencyEnable(args) => {
            commands::emergency(&client()?, &printer, args, true).await
        }
        Command::Rollback(args) => commands::rollback(&client()?, &printer, args).await,
        Command::Flags(command) => commands::flags(&client()?, &printer, command).await,
        Command::Evaluate { flag, env, context } => {
            commands::evaluate(&client()?, &printer, flag, env, context).await
        }
        Command::Envs(command) => commands::envs(&client()?, &printer, command).await,
        Command::Segments(command) => commands::segments(&client()?, &printer, command).await,
        Command::Audit(args) => commands::audit(&client()?, &printer, args).await,
        Command::Keys(command) => commands::keys(&client()?, &printer, command).await,
        Command::Users(command) => commands::users(&client()?, &printer, command).await,
        Command::Webhooks(command) => commands::webhooks(&client()?, &printer, command).await,
        Command::Metrics(args) => commands::metrics(&client()?, &printer, args).await,
        Command::EvaluationLog(args) => commands::evaluation_log(&client()?, &printer, args).await,
        Command::CodeRefs(args) if !args.keys.is_empty() => {
            commands::code_refs(None, &printer, args).await
        }
        Command::CodeRefs(args) => commands::code_refs(Some(&client()?), &printer, args).await,
        Command::Experiments(command) => commands::experiments(&client()?, &printer, command).await,
        Command::Subjects(command) => commands::subjects(&client()?, &printer, command).await,
        Command::ChangeRequests(command) => {
            commands::change_requests(&client()?, &printer, command).await
        }
        Command::Schedule(command) => commands::schedule(&client()?, &printer, command).await,
        Command::RolloutPlans(command) => {
            commands::rollout_plans(&client()?, &printer, command).await
        }
        Command::Export { format, out } => {
            commands::export(&client()?, format, out.as_deref()).await
        }
        Command::Import {
            file,
            dry_run,
            prune,
            write,
        } => {
            let document = offline::read_file(file)?;
            commands::apply(
                &client()?,
                &printer,
                &document,
                *dry_run,
                *prune,
                true,
                write,
            )
            .await
        }
        Command::Apply {
            file,
            dry_run,
            prune,
            yes,
            write,
        } => {
            let files = offline::read_paths(file)?;
            // Checked offline first: the engine's messages, with file names.
            if let Err(errors) = offline::parse(&files) {
                return Err(CliError::invalid(format!(
                    "{} problem(s) in the files; nothing applied:\n{}",
                    errors.len(),
                    errors
                        .iter()
                        .map(|e| format!("  error: {e}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )));
            }
            let document = commands::import_document(&files);
            commands::apply(
                &client()?,
                &printer,
                &document,
                *dry_run,
                *prune,
                *yes,
                write,
            )
            .await
        }
        Command::Validate { file } => commands::validate(&printer, file),
        Command::Snapshot {
            scenario,
            environment,
            from,
            out,
        } => {
            let client = if from.is_some() {
                None
            } else {
                Some(client()?)
            };
            commands::snapshot(
                client.as_ref(),
                &printer,
                *scenario,
                environment,
                from.as_deref(),
                out,
            )
            .await
        }
        Command::Deploy {
            file,
            phase,
            deployment_id,
            environment,
            protection,
        } => {
            commands::deploy(
                &client()?,
                &printer,
                file,
                phase,
                deployment_id,
                environment,
                protection,
            )
            .await
        }
        Command::Deps(command) => commands::deps(&client()?, &printer, command).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "feature-flags",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Docs => {
            crate::output::emit(&reference::markdown(&Cli::command()));
            Ok(())
        }
    }
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    init_logs(config.log_format);
    // Once logs are set up, so that the warnings reach the log collector.
    let environment = std::env::vars_os().map(|(name, _)| name);
    for warning in cli::unknown_settings(&Cli::command(), environment) {
        tracing::warn!("{warning}");
    }
    let address = (config.bind, config.port);
    tracing::info!(?config, "starting");
    let (state, seeded) = ff_server::prepare(config, Arc::new(SystemClock)).await?;
    if let Some(seeded) = seeded {
        print_first_start(&seeded);
    }
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("could not listen on {}:{}", address.0, address.1))?;
    tracing::info!(
        address = %listener.local_addr()?,
        tls = state.config.serves_tls(),
        "serving"
    );
    ff_server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Log lines on standard output: coloured text on a terminal (and only
/// there: escape codes in a log file are noise), or one JSON object a line.
fn init_logs(format: ff_server::LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=warn,sqlx=warn".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        ff_server::LogFormat::Json => logs.json().init(),
        ff_server::LogFormat::Text => logs
            .with_ansi(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init(),
    }
}

fn print_first_start(seeded: &ff_server::Bootstrapped) {
    let line = "=".repeat(72);
    if seeded.from_config {
        eprintln!(
            "{line}\nFirst start: created environments development -> staging -> production\nand an admin API key from FEATURE_FLAGS_ADMIN_TOKEN.\n{line}"
        );
    } else {
        eprintln!(
            "{line}\nFirst start: created environments development -> staging -> production.\n\
             Admin API key (shown once, store it now):\n\n    {}\n\n\
             Use it as `Authorization: Bearer <key>`, e.g.\n    export ADMIN_TOKEN={}\n{line}",
            seeded.admin_secret, seeded.admin_secret
        );
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
