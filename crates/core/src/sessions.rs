//! The `sessions/<id>/session.json` projection: one file per session with
//! its status, times, chain links, agent and capture counts.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::event::{AgentInfo, EndStatus, Event, Origin, SourceKind};
use crate::id::SessionId;
use crate::log::EventLog;
use crate::projection::{Projection, ProjectionError, ProjectionFiles, json_file};
use crate::time::Timestamp;

/// Lines per transcript part before a new part starts (config `rotate_lines`).
pub const DEFAULT_ROTATE_LINES: u64 = 60_000;

/// The key of a session's main capture source.
pub const MAIN_SOURCE: &str = "main";

/// How the key of a subagent's own transcript starts: Claude Code's
/// `subagents/agent-<id>`, Gemini CLI's `subagents/<session id>`.
pub const SUBAGENT_SOURCES: &str = "subagents/";

/// Whether source `key` is a subagent's own transcript. Every other source
/// is the session's own conversation: the main file, and a second file of
/// the same agent session (a Gemini CLI chat resumed into a `.jsonl` beside
/// its `.json`, or a copy of it, captured as `copies/<name>`), whose
/// prompts, calls and tokens are the main agent's.
pub fn is_subagent_source(key: &str) -> bool {
    key.starts_with(SUBAGENT_SOURCES)
}

/// A session's status as people see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Started, not ended.
    Active,
    /// Ended normally.
    Completed,
    /// Ended with an error.
    Failed,
    /// Left behind.
    Abandoned,
}

impl SessionStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Completed => "completed",
            SessionStatus::Failed => "failed",
            SessionStatus::Abandoned => "abandoned",
        }
    }
}

impl From<EndStatus> for SessionStatus {
    fn from(s: EndStatus) -> Self {
        match s {
            EndStatus::Completed => SessionStatus::Completed,
            EndStatus::Failed => SessionStatus::Failed,
            EndStatus::Abandoned => SessionStatus::Abandoned,
        }
    }
}

/// How much of the main source was captured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureCounts {
    /// Complete lines.
    pub lines: u64,
    /// Bytes.
    pub bytes: u64,
    /// Transcript part files.
    pub parts: u64,
}

/// The contents of `session.json` (keys per DESIGN.md §4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    /// The session.
    pub session_id: SessionId,
    /// `--command NAME`.
    pub command: Option<String>,
    /// Status.
    pub status: SessionStatus,
    /// Why the session exists (`fresh`, `after_clear`, …).
    pub origin: Option<String>,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// Exit code, if any.
    pub exit_code: Option<i32>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// The predecessor in its chain.
    pub transitioned_from: Option<SessionId>,
    /// The successor in its chain.
    pub transitioned_to: Option<SessionId>,
    /// The agent behind it.
    pub agent: Option<AgentInfo>,
    /// The session directory: relative to the store in `session.json`
    /// (`sessions/<id>`, so a moved or restored store still verifies),
    /// absolute wherever it is shown.
    pub dir: String,
    /// Capture counts of the main source.
    pub capture: CaptureCounts,
    /// The last log seq folded in, so a fold can go on from the file
    /// without re-reading the session, and never applies an event twice.
    #[serde(default)]
    pub seq: u64,
    /// Once ended: the log's history up to the end, which `verify --anchor
    /// session.json` checks the store still holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<crate::log::Pin>,
}

impl SessionView {
    /// Folds a session's envelopes, oldest first. `dir` is where its files
    /// live; `rotate_lines` decides the part count.
    pub fn fold(id: SessionId, envelopes: &[Envelope], dir: String, rotate_lines: u64) -> Self {
        let mut view = SessionView {
            session_id: id,
            command: None,
            status: SessionStatus::Active,
            origin: None,
            started_at: None,
            ended_at: None,
            exit_code: None,
            end_reason: None,
            transitioned_from: None,
            transitioned_to: None,
            agent: None,
            dir,
            capture: CaptureCounts::default(),
            seq: 0,
            anchor: None,
        };
        for env in envelopes {
            view.apply(env, rotate_lines);
        }
        view
    }

    /// Folds one more envelope of this session; one already folded in
    /// (by seq) changes nothing.
    pub fn apply(&mut self, env: &Envelope, rotate_lines: u64) {
        if env.seq <= self.seq {
            return;
        }
        self.seq = env.seq;
        match &env.event {
            Event::SessionStarted(s) => {
                self.command.clone_from(&s.command);
                self.agent.clone_from(&s.agent);
                self.started_at = Some(env.at);
                self.origin = Some(origin_name(&s.origin).to_owned());
                self.transitioned_from = s.origin.predecessor();
            }
            Event::SessionEnded(e) => {
                self.status = e.status.into();
                self.ended_at = Some(env.at);
                self.exit_code = e.exit_code;
                self.end_reason = Some(e.reason.to_string());
                self.transitioned_to = e.successor;
                self.anchor = Some(crate::log::Pin::before(env));
            }
            Event::SessionResumed(r) => self.transitioned_to = Some(r.successor),
            Event::SessionDated(d) => self.started_at = Some(d.started_at),
            Event::SessionEndDated(d) => self.ended_at = Some(d.ended_at),
            Event::TranscriptCaptured(c) if c.source.key == MAIN_SOURCE => {
                self.capture.lines += c.lines;
                self.capture.bytes += c.bytes.0.len() as u64;
            }
            _ => {}
        }
        self.capture.parts = self.capture.lines.div_ceil(rotate_lines.max(1));
    }

    /// The bytes of `session.json`: pretty JSON and a final newline, so the
    /// file diffs well and rebuilds byte for byte.
    pub fn to_json(&self) -> Result<Vec<u8>, ProjectionError> {
        json_file("session.json", self)
    }
}

/// The snake_case name of an origin.
pub fn origin_name(origin: &Origin) -> &'static str {
    match origin {
        Origin::Fresh => "fresh",
        Origin::Resume => "resume",
        Origin::AfterClear { .. } => "after_clear",
        Origin::AfterCompaction { .. } => "after_compaction",
        Origin::Handoff { .. } => "handoff",
        Origin::Transition { .. } => "transition",
        Origin::Resumed { .. } => "resumed",
    }
}

/// Splits a projected path `sessions/<id>/<rest>` into the session and
/// `rest`, so projections agree on what lies in a session directory.
pub fn session_file(path: &str) -> Option<(SessionId, &str)> {
    let (id, rest) = path.strip_prefix("sessions/")?.split_once('/')?;
    Some((id.parse().ok()?, rest))
}

/// The directory of a session, relative to the output root.
pub fn session_dir(id: SessionId) -> String {
    format!("sessions/{id}")
}

/// The file extension of a source's transcript parts.
pub fn part_extension(kind: Option<SourceKind>) -> &'static str {
    match kind {
        Some(k) if k.is_agent_jsonl() => "jsonl",
        _ => "txt",
    }
}

/// Where part `part` (from 1) of source `key` of a session lives, relative
/// to the output root; shared by the projection that writes parts and those
/// that link to them.
pub fn part_path(id: SessionId, key: &str, kind: Option<SourceKind>, part: u64) -> String {
    let dir = if key == MAIN_SOURCE {
        format!("{}/transcript", session_dir(id))
    } else {
        format!("{}/transcript/{key}", session_dir(id))
    };
    format!("{dir}/part-{part:04}.{}", part_extension(kind))
}

/// Projects `sessions/<id>/session.json`.
#[derive(Debug, Clone)]
pub struct SessionFileProjection {
    rotate_lines: u64,
}

impl SessionFileProjection {
    /// Parts rotate every `rotate_lines` lines.
    pub fn new(rotate_lines: u64) -> Self {
        Self { rotate_lines }
    }

    fn path(id: SessionId) -> String {
        format!("{}/session.json", session_dir(id))
    }
}

#[async_trait]
impl Projection for SessionFileProjection {
    fn name(&self) -> &'static str {
        "session-json"
    }

    fn owns(&self, path: &str) -> bool {
        session_file(path).is_some_and(|(_, file)| file == "session.json")
    }

    async fn apply(
        &self,
        log: &(dyn EventLog + 'static),
        batch: &[Envelope],
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<(), ProjectionError> {
        let Some(last) = batch.last().map(|e| e.seq) else {
            return Ok(());
        };
        let mut touched: Vec<SessionId> = batch.iter().map(|e| e.session).collect();
        touched.sort_unstable();
        touched.dedup();
        for id in touched {
            let path = Self::path(id);
            let dir = session_dir(id);
            // Go on from the file when it is sound; otherwise (first
            // event, replay, a damaged file) fold the session's history.
            let stored = files
                .read(&path)?
                .and_then(|bytes| serde_json::from_slice::<SessionView>(&bytes).ok())
                .filter(|v| v.session_id == id && v.dir == dir && v.seq > 0);
            // The file must end exactly where this batch begins.
            let first = batch
                .iter()
                .find(|e| e.session == id)
                .map(|e| e.session_seq);
            let before = match first {
                Some(n) if n > 1 => log
                    .read_session_range(id, n - 1, 1)
                    .await?
                    .first()
                    .map(|e| e.seq),
                _ => None,
            };
            let stored = stored.filter(|v| Some(v.seq) == before);
            let view = match stored {
                Some(mut view) => {
                    for env in batch.iter().filter(|e| e.session == id) {
                        view.apply(env, self.rotate_lines);
                    }
                    view
                }
                None => {
                    let mut history = log.read_session(id).await?;
                    history.retain(|e| e.seq <= last);
                    SessionView::fold(id, &history, dir, self.rotate_lines)
                }
            };
            files.write(&path, &json_file(&path, &view)?)?;
        }
        Ok(())
    }
}
