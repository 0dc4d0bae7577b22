//! `config show`: the effective configuration — `trawl.toml` under the environment, the
//! development stack filling what neither names — every value with its origin, secrets
//! masked. Reads no service, so it works while they are down.

use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::terminal;

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print every key's effective value and where it came from.
    Show {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `config …`.
pub fn run(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    let ConfigCommand::Show { json } = command;
    let config = crate::connect::config()?;
    let masked = config.masked();
    if json {
        println!("{}", serde_json::to_string_pretty(masked)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["key", "value", "from"]);
    for (key, value) in masked.entries() {
        table.add_row([
            key.to_owned(),
            terminal::lines(&value.value).into_owned(),
            terminal::lines(&value.source.to_string()).into_owned(),
        ]);
    }
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}
