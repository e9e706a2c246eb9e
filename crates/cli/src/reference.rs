//! `docs/CLI.md`, generated from the command definitions (`feature-flags
//! docs`); a test fails when the file is stale.

use std::fmt::Write as _;

/// The reference of every command, as Markdown.
pub fn markdown(command: &clap::Command) -> String {
    let mut out = String::from(
        "# The `feature-flags` command line\n\n\
         Generated from the command definitions by `feature-flags docs`; do not edit\n\
         (`UPDATE_CLI_DOCS=1 cargo test -p feature-flags --test cli reference` rewrites it).\n\n\
         ## Exit codes\n\n\
         | code | meaning |\n|---|---|\n\
         | 0 | success |\n\
         | 1 | a check did not hold (`deps check`, `deploy` verification, `audit verify`), or another failure |\n\
         | 2 | bad usage (unknown option, missing argument) |\n\
         | 3 | the service cannot be reached |\n\
         | 4 | the key is missing, unknown, revoked (401) or lacks the role (403) |\n\
         | 5 | not found (404) |\n\
         | 6 | conflict (409): a stale version, a confirmation needed |\n\
         | 7 | invalid input (400, 422, or an invalid local file) |\n\
         | 8 | held for approval: the change became a change request (202) |\n\
         | 9 | refused by a change window (403 `outside_change_window`) |\n\n",
    );
    // The reference must not depend on the environment it is generated in.
    let mut command = without_env_values(command.clone());
    command.build();
    section(&mut out, &command, "feature-flags");
    out
}

fn section(out: &mut String, command: &clap::Command, path: &str) {
    if command.is_hide_set() {
        return;
    }
    let depth = path.split(' ').count().min(4);
    let _ = writeln!(out, "{} `{path}`\n", "#".repeat(depth + 1));
    let mut help = command.clone().disable_colored_help(true).term_width(100);
    let text = help.render_long_help().to_string();
    let _ = writeln!(out, "```text\n{}\n```\n", text.trim_end());
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        section(out, sub, &format!("{path} {}", sub.get_name()));
    }
}

fn without_env_values(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| arg.hide_env_values(true))
        .mut_subcommands(without_env_values)
}
