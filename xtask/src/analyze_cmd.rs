//! `cargo xtask analyze`: tokens of one text or of each line of a file, from the offline
//! emulation, from the engine, or both side by side with the first difference.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_analyzers::{AnalyzerName, LuceneGeneration, Token};
use trawl_client::Client;
use trawl_stack::Stack;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("mode").args(["emulate", "engine", "compare"])))]
#[command(group(clap::ArgGroup::new("input").required(true).args(["text", "file"])))]
pub struct AnalyzeArgs {
    /// code_analyzer, path_analyzer, whitespace_reverse, code_edge_ngram_analyzer or sha_normalizer.
    #[arg(long, value_parser = parse_analyzer)]
    analyzer: AnalyzerName,
    /// Offline emulation (the default; needs no services).
    #[arg(long)]
    emulate: bool,
    /// The engine's `_analyze` (needs `cargo xtask up` or TRAWL_ES_URL).
    #[arg(long)]
    engine: bool,
    /// Both, side by side, with the first difference; exits 1 if they differ.
    #[arg(long)]
    compare: bool,
    /// Emulate the analysis of this Lucene generation: 8 (Elasticsearch 7, OpenSearch 1),
    /// 9 (Elasticsearch 8, OpenSearch 2) or 10 (Elasticsearch 9, OpenSearch 3). Default:
    /// the connected engine's with --engine or --compare, else 9 (the default engine,
    /// OpenSearch 2.19).
    #[arg(long, value_parser = parse_lucene)]
    lucene: Option<LuceneGeneration>,
    /// Print JSON (one object per line of input with --file).
    #[arg(long)]
    json: bool,
    /// The text to analyze.
    text: Option<String>,
    /// Analyze each line of this file (streamed: any size).
    #[arg(long)]
    file: Option<PathBuf>,
}

fn parse_analyzer(s: &str) -> Result<AnalyzerName, String> {
    s.parse()
        .map_err(|e: trawl_analyzers::analysis::UnknownAnalyzer| e.to_string())
}

fn parse_lucene(s: &str) -> Result<LuceneGeneration, String> {
    s.parse()
        .map_err(|e: trawl_analyzers::UnknownLuceneGeneration| e.to_string())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Emulate,
    Engine,
    Compare,
}

/// The engine side: a scratch index carrying trawl's analysis settings, named after a
/// hash of them so that changed settings get a fresh index.
struct EngineAnalyzer {
    client: Client,
    index: String,
    /// The Lucene generation the engine runs.
    lucene: LuceneGeneration,
}

impl EngineAnalyzer {
    async fn connect() -> anyhow::Result<Self> {
        let services = Stack::new(crate::state_dir()?)
            .running_services()?
            .context("--engine and --compare need the engine: start it with `cargo xtask up`, or set TRAWL_ES_URL and TRAWL_REDIS_URL")?;
        let client = Client::new(trawl_cli::connect::client_config(&services.engine)?)?;
        let lucene =
            trawl_analyzers::LuceneGeneration::of_major(client.engine_info().await?.lucene_major());
        let body = trawl_analyzers::analysis_index_body();
        let index = format!("trawl-analysis-{:016x}", fnv1a(body.to_string().as_bytes()));
        // Another process may create it meanwhile: an error counts only if it is still missing.
        if !client.index_exists(&index).await?
            && let Err(e) = client.create_index(&index, &body).await
            && !client.index_exists(&index).await?
        {
            return Err(e.into());
        }
        Ok(EngineAnalyzer {
            client,
            index,
            lucene,
        })
    }

    async fn analyze(&self, analyzer: AnalyzerName, text: &str) -> anyhow::Result<Vec<Token>> {
        Ok(self
            .client
            .analyze_as::<Token>(Some(&self.index), &analyzer.analyze_request(text))
            .await?)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

pub async fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let mode = if args.compare {
        Mode::Compare
    } else if args.engine {
        Mode::Engine
    } else {
        Mode::Emulate
    };
    let engine = match mode {
        Mode::Emulate => None,
        _ => Some(EngineAnalyzer::connect().await?),
    };
    let lucene = args
        .lucene
        .or(engine.as_ref().map(|e| e.lucene))
        .unwrap_or(LuceneGeneration::DEFAULT);
    let mut differing = 0usize;
    match (&args.text, &args.file) {
        (Some(text), _) => {
            differing += analyze_one(&args, mode, lucene, engine.as_ref(), None, text).await?;
        }
        (None, Some(path)) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let mut reader = BufReader::new(file);
            let mut buf = Vec::new();
            let mut line_no = 0usize;
            loop {
                buf.clear();
                let n = reader
                    .read_until(b'\n', &mut buf)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                if n == 0 {
                    break;
                }
                line_no += 1;
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                let line = std::str::from_utf8(&buf).map_err(|e| {
                    anyhow::anyhow!(
                        "{}: line {line_no} is not valid UTF-8 (at byte {} of the line); convert the file (e.g. iconv -f latin1 -t utf-8) or pass the text directly",
                        path.display(),
                        e.valid_up_to()
                    )
                })?;
                differing +=
                    analyze_one(&args, mode, lucene, engine.as_ref(), Some(line_no), line).await?;
            }
        }
        (None, None) => unreachable!("clap requires text or --file"),
    }
    if mode == Mode::Compare && !args.json {
        if differing == 0 {
            println!("emulation ({lucene}) and engine agree");
        } else {
            println!("{differing} input(s) differ");
        }
    }
    Ok(if differing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Analyzes one input and prints it; returns 1 if compare found a difference.
async fn analyze_one(
    args: &AnalyzeArgs,
    mode: Mode,
    lucene: LuceneGeneration,
    engine: Option<&EngineAnalyzer>,
    line: Option<usize>,
    text: &str,
) -> anyhow::Result<usize> {
    let emulated =
        (mode != Mode::Engine).then(|| trawl_analyzers::analyze(lucene, args.analyzer, text));
    let from_engine = match engine {
        Some(engine) => Some(engine.analyze(args.analyzer, text).await?),
        None => None,
    };
    let first_difference = match (&emulated, &from_engine) {
        (Some(a), Some(b)) if a != b => Some(
            a.iter()
                .zip(b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len())),
        ),
        _ => None,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut value = serde_json::json!({ "analyzer": args.analyzer, "lucene": lucene });
        if let Some(line) = line {
            value["line"] = line.into();
        }
        if let Some(tokens) = &emulated {
            value["emulated"] = serde_json::to_value(tokens)?;
        }
        if let Some(tokens) = &from_engine {
            value["engine"] = serde_json::to_value(tokens)?;
        }
        if mode == Mode::Compare {
            value["identical"] = first_difference.is_none().into();
            value["first_difference"] = first_difference.into();
        }
        writeln!(out, "{value}")?;
    } else {
        if let Some(line) = line {
            writeln!(out, "line {line}: {text:?}")?;
        }
        match (&emulated, &from_engine) {
            (Some(tokens), None) | (None, Some(tokens)) => {
                writeln!(out, "{}", token_table(tokens))?
            }
            (Some(emulated), Some(engine)) => {
                writeln!(out, "{}", comparison_table(engine, emulated))?;
                match first_difference {
                    None => writeln!(out, "identical: {} tokens", engine.len())?,
                    Some(i) => writeln!(
                        out,
                        "first difference at token {i}: engine {:?}, emulated {:?}",
                        engine.get(i),
                        emulated.get(i)
                    )?,
                }
            }
            (None, None) => {}
        }
    }
    Ok(usize::from(first_difference.is_some()))
}

fn token_table(tokens: &[Token]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["token", "position", "length", "start", "end", "type"]);
    for t in tokens {
        table.add_row([
            t.token.to_string(),
            t.position.to_string(),
            t.position_length.to_string(),
            t.start_offset.to_string(),
            t.end_offset.to_string(),
            t.token_type.to_string(),
        ]);
    }
    table
}

fn comparison_table(engine: &[Token], emulated: &[Token]) -> Table {
    let show = |t: Option<&Token>| {
        t.map_or("-".to_owned(), |t| {
            format!(
                "{} @{}+{} [{}..{}]",
                t.token, t.position, t.position_length, t.start_offset, t.end_offset
            )
        })
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["#", "engine", "emulated", ""]);
    for i in 0..engine.len().max(emulated.len()) {
        let (a, b) = (engine.get(i), emulated.get(i));
        table.add_row([
            i.to_string(),
            show(a),
            show(b),
            if a == b { "" } else { "≠" }.to_owned(),
        ]);
    }
    table
}
