//! `logbook import`: backfill Claude Code transcripts, idempotently.
//!
//! Each main transcript becomes one session (agent kind `claude-code`, agent
//! session id and cwd read from its records); subagent transcripts
//! (`<session>/subagents/agent-*.jsonl`, or flat `agent-*.jsonl` naming their
//! parent in `sessionId`) become further sources of their parent's session.
//! Capture uses the same exactly-once cursor as `logbook capture`, so a
//! second import adds nothing and a grown file adds only its new lines.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use logbook_capture::run::CaptureConfig;
use logbook_capture::source::{FileSource, Source};
use logbook_core::lifecycle::LifecycleCommand;
use logbook_core::sessions::{MAIN_SOURCE, SessionStatus};
use logbook_core::{
    AgentInfo, EndReason, EndStatus, Event, EventLog as _, Origin, SessionId, SourceKind, SourceRef,
};
use serde::Serialize;

use crate::console::{ClientEnv, Console};
use crate::error::ResultExt as _;
use crate::files::list_files_and_links;
use crate::request::ImportArgs;
use crate::workspace::Workspace;

/// Transcripts untouched for this long are recorded as ended.
const IDLE: Duration = Duration::from_secs(3600);

#[derive(Debug)]
struct Transcript {
    path: PathBuf,
    /// The agent session it belongs to.
    agent_session: String,
    /// `main` or `subagents/<file stem>`.
    key: String,
    cwd: Option<String>,
}

/// What an import did.
#[derive(Debug, Default, Serialize)]
pub struct ImportSummary {
    /// Files read.
    pub files: u64,
    /// Sessions that took lines.
    pub sessions: u64,
    /// Sessions started for conversations not seen before.
    pub new_sessions: u64,
    /// New lines captured.
    pub lines: u64,
    /// New bytes captured.
    pub bytes: u64,
    /// Files with malformed lines, and how many.
    pub malformed: Vec<(String, u64)>,
    /// Files that could not be read, and why.
    pub skipped: Vec<(String, String)>,
}

/// How much of a transcript's opening is read for its identity: the
/// opening records are small, and a file of one endless line (or
/// `/dev/zero`) must not be read into memory whole.
const IDENTITY_BYTES: u64 = 4 << 20;

/// The first `sessionId` and `cwd` found in a transcript's opening records.
fn identity(path: &Path) -> std::io::Result<(Option<String>, Option<String>)> {
    let reader = BufReader::new(std::fs::File::open(path)?.take(IDENTITY_BYTES));
    let (mut session, mut cwd) = (None, None);
    for line in reader.split(b'\n').take(200) {
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(&line?) else {
            continue;
        };
        if session.is_none() {
            session = record
                .get("sessionId")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
        }
        if cwd.is_none() {
            cwd = record
                .get("cwd")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
        }
        if session.is_some() && cwd.is_some() {
            break;
        }
    }
    Ok((session, cwd))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Classifies one `.jsonl` file.
fn classify(path: &Path) -> std::io::Result<Transcript> {
    // Opening a FIFO waits for a writer, and a device has no end.
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device), refused",
        ));
    }
    let (session, cwd) = identity(path)?;
    let name = stem(path);
    let parent_dir = path.parent();
    let in_subagents = parent_dir
        .and_then(Path::file_name)
        .is_some_and(|n| n == "subagents");
    if in_subagents || name.starts_with("agent-") {
        let parent = if in_subagents {
            parent_dir.and_then(Path::parent).map(stem)
        } else {
            session.clone()
        };
        return Ok(Transcript {
            path: path.to_owned(),
            agent_session: parent.unwrap_or_else(|| name.clone()),
            key: format!("subagents/{name}"),
            cwd,
        });
    }
    Ok(Transcript {
        path: path.to_owned(),
        agent_session: session.unwrap_or(name),
        key: MAIN_SOURCE.to_owned(),
        cwd,
    })
}

fn gather(paths: &[PathBuf], env: &ClientEnv) -> crate::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        let path = env.resolve(path);
        if path.is_dir() {
            for rel in list_files_and_links(&path, ".")? {
                if rel.ends_with(".jsonl") {
                    out.push(path.join(rel.trim_start_matches("./")));
                }
            }
        } else if path.is_file() {
            out.push(path);
        } else if path.exists() {
            return Err(crate::error::EngineError::usage(format!(
                "{} is not a regular file (a FIFO, socket or device); import reads transcript files",
                path.display()
            )));
        } else {
            return Err(crate::error::EngineError::usage(format!(
                "{} does not exist",
                path.display()
            )));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// What an import should leave alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Skip conversations whose newest session is still active: a live
    /// session belongs to its watcher, which also splits it at compactions
    /// (the daemon's sweep sets this).
    pub skip_active: bool,
}

/// Runs `import`.
pub async fn import(ws: &Workspace, args: ImportArgs, console: &mut Console) -> crate::Result<u8> {
    let files = gather(&args.paths, &console.env)?;
    let summary = import_files(ws, files, ImportOptions::default(), Some(console)).await?;
    // What was imported is searchable when the import returns; an index
    // failure is said, and the next search catches up.
    if let Err(e) = ws.index_catch_up().await {
        console.say(format_args!("logbook: the search index is behind: {e}"));
    }
    for (path, why) in &summary.skipped {
        console.say(format_args!("logbook: skipped {path}: {why}"));
    }
    let out = &mut *console.out;
    if args.json.json {
        serde_json::to_writer_pretty(&mut *out, &summary)?;
        writeln!(out)?;
    } else {
        let malformed = if summary.malformed.is_empty() {
            "none".to_owned()
        } else {
            summary
                .malformed
                .iter()
                .map(|(p, n)| {
                    format!(
                        "{} {n}",
                        Path::new(p)
                            .file_name()
                            .map(|f| f.to_string_lossy())
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            out,
            "imported {} files into {} sessions ({} new): {} new lines, {} new bytes; malformed lines kept and counted: {malformed}",
            summary.files, summary.sessions, summary.new_sessions, summary.lines, summary.bytes
        )?;
    }
    Ok(0)
}

/// Imports every `.jsonl` under `dir` (the daemon's sweep of Claude Code's
/// projects folder); a missing folder imports nothing.
pub async fn import_dir(
    ws: &Workspace,
    dir: &Path,
    options: ImportOptions,
) -> crate::Result<ImportSummary> {
    if !dir.is_dir() {
        return Ok(ImportSummary::default());
    }
    let files = list_files_and_links(dir, ".")?
        .into_iter()
        .filter(|rel| rel.ends_with(".jsonl"))
        .map(|rel| dir.join(rel.trim_start_matches("./")))
        .collect();
    import_files(ws, files, options, None).await
}

/// Captures `files` (exactly once) into the sessions of their
/// conversations, starting sessions for conversations never seen.
pub async fn import_files(
    ws: &Workspace,
    files: Vec<PathBuf>,
    options: ImportOptions,
    console: Option<&Console>,
) -> crate::Result<ImportSummary> {
    let mut summary = ImportSummary::default();
    let mut transcripts = Vec::new();
    for path in files {
        match classify(&path) {
            Ok(t) => transcripts.push(t),
            Err(e) => summary
                .skipped
                .push((path.display().to_string(), e.to_string())),
        }
    }
    // Parents before their subagents.
    transcripts.sort_by_key(|t| (t.key != MAIN_SOURCE, t.path.clone()));
    let total: u64 = transcripts
        .iter()
        .filter_map(|t| std::fs::metadata(&t.path).ok())
        .map(|m| m.len())
        .sum();
    let bar = match console {
        Some(console) => crate::progress::bytes(total, true, console),
        None => indicatif::ProgressBar::hidden(),
    };

    let mut known = agent_sessions(ws).await?;
    let mut touched: HashMap<SessionId, SystemTime> = HashMap::new();
    let config = CaptureConfig {
        shrink_ratio: ws.config().compaction_ratio,
        token_reading: Some(logbook_tokens::text::token_usage),
        ..CaptureConfig::default()
    };
    for t in &transcripts {
        // Hooks that found the store busy are applied between files, so a
        // long import never keeps a hook waiting (DESIGN.md §8).
        crate::spool::ingest(ws).await;
        let _lane = ws.lane().await;
        bar.set_message(format!(
            " {}",
            t.path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        // A main transcript is its file (copies of one conversation are
        // separate sessions); a subagent joins whichever session holds its
        // parent conversation. Either way the newest session of the chain.
        let lookup = if t.key == MAIN_SOURCE {
            known
                .by_file
                .get(&(t.agent_session.clone(), same_file_key(&t.path)))
        } else {
            known.by_agent.get(&t.agent_session)
        };
        if let Some(id) = lookup
            && options.skip_active
            && ws.quick_view(*id).await?.status == SessionStatus::Active
        {
            continue;
        }
        let session = match lookup {
            Some(id) => *id,
            None => {
                let id = SessionId::new_v7();
                ws.run(
                    id,
                    LifecycleCommand::Start {
                        command: None,
                        agent: Some(AgentInfo {
                            kind: "claude-code".into(),
                            session_id: Some(t.agent_session.clone()),
                            transcript_path: (t.key == MAIN_SOURCE)
                                .then(|| t.path.display().to_string()),
                            cwd: t.cwd.clone(),
                            pid: None,
                        }),
                        origin: Origin::Fresh,
                    },
                )
                .await?;
                known.insert(
                    &t.agent_session,
                    (t.key == MAIN_SOURCE).then(|| t.path.display().to_string()),
                    id,
                );
                summary.new_sessions += 1;
                id
            }
        };
        let source = SourceRef {
            kind: SourceKind::ClaudeCode,
            key: t.key.clone(),
            location: t.path.display().to_string(),
        };
        let report = FileSource::new(source, t.path.clone())
            .capture(ws.log(), session, config, &mut |n| bar.inc(n))
            .await;
        match report {
            Ok(report) => {
                summary.files += 1;
                summary.lines += report.lines;
                summary.bytes += report.bytes;
                if report.malformed > 0 {
                    summary
                        .malformed
                        .push((t.path.display().to_string(), report.malformed));
                }
                if let Ok(modified) = std::fs::metadata(&t.path).and_then(|m| m.modified()) {
                    let latest = touched.entry(session).or_insert(modified);
                    *latest = (*latest).max(modified);
                }
            }
            // The store refusing (a full disk) stops the import: going on
            // would only be refused again. What it took so far is kept.
            Err(logbook_capture::CaptureError::Log(e)) => {
                bar.finish_and_clear();
                return Err::<ImportSummary, _>(e)
                    .context(format!("importing {}", t.path.display()));
            }
            // A file that vanished between listing and reading is reported
            // and skipped; the rest of the import goes on.
            Err(e) => {
                tracing::warn!("skipping {}: {e}", t.path.display());
                summary
                    .skipped
                    .push((t.path.display().to_string(), e.to_string()));
            }
        }
        // Project per file, so the files people read follow an import and
        // the store is never far behind when the next hook arrives.
        ws.project().await?;
    }
    bar.finish_and_clear();
    let _lane = ws.lane().await;
    ws.project().await?;
    let now = SystemTime::now();
    for (session, modified) in &touched {
        let idle = now.duration_since(*modified).unwrap_or_default() > IDLE;
        if idle && ws.state(*session).await?.phase == logbook_core::lifecycle::Phase::Active {
            ws.run(
                *session,
                LifecycleCommand::End {
                    status: EndStatus::Completed,
                    exit_code: None,
                    reason: EndReason::Other("idle".into()),
                },
            )
            .await?;
        }
    }
    summary.sessions = touched.len() as u64;
    ws.flush()?;
    Ok(summary)
}

/// How a transcript path is compared: hooks report the path Claude Code
/// uses, an import the path the user typed; the same file through a
/// symbolic link or `..` is still the same conversation file.
fn same_file_key(path: &Path) -> String {
    path.canonicalize()
        .unwrap_or_else(|_| path.to_owned())
        .display()
        .to_string()
}

/// Imported sessions, by what identifies them.
#[derive(Default)]
struct Known {
    /// (agent session id, transcript path) → session.
    by_file: HashMap<(String, String), SessionId>,
    /// agent session id → the first session holding it.
    by_agent: HashMap<String, SessionId>,
}

impl Known {
    fn insert(&mut self, agent: &str, path: Option<String>, id: SessionId) {
        if let Some(path) = path {
            // Sessions are inserted oldest first: the newest segment of a
            // chain wins, and captures go on there.
            self.by_file
                .insert((agent.to_owned(), same_file_key(Path::new(&path))), id);
        }
        self.by_agent.entry(agent.to_owned()).or_insert(id);
    }
}

/// Every Claude Code session in the store, from each session's first event.
async fn agent_sessions(ws: &Workspace) -> crate::Result<Known> {
    let mut known = Known::default();
    for id in ws.log().sessions().await? {
        for env in ws.log().read_session_range(id, 1, 1).await? {
            if let Event::SessionStarted(s) = &env.event
                && let Some(agent) = &s.agent
                && agent.kind == "claude-code"
                && let Some(agent_session) = &agent.session_id
            {
                known.insert(agent_session, agent.transcript_path.clone(), id);
            }
        }
    }
    Ok(known)
}
