//! The requests a front end makes of the engine, with their arguments.
//!
//! One set of types serves every front end: the `logbook` binary fills them
//! from its command line (the `clap` feature derives the parsers), runs
//! them in its own process or sends them to the store's daemon, which
//! decodes the very same types. Nothing here does any work.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `--json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct JsonArg {
    /// Print JSON instead of text
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
}

/// `start`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct StartArgs {
    /// What the session is for
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME"))]
    pub command: Option<String>,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `end`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct EndArgs {
    /// Session id or unique prefix [default: the only active session]
    pub session: Option<String>,
    /// How it went
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = StatusArg::Completed))]
    pub status: StatusArg,
    /// The exit code of what ran
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true))]
    pub exit_code: Option<i32>,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// An end status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum StatusArg {
    /// Finished normally
    Completed,
    /// Finished with an error
    Failed,
    /// Left behind
    Abandoned,
}

/// `transition`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct TransitionArgs {
    /// Session id or unique prefix [default: the only active session]
    pub session: Option<String>,
    /// Why the chain moves on
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = ReasonArg::Manual))]
    pub reason: ReasonArg,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// A transition reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ReasonArg {
    /// An explicit hand-over
    Manual,
    /// The agent's context was cleared
    Clear,
    /// The agent compacted its context
    Compaction,
}

/// `ls`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct LsArgs {
    /// Only sessions with this status
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub status: Option<ListStatus>,
    /// Whether to redact.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub redact: RedactArg,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// A status filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ListStatus {
    /// Not ended
    Active,
    /// Ended normally
    Completed,
    /// Ended with an error
    Failed,
    /// Left behind
    Abandoned,
}

/// `show`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ShowArgs {
    /// Session id or unique prefix
    pub session: String,
    /// Whether to redact.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub redact: RedactArg,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `log`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct LogArgs {
    /// Only this session (id or unique prefix)
    #[cfg_attr(feature = "clap", arg(long))]
    pub session: Option<String>,
    /// Only events at or after this time (RFC 3339 or YYYY-MM-DD, UTC)
    #[cfg_attr(feature = "clap", arg(long, value_name = "TIME"))]
    pub since: Option<String>,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `replay`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ReplayArgs {
    /// Rebuild into this directory instead of the store (the live files are
    /// not touched)
    #[cfg_attr(feature = "clap", arg(long, value_name = "DIR"))]
    pub out: Option<PathBuf>,
    /// Rebuild as of this point: a sequence number or a time (needs --out)
    #[cfg_attr(feature = "clap", arg(long, value_name = "SEQ|TIME", requires = "out"))]
    pub at: Option<String>,
}

/// `doctor`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct DoctorArgs {
    /// Fix what can be fixed: leftovers, permissions, the projected files,
    /// and a damaged log, rebuilt from every event still readable (the
    /// damaged one is kept under damaged/). Stops the store's daemon first
    #[cfg_attr(feature = "clap", arg(long))]
    pub repair: bool,
    /// Print JSON instead of text
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
}

/// `capture`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", command(group(clap::ArgGroup::new("what").required(true).args(["file", "stdin", "tmux"]))))]
pub struct CaptureArgs {
    /// Session id or unique prefix
    pub session: String,
    /// A file that grows (`.jsonl` is read as a Claude Code transcript)
    #[cfg_attr(feature = "clap", arg(long, value_name = "PATH"))]
    pub file: Option<PathBuf>,
    /// Standard input, to its end
    #[cfg_attr(feature = "clap", arg(long))]
    pub stdin: bool,
    /// A tmux pane (`%3`, `work:0.1`): its scrollback, aligned by content
    #[cfg_attr(feature = "clap", arg(long, value_name = "PANE"))]
    pub tmux: Option<String>,
    /// Keep reading the file or pane until interrupted (Ctrl-C or SIGTERM
    /// stop it after the last complete batch)
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "stdin"))]
    pub follow: bool,
    /// The source's name within the session
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value = "main", value_name = "NAME")
    )]
    pub source: String,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `import`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ImportArgs {
    /// Session files or folders [default: every agent's own folders]
    pub paths: Vec<PathBuf>,
    /// Only this agent's files: claude-code, codex or gemini
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME"))]
    pub agent: Option<String>,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `note`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(feature = "clap", command(group(clap::ArgGroup::new("kind").required(true).args(["decision", "correction", "plan", "memory"]))))]
pub struct NoteArgs {
    /// Something decided
    #[cfg_attr(feature = "clap", arg(long, value_name = "TEXT"))]
    pub decision: Option<String>,
    /// A correction the agent must not forget
    #[cfg_attr(feature = "clap", arg(long, value_name = "TEXT"))]
    pub correction: Option<String>,
    /// A plan (each list item becomes a task)
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "TEXT", allow_hyphen_values = true)
    )]
    pub plan: Option<String>,
    /// Something the project should remember in every later session
    #[cfg_attr(feature = "clap", arg(long, value_name = "TEXT"))]
    pub memory: Option<String>,
    /// The session (default: the one of the Claude Code process this runs
    /// under, else the only active one)
    #[cfg_attr(feature = "clap", arg(long, value_name = "SESSION"))]
    pub session: Option<String>,
}

/// `context`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ContextArgs {
    /// Session id or unique prefix
    pub session: String,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `handoff`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct HandoffArgs {
    /// Session id or unique prefix (default: the latest handoff)
    pub session: Option<String>,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct TokensArgs {
    /// One session (id or unique prefix); default: all
    pub session: Option<String>,
    /// Group rows by
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "session"))]
    pub by: TokensBy,
    /// Only usage from this time or date on
    #[cfg_attr(feature = "clap", arg(long, value_name = "TIME"))]
    pub since: Option<String>,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// How `tokens` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum TokensBy {
    /// One row per logbook session
    Session,
    /// One row per agent conversation (its compaction segments together)
    AgentSession,
    /// One row per day
    Day,
    /// One row per model
    Model,
    /// One row per agent (claude-code, codex, gemini)
    Agent,
}

/// `verify`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct VerifyArgs {
    /// Also check the log still holds this anchor (from `logbook anchor`,
    /// or a handoff.json or ended session's session.json)
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub anchor: Option<PathBuf>,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `export`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ExportArgs {
    /// Mask secrets in what is exported (the default keeps the exact
    /// bytes, so an export can be imported back)
    #[cfg_attr(feature = "clap", arg(long))]
    pub redact: bool,
}

/// `--no-redact`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RedactArg {
    /// Show secrets as recorded instead of masking them
    #[cfg_attr(feature = "clap", arg(long))]
    pub no_redact: bool,
}

/// `timeline`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct TimelineArgs {
    /// Session id or unique prefix
    pub session: String,
    /// Follow the chain (`/clear`, compaction, resume) across sessions
    #[cfg_attr(feature = "clap", arg(long))]
    pub chain: bool,
    /// The timeline as the log held it at this time (RFC 3339 or YYYY-MM-DD, UTC)
    #[cfg_attr(feature = "clap", arg(long, value_name = "TIME"))]
    pub at: Option<String>,
    /// Whether to redact.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub redact: RedactArg,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `search`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SearchArgs {
    /// What to look for (words; "a phrase" in quotes; AND, OR, -word)
    pub query: String,
    /// Only this session (id or unique prefix)
    #[cfg_attr(feature = "clap", arg(long))]
    pub session: Option<String>,
    /// Only sessions whose agent ran in this directory (or below it)
    #[cfg_attr(feature = "clap", arg(long, value_name = "DIR"))]
    pub project: Option<String>,
    /// Only records at or after this time (RFC 3339 or YYYY-MM-DD, UTC)
    #[cfg_attr(feature = "clap", arg(long, value_name = "TIME"))]
    pub since: Option<String>,
    /// Only calls of this tool (and their results)
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME"))]
    pub tool: Option<String>,
    /// Only calls that acted on this file
    #[cfg_attr(feature = "clap", arg(long, value_name = "PATH"))]
    pub file: Option<String>,
    /// How many hits at most
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 20))]
    pub limit: usize,
    /// Whether to redact.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub redact: RedactArg,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `files`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct FilesArgs {
    /// A file path, absolute or as the agent named it (a suffix matches:
    /// `auth.rs` finds `/repo/src/auth.rs`)
    pub path: String,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `render`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RenderArgs {
    /// Session id or unique prefix
    pub session: String,
    /// Render the whole chain (`/clear`, compaction, resume)
    #[cfg_attr(feature = "clap", arg(long))]
    pub chain: bool,
    /// Output format
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "md"))]
    pub format: RenderFormat,
    /// Write to this file instead of stdout
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub out: Option<PathBuf>,
    /// Whether to redact.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub redact: RedactArg,
}

/// A render format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum RenderFormat {
    /// Markdown
    Md,
    /// One self-contained HTML file
    Html,
}

/// `anchor`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct AnchorArgs {
    /// Write the anchor to this file instead of stdout
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub out: Option<PathBuf>,
}

/// `review`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ReviewArgs {
    /// Session id or unique prefix (default: the only active session, else
    /// the newest)
    pub session: Option<String>,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `memory`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct MemoryArgs {
    /// The project: the directory its agent ran in (default: the current
    /// directory, else the nearest one above it with a memory)
    #[cfg_attr(feature = "clap", arg(long, value_name = "DIR"))]
    pub project: Option<PathBuf>,
    /// Print the brief a new session here would be given
    #[cfg_attr(feature = "clap", arg(long))]
    pub brief: bool,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// `stats`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct StatsArgs {
    /// Group rows by
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "day"))]
    pub by: StatsBy,
    /// Only sessions started at or after this time (RFC 3339 or YYYY-MM-DD, UTC)
    #[cfg_attr(feature = "clap", arg(long, value_name = "TIME"))]
    pub since: Option<String>,
    /// Whether to print JSON.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub json: JsonArg,
}

/// How `stats` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum StatsBy {
    /// One row per day the sessions started
    Day,
    /// One row per project (the directory the agent ran in)
    Project,
    /// One row per agent (claude-code, codex, gemini)
    Agent,
}

/// `task`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct TaskArgs {
    /// What to do.
    #[cfg_attr(feature = "clap", command(subcommand))]
    pub action: TaskAction,
}

/// `task add|done|ls`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Subcommand))]
pub enum TaskAction {
    /// Add a task to a session's list; prints its number
    Add {
        /// What to do
        text: String,
        /// The session (default: the one of the agent this runs under,
        /// else the only active one)
        #[cfg_attr(feature = "clap", arg(long, value_name = "SESSION"))]
        session: Option<String>,
    },
    /// Mark a task completed, by its number (or the start of its text)
    Done {
        /// The task's number in `task ls`, or the start of its text
        task: String,
        /// The session (default as for `add`)
        #[cfg_attr(feature = "clap", arg(long, value_name = "SESSION"))]
        session: Option<String>,
    },
    /// List a session's tasks
    Ls {
        /// The session (default as for `add`)
        #[cfg_attr(feature = "clap", arg(long, value_name = "SESSION"))]
        session: Option<String>,
        /// Whether to print JSON.
        #[cfg_attr(feature = "clap", command(flatten))]
        json: JsonArg,
    },
}

/// One thing a front end asks of the engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// `init`: the store exists (the client created it); print its path.
    Init,
    /// `start`.
    Start(StartArgs),
    /// `end`.
    End(EndArgs),
    /// `transition`.
    Transition(TransitionArgs),
    /// `ls`.
    Ls(LsArgs),
    /// `show`.
    Show(ShowArgs),
    /// `log`.
    Log(LogArgs),
    /// `verify`.
    Verify(VerifyArgs),
    /// `replay`.
    Replay(ReplayArgs),
    /// `export`.
    Export(ExportArgs),
    /// `timeline`.
    Timeline(TimelineArgs),
    /// `search`.
    Search(SearchArgs),
    /// `files`.
    Files(FilesArgs),
    /// `render`.
    Render(RenderArgs),
    /// `anchor`.
    Anchor(AnchorArgs),
    /// `doctor`.
    Doctor(DoctorArgs),
    /// `capture`.
    Capture(CaptureArgs),
    /// `import`.
    Import(ImportArgs),
    /// `note`, with the agent process the note was written under.
    Note {
        /// What to record.
        args: NoteArgs,
        /// The Claude Code process above the client, if any.
        agent_pid: Option<u32>,
    },
    /// `review`.
    Review(ReviewArgs),
    /// `memory`.
    Memory(MemoryArgs),
    /// `stats`.
    Stats(StatsArgs),
    /// `task`, with the agent process it runs under.
    Task {
        /// What to do.
        args: TaskArgs,
        /// The Claude Code process above the client, if any.
        agent_pid: Option<u32>,
    },
    /// `context`.
    Context(ContextArgs),
    /// `handoff`.
    Handoff(HandoffArgs),
    /// `resume`.
    Resume(JsonArg),
    /// `tokens`.
    Tokens(TokensArgs),
    /// A Claude Code hook payload, with the Claude Code process found above
    /// the hook (the daemon cannot see the hook's parents).
    Hook {
        /// The payload as received on stdin.
        payload: Vec<u8>,
        /// Who ran the hook, and when.
        caller: crate::claude::hook::HookCaller,
    },
    /// The status-line input as received on stdin.
    Statusline {
        /// The input.
        input: Vec<u8>,
    },
}

impl Request {
    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Start(_) => "start",
            Self::End(_) => "end",
            Self::Transition(_) => "transition",
            Self::Ls(_) => "ls",
            Self::Show(_) => "show",
            Self::Log(_) => "log",
            Self::Verify(_) => "verify",
            Self::Replay(_) => "replay",
            Self::Export(_) => "export",
            Self::Timeline(_) => "timeline",
            Self::Search(_) => "search",
            Self::Files(_) => "files",
            Self::Render(_) => "render",
            Self::Anchor(_) => "anchor",
            Self::Doctor(_) => "doctor",
            Self::Capture(_) => "capture",
            Self::Import(_) => "import",
            Self::Note { .. } => "note",
            Self::Review(_) => "review",
            Self::Memory(_) => "memory",
            Self::Stats(_) => "stats",
            Self::Task { .. } => "task",
            Self::Context(_) => "context",
            Self::Handoff(_) => "handoff",
            Self::Resume(_) => "resume",
            Self::Tokens(_) => "tokens",
            Self::Hook { .. } => "hook",
            Self::Statusline { .. } => "statusline",
        }
    }

    /// Whether the request must never fail the agent: a hook or the status
    /// line, which always exit 0 and never wait past their bound.
    pub fn is_agent_facing(&self) -> bool {
        matches!(self, Self::Hook { .. } | Self::Statusline { .. })
    }

    /// Whether a client that gives up waiting keeps the request in the
    /// spool (a hook: losing one breaks a chain), so that client and
    /// daemon must agree on who applies it.
    pub fn is_spooled(&self) -> bool {
        matches!(self, Self::Hook { .. })
    }
}
