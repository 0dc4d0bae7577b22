//! `cargo xtask dist`: build `trawl` and package it for operators (see `trawl_dist`).

use std::path::PathBuf;
use std::process::ExitCode;

use trawl_dist::{ArchiveLayout, Profile};

/// The arguments of `dist`.
#[derive(clap::Args, Debug)]
pub struct DistArgs {
    /// Package the dev build instead of the release build (quicker; for tests).
    #[arg(long)]
    pub debug: bool,
    /// Where the tarball goes [default: <workspace>/target/dist].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub async fn run(args: DistArgs) -> anyhow::Result<ExitCode> {
    let root = crate::workspace_root();
    let out = args.out.unwrap_or_else(|| root.join("target/dist"));
    let profile = if args.debug {
        Profile::Debug
    } else {
        Profile::Release
    };
    let artifact = tokio::task::spawn_blocking(move || {
        let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        let rustc = PathBuf::from(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
        eprintln!(
            "dist: building trawl ({})…",
            if profile == Profile::Release {
                "release"
            } else {
                "debug"
            }
        );
        let binary = trawl_dist::build(&cargo, &root, profile)?;
        let layout = ArchiveLayout {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            target: trawl_dist::host_triple(&rustc)?,
        };
        eprintln!(
            "dist: packaging {} as {}…",
            binary.display(),
            layout.file_name()
        );
        trawl_dist::package(&binary, &layout, &out)
    })
    .await??;
    println!("{}", artifact.path.display());
    println!(
        "size {} ({} bytes)",
        bytesize::ByteSize::b(artifact.bytes),
        artifact.bytes
    );
    println!("sha256 {}", artifact.sha256);
    println!("links (ldd, no OpenSSL):\n{}", artifact.ldd.trim_end());
    Ok(ExitCode::SUCCESS)
}
