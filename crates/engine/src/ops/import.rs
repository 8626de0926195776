//! `logbook import`: backfill agents' session files, idempotently.
//!
//! With no path it reads every supported agent's own folders (`--agent`
//! narrows to one). Each file is recognised by its content
//! (`logbook_agents::locate`): a Claude Code transcript, a Codex rollout
//! (plain or `.zst`), or a Gemini CLI chat (its JSONL log, or the JSON file
//! it rewrites whole). A session's own file becomes one logbook session
//! (agent kind, agent session id and cwd read from its records); a
//! subagent's file becomes a further source of its parent's session.
//! Capture uses the same exactly-once cursor as `logbook capture`, so a
//! second import adds nothing and a grown file adds only what is new.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use logbook_agents::Agent;
use logbook_agents::locate::{Form, Found, default_roots, recognise, session_files};
use logbook_capture::run::CaptureConfig;
use logbook_capture::source::{FileSource, Source};
use logbook_core::lifecycle::{LifecycleCommand, SessionState, decide};
use logbook_core::sessions::{MAIN_SOURCE, SessionStatus};
use logbook_core::{
    AgentInfo, EndReason, EndStatus, Event, EventLog as _, Origin, SessionDated, SessionEndDated,
    SessionId, SourceRef, Timestamp,
};
use serde::Serialize;

use crate::console::{ClientEnv, Console};
use crate::error::ResultExt as _;
use crate::files::list_files_and_links;
use crate::ops::plural;
use crate::request::ImportArgs;
use crate::workspace::Workspace;

/// Transcript bytes an import appends before a projection pass, which it
/// runs at the end of a conversation (so the pass takes the conversation's
/// start, its files and its end together, and writes each of its files
/// once). A hook that arrives during an import projects whatever waits
/// before its own event: at about 1 MB a pass takes tens of milliseconds
/// (DESIGN.md §8). 16 MB made a 1 GB import about 5 % faster, with
/// passes of half a second.
const PROJECT_EVERY: u64 = 1 << 20;

/// What may wait within one conversation (a long one, with many subagents'
/// files) before a pass runs anyway.
const PROJECT_WITHIN: u64 = 8 * PROJECT_EVERY;

/// Session files untouched for this long are recorded as ended.
const IDLE: Duration = Duration::from_secs(3600);

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

/// Whether a file in a folder given to `import` may be a session file:
/// JSONL (any agent), a compressed rollout, or a Gemini CLI chat.
fn may_be_session(name: &str) -> bool {
    name.ends_with(".jsonl")
        || name.ends_with(".jsonl.zst")
        || (name.ends_with(".json") && name.contains("session-"))
}

fn gather(paths: &[PathBuf], env: &ClientEnv) -> crate::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        let path = env.resolve(path);
        if path.is_dir() {
            for rel in list_files_and_links(&path, ".")? {
                if may_be_session(&rel) {
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
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Skip Claude Code conversations whose newest session is still
    /// active: a live one belongs to its watcher, which also splits it at
    /// compactions (the daemon's sweep sets this). Other agents have no
    /// watcher: the sweep (or their hook) is what records them.
    pub skip_active: bool,
    /// Only this agent's files; others are listed as skipped.
    pub only: Option<Agent>,
    /// Only sessions whose stated working directory is inside this folder
    /// (a project store's sweep of Codex rollouts, which every project
    /// shares); files that state none are kept.
    pub within: Option<PathBuf>,
    /// Run for an agent's hook: the hook itself came through the spool or
    /// the daemon, so the spool is not applied from inside it.
    pub from_hook: bool,
}

/// Every session file in the agents' own folders (`only` narrows to one
/// agent), as the client's variables locate them.
fn default_files(only: Option<Agent>, env: &ClientEnv) -> crate::Result<Vec<PathBuf>> {
    let var = |name: &str| env.var(name);
    let mut out = Vec::new();
    for agent in Agent::ALL
        .into_iter()
        .filter(|a| only.is_none_or(|o| o == *a))
    {
        for root in default_roots(agent, &var) {
            out.extend(session_files(agent, &root)?);
        }
    }
    Ok(out)
}

/// The agent `--agent` names.
pub fn agent_arg(name: Option<&str>) -> crate::Result<Option<Agent>> {
    name.map(|name| {
        Agent::from_name(name).ok_or_else(|| {
            crate::error::EngineError::usage(format!(
                "unknown agent `{name}`: claude-code, codex or gemini"
            ))
        })
    })
    .transpose()
}

/// Runs `import`.
pub async fn import(ws: &Workspace, args: ImportArgs, console: &mut Console) -> crate::Result<u8> {
    let only = agent_arg(args.agent.as_deref())?;
    let files = if args.paths.is_empty() {
        default_files(only, &console.env)?
    } else {
        gather(&args.paths, &console.env)?
    };
    let options = ImportOptions {
        only,
        ..ImportOptions::default()
    };
    // What is imported is indexed as it lands, on a thread of its own, and
    // is searchable when the import returns. An index failure is said, and
    // the next search catches up.
    let follower = ws.follow_index().await;
    let imported = import_files(ws, files, options, Some(console)).await;
    let indexed = match follower {
        Ok(Some(follower)) => follower.finish().await.map(drop),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = indexed {
        console.say(format_args!("logbook: the search index is behind: {e}"));
    }
    let summary = imported?;
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
            "imported {} file{} into {} session{} ({} new): {} new line{}, {} new byte{}; malformed lines kept and counted: {malformed}",
            summary.files,
            plural(summary.files),
            summary.sessions,
            plural(summary.sessions),
            summary.new_sessions,
            summary.lines,
            plural(summary.lines),
            summary.bytes,
            plural(summary.bytes),
        )?;
    }
    Ok(0)
}

/// The daemon's sweep: every agent's own folders, as `var` locates them,
/// skipping sessions a watcher follows. A project store (a `.logbook`
/// folder) takes its own project's sessions only: Claude Code's and Gemini
/// CLI's project folder, and the Codex rollouts whose `cwd` is inside it.
/// A folder that cannot be read is logged and passed over.
pub async fn sweep(
    ws: &Workspace,
    store_root: &Path,
    var: &dyn Fn(&str) -> Option<String>,
) -> crate::Result<ImportSummary> {
    let project = store_root
        .file_name()
        .is_some_and(|n| n == ".logbook")
        .then(|| store_root.parent())
        .flatten();
    let mut files = Vec::new();
    for agent in Agent::ALL {
        for root in default_roots(agent, var) {
            let folder = match project {
                Some(project) => {
                    logbook_agents::locate::project_folder(agent, &root, project).unwrap_or(root)
                }
                None => root,
            };
            match session_files(agent, &folder) {
                Ok(found) => files.extend(found),
                Err(e) => tracing::warn!("sweep: {}: {e}", folder.display()),
            }
        }
    }
    let options = ImportOptions {
        skip_active: true,
        within: project.map(Path::to_owned),
        ..ImportOptions::default()
    };
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
    let mut transcripts: Vec<Found> = Vec::new();
    for path in files {
        match recognise(&path) {
            Ok(found)
                if options
                    .within
                    .as_ref()
                    .zip(found.cwd.as_ref())
                    .is_some_and(|(within, cwd)| !Path::new(cwd).starts_with(within)) => {}
            Ok(found) if options.only.is_none_or(|only| only == found.agent) => {
                transcripts.push(found);
            }
            Ok(found) => summary.skipped.push((
                path.display().to_string(),
                format!(
                    "a {} file, not {}",
                    found.agent,
                    options.only.map_or("", Agent::name)
                ),
            )),
            Err(e) => summary
                .skipped
                .push((path.display().to_string(), e.to_string())),
        }
    }
    // One conversation's files side by side, parents before their
    // subagents: a conversation is captured, ended and projected in one
    // pass, so each of its projected files is written once, not once per
    // file and again when it ends.
    transcripts.sort_by(|a, b| {
        (a.agent.name(), &a.session, a.key != MAIN_SOURCE, &a.path).cmp(&(
            b.agent.name(),
            &b.session,
            b.key != MAIN_SOURCE,
            &b.path,
        ))
    });
    let total: u64 = transcripts
        .iter()
        .filter_map(|t| std::fs::metadata(&t.path).ok())
        .map(|m| m.len())
        .sum();
    let bar = match console {
        Some(console) => crate::progress::bytes(total, true, console),
        None => indicatif::ProgressBar::hidden(),
    };

    // A hook names one file of a live session, which is near the top of
    // the store: look it up newest first rather than read every session.
    let mut known = if options.from_hook {
        sessions_of(ws, &transcripts).await?
    } else {
        agent_sessions(ws).await?
    };
    let outcome = capture_all(ws, &transcripts, options, &mut known, &bar, &mut summary).await;
    bar.finish_and_clear();
    outcome?;
    let _lane = ws.lane().await;
    ws.project().await?;
    ws.flush()?;
    Ok(summary)
}

/// Captures each of `transcripts` (sorted by conversation) into its
/// session, starting, ending and projecting sessions as it goes, and
/// counts them in `summary`.
async fn capture_all(
    ws: &Workspace,
    transcripts: &[Found],
    options: ImportOptions,
    known: &mut Known,
    bar: &indicatif::ProgressBar,
    summary: &mut ImportSummary,
) -> crate::Result<()> {
    let mut started: HashSet<SessionId> = HashSet::new();
    // Per session: its newest file's time, and the files that took lines.
    let mut touched: HashMap<SessionId, (SystemTime, Vec<&Found>)> = HashMap::new();
    let mut unprojected = 0u64;
    let config = CaptureConfig {
        shrink_ratio: ws.config().compaction_ratio,
        token_reading: Some(logbook_tokens::text::token_usage),
        ..CaptureConfig::default()
    };
    for (i, t) in transcripts.iter().enumerate() {
        // Hooks that found the store busy are applied between files, so a
        // long import never keeps a hook waiting (DESIGN.md §8).
        if !options.from_hook {
            crate::spool::ingest(ws).await;
        }
        let _lane = ws.lane().await;
        bar.set_message(format!(
            " {}",
            t.path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        let last_of_conversation = transcripts
            .get(i + 1)
            .is_none_or(|next| (next.agent, &next.session) != (t.agent, &t.session));
        let lookup = known.lookup(t);
        'file: {
            // A conversation this import started is not live: its
            // subagents' files join it.
            if let Some(id) = lookup
                && options.skip_active
                && t.agent == Agent::ClaudeCode
                && !started.contains(&id)
                && ws.quick_view(id).await?.status == SessionStatus::Active
            {
                break 'file;
            }
            let session = match lookup {
                Some(id) => id,
                None => {
                    let id = SessionId::new_v7();
                    let transcript_path =
                        (t.key == MAIN_SOURCE).then(|| t.path.display().to_string());
                    ws.run_unprojected(
                        &SessionState::new(id),
                        LifecycleCommand::Start {
                            command: None,
                            agent: Some(AgentInfo {
                                kind: t.agent.name().into(),
                                session_id: Some(t.session.clone()),
                                transcript_path: transcript_path.clone(),
                                cwd: t.cwd.clone(),
                                pid: None,
                            }),
                            origin: Origin::Fresh,
                        },
                    )
                    .await?;
                    known.insert(t.agent.name(), &t.session, transcript_path, id);
                    started.insert(id);
                    summary.new_sessions += 1;
                    id
                }
            };
            let source = SourceRef {
                kind: t.agent.source_kind(),
                key: known.key_for(t),
                location: t.path.display().to_string(),
            };
            let report = capture(ws, t, source, session, config, bar).await;
            match report {
                Ok(report) => {
                    summary.files += 1;
                    summary.lines += report.lines;
                    summary.bytes += report.bytes;
                    unprojected += report.bytes;
                    if report.malformed > 0 {
                        summary
                            .malformed
                            .push((t.path.display().to_string(), report.malformed));
                    }
                    if let Ok(modified) = std::fs::metadata(&t.path).and_then(|m| m.modified()) {
                        let (latest, files) =
                            touched.entry(session).or_insert((modified, Vec::new()));
                        *latest = (*latest).max(modified);
                        files.push(t);
                    }
                }
                // The store refusing (a full disk) stops the import: going on
                // would only be refused again. What it took so far is kept.
                Err(logbook_capture::CaptureError::Log(e)) => {
                    return Err::<(), _>(e).context(format!("importing {}", t.path.display()));
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
        }
        // A conversation's sessions are ended after its last file: no other
        // file can reach them (lookups go by the agent's session id).
        if last_of_conversation {
            summary.sessions += touched.len() as u64;
            close(ws, touched.drain(), &started).await?;
        }
        if unprojected >= PROJECT_WITHIN || (last_of_conversation && unprojected >= PROJECT_EVERY) {
            ws.project().await?;
            unprojected = 0;
        }
    }
    Ok(())
}

/// Closes a conversation's sessions, each in one append: one this import
/// started is dated by its agent's first record, and one whose files have
/// been left alone for [`IDLE`] and that is still active is ended, dated by
/// its agent's last record. An import records work done days ago, and
/// `ls`, `show`, the review and the timeline should say when it was done.
async fn close(
    ws: &Workspace,
    touched: impl Iterator<Item = (SessionId, (SystemTime, Vec<&Found>))>,
    started: &HashSet<SessionId>,
) -> crate::Result<()> {
    let now = SystemTime::now();
    for (session, (modified, files)) in touched {
        let idle = now.duration_since(modified).unwrap_or_default() > IDLE;
        let fresh = started.contains(&session);
        // A live session a hook or the sweep imports again is neither: its
        // files are not read again for dates.
        if !idle && !fresh {
            continue;
        }
        let mut span = Span::default();
        for file in files {
            span.add(file_span(file));
        }
        // Whether it is still active is the log's to say (a hook may have
        // ended it); a session only dated needs no more than its length.
        let mut state = if idle {
            ws.state(session).await?
        } else {
            let mut state = SessionState::new(session);
            state.version = ws.log().session_len(session).await?;
            state
        };
        let mut batch = Vec::new();
        if fresh && let Some(started_at) = agent_time(ws, session, Edge::First, span).await? {
            batch.extend(state.follow([Event::SessionDated(SessionDated { started_at })]));
        }
        if idle && state.phase == logbook_core::lifecycle::Phase::Active {
            let ended = decide(
                &state,
                LifecycleCommand::End {
                    status: EndStatus::Completed,
                    exit_code: None,
                    reason: EndReason::Other("idle".into()),
                },
            )?;
            state.absorb(&ended);
            batch.extend(ended);
            if let Some(ended_at) = agent_time(ws, session, Edge::Last, span).await? {
                batch.extend(state.follow([Event::SessionEndDated(SessionEndDated { ended_at })]));
            }
        }
        if !batch.is_empty() {
            ws.log().append(batch).await?;
        }
    }
    Ok(())
}

/// How much of each end of a file is read for its agent's first and last
/// times: records are lines, so a few of them is plenty.
const DATING_BYTES: u64 = 256 << 10;

/// How many dated records, from one end of a file or capture, are
/// compared: records written at once (parallel tool results) can be a
/// few milliseconds out of order.
const DATING_LINES: usize = 16;

/// The most of a session's events, from one end, the log is read for when
/// its files could not be (a whole-file chat, a compressed rollout); the
/// main file's nearest capture ends the search.
const DATING_EVENTS: u64 = 64;

#[derive(Clone, Copy, PartialEq)]
enum Edge {
    First,
    Last,
}

/// The agent's earliest and latest times in a session's files, and
/// whether one of them could not be read for them.
#[derive(Clone, Copy, Default)]
struct Span {
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    unread: bool,
}

impl Span {
    fn add(&mut self, other: Span) {
        self.first = self.first.into_iter().chain(other.first).min();
        self.last = self.last.into_iter().chain(other.last).max();
        self.unread |= other.unread;
    }
}

/// The agent's time for one end of `session`: from its files' ends when
/// all of them could be read, else from the log.
async fn agent_time(
    ws: &Workspace,
    session: SessionId,
    edge: Edge,
    span: Span,
) -> crate::Result<Option<Timestamp>> {
    let known = match edge {
        Edge::First => span.first,
        Edge::Last => span.last,
    };
    match known {
        Some(at) if !span.unread => Ok(Some(at)),
        _ => logged_time(ws, session, edge).await,
    }
}

/// The time a record line gives, unless it is copied history.
fn record_time(kind: logbook_core::SourceKind, location: &str, line: &[u8]) -> Option<Timestamp> {
    logbook_agents::read(kind, location, line)
        .filter(|r| !r.replayed)
        .and_then(|r| r.at)
        .and_then(|at| Timestamp::parse(&at).ok())
}

/// The earliest of the first dated records in `head` and the latest of
/// the last ones in `tail`.
fn ends(
    kind: logbook_core::SourceKind,
    location: &str,
    head: &[u8],
    tail: &[u8],
) -> (Option<Timestamp>, Option<Timestamp>) {
    let time = |line: &[u8]| record_time(kind, location, line);
    (
        head.split(|b| *b == b'\n')
            .filter_map(time)
            .take(DATING_LINES)
            .min(),
        tail.split(|b| *b == b'\n')
            .rev()
            .filter_map(time)
            .take(DATING_LINES)
            .max(),
    )
}

/// The agent's span in one file it writes line by line, read from the
/// file's two ends: the log would decode the whole capture again. Other
/// forms are left to the log.
fn file_span(found: &Found) -> Span {
    use std::io::{Read as _, Seek as _};
    let unread = Span {
        unread: true,
        ..Span::default()
    };
    if !matches!(found.form, Form::Lines) {
        return unread;
    }
    let read = || -> std::io::Result<(Vec<u8>, Vec<u8>)> {
        let mut file = std::fs::File::open(&found.path)?;
        let len = file.metadata()?.len();
        let mut head = Vec::new();
        (&mut file).take(DATING_BYTES).read_to_end(&mut head)?;
        let from = len.saturating_sub(DATING_BYTES);
        file.seek(std::io::SeekFrom::Start(from))?;
        let mut tail = Vec::new();
        file.take(DATING_BYTES).read_to_end(&mut tail)?;
        // A tail that starts mid-line starts at the next line.
        if from > 0 {
            let cut = tail
                .iter()
                .position(|b| *b == b'\n')
                .map_or(tail.len(), |i| i + 1);
            tail.drain(..cut);
        }
        Ok((head, tail))
    };
    let Ok((head, tail)) = read() else {
        return unread;
    };
    let (first, last) = ends(
        found.agent.source_kind(),
        &found.path.display().to_string(),
        &head,
        &tail,
    );
    Span {
        first,
        last,
        unread: false,
    }
}

/// The earliest (or latest) time the agent's own records give, from the
/// captures at that end of `session` in the log up to the main file's
/// nearest one.
async fn logged_time(
    ws: &Workspace,
    session: SessionId,
    edge: Edge,
) -> crate::Result<Option<Timestamp>> {
    let len = ws.log().session_len(session).await?;
    let mut found: Option<Timestamp> = None;
    let mut looked = 0;
    while looked < DATING_EVENTS.min(len) {
        looked += 1;
        let seq = match edge {
            Edge::First => looked,
            Edge::Last => len + 1 - looked,
        };
        let events = ws.log().read_session_range(session, seq, 1).await?;
        let Some(Event::TranscriptCaptured(c)) = events.first().map(|e| &e.event) else {
            continue;
        };
        if !c.source.kind.is_agent_jsonl() {
            continue;
        }
        let (first, last) = ends(c.source.kind, &c.source.location, &c.bytes.0, &c.bytes.0);
        let here = match edge {
            Edge::First => first,
            Edge::Last => last,
        };
        found = found.into_iter().chain(here).reduce(|a, b| match edge {
            Edge::First => a.min(b),
            Edge::Last => a.max(b),
        });
        if here.is_some() && c.source.key == MAIN_SOURCE {
            break;
        }
    }
    Ok(found)
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

/// Captures one recognised file in the form its agent writes it.
async fn capture(
    ws: &Workspace,
    found: &Found,
    source: SourceRef,
    session: SessionId,
    config: CaptureConfig,
    bar: &indicatif::ProgressBar,
) -> Result<logbook_capture::run::CaptureReport, logbook_capture::CaptureError> {
    match found.form {
        Form::Lines => {
            FileSource::new(source, found.path.clone())
                .capture(ws.log(), session, config, &mut |n| bar.inc(n))
                .await
        }
        Form::Snapshot => {
            let report = logbook_capture::snapshot::capture_snapshot(
                ws.log(),
                session,
                source,
                &found.path,
                config,
            )
            .await;
            bar.inc(std::fs::metadata(&found.path).map_or(0, |m| m.len()));
            report
        }
        // A compressed rollout: its lines, decompressed to a temporary
        // file, captured as the rollout's (the cursor is the same as for
        // the plain file it was compressed from).
        Form::Compressed => {
            let io = |e: std::io::Error| logbook_capture::CaptureError::Io {
                path: found.path.display().to_string(),
                source: e,
            };
            let mut plain = tempfile::NamedTempFile::new().map_err(io)?;
            let mut decoder =
                zstd::stream::read::Decoder::new(std::fs::File::open(&found.path).map_err(io)?)
                    .map_err(io)?;
            std::io::copy(&mut decoder, plain.as_file_mut()).map_err(io)?;
            FileSource::new(source, plain.path().to_owned())
                .capture(ws.log(), session, config, &mut |n| bar.inc(n))
                .await
        }
    }
}

/// Imported sessions, by what identifies them.
#[derive(Default)]
struct Known {
    /// Claude Code: (agent session id, transcript path) → session. Copies
    /// of one conversation in two files are two sessions.
    by_file: HashMap<(String, String), SessionId>,
    /// Claude Code: agent session id → the first session holding it.
    by_agent: HashMap<String, SessionId>,
    /// Other agents: (agent, its session id) → the newest session. A Codex
    /// rollout compressed or archived, or a Gemini chat resumed into a new
    /// file, is still the same thread.
    by_thread: HashMap<(String, String), (SessionId, Option<String>)>,
}

impl Known {
    fn insert(&mut self, agent: &str, session: &str, path: Option<String>, id: SessionId) {
        if agent != Agent::ClaudeCode.name() {
            let path = path.map(|p| same_file_key(Path::new(&p)));
            self.by_thread
                .insert((agent.to_owned(), session.to_owned()), (id, path));
            return;
        }
        if let Some(path) = path {
            // Sessions are inserted oldest first: the newest segment of a
            // chain wins, and captures go on there.
            self.by_file
                .insert((session.to_owned(), same_file_key(Path::new(&path))), id);
        }
        self.by_agent.entry(session.to_owned()).or_insert(id);
    }

    /// The session a file's lines go to, if it has one yet.
    fn lookup(&self, found: &Found) -> Option<SessionId> {
        match found.agent {
            // A main transcript is its file; a subagent joins whichever
            // session holds its parent conversation.
            Agent::ClaudeCode if found.key == MAIN_SOURCE => self
                .by_file
                .get(&(found.session.clone(), same_file_key(&found.path)))
                .copied(),
            Agent::ClaudeCode => self.by_agent.get(&found.session).copied(),
            other => self
                .by_thread
                .get(&(other.name().to_owned(), found.session.clone()))
                .map(|(id, _)| *id),
        }
    }

    /// The source key a file is captured under. A second file of a Gemini
    /// CLI session (the `.jsonl` a resumed `.json` chat goes on in, or a
    /// copy) is a source of its own beside the first: each file keeps its
    /// own cursor, and the folds count a message written in both once (by
    /// its id). Codex rollouts of one thread share one cursor: a
    /// compressed or archived copy holds the same bytes.
    fn key_for(&self, found: &Found) -> String {
        if found.agent != Agent::Gemini || found.key != MAIN_SOURCE {
            return found.key.clone();
        }
        match self
            .by_thread
            .get(&(found.agent.name().to_owned(), found.session.clone()))
        {
            Some((_, Some(main))) if *main != same_file_key(&found.path) => format!(
                "copies/{}",
                found
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ),
            _ => MAIN_SOURCE.to_owned(),
        }
    }
}

/// The newest session of each of `files`' agent sessions, if it has one.
async fn sessions_of(ws: &Workspace, files: &[Found]) -> crate::Result<Known> {
    let mut known = Known::default();
    for found in files {
        let agent = found.agent.name();
        let newest = ws
            .newest(|v| {
                v.agent.as_ref().is_some_and(|a| {
                    a.kind == agent && a.session_id.as_deref() == Some(found.session.as_str())
                })
            })
            .await?;
        if let Some(view) = newest
            && let Some(info) = &view.agent
        {
            known.insert(
                agent,
                &found.session,
                info.transcript_path.clone(),
                view.session_id,
            );
        }
    }
    Ok(known)
}

/// Every agent session in the store, from each session's first event.
async fn agent_sessions(ws: &Workspace) -> crate::Result<Known> {
    let mut known = Known::default();
    for id in ws.log().sessions().await? {
        for env in ws.log().read_session_range(id, 1, 1).await? {
            if let Event::SessionStarted(s) = &env.event
                && let Some(agent) = &s.agent
                && Agent::from_name(&agent.kind).is_some()
                && let Some(agent_session) = &agent.session_id
            {
                known.insert(
                    &agent.kind,
                    agent_session,
                    agent.transcript_path.clone(),
                    id,
                );
            }
        }
    }
    Ok(known)
}
