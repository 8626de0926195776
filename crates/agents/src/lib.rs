//! logbook-agents: everything logbook knows about particular coding agents.
//!
//! One module per agent says where the agent writes its session files, how
//! to tell which session a file belongs to, and how to read a line of it
//! into the agent-neutral [`Record`]: prompts, replies, tool calls and what
//! they did, results, token usage and how to add it up, compactions. The
//! core, the store and the projections know only [`Record`]; adding an
//! agent is adding a module here and a [`SourceKind`].
//!
//! - [`claude`]: Claude Code transcripts.
//! - [`codex`]: Codex CLI rollouts (plain or zstd-compressed).
//! - [`gemini`]: Gemini CLI chats, both the JSONL log and the older JSON
//!   file rewritten whole (turned into the JSONL form as it is captured).
//! - [`locate`]: each agent's default folders, and which agent wrote a file.
//!
//! # Example: a Codex token count, read as a cumulative total
//!
//! ```
//! use logbook_agents::{Item, read, record::Counting};
//! use logbook_core::SourceKind;
//!
//! let line = br#"{"timestamp":"2026-05-11T08:27:30.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":1000,"cached_input_tokens":400,"output_tokens":50,"reasoning_output_tokens":10,"total_tokens":1050},"last_token_usage":{"input_tokens":1000,"cached_input_tokens":400,"output_tokens":50,"reasoning_output_tokens":10,"total_tokens":1050},"model_context_window":258400}}}"#;
//! let record = read(SourceKind::Codex, "rollout.jsonl", line).expect("a rollout line");
//! let Item::Usage(usage) = &record.items[0] else { panic!("usage") };
//! // A repeat of this line adds nothing: folds count the step between totals.
//! assert_eq!(usage.counting, Counting::Cumulative);
//! assert_eq!((usage.tokens.input, usage.tokens.cache_read), (600, 400));
//! assert_eq!(usage.window, Some(258_400));
//! ```

pub mod claude;
pub mod codex;
pub mod gemini;
pub mod locate;
pub mod record;

use logbook_core::{CompactionDetected, SourceKind};

pub use record::{Call, CallResult, Effect, Item, Outcome, Record, Seen, Todo, Tokens, Usage};

/// The agents logbook reads.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Agent {
    /// Anthropic's Claude Code.
    ClaudeCode,
    /// OpenAI's Codex CLI.
    Codex,
    /// Google's Gemini CLI.
    Gemini,
}

impl Agent {
    /// Every agent, in the order imports visit them.
    pub const ALL: [Agent; 3] = [Agent::ClaudeCode, Agent::Codex, Agent::Gemini];

    /// The name sessions record (`agent.kind`) and `--agent` takes.
    pub fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
        }
    }

    /// The agent `name` names (`claude` is accepted for Claude Code).
    pub fn from_name(name: &str) -> Option<Agent> {
        match name {
            "claude-code" | "claude" => Some(Agent::ClaudeCode),
            "codex" => Some(Agent::Codex),
            "gemini" => Some(Agent::Gemini),
            _ => None,
        }
    }

    /// The kind of source its files are captured as.
    pub fn source_kind(self) -> SourceKind {
        match self {
            Agent::ClaudeCode => SourceKind::ClaudeCode,
            Agent::Codex => SourceKind::Codex,
            Agent::Gemini => SourceKind::Gemini,
        }
    }

    /// The agent whose files a source kind holds.
    pub fn of_source(kind: SourceKind) -> Option<Agent> {
        match kind {
            SourceKind::ClaudeCode => Some(Agent::ClaudeCode),
            SourceKind::Codex => Some(Agent::Codex),
            SourceKind::Gemini => Some(Agent::Gemini),
            SourceKind::TextFile | SourceKind::Stdin | SourceKind::Tmux => None,
        }
    }
}

impl std::fmt::Display for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads one captured line of a source of `kind` at `location` (the path
/// it was captured from). `None` for sources that are not an agent's
/// records (text, tmux) and for lines that are not records.
pub fn read(kind: SourceKind, location: &str, line: &[u8]) -> Option<Record> {
    match Agent::of_source(kind)? {
        Agent::ClaudeCode => claude::read(line),
        Agent::Codex => codex::read(location, line),
        Agent::Gemini => gemini::read(line),
    }
}

/// [`read`] for a fold that needs only usage, compactions, the agent's own
/// account and the model of requests: `None`, without parsing, for a line
/// that holds none of them (most lines of a transcript are tool calls and
/// text, and the tokens fold runs on every hook).
pub fn read_usage(kind: SourceKind, location: &str, line: &[u8]) -> Option<Record> {
    let needles: &[&[u8]] = match Agent::of_source(kind)? {
        Agent::ClaudeCode => return claude::read_usage(line),
        Agent::Codex => &[b"\"token_count\"", b"\"turn_context\"", b"\"compacted\""],
        Agent::Gemini => &[b"\"tokens\""],
    };
    needles
        .iter()
        .any(|needle| memchr::memmem::find(line, needle).is_some())
        .then(|| read(kind, location, line))
        .flatten()
}

/// The compaction a line of a source of `kind` marks, if any: capture opens
/// a new segment of the session there.
pub fn compaction(kind: SourceKind, line: &[u8]) -> Option<CompactionDetected> {
    match Agent::of_source(kind)? {
        Agent::ClaudeCode => claude::compaction(line),
        Agent::Codex => codex::compaction(line),
        // Gemini CLI's chats do not mark compression.
        Agent::Gemini => None,
    }
}

#[cfg(test)]
mod tests;
