//! `logbook hook`: the Claude Code adapter. One hook payload (JSON) on
//! stdin; the session chain, captures and handoffs follow from
//! `hook_event_name` (DESIGN.md §6).
//!
//! A broken recorder must not break the agent: whatever goes wrong is
//! written to `<store>/logbook.log`, nothing is printed, and the exit code
//! is 0. Only SessionStart prints, and only a brief for the model.

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use logbook_capture::cursor::{Cursor, cursor_of};
use logbook_capture::run::{CaptureConfig, Segments, Split, capture_file_split};
use logbook_context::projection::{Handoff, handoff_path};
use logbook_core::lifecycle::{LifecycleCommand, Phase, SessionState, decide};
use logbook_core::sessions::{MAIN_SOURCE, SessionStatus, SessionView};
use logbook_core::{
    AgentInfo, Bytes, CompactionDetected, EndReason, Event, EventLog as _, NewEvent, Origin,
    SessionId, SourceKind, SourceRef, TranscriptCaptured,
};
use serde::Deserialize;

use crate::workspace::{Workspace, discover_store};

/// What Claude Code sends; unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Payload {
    hook_event_name: String,
    session_id: String,
    transcript_path: Option<PathBuf>,
    cwd: Option<PathBuf>,
    /// SessionStart: startup, resume, clear, compact, fork.
    source: Option<String>,
    /// SessionEnd: clear, logout, prompt_input_exit, other, …
    reason: Option<String>,
    /// SubagentStop (newer versions).
    agent_transcript_path: Option<PathBuf>,
}

/// Hook payloads are small; anything bigger is not one.
const MAX_PAYLOAD: u64 = 4 << 20;

/// Runs `logbook hook`. Always exits 0.
pub async fn hook(
    explicit: Option<&Path>,
    cwd: &Path,
    out: &mut dyn Write,
) -> std::process::ExitCode {
    let mut raw = Vec::new();
    let read = std::io::stdin()
        .take(MAX_PAYLOAD)
        .read_to_end(&mut raw)
        .context("reading the hook payload");
    let payload = read.and_then(|_| {
        serde_json::from_slice::<Payload>(&raw).context("the hook payload is not valid JSON")
    });
    let root = discover_store(
        explicit,
        payload
            .as_ref()
            .ok()
            .and_then(|p| p.cwd.as_deref())
            .filter(|c| c.is_absolute())
            .unwrap_or(cwd),
    );
    let result = match payload {
        Ok(payload) => handle(&root, payload).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(Some(text)) => {
            // A closed stdout is Claude Code's business, not a failure.
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
        Ok(None) => {}
        Err(e) => log_failure(&root, &e),
    }
    std::process::ExitCode::SUCCESS
}

/// Appends one line to `<store>/logbook.log`; if even that fails there is
/// nowhere left to say it.
pub(crate) fn log_failure(root: &Path, err: &anyhow::Error) {
    let line = format!(
        "{} hook error: {}\n",
        logbook_core::Timestamp::from_jiff(jiff::Timestamp::now()),
        format!("{err:#}").replace('\n', " ")
    );
    let _ = crate::files::create_private_dir(root);
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("logbook.log"))
        .and_then(|mut f| f.write_all(line.as_bytes()));
}

/// An agent session id is used to match records, never as a path; still,
/// only the characters Claude Code uses are accepted.
pub(crate) fn valid_agent_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

async fn handle(root: &Path, p: Payload) -> anyhow::Result<Option<String>> {
    let known = [
        "SessionStart",
        "SessionEnd",
        "PreCompact",
        "UserPromptSubmit",
        "Stop",
        "SubagentStop",
    ];
    if !known.contains(&p.hook_event_name.as_str()) {
        return Ok(None);
    }
    anyhow::ensure!(
        valid_agent_id(&p.session_id),
        "refusing hook payload with session_id {:?}",
        p.session_id
    );
    if let Some(path) = &p.transcript_path {
        anyhow::ensure!(
            path.is_absolute(),
            "refusing relative transcript_path {}",
            path.display()
        );
    }
    let ws = Workspace::open(root).await?;
    let hook = Hook {
        ws: &ws,
        pid: agent_pid(),
        p: &p,
    };
    let printed = match (p.hook_event_name.as_str(), p.source.as_deref()) {
        ("SessionStart", Some("clear")) => hook.after_clear().await?,
        ("SessionStart", Some("compact")) => hook.after_compact().await?,
        ("SessionStart", Some("resume" | "fork")) => {
            hook.capture().await?;
            None
        }
        ("SessionStart", _) => hook.startup().await?,
        ("SessionEnd", _) => {
            hook.session_end().await?;
            None
        }
        ("PreCompact", _) => {
            hook.pre_compact().await?;
            None
        }
        ("Stop", _) => {
            let (session, _) = hook.capture().await?;
            crate::tokens::system_message(&crate::tokens::raise_alerts(&ws, session).await?)
        }
        _ => {
            hook.capture().await?;
            None
        }
    };
    ws.flush()?;
    Ok(printed)
}

/// The Claude Code process behind this hook: the nearest ancestor called
/// `claude` (or running a `claude` script under node), else the nearest
/// ancestor that is not a shell. It survives `/clear`, which is what ties
/// an old session to its successor when several tabs share a directory.
pub(crate) fn agent_pid() -> Option<u32> {
    let mut pid = std::os::unix::process::parent_id();
    let mut fallback = None;
    for _ in 0..16 {
        if pid <= 1 {
            break;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let comm = comm.trim();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let is_claude = comm == "claude"
            || cmdline.split(|b| *b == 0).take(2).any(|arg| {
                Path::new(std::ffi::OsStr::from_bytes(arg))
                    .file_name()
                    .is_some_and(|n| n == "claude" || n == "claude.js" || n == "cli.js")
            });
        if is_claude {
            return Some(pid);
        }
        let shell = matches!(
            comm,
            "sh" | "bash" | "dash" | "zsh" | "fish" | "env" | "timeout"
        );
        if fallback.is_none() && !shell {
            fallback = Some(pid);
        }
        match parent_of(pid) {
            Some(parent) => pid = parent,
            None => break,
        }
    }
    fallback.or(Some(std::os::unix::process::parent_id()))
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may hold spaces: parse after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

struct Hook<'a> {
    ws: &'a Workspace,
    pid: Option<u32>,
    p: &'a Payload,
}

impl Hook<'_> {
    fn agent(&self) -> AgentInfo {
        AgentInfo {
            kind: "claude-code".into(),
            session_id: Some(self.p.session_id.clone()),
            transcript_path: self
                .p
                .transcript_path
                .as_ref()
                .map(|t| t.display().to_string()),
            cwd: self.p.cwd.as_ref().map(|c| c.display().to_string()),
            pid: self.pid,
        }
    }

    /// The newest session recorded for this agent conversation.
    async fn latest(&self) -> anyhow::Result<Option<SessionView>> {
        let agent = self.p.session_id.as_str();
        Ok(self
            .ws
            .newest(|v| {
                v.agent
                    .as_ref()
                    .is_some_and(|a| a.session_id.as_deref() == Some(agent))
            })
            .await?)
    }

    async fn start(&self, id: SessionId, origin: Origin, extra: Vec<Event>) -> anyhow::Result<()> {
        let mut batch = decide(
            &SessionState::new(id),
            LifecycleCommand::Start {
                command: None,
                agent: Some(self.agent()),
                origin,
            },
        )?;
        for (n, event) in extra.into_iter().enumerate() {
            batch.push(NewEvent {
                session: id,
                expected_session_seq: n as u64 + 1,
                event,
            });
        }
        self.ws.commit(batch).await?;
        Ok(())
    }

    /// The active session of this conversation, starting one if there is
    /// none: linked to the last one when the conversation was recorded
    /// before (a resume), carrying its transcript cursor on.
    async fn session(&self) -> anyhow::Result<SessionId> {
        let latest = self.latest().await?;
        if let Some(active) = latest
            .as_ref()
            .filter(|v| v.status == SessionStatus::Active)
        {
            return Ok(active.session_id);
        }
        let id = SessionId::new_v7();
        match latest {
            Some(last) => {
                let carry = self.carry_cursor(last.session_id).await?;
                self.start(
                    id,
                    Origin::Resumed {
                        from: last.session_id,
                    },
                    carry,
                )
                .await?;
            }
            None => self.start(id, Origin::Fresh, Vec::new()).await?,
        }
        Ok(id)
    }

    /// An empty capture at `from`'s main cursor, so a session that goes on
    /// with the same transcript starts where `from` stopped.
    async fn carry_cursor(&self, from: SessionId) -> anyhow::Result<Vec<Event>> {
        let cursor = cursor_of(self.ws.log(), from, MAIN_SOURCE).await?;
        Ok(match (cursor, &self.p.transcript_path) {
            (Some(cursor), Some(path)) => vec![carrier(path, &cursor)],
            _ => Vec::new(),
        })
    }

    fn config(&self) -> CaptureConfig {
        CaptureConfig {
            shrink_ratio: self.ws.config().compaction_ratio,
            token_reading: Some(logbook_tokens::text::token_usage),
            ..CaptureConfig::default()
        }
    }

    /// Captures the transcript and its subagents' transcripts into the
    /// conversation's active session, splitting the chain at a compaction.
    /// Returns the session capture ended in and whether it split.
    async fn capture(&self) -> anyhow::Result<(SessionId, bool)> {
        let mut session = self.session().await?;
        let mut split = false;
        if let Some(path) = self.p.transcript_path.as_ref().filter(|p| p.is_file()) {
            let state = self.ws.quick_state(session).await?;
            let reserved = self.waiting_handoff(session).await?;
            let mut segments = HookSegments {
                state,
                reserved,
                path: path.clone(),
                split: false,
            };
            let source = SourceRef {
                kind: SourceKind::ClaudeCode,
                key: MAIN_SOURCE.into(),
                location: path.display().to_string(),
            };
            let (_, ended_in) = capture_file_split(
                self.ws.log(),
                session,
                source,
                path,
                self.config(),
                &mut |_| {},
                Some(&mut segments),
            )
            .await?;
            session = ended_in;
            split = segments.split;
        }
        for (key, path) in self.subagent_transcripts() {
            let source = SourceRef {
                kind: SourceKind::ClaudeCode,
                key,
                location: path.display().to_string(),
            };
            logbook_capture::run::capture_file(
                self.ws.log(),
                session,
                source,
                &path,
                self.config(),
                &mut |_| {},
            )
            .await?;
        }
        self.ws.project().await?;
        Ok((session, split))
    }

    /// `<transcript dir>/<session>/subagents/*.jsonl`, plus the one a
    /// SubagentStop names, as `(source key, path)`.
    fn subagent_transcripts(&self) -> Vec<(String, PathBuf)> {
        let mut found = Vec::new();
        if let Some(main) = &self.p.transcript_path {
            let dir = main.with_extension("").join("subagents");
            if let Ok(entries) = std::fs::read_dir(&dir) {
                found.extend(entries.flatten().map(|e| e.path()));
            }
        }
        found.extend(self.p.agent_transcript_path.iter().cloned());
        let mut out: Vec<(String, PathBuf)> = found
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl") && p.is_file())
            .filter(|p| Some(p) != self.p.transcript_path.as_ref())
            .filter_map(|p| {
                let stem = p.file_stem()?.to_str()?.to_owned();
                // The key names a directory inside the store.
                valid_agent_id(&stem).then(|| (format!("subagents/{stem}"), p))
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The id a handoff of `id` reserved and nobody has taken yet.
    async fn waiting_handoff(&self, id: SessionId) -> anyhow::Result<Option<SessionId>> {
        Ok(match self.handoff_of(id)? {
            Some(h) if self.ws.log().session_len(h.next_session_id).await? == 0 => {
                Some(h.next_session_id)
            }
            _ => None,
        })
    }

    fn handoff_of(&self, id: SessionId) -> anyhow::Result<Option<Handoff>> {
        Ok(self
            .ws
            .read_file(&handoff_path(id))?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// SessionStart `startup`: a new session, taking up a handoff waiting
    /// in this project if there is one (and printing its brief).
    async fn startup(&self) -> anyhow::Result<Option<String>> {
        if self.latest().await?.is_some() {
            // A repeated startup for a conversation already recorded.
            self.capture().await?;
            return Ok(None);
        }
        let waiting = self.waiting_in_project(|_| true).await?;
        self.take_up(waiting, |from| Origin::Handoff { from }).await
    }

    /// Starts the conversation's first session: with the id a waiting
    /// handoff reserved (linked by `origin`), else fresh; captures; returns
    /// the brief to print.
    async fn take_up(
        &self,
        waiting: Option<(SessionId, Handoff)>,
        origin: impl Fn(SessionId) -> Origin,
    ) -> anyhow::Result<Option<String>> {
        let printed = match waiting {
            Some((from, handoff)) => {
                self.start(handoff.next_session_id, origin(from), Vec::new())
                    .await?;
                Some(handoff.brief)
            }
            None => {
                self.start(SessionId::new_v7(), Origin::Fresh, Vec::new())
                    .await?;
                None
            }
        };
        self.capture().await?;
        Ok(printed)
    }

    /// The newest handoff in this project (same cwd) whose reserved session
    /// has not started, among ended sessions `accept` takes.
    async fn waiting_in_project(
        &self,
        accept: impl Fn(&SessionView) -> bool,
    ) -> anyhow::Result<Option<(SessionId, Handoff)>> {
        let cwd = self.p.cwd.as_ref().map(|c| c.display().to_string());
        // Newest first, reading one view at a time: the handoff a new
        // session wants was usually left moments ago.
        for id in self.ws.log().sessions().await?.into_iter().rev() {
            let view = self.ws.quick_view(id).await?;
            let ended = view.status != SessionStatus::Active;
            let here = view.agent.as_ref().is_some_and(|a| a.cwd == cwd);
            if !(ended && here && accept(&view)) {
                continue;
            }
            if let Some(h) = self.handoff_of(view.session_id)?
                && self.ws.log().session_len(h.next_session_id).await? == 0
            {
                return Ok(Some((view.session_id, h)));
            }
        }
        Ok(None)
    }

    /// SessionStart `clear`: the session this Claude Code process just
    /// ended with reason `clear` hands over to the new conversation. Tying
    /// them by process, not by directory, keeps tabs in one directory apart.
    async fn after_clear(&self) -> anyhow::Result<Option<String>> {
        if self.latest().await?.is_some() {
            self.capture().await?;
            return Ok(None);
        }
        let cleared = |v: &SessionView| v.end_reason.as_deref() == Some("clear");
        let pid = self.pid;
        let mine = self
            .waiting_in_project(|v| cleared(v) && v.agent.as_ref().and_then(|a| a.pid) == pid)
            .await?;
        let waiting = match mine {
            Some(found) => Some(found),
            None if pid.is_none() => self.waiting_in_project(cleared).await?,
            None => None,
        };
        self.take_up(waiting, |from| Origin::AfterClear { from })
            .await
    }

    /// PreCompact: capture up to now and snapshot the context as a handoff
    /// whose reserved id the segment after the compaction will take.
    async fn pre_compact(&self) -> anyhow::Result<()> {
        let (session, _) = self.capture().await?;
        if self.waiting_handoff(session).await?.is_some() {
            return Ok(());
        }
        let state = self.ws.quick_state(session).await?;
        let next = SessionId::new_v7();
        self.ws
            .commit(vec![NewEvent {
                session,
                expected_session_seq: state.version,
                event: Event::HandoffCreated(logbook_core::HandoffCreated {
                    from: session,
                    next_session: next,
                    context_ref: handoff_path(session),
                }),
            }])
            .await?;
        Ok(())
    }

    /// SessionStart `compact`: the capture meets the `compact_boundary` and
    /// splits the chain there. Prints the pre-compaction brief: the handoff
    /// of the segment that just ended, or, if the boundary is not written
    /// yet (the split then happens at the next capture), PreCompact's.
    async fn after_compact(&self) -> anyhow::Result<Option<String>> {
        let (session, split) = self.capture().await?;
        let source = if split {
            self.ws.quick_view(session).await?.transitioned_from
        } else {
            Some(session)
        };
        Ok(match source {
            Some(id) => self.handoff_of(id)?.map(|h| h.brief),
            None => None,
        })
    }

    /// SessionEnd: final capture, the session ends, its handoff is written.
    async fn session_end(&self) -> anyhow::Result<()> {
        let (session, _) = self.capture().await?;
        let reason = match self.p.reason.as_deref() {
            Some("clear") => EndReason::Clear,
            Some("logout") => EndReason::Logout,
            Some("prompt_input_exit") | None => EndReason::Exit,
            Some(other) => EndReason::Other(other.to_owned()),
        };
        let state = self.ws.quick_state(session).await?;
        let batch = decide(
            &state,
            LifecycleCommand::EndWithHandoff {
                reason,
                next: SessionId::new_v7(),
            },
        )?;
        self.ws.commit(batch).await?;
        Ok(())
    }
}

/// An empty capture event that puts a source's cursor into a new session.
fn carrier(path: &Path, cursor: &Cursor) -> Event {
    Event::TranscriptCaptured(TranscriptCaptured {
        source: SourceRef {
            kind: SourceKind::ClaudeCode,
            key: MAIN_SOURCE.into(),
            location: path.display().to_string(),
        },
        byte_start: cursor.offset,
        line_start: cursor.line,
        lines: 0,
        fingerprint: cursor.fingerprint,
        bytes: Bytes(Vec::new()),
    })
}

/// How the hook splits the chain at a compaction: the segment ends
/// (`compaction`), leaving a handoff unless PreCompact already did, and the
/// next segment starts with the same agent and the transcript cursor, in
/// one batch.
struct HookSegments {
    state: SessionState,
    reserved: Option<SessionId>,
    path: PathBuf,
    split: bool,
}

impl Segments for HookSegments {
    fn split(
        &mut self,
        session: SessionId,
        expected: u64,
        compaction: &CompactionDetected,
        cursor: &Cursor,
    ) -> Option<Split> {
        if session != self.state.id {
            return None;
        }
        let mut state = self.state.clone();
        state.version = expected;
        let mut batch = vec![NewEvent {
            session,
            expected_session_seq: expected,
            event: Event::CompactionDetected(compaction.clone()),
        }];
        state.version += 1;
        // PreCompact's handoff already holds the pre-compaction context;
        // without one, the split leaves its own.
        let reserved = self.reserved.take();
        let next = reserved.unwrap_or_else(SessionId::new_v7);
        let mut decided = decide(
            &state,
            LifecycleCommand::Transition {
                successor: next,
                reason: EndReason::Compaction,
            },
        )
        .ok()?
        .into_iter();
        batch.extend(decided.next());
        if reserved.is_none() {
            batch.push(NewEvent {
                session,
                expected_session_seq: state.version + 1,
                event: Event::HandoffCreated(logbook_core::HandoffCreated {
                    from: session,
                    next_session: next,
                    context_ref: handoff_path(session),
                }),
            });
        }
        batch.extend(decided);
        batch.push(NewEvent {
            session: next,
            expected_session_seq: 1,
            event: carrier(&self.path, cursor),
        });
        self.split = true;
        self.state = SessionState {
            id: next,
            version: 2,
            phase: Phase::Active,
            command: state.command,
            agent: state.agent,
        };
        Some(Split {
            batch,
            session: next,
            expected: 2,
        })
    }
}
