//! `trawl index-size` and `trawl recreate-index`: how big the indices behind
//! this deployment's aliases are, and starting over with empty ones.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;
use bytesize::ByteSize;
use comfy_table::{CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use trawl_indexer::IndexSize;

#[derive(clap::Args)]
pub struct IndexSizeArgs {
    /// Print JSON (one object per concrete index) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct RecreateIndexArgs {
    /// Do it without asking (required when stdin is not a terminal).
    #[arg(long)]
    yes: bool,
    /// Print JSON (the indices created) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Bytes as `1.4 MiB`.
pub fn human(bytes: u64) -> String {
    ByteSize::b(bytes).display().iec().to_string()
}

pub fn size_table(sizes: &[IndexSize]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "alias",
        "index",
        "documents",
        "primary store",
        "total store",
    ]);
    for s in sizes {
        table.add_row(vec![
            s.alias.clone(),
            s.index.clone(),
            s.docs.to_string(),
            human(s.primary_store_bytes),
            human(s.total_store_bytes),
        ]);
    }
    table.add_row(vec![
        "total".to_owned(),
        format!("{} indices", sizes.len()),
        sizes.iter().map(|s| s.docs).sum::<u64>().to_string(),
        human(sizes.iter().map(|s| s.primary_store_bytes).sum()),
        human(sizes.iter().map(|s| s.total_store_bytes).sum()),
    ]);
    for column in 2..5 {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// `index-size`: documents and store sizes per concrete index, with a total.
pub async fn size(args: IndexSizeArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let set = crate::connect::index_set(&services).await?;
    let sizes = set
        .sizes()
        .await
        .context("reading index statistics from the engine")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&sizes)?);
    } else if sizes.is_empty() {
        println!(
            "no trawl indices under prefix {:?}: create them with `{program} recreate-index --yes` or by indexing a repository",
            set.names().prefix(),
            program = trawl_operator_command::program()
        );
    } else {
        println!("{}", size_table(&sizes));
        let stale = set
            .stale_analysis()
            .await
            .context("reading the indices' mappings")?;
        if !stale.is_empty() {
            println!(
                "note: {} analyzed with an older chain than this release's (identifiers in any casing are found only in re-analyzed documents): run `{program} reindex start`",
                stale.join(", "),
                program = trawl_operator_command::program()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `recreate-index`: deletes every index behind the aliases and creates them empty (and
/// marks every migration completed: the new indices have the current definitions), after
/// a typed confirmation (or `--yes`).
pub async fn recreate(args: RecreateIndexArgs) -> anyhow::Result<ExitCode> {
    let services = crate::connect::services()?;
    let set = crate::connect::index_set(&services).await?;
    let before = set.sizes().await.context("reading the current indices")?;
    if !args.yes {
        let what = if before.is_empty() {
            "no indices exist yet under these aliases".to_owned()
        } else {
            format!(
                "{} indices with {} documents ({}) will be deleted",
                before.len(),
                before.iter().map(|s| s.docs).sum::<u64>(),
                human(before.iter().map(|s| s.total_store_bytes).sum())
            )
        };
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "recreate-index deletes every index behind the trawl aliases (prefix {:?}; {what}) and stdin is not a terminal, so nobody can confirm: pass --yes to do it anyway",
                set.names().prefix()
            );
        }
        if !before.is_empty() {
            println!("{}", size_table(&before));
        }
        print!("{what}. Type `yes` to delete and recreate them: ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            println!("aborted; nothing was changed");
            return Ok(ExitCode::FAILURE);
        }
    }
    set.recreate().await.context(
        "recreating the indices (some may be deleted already; run recreate-index again)",
    )?;
    // New indices have the current definitions: no migration is left to apply to them.
    let marked = trawl_migrations::MigrationRunner::new(
        crate::connect::migration_context(&services).await?,
        trawl_migrations::migrations::all(),
    )?
    .mark_all_completed()
    .await
    .with_context(|| {
        format!(
            "marking every migration completed (run `{program} recreate-index` again)",
            program = trawl_operator_command::program()
        )
    })?;
    let after = set.sizes().await.context("reading the new indices")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&after)?);
    } else {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(vec!["alias", "new index", "documents"]);
        for s in &after {
            table.add_row(vec![s.alias.clone(), s.index.clone(), s.docs.to_string()]);
        }
        println!("{table}");
        println!(
            "deleted {} indices, created {} empty ones; marked {} migrations completed",
            before.len(),
            after.len(),
            marked.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
