//! `logbook hook`: the Claude Code adapter. One hook payload (JSON) on
//! stdin; the session chain, captures and handoffs follow from
//! `hook_event_name` (DESIGN.md §6).
//!
//! A broken recorder must not break the agent: whatever goes wrong is
//! written to `<store>/logbook.log`, nothing is printed, and the exit code
//! is 0. Only SessionStart prints, and only a brief for the model.

use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use logbook_capture::cursor::{Cursor, cursor_of};
use logbook_capture::run::{CaptureConfig, Segments, Split, capture_file_split};
use logbook_context::projection::{Handoff, handoff_path};
use logbook_core::lifecycle::{LifecycleCommand, SessionState, decide};
use logbook_core::sessions::{MAIN_SOURCE, SessionStatus, SessionView};
use logbook_core::{
    AgentInfo, Bytes, CompactionDetected, EndReason, Event, EventLog as _, NewEvent, Origin,
    SessionId, SourceKind, SourceRef, TranscriptCaptured,
};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, ResultExt as _};
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
    /// Stop: the text of the turn's last reply.
    last_assistant_message: Option<String>,
}

/// How Claude Code is asked to run logbook's hook for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Claude Code is asked to wait for the hook: it prints (a brief, an
    /// alert), its record must land before the agent moves on (a
    /// session's end, the snapshot before a compaction), or it is rare
    /// enough that waiting costs nothing. (2.1.328 does not wait for
    /// `StopFailure` all the same, which is why observing hooks only spool:
    /// see [`is_observation`].)
    Awaited,
    /// In the background (`"async": true`): a hook that only records and
    /// fires on every tool call, so the agent never waits for it.
    Background,
}

/// What logbook does with a hook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Captures the transcript and moves the session chain (start, end,
    /// compaction, handoffs, alerts).
    Chain,
    /// Records one event of what happened ([`super::observed`]).
    Observe,
}

/// A hook event logbook subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookEvent {
    /// Claude Code's name for it.
    pub name: &'static str,
    /// What logbook does with it.
    pub role: Role,
    /// How Claude Code runs it.
    pub delivery: Delivery,
}

const fn event(name: &'static str, role: Role, delivery: Delivery) -> HookEvent {
    HookEvent {
        name,
        role,
        delivery,
    }
}

/// The hook events logbook handles, the one list `hooks install` and
/// `uninstall` use; any other event is accepted and ignored.
pub const EVENTS: [HookEvent; 16] = [
    event("SessionStart", Role::Chain, Delivery::Awaited),
    event("SessionEnd", Role::Chain, Delivery::Awaited),
    event("PreCompact", Role::Chain, Delivery::Awaited),
    event("UserPromptSubmit", Role::Chain, Delivery::Awaited),
    event("Stop", Role::Chain, Delivery::Awaited),
    event("SubagentStop", Role::Chain, Delivery::Awaited),
    event("PostToolUse", Role::Observe, Delivery::Background),
    event("PostToolUseFailure", Role::Observe, Delivery::Background),
    event("PostCompact", Role::Observe, Delivery::Awaited),
    event("SubagentStart", Role::Observe, Delivery::Awaited),
    event("StopFailure", Role::Observe, Delivery::Awaited),
    event("PermissionRequest", Role::Observe, Delivery::Awaited),
    event("PermissionDenied", Role::Observe, Delivery::Awaited),
    event("CwdChanged", Role::Observe, Delivery::Awaited),
    event("TaskCreated", Role::Observe, Delivery::Awaited),
    event("TaskCompleted", Role::Observe, Delivery::Awaited),
];

/// What the hook process knew that its payload does not say; it travels
/// with the payload to the daemon and through the spool.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookCaller {
    /// The Claude Code process above the hook ([`agent_pid`]).
    pub agent_pid: Option<u32>,
    /// When the hook process read its payload: for a hook Claude Code runs
    /// in the background, the time of what it reports (such hooks run
    /// side by side and may be applied out of order, or late from the
    /// spool).
    #[serde(default)]
    pub received_at: Option<logbook_core::Timestamp>,
    /// The agent whose hook this is (`logbook hook --agent NAME`); none is
    /// Claude Code.
    #[serde(default)]
    pub agent: Option<logbook_agents::Agent>,
}

impl HookCaller {
    /// The hook running now, under Claude Code process `agent_pid`.
    pub fn now(agent_pid: Option<u32>) -> Self {
        Self {
            agent_pid,
            received_at: Some(logbook_core::Timestamp::from_jiff(jiff::Timestamp::now())),
            agent: None,
        }
    }
}

/// Hook payloads are small; anything bigger is not one.
pub const MAX_PAYLOAD: u64 = 4 << 20;

/// What a handled hook leaves for its caller.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HookOutcome {
    /// Text for Claude Code's stdout (SessionStart's brief, a Stop hook's
    /// `systemMessage`).
    pub print: Option<String>,
    /// The session the conversation is in after the hook.
    pub session: Option<SessionId>,
    /// The transcript the payload named.
    pub transcript: Option<PathBuf>,
    /// For `SessionStart clear`: the session the cleared conversation
    /// ended in. Claude Code goes on writing its transcript after this
    /// hook (a `cost-state` line), so a watcher must still be draining it.
    pub cleared: Option<SessionId>,
}

/// Where a hook payload's store is: `--dir`/`LOGBOOK_DIR`, else the
/// `.logbook/` above the payload's `cwd` (where the agent works), else the
/// user store.
pub fn store_for_payload(
    explicit: Option<&Path>,
    cwd: &Path,
    payload: &[u8],
) -> Result<PathBuf, crate::UsageError> {
    #[derive(Deserialize)]
    struct JustCwd {
        cwd: Option<PathBuf>,
    }
    let stated = serde_json::from_slice::<JustCwd>(payload)
        .ok()
        .and_then(|p| p.cwd)
        .filter(|c| c.is_absolute());
    discover_store(explicit, stated.as_deref().unwrap_or(cwd))
}

/// A payload's `hook_event_name`, read without the rest of the payload.
fn event_name(payload: &[u8]) -> Option<&str> {
    #[derive(Deserialize)]
    struct Event<'a> {
        #[serde(borrow)]
        hook_event_name: Option<&'a str>,
    }
    serde_json::from_slice::<Event<'_>>(payload)
        .ok()?
        .hook_event_name
}

/// Whether a hook payload is `SessionStart`: the one hook whose output
/// (the brief) matters, so it may wait longer for it.
pub fn is_session_start(payload: &[u8]) -> bool {
    event_name(payload) == Some("SessionStart")
}

/// Whether a hook payload only reports what happened ([`Role::Observe`]):
/// its hook spools it and exits at once, and the store's owner applies it
/// in order (the daemon within 100 ms and before its next request, or the
/// next process that opens the store). Claude Code does not wait for all
/// of these (it exits right after `StopFailure`, taking a hook still
/// talking to the daemon with it), so the hook does the least it can:
/// read, write one file, exit.
pub fn is_observation(payload: &[u8]) -> bool {
    let name = event_name(payload);
    EVENTS
        .iter()
        .any(|known| Some(known.name) == name && known.role == Role::Observe)
}

/// Appends one line to `<store>/logbook.log`; if even that fails there is
/// nowhere left to say it.
pub fn log_failure(root: &Path, what: &str, err: &EngineError) {
    let line = format!(
        "{} {what} error: {}\n",
        logbook_core::Timestamp::from_jiff(jiff::Timestamp::now()),
        err.one_line()
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

/// Another agent's hook (Codex CLI's have Claude Code's shape: the
/// session id, `cwd`, `hook_event_name` and `transcript_path`, the
/// rollout). Whatever the event, the file it names is captured as
/// `import` would, exactly once: each turn is recorded when it ends rather
/// than at the daemon's next sweep. The session chain, handoffs and alerts
/// stay Claude Code's.
async fn other_agent(
    ws: &Workspace,
    raw: &[u8],
    agent: logbook_agents::Agent,
) -> crate::Result<HookOutcome> {
    let p: Payload = serde_json::from_slice(raw).context("the hook payload is not valid JSON")?;
    let Some(path) = p.transcript_path.filter(|path| path.is_file()) else {
        // The rollout is written lazily: before the first turn there is
        // nothing to take.
        return Ok(HookOutcome::default());
    };
    if !path.is_absolute() {
        return Err(EngineError::failed(format!(
            "refusing relative transcript_path {}",
            path.display()
        )));
    }
    let options = crate::ops::import::ImportOptions {
        only: Some(agent),
        from_hook: true,
        ..crate::ops::import::ImportOptions::default()
    };
    // Boxed: an import applies spooled hooks, which come back here (not
    // from a hook's own import, but the types cannot tell).
    Box::pin(crate::ops::import::import_files(
        ws,
        vec![path],
        options,
        None,
    ))
    .await?;
    Ok(HookOutcome::default())
}

/// Handles one hook payload against an open store: the session chain,
/// captures and handoffs that follow from `hook_event_name`. `agent_pid` is
/// the Claude Code process above the hook.
pub async fn handle(ws: &Workspace, raw: &[u8], caller: HookCaller) -> crate::Result<HookOutcome> {
    if let Some(agent) = caller
        .agent
        .filter(|a| *a != logbook_agents::Agent::ClaudeCode)
    {
        return other_agent(ws, raw, agent).await;
    }
    let agent_pid = caller.agent_pid;
    let p: Payload = serde_json::from_slice(raw).context("the hook payload is not valid JSON")?;
    let Some(known) = EVENTS.iter().find(|e| e.name == p.hook_event_name) else {
        return Ok(HookOutcome::default());
    };
    if !valid_agent_id(&p.session_id) {
        return Err(EngineError::failed(format!(
            "refusing hook payload with session_id {:?}",
            p.session_id
        )));
    }
    if let Some(path) = &p.transcript_path
        && !path.is_absolute()
    {
        return Err(EngineError::failed(format!(
            "refusing relative transcript_path {}",
            path.display()
        )));
    }
    if known.role == Role::Observe {
        return observe(ws, &p, raw, caller).await;
    }
    if p.hook_event_name == "Stop"
        && let (Some(path), Some(reply)) = (&p.transcript_path, &p.last_assistant_message)
    {
        let limit = std::time::Duration::from_millis(ws.config().stop_wait_ms);
        wait_for_reply(path, reply, limit).await;
    }
    let _lane = ws.lane().await;
    let hook = Hook {
        ws,
        pid: agent_pid,
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
            // Said here whoever raised them: this hook, or the status line
            // or a watcher since the last Stop (under the same lane, so
            // none falls between).
            crate::ops::tokens::raise_alerts(ws, session).await?;
            crate::ops::tokens::system_message(&ws.take_unsaid(session))
        }
        _ => {
            hook.capture().await?;
            None
        }
    };
    ws.flush()?;
    let latest = hook.latest().await?;
    let cleared = match (p.hook_event_name.as_str(), p.source.as_deref()) {
        ("SessionStart", Some("clear")) => latest.as_ref().and_then(|v| v.transitioned_from),
        _ => None,
    };
    Ok(HookOutcome {
        print: printed,
        session: latest.map(|v| v.session_id),
        transcript: p.transcript_path.clone(),
        cleared,
    })
}

/// Records what an observing hook reports ([`super::observed`]) in the
/// conversation's newest session, whatever its state: `PostToolUse` runs
/// in the background and may land after `SessionEnd`, and such a
/// straggler must not reopen the conversation. Only a conversation logbook has never
/// seen gets a session (logbook installed mid-conversation). Captures
/// nothing: these fire per tool call, and the transcript is the
/// watcher's (or the next awaited hook's) job. So `PostCompact`'s summary
/// lands in the segment the compaction closed when Claude Code has not yet
/// written the boundary (2.1.328 writes it after the hook), else in the
/// one it opened; either way in the conversation's chain.
async fn observe(
    ws: &Workspace,
    p: &Payload,
    raw: &[u8],
    caller: HookCaller,
) -> crate::Result<HookOutcome> {
    let value: serde_json::Value =
        serde_json::from_slice(raw).context("the hook payload is not valid JSON")?;
    let Some(event) = super::observed::observed(&value, caller.received_at) else {
        return Ok(HookOutcome::default());
    };
    let _lane = ws.lane().await;
    let hook = Hook {
        ws,
        pid: caller.agent_pid,
        p,
    };
    let session = match hook.latest().await? {
        Some(latest) => latest.session_id,
        None => hook.session().await?,
    };
    let mut state = ws.quick_state(session).await?;
    ws.commit(state.follow([event])).await?;
    ws.flush()?;
    Ok(HookOutcome {
        print: None,
        session: Some(session),
        transcript: p.transcript_path.clone(),
        cleared: None,
    })
}

/// A conversation as the daemon's watcher knows it: enough to capture its
/// files the way its hooks would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Claude Code's session id.
    pub agent_session: String,
    /// Its transcript.
    pub transcript: PathBuf,
    /// Where it works.
    pub cwd: Option<PathBuf>,
    /// The Claude Code process.
    pub pid: Option<u32>,
}

impl Conversation {
    fn payload(&self) -> Payload {
        Payload {
            hook_event_name: "Watch".into(),
            session_id: self.agent_session.clone(),
            transcript_path: Some(self.transcript.clone()),
            cwd: self.cwd.clone(),
            ..Payload::default()
        }
    }
}

/// Captures a live conversation's new lines exactly as a hook would
/// (splitting the chain at a compaction); returns the session it ended in
/// and how many main-transcript lines it took. Starts nothing: a
/// conversation with no active session returns `None`.
pub async fn capture_live(
    ws: &Workspace,
    conversation: &Conversation,
) -> crate::Result<Option<(SessionId, u64)>> {
    let p = conversation.payload();
    let hook = Hook {
        ws,
        pid: conversation.pid,
        p: &p,
    };
    let Some(before) = hook
        .latest()
        .await?
        .filter(|v| v.status == SessionStatus::Active)
    else {
        return Ok(None);
    };
    let (session, _) = hook.capture().await?;
    let lines = |id: SessionId| async move {
        Ok::<_, crate::EngineError>(ws.quick_view(id).await?.capture.lines)
    };
    let mut taken = lines(before.session_id)
        .await?
        .saturating_sub(before.capture.lines);
    if session != before.session_id {
        // Split at a compaction: the new segment's lines count too.
        taken += lines(session).await?;
    }
    Ok(Some((session, taken)))
}

/// Captures the conversation as a hook would if its newest session is
/// active; returns the session the capture ended in.
async fn capture_if_active(
    ws: &Workspace,
    conversation: &Conversation,
) -> crate::Result<Option<SessionId>> {
    Ok(capture_live(ws, conversation)
        .await?
        .map(|(session, _)| session))
}

/// Captures what was written to an ended session's files after it ended
/// (Claude Code writes after `SessionEnd`); returns the lines taken.
pub async fn capture_late(
    ws: &Workspace,
    session: SessionId,
    conversation: &Conversation,
) -> crate::Result<u64> {
    let p = conversation.payload();
    let hook = Hook {
        ws,
        pid: conversation.pid,
        p: &p,
    };
    let mut lines = 0;
    let mut files = vec![(MAIN_SOURCE.to_owned(), conversation.transcript.clone())];
    files.extend(hook.subagent_transcripts());
    for (key, path) in files.into_iter().filter(|(_, p)| p.is_file()) {
        let source = SourceRef {
            kind: SourceKind::ClaudeCode,
            key,
            location: path.display().to_string(),
        };
        let report = logbook_capture::run::capture_file(
            ws.log(),
            session,
            source,
            &path,
            hook.config(),
            &mut |_| {},
        )
        .await?;
        lines += report.lines;
    }
    ws.project().await?;
    Ok(lines)
}

/// The agent died without `SessionEnd`: its active session ends
/// `abandoned` (reason `agent_exited`) with a handoff, so the next startup
/// in the project gets a brief. Returns the session ended.
pub async fn abandon(
    ws: &Workspace,
    conversation: &Conversation,
) -> crate::Result<Option<SessionId>> {
    let Some(session) = capture_if_active(ws, conversation).await? else {
        return Ok(None);
    };
    let state = ws.quick_state(session).await?;
    let batch = decide(
        &state,
        LifecycleCommand::EndWithHandoff {
            status: logbook_core::EndStatus::Abandoned,
            reason: EndReason::Other("agent_exited".into()),
            next: SessionId::new_v7(),
        },
    )?;
    ws.commit(batch).await?;
    ws.flush()?;
    Ok(Some(session))
}

/// The Claude Code process behind this hook: the nearest ancestor called
/// `claude` (or running a `claude` script under node), else the nearest
/// ancestor that is not a shell. It survives `/clear`, which is what ties
/// an old session to its successor when several tabs share a directory.
pub fn agent_pid() -> Option<u32> {
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
    async fn latest(&self) -> crate::Result<Option<SessionView>> {
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

    async fn start(&self, id: SessionId, origin: Origin, extra: Vec<Event>) -> crate::Result<()> {
        self.start_linked(id, origin, extra, Vec::new()).await
    }

    /// [`Self::start`], with `links` (events of other sessions) in the same
    /// batch.
    async fn start_linked(
        &self,
        id: SessionId,
        origin: Origin,
        extra: Vec<Event>,
        links: Vec<NewEvent>,
    ) -> crate::Result<()> {
        let mut state = SessionState::new(id);
        let mut batch = decide(
            &state,
            LifecycleCommand::Start {
                command: None,
                agent: Some(self.agent()),
                origin,
            },
        )?;
        state.absorb(&batch);
        batch.extend(state.follow(extra));
        batch.extend(links);
        self.ws.commit(batch).await?;
        Ok(())
    }

    /// The active session of this conversation, starting one if there is
    /// none: linked to the last one when the conversation was recorded
    /// before (a resume), carrying its transcript cursor on.
    async fn session(&self) -> crate::Result<SessionId> {
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
                // The ended session links forward to this one, in the same
                // batch: a chain reads both ways.
                let mut ended = self.ws.quick_state(last.session_id).await?;
                let link = ended.follow([Event::SessionResumed(logbook_core::SessionResumed {
                    successor: id,
                })]);
                self.start_linked(
                    id,
                    Origin::Resumed {
                        from: last.session_id,
                    },
                    carry,
                    link,
                )
                .await?;
            }
            None => self.start(id, Origin::Fresh, Vec::new()).await?,
        }
        Ok(id)
    }

    /// An empty capture at `from`'s main cursor, so a session that goes on
    /// with the same transcript starts where `from` stopped.
    async fn carry_cursor(&self, from: SessionId) -> crate::Result<Vec<Event>> {
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
    async fn capture(&self) -> crate::Result<(SessionId, bool)> {
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
    async fn waiting_handoff(&self, id: SessionId) -> crate::Result<Option<SessionId>> {
        Ok(match self.handoff_of(id)? {
            Some(h) if self.ws.log().session_len(h.next_session_id).await? == 0 => {
                Some(h.next_session_id)
            }
            _ => None,
        })
    }

    fn handoff_of(&self, id: SessionId) -> crate::Result<Option<Handoff>> {
        Ok(self
            .ws
            .read_file(&handoff_path(id))?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// SessionStart `startup`: a new session, taking up a handoff waiting
    /// in this project if there is one (and printing its brief).
    async fn startup(&self) -> crate::Result<Option<String>> {
        if self.latest().await?.is_some() {
            // A repeated startup for a conversation already recorded.
            self.capture().await?;
            return Ok(None);
        }
        let max_age = self.ws.config().handoff_max_age_secs;
        let now = jiff::Timestamp::now();
        let waiting = self
            .waiting_in_project(|v| continues_into_startup(v, now, max_age))
            .await?;
        // With no handoff to take up, the project's memory is the brief:
        // read before this session joins the project. A memory that cannot
        // be read costs the brief, never the session's start.
        let memory = match (&waiting, &self.p.cwd) {
            (None, Some(cwd)) => {
                crate::ops::review::memory_brief(self.ws, cwd).unwrap_or_else(|e| {
                    tracing::warn!("no memory brief for {}: {e}", cwd.display());
                    None
                })
            }
            _ => None,
        };
        let printed = self
            .take_up(waiting, |from| Origin::Handoff { from })
            .await?;
        Ok(printed.or(memory))
    }

    /// Starts the conversation's first session: with the id a waiting
    /// handoff reserved (linked by `origin`), else fresh; captures; returns
    /// the brief to print.
    async fn take_up(
        &self,
        waiting: Option<(SessionId, Handoff)>,
        origin: impl Fn(SessionId) -> Origin,
    ) -> crate::Result<Option<String>> {
        let printed = match waiting {
            Some((from, handoff)) => {
                self.start(handoff.next_session_id, origin(from), Vec::new())
                    .await?;
                Some(handoff.brief_in(self.ws.root()))
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
    ) -> crate::Result<Option<(SessionId, Handoff)>> {
        let cwd = self.p.cwd.as_ref().map(|c| c.display().to_string());
        // Newest first, reading one view at a time: the handoff a new
        // session wants was usually left moments ago.
        for id in self.ws.log().sessions_newest_first() {
            let view = self.ws.quick_view(id?).await?;
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
    async fn after_clear(&self) -> crate::Result<Option<String>> {
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
    /// whose reserved id the segment after the compaction will take. Claude
    /// Code may fire it again before it compacts (an automatic compaction
    /// put off to the next prompt): the snapshot is then taken again, under
    /// the same reserved id, so the brief has the latest requests.
    async fn pre_compact(&self) -> crate::Result<()> {
        let (session, _) = self.capture().await?;
        let next = match self.waiting_handoff(session).await? {
            Some(reserved) => reserved,
            None => SessionId::new_v7(),
        };
        let handoff = Event::HandoffCreated(logbook_core::HandoffCreated {
            from: session,
            next_session: next,
            context_ref: handoff_path(session),
        });
        self.ws.record(session, vec![handoff]).await?;
        Ok(())
    }

    /// SessionStart `compact`: the capture meets the `compact_boundary` and
    /// splits the chain there. Prints the pre-compaction brief: the handoff
    /// of the segment that just ended, or, if the boundary is not written
    /// yet (the split then happens at the next capture), PreCompact's.
    async fn after_compact(&self) -> crate::Result<Option<String>> {
        let (session, split) = self.capture().await?;
        let view = self.ws.quick_view(session).await?;
        // The daemon's watcher may have met the boundary (and split) before
        // this hook ran: then the session is already the new segment.
        let split_already = view.origin.as_deref() == Some("after_compaction")
            && self.handoff_of(session)?.is_none();
        let source = if split || split_already {
            view.transitioned_from
        } else {
            Some(session)
        };
        Ok(match source {
            Some(id) => self.handoff_of(id)?.map(|h| h.brief_in(self.ws.root())),
            None => None,
        })
    }

    /// SessionEnd: final capture, the session ends, its handoff is written.
    async fn session_end(&self) -> crate::Result<()> {
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
                status: logbook_core::EndStatus::Completed,
                reason,
                next: SessionId::new_v7(),
            },
        )?;
        self.ws.commit(batch).await?;
        Ok(())
    }
}

/// Whether a new conversation starting in the same project continues the
/// ended session `v`, and so is handed its brief. Yes after an interactive
/// exit or logout, or when the agent died, if it ended at most `max_age`
/// seconds ago (0: any age). No after reason `other`, which ends every
/// `claude -p` run (one-off runs are not a conversation to carry on; a
/// closed terminal ends with it too), and no for a `/clear` or compaction
/// handoff, which belongs to that conversation's own next session. Any
/// handoff stays reachable with `logbook resume`.
fn continues_into_startup(v: &SessionView, now: jiff::Timestamp, max_age: u64) -> bool {
    let reason_continues = matches!(
        v.end_reason.as_deref(),
        Some("exit" | "logout" | "agent_exited")
    );
    let recent = max_age == 0
        || v.ended_at.is_some_and(|ended| {
            let limit = jiff::SignedDuration::from_secs(i64::try_from(max_age).unwrap_or(i64::MAX));
            now.duration_since(ended.to_jiff()) <= limit
        });
    reason_continues && recent
}

/// Waits (at most `limit`) until the end of transcript `path` holds
/// `reply`, the text `Stop` says the turn ended with: Claude Code fires
/// `Stop` before writing that record, which carries the turn's usage.
async fn wait_for_reply(path: &Path, reply: &str, limit: std::time::Duration) {
    // As the transcript's JSON spells it, without the quotes; a reply
    // escaped another way is simply not found, and the hook goes on.
    let Ok(quoted) = serde_json::to_string(reply) else {
        return;
    };
    let needle = &quoted.as_bytes()[1..quoted.len() - 1];
    if needle.is_empty() || limit.is_zero() {
        return;
    }
    let started = std::time::Instant::now();
    let mut read_to = None;
    loop {
        if appended_contains(path, needle, &mut read_to) || started.elapsed() >= limit {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Whether `needle` is in what `path` gained since `read_to` (the end of
/// the last look; the first look takes the last 256 KiB). A poll of a file
/// that has not grown reads nothing.
fn appended_contains(path: &Path, needle: &[u8], read_to: &mut Option<u64>) -> bool {
    use std::io::{Read, Seek};
    const TAIL: u64 = 256 * 1024;
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let overlap = needle.len() as u64;
    let start = match *read_to {
        Some(end) if end == len => return false,
        // Grown: the new bytes, plus enough before them for a needle
        // written across two looks.
        Some(end) if end < len => end.saturating_sub(overlap),
        // The first look, or the file was rewritten shorter.
        _ => len.saturating_sub(TAIL.max(overlap * 2)),
    };
    if file.seek(std::io::SeekFrom::Start(start)).is_err() {
        return false;
    }
    let mut appended = Vec::new();
    if file.read_to_end(&mut appended).is_err() {
        return false;
    }
    *read_to = Some(start + appended.len() as u64);
    memchr::memmem::find(&appended, needle).is_some()
}

/// The `timestamp` of the record starting at byte `offset` of `path` (the
/// compaction boundary a segment opens with), if it has one.
fn line_time(path: &Path, offset: u64) -> Option<logbook_core::Timestamp> {
    use std::io::{BufRead, Read, Seek};
    let mut file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    file.seek(std::io::SeekFrom::Start(offset)).ok()?;
    let mut line = Vec::new();
    // A boundary record is small; a cap keeps a corrupt file from being
    // read whole.
    file.take(64 * 1024).read_until(b'\n', &mut line).ok()?;
    let record: serde_json::Value = serde_json::from_slice(&line).ok()?;
    logbook_core::Timestamp::parse(record.get("timestamp")?.as_str()?).ok()
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
        // The capture knows how far the session has got; the rest of what
        // the state says (its agent and command) carries into the next one.
        let mut ending = self.state.clone();
        ending.version = expected;
        let mut batch = ending.follow([Event::CompactionDetected(compaction.clone())]);
        // PreCompact's handoff already holds the pre-compaction context;
        // without one, the split leaves its own.
        let reserved = self.reserved.take();
        let next = reserved.unwrap_or_else(SessionId::new_v7);
        let decided = decide(
            &ending,
            LifecycleCommand::Transition {
                successor: next,
                reason: EndReason::Compaction,
            },
        )
        .ok()?;
        let (ended, started): (Vec<NewEvent>, Vec<NewEvent>) =
            decided.into_iter().partition(|e| e.session == session);
        ending.absorb(&ended);
        batch.extend(ended);
        if reserved.is_none() {
            batch.extend(
                ending.follow([Event::HandoffCreated(logbook_core::HandoffCreated {
                    from: session,
                    next_session: next,
                    context_ref: handoff_path(session),
                })]),
            );
        }
        let mut following = SessionState::new(next);
        following.absorb(&started);
        batch.extend(started);
        let mut opening = vec![carrier(&self.path, cursor)];
        if let Some(started_at) = line_time(&self.path, cursor.offset) {
            opening.push(Event::SessionDated(logbook_core::SessionDated {
                started_at,
            }));
        }
        batch.extend(following.follow(opening));
        self.split = true;
        let expected = following.version;
        self.state = following;
        Some(Split {
            batch,
            session: next,
            expected,
        })
    }
}
