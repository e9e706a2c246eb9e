//! How answers are printed: tables that fit the terminal (colour only on a
//! terminal), or the JSON / YAML document itself for scripts.

use std::io::IsTerminal;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};
use serde_json::Value;

use crate::client::{CliError, CliResult};

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    #[default]
    Table,
    /// The JSON document.
    Json,
    /// The same as YAML.
    Yaml,
}

/// Where and how to print.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// The format.
    pub format: Format,
    /// `--quiet`: only errors (and what a command exists to print, such as
    /// a new key's secret).
    pub quiet: bool,
    colour: bool,
}

impl Printer {
    /// A printer; colour when stdout is a terminal and `NO_COLOR` is unset.
    pub fn new(format: Format, quiet: bool) -> Printer {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Printer {
            format,
            quiet,
            colour,
        }
    }

    /// Prints a document as JSON or YAML; `table` prints it for people.
    pub fn document(&self, value: &Value, table: impl FnOnce(&Printer)) -> CliResult {
        match self.format {
            Format::Json => crate::output::emit_line(&pretty(value)),
            Format::Yaml => crate::output::emit(&yaml(value)?),
            Format::Table if self.quiet => {}
            Format::Table => table(self),
        }
        Ok(())
    }

    /// A line for people (not with `--quiet`, nor with JSON/YAML output,
    /// which print the document instead).
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.quiet && self.format == Format::Table {
            emit_line(line.as_ref());
        }
    }

    /// A table with a header row.
    pub fn table(&self, header: &[&str], rows: Vec<Vec<String>>) {
        let mut table = Table::new();
        table
            .load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(header.iter().map(Cell::new));
        for row in rows {
            table.add_row(row.into_iter().map(|cell| self.cell(cell)));
        }
        emit_line(&table.to_string());
    }

    fn cell(&self, text: String) -> Cell {
        let cell = Cell::new(&text);
        if !self.colour {
            return cell;
        }
        match text.as_str() {
            "on" | "true" | "applied" | "holds" | "active" => cell.fg(Color::Green),
            "off" | "false" | "failed" | "rejected" | "broken" => cell.fg(Color::Red),
            "pending" | "held" | "scheduled" | "paused" => cell.fg(Color::Yellow),
            _ => cell,
        }
    }
}

/// Writes to standard output, ignoring a closed pipe (`| head`): the
/// reader has what it wanted.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// [`emit`] with a newline.
pub fn emit_line(text: &str) {
    emit(&format!("{text}\n"));
}

/// Pretty JSON.
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// YAML.
pub fn yaml(value: &Value) -> CliResult<String> {
    serde_norway::to_string(value).map_err(|e| CliError::invalid(format!("cannot write YAML: {e}")))
}

/// A value in a table cell: strings bare, everything else as compact JSON.
pub fn short(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => {
            let text = other.to_string();
            if text.chars().count() > 60 {
                format!("{}…", text.chars().take(59).collect::<String>())
            } else {
                text
            }
        }
    }
}
