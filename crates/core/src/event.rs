//! The event vocabulary (DESIGN.md §3).
//!
//! Released variants are never edited: bincode cannot decode a struct whose
//! fields changed. A change of meaning is a new variant appended at the end of
//! [`Event`] (so older variant indices stay put), and readers upcast the old
//! one. `tests/golden` in this crate pins the encoded bytes of every variant.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::SessionId;

/// One thing that happened in a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A session began.
    SessionStarted(SessionStarted),
    /// A session ended; `successor` links a transition.
    SessionEnded(SessionEnded),
    /// Exact bytes taken from a source, complete lines only.
    TranscriptCaptured(TranscriptCaptured),
    /// A source no longer matches its cursor; capture restarts on new content.
    SourceReset(SourceReset),
    /// The agent compacted its context.
    CompactionDetected(CompactionDetected),
    /// A reading of how much of the context window is in use.
    TokenUsageObserved(TokenUsageObserved),
    /// Remaining context fell below a threshold.
    BudgetAlert(BudgetAlert),
    /// A decision, correction, plan or memory noted by a person or agent.
    NoteRecorded(NoteRecorded),
    /// A handoff record was written for the next session.
    HandoffCreated(HandoffCreated),
    /// Lines of a sliding source (a tmux pane) scrolled away before being seen.
    CaptureGap(CaptureGap),
    /// The conversation of an ended session went on in another session
    /// (`claude --resume`): the link back from the one it resumed.
    SessionResumed(SessionResumed),
    /// When the agent says the session began, where logbook recorded its
    /// start later (the compaction boundary that opened a segment).
    SessionDated(SessionDated),
    /// A tool call finished, as the agent reported it when it happened (the
    /// transcript may say so later): its outcome and how long it took.
    ToolCallFinished(ToolCallFinished),
    /// The agent's own summary of the conversation a compaction replaced.
    CompactionSummarized(CompactionSummarized),
    /// The agent started a subagent.
    SubagentStarted(SubagentStarted),
    /// An API error ended the agent's turn.
    TurnFailed(TurnFailed),
    /// The agent asked the user for permission to make a tool call.
    PermissionRequested(PermissionRequested),
    /// A tool call was refused permission (a rule, a classifier, a hook).
    PermissionDenied(PermissionDenied),
    /// The agent's working directory changed.
    WorkdirChanged(WorkdirChanged),
    /// A task on the agent's own task list was created or completed.
    TaskChanged(TaskChanged),
    /// When the agent's records say the session ended, where logbook
    /// recorded its end later (an import of work done days ago).
    SessionEndDated(SessionEndDated),
}

impl Event {
    /// The snake_case name used in logs and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SessionStarted(_) => "session_started",
            Event::SessionEnded(_) => "session_ended",
            Event::TranscriptCaptured(_) => "transcript_captured",
            Event::SourceReset(_) => "source_reset",
            Event::CompactionDetected(_) => "compaction_detected",
            Event::TokenUsageObserved(_) => "token_usage_observed",
            Event::BudgetAlert(_) => "budget_alert",
            Event::NoteRecorded(_) => "note_recorded",
            Event::HandoffCreated(_) => "handoff_created",
            Event::CaptureGap(_) => "capture_gap",
            Event::SessionResumed(_) => "session_resumed",
            Event::SessionDated(_) => "session_dated",
            Event::ToolCallFinished(_) => "tool_call_finished",
            Event::CompactionSummarized(_) => "compaction_summarized",
            Event::SubagentStarted(_) => "subagent_started",
            Event::TurnFailed(_) => "turn_failed",
            Event::PermissionRequested(_) => "permission_requested",
            Event::PermissionDenied(_) => "permission_denied",
            Event::WorkdirChanged(_) => "workdir_changed",
            Event::TaskChanged(_) => "task_changed",
            Event::SessionEndDated(_) => "session_end_dated",
        }
    }
}

/// Payload of [`Event::SessionStarted`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionStarted {
    /// What the session is for (`--command NAME`), if given.
    pub command: Option<String>,
    /// The agent process behind the session, if known.
    pub agent: Option<AgentInfo>,
    /// Why the session exists.
    pub origin: Origin,
}

/// The agent behind a session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// `claude-code`, `shell`, …
    pub kind: String,
    /// The agent's own session id (Claude Code's transcript uuid).
    pub session_id: Option<String>,
    /// Where the agent writes its transcript.
    pub transcript_path: Option<String>,
    /// The agent's working directory.
    pub cwd: Option<String>,
    /// The agent's process id.
    pub pid: Option<u32>,
}

/// Why a session exists, and what it continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A new piece of work.
    Fresh,
    /// The agent resumed an earlier conversation.
    Resume,
    /// The agent's context was cleared (`/clear`) in `from`.
    AfterClear {
        /// The session that was cleared.
        from: SessionId,
    },
    /// The agent compacted its context in `from`.
    AfterCompaction {
        /// The segment before the compaction.
        from: SessionId,
    },
    /// Started from `from`'s handoff record.
    Handoff {
        /// The session whose handoff was picked up.
        from: SessionId,
    },
    /// An explicit `logbook transition` from `from`.
    Transition {
        /// The session that was ended.
        from: SessionId,
    },
    /// The agent resumed the conversation `from` recorded, after it ended.
    Resumed {
        /// The last session of that conversation.
        from: SessionId,
    },
}

impl Origin {
    /// The predecessor in a chain, if any.
    pub fn predecessor(&self) -> Option<SessionId> {
        match *self {
            Origin::Fresh | Origin::Resume => None,
            Origin::AfterClear { from }
            | Origin::AfterCompaction { from }
            | Origin::Handoff { from }
            | Origin::Transition { from }
            | Origin::Resumed { from } => Some(from),
        }
    }
}

/// Payload of [`Event::SessionEnded`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnded {
    /// How it went.
    pub status: EndStatus,
    /// The process exit code, when there was one.
    pub exit_code: Option<i32>,
    /// Why it ended.
    pub reason: EndReason,
    /// The session that continues this one, for a transition.
    pub successor: Option<SessionId>,
}

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndStatus {
    /// Finished normally.
    Completed,
    /// Finished with an error.
    Failed,
    /// Left behind (the agent vanished, an old import).
    Abandoned,
}

impl EndStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndStatus::Completed => "completed",
            EndStatus::Failed => "failed",
            EndStatus::Abandoned => "abandoned",
        }
    }
}

impl fmt::Display for EndStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a session ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The process or command finished.
    Exit,
    /// `/clear` in the agent.
    Clear,
    /// The agent compacted; a new segment continues.
    Compaction,
    /// The user logged out.
    Logout,
    /// An explicit `logbook transition`.
    Transition,
    /// Anything else an agent reports, kept verbatim.
    Other(String),
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Exit => f.write_str("exit"),
            EndReason::Clear => f.write_str("clear"),
            EndReason::Compaction => f.write_str("compaction"),
            EndReason::Logout => f.write_str("logout"),
            EndReason::Transition => f.write_str("transition"),
            EndReason::Other(other) => f.write_str(other),
        }
    }
}

/// Where captured bytes come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceRef {
    /// What kind of source it is.
    pub kind: SourceKind,
    /// Stable name within the session: `main`, or e.g.
    /// `subagents/agent-a2898e3` for a second transcript.
    pub key: String,
    /// The path, pane id or `-` for stdin, as given.
    pub location: String,
}

/// The kinds of capture source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A Claude Code transcript (JSONL).
    ClaudeCode,
    /// A plain text file that grows.
    TextFile,
    /// Standard input.
    Stdin,
    /// A tmux pane's scrollback.
    Tmux,
    /// A Codex CLI rollout (JSONL, appended).
    Codex,
    /// A Gemini CLI chat: its JSONL log as written, or its whole-file JSON
    /// form transcoded to the same JSONL, one line per new or changed
    /// message.
    Gemini,
}

impl SourceKind {
    /// Whether the source is JSON lines an agent wrote (its parts are
    /// `.jsonl`, and a line that does not parse is malformed).
    pub fn is_agent_jsonl(self) -> bool {
        matches!(self, Self::ClaudeCode | Self::Codex | Self::Gemini)
    }
}

/// Payload of [`Event::TranscriptCaptured`]: the bytes and the cursor
/// advance are one event, so they can never disagree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptCaptured {
    /// The source.
    pub source: SourceRef,
    /// Byte offset in the source where `bytes` start.
    pub byte_start: u64,
    /// Line number (0-based) in the source where `bytes` start.
    pub line_start: u64,
    /// How many complete lines `bytes` holds.
    pub lines: u64,
    /// blake3 of the last (up to 4 KiB) source bytes before the new cursor,
    /// to recognise a replaced file.
    pub fingerprint: Hash,
    /// The exact bytes, ending in a newline.
    pub bytes: Bytes,
}

impl TranscriptCaptured {
    /// Byte offset just past the capture: the new cursor.
    pub fn byte_end(&self) -> u64 {
        self.byte_start + self.bytes.0.len() as u64
    }

    /// Line number just past the capture.
    pub fn line_end(&self) -> u64 {
        self.line_start + self.lines
    }
}

/// Payload of [`Event::SourceReset`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReset {
    /// The source.
    pub source: SourceRef,
    /// What was found.
    pub reason: ResetReason,
    /// The cursor (byte offset) that no longer held.
    pub old_offset: u64,
}

/// Why a cursor was abandoned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetReason {
    /// The source is shorter than the cursor.
    Truncated,
    /// The bytes before the cursor changed.
    Replaced,
    /// A sliding window moved past everything seen.
    ScrollbackShifted,
}

/// Payload of [`Event::CompactionDetected`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionDetected {
    /// How it was recognised.
    pub trigger: CompactionTrigger,
    /// Context tokens just before, when the agent said.
    pub pre_tokens: Option<u64>,
}

/// What set off a compaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompactionTrigger {
    /// The user asked (`/compact`).
    Manual,
    /// The agent did it on its own.
    Auto,
    /// A text source's line count dropped from `before` to `after`.
    Heuristic {
        /// Lines before.
        before: u64,
        /// Lines after.
        after: u64,
    },
}

/// Payload of [`Event::TokenUsageObserved`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsageObserved {
    /// Tokens in the context now.
    pub used: u64,
    /// Size of the context window.
    pub window: u64,
    /// Where the figure came from.
    pub source: UsageSource,
}

/// Where a token reading came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// Claude Code's status-line input.
    StatusLine,
    /// A transcript's usage records.
    Transcript,
    /// A `Token usage: N/M` line in a text transcript.
    TextLine,
}

/// Payload of [`Event::BudgetAlert`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetAlert {
    /// The threshold crossed, in percent remaining.
    pub threshold: u8,
    /// The percentage remaining when it fired.
    pub remaining_pct: f64,
}

/// Payload of [`Event::NoteRecorded`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteRecorded {
    /// What kind of note.
    pub kind: NoteKind,
    /// The text.
    pub text: String,
}

/// Kinds of note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Something decided.
    Decision,
    /// The user corrected the agent.
    Correction,
    /// A plan.
    Plan,
    /// Something to remember.
    Memory,
}

/// Payload of [`Event::HandoffCreated`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffCreated {
    /// The session handing off.
    pub from: SessionId,
    /// The id reserved for the session that picks it up.
    pub next_session: SessionId,
    /// Where the context snapshot lives (relative to the store).
    pub context_ref: String,
}

/// Payload of [`Event::CaptureGap`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureGap {
    /// The source.
    pub source: SourceRef,
    /// Lines lost, when countable.
    pub lines_missed: Option<u64>,
}

/// Payload of [`Event::SessionResumed`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResumed {
    /// The session the conversation went on in.
    pub successor: SessionId,
}

/// Payload of [`Event::SessionDated`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDated {
    /// The agent's time for the start.
    pub started_at: crate::Timestamp,
}

/// Payload of [`Event::SessionEndDated`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEndDated {
    /// The agent's time for the end: its last dated record.
    pub ended_at: crate::Timestamp,
}

/// A tool call as an auditor names it: the agent's call id, the tool and
/// its target (a path, command, URL or pattern, as the agent gave it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The agent's id of the call (`tool_use_id`), to match the transcript.
    pub call_id: Option<String>,
    /// The tool's name.
    pub tool: String,
    /// What the call acted on, when the tool has one.
    pub target: Option<String>,
}

/// Payload of [`Event::ToolCallFinished`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallFinished {
    /// The call.
    pub call: ToolCall,
    /// How it ended.
    pub outcome: ToolOutcome,
    /// How long it ran, by the agent's clock.
    pub duration_ms: Option<u64>,
    /// When the agent reported it (its hook started), where that is known:
    /// such reports can be recorded out of order, or late.
    pub reported_at: Option<crate::Timestamp>,
}

/// How a tool call ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolOutcome {
    /// It did what was asked.
    Succeeded,
    /// It failed; the agent's error text (bounded).
    Failed {
        /// The error.
        error: String,
    },
    /// The user interrupted it.
    Interrupted {
        /// The agent's text for it (bounded).
        error: String,
    },
}

/// Payload of [`Event::CompactionSummarized`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionSummarized {
    /// What set the compaction off.
    pub trigger: CompactionTrigger,
    /// The summary the agent carries on with, as it wrote it.
    pub summary: String,
}

/// Payload of [`Event::SubagentStarted`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubagentStarted {
    /// The agent's id for the subagent (its transcript is named after it).
    pub agent_id: String,
    /// The kind of subagent (`general-purpose`, a custom agent's name).
    pub agent_type: String,
}

/// Payload of [`Event::TurnFailed`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnFailed {
    /// The agent's class of error (`invalid_request`, `rate_limit`, …).
    pub error: String,
    /// The error as the API gave it (bounded).
    pub details: Option<String>,
}

/// Payload of [`Event::PermissionRequested`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionRequested {
    /// The call waiting for the user.
    pub call: ToolCall,
}

/// Payload of [`Event::PermissionDenied`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionDenied {
    /// The call refused.
    pub call: ToolCall,
    /// Why, as the agent said (bounded).
    pub reason: Option<String>,
}

/// Payload of [`Event::WorkdirChanged`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkdirChanged {
    /// The directory before.
    pub from: String,
    /// The directory now.
    pub to: String,
}

/// Payload of [`Event::TaskChanged`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskChanged {
    /// The agent's task id.
    pub task_id: String,
    /// The task's subject line.
    pub subject: String,
    /// What happened to it.
    pub change: TaskChange,
}

/// What happened to a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskChange {
    /// Added to the list.
    Created,
    /// Marked done.
    Completed,
}

/// A blake3 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// All zeroes: the `prev_hash` of seq 1.
    pub const ZERO: Hash = Hash([0; 32]);

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            let mut out = [0u8; 32];
            if text.len() != 64 {
                return Err(serde::de::Error::custom("hash must be 64 hex digits"));
            }
            for (i, byte) in out.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                    .map_err(serde::de::Error::custom)?;
            }
            Ok(Hash(out))
        } else {
            <[u8; 32]>::deserialize(d).map(Hash)
        }
    }
}

/// Exact bytes: raw in binary encodings, base64 in JSON (transcripts may hold
/// invalid UTF-8, which must survive byte for byte).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
        } else {
            serde_bytes::serialize(&self.0, s)
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(Bytes)
                .map_err(serde::de::Error::custom)
        } else {
            serde_bytes::deserialize(d).map(Bytes)
        }
    }
}
