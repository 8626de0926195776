//! The command-line grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A flight recorder for AI coding-agent sessions.
///
/// Every session action is appended to one event log; session files are
/// projections of it, rebuilt by `replay` and checked by `verify`.
#[derive(Debug, Parser)]
#[command(name = "logbook", version, propagate_version = true)]
pub struct Cli {
    /// The store directory [default: nearest .logbook/ above here, else
    /// $XDG_DATA_HOME/logbook]
    #[arg(long, global = true, env = "LOGBOOK_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Log more to stderr (-v info, -vv debug, -vvv trace); LOGBOOK_LOG
    /// takes a full filter instead
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a .logbook/ store in the current directory
    Init,
    /// Start a session and print its id
    Start(StartArgs),
    /// End a session (default: the only active one)
    End(EndArgs),
    /// End a session and start its successor, linked, atomically; print the new id
    Transition(TransitionArgs),
    /// List sessions
    Ls(LsArgs),
    /// Show one session
    Show(ShowArgs),
    /// The audit trail, oldest first
    Log(LogArgs),
    /// Check the hash chain and that every projected file equals a rebuild
    Verify(JsonArg),
    /// Rebuild the projected files from the log
    Replay(ReplayArgs),
    /// Every stored envelope as JSON lines
    Export,
    /// Capture new complete lines of a source into a session, exactly once
    Capture(CaptureArgs),
    /// Backfill Claude Code transcripts (files, project folders or ~/.claude/projects)
    Import(ImportArgs),
    /// The Claude Code hook: one payload (JSON) on stdin; never fails the agent
    Hook,
    /// Add logbook's hooks to Claude Code's settings, or remove them
    Hooks {
        /// install or uninstall
        #[command(subcommand)]
        action: HooksAction,
    },
    /// Record a note (decision, correction, plan) against the active session
    Note(NoteArgs),
    /// Print a session's context (files, commands, corrections, decisions, todos)
    Context(ContextArgs),
    /// Print a session's handoff brief (default: the latest one)
    Handoff(HandoffArgs),
    /// Print the latest handoff for this project, for agents without hooks
    Resume(JsonArg),
    /// The Claude Code status line: status-line JSON on stdin, one line out
    Statusline,
    /// Token usage per session, conversation, day or model, with estimated costs
    Tokens(TokensArgs),
    /// Show what logbook records, on a throwaway store
    Demo {
        /// Keep the demo store and print where it is
        #[arg(long)]
        keep: bool,
    },
    /// Print shell completions
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `--json`.
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// What the session is for
    #[arg(long, value_name = "NAME")]
    pub command: Option<String>,
    #[command(flatten)]
    pub json: JsonArg,
}

/// `end`.
#[derive(Debug, Args)]
pub struct EndArgs {
    /// Session id or unique prefix [default: the only active session]
    pub session: Option<String>,
    /// How it went
    #[arg(long, value_enum, default_value_t = StatusArg::Completed)]
    pub status: StatusArg,
    /// The exit code of what ran
    #[arg(long, allow_negative_numbers = true)]
    pub exit_code: Option<i32>,
    #[command(flatten)]
    pub json: JsonArg,
}

/// An end status.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    /// Finished normally
    Completed,
    /// Finished with an error
    Failed,
    /// Left behind
    Abandoned,
}

/// `transition`.
#[derive(Debug, Args)]
pub struct TransitionArgs {
    /// Session id or unique prefix [default: the only active session]
    pub session: Option<String>,
    /// Why the chain moves on
    #[arg(long, value_enum, default_value_t = ReasonArg::Manual)]
    pub reason: ReasonArg,
    #[command(flatten)]
    pub json: JsonArg,
}

/// A transition reason.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReasonArg {
    /// An explicit hand-over
    Manual,
    /// The agent's context was cleared
    Clear,
    /// The agent compacted its context
    Compaction,
}

/// `ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only sessions with this status
    #[arg(long, value_enum)]
    pub status: Option<ListStatus>,
    #[command(flatten)]
    pub json: JsonArg,
}

/// A status filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
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
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Session id or unique prefix
    pub session: String,
    #[command(flatten)]
    pub json: JsonArg,
}

/// `log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only this session (id or unique prefix)
    #[arg(long)]
    pub session: Option<String>,
    /// Only events at or after this time (RFC 3339 or YYYY-MM-DD, UTC)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    #[command(flatten)]
    pub json: JsonArg,
}

/// `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Rebuild into this directory instead of the store (the live files are
    /// not touched)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Rebuild as of this point: a sequence number or a time (needs --out)
    #[arg(long, value_name = "SEQ|TIME", requires = "out")]
    pub at: Option<String>,
}

/// `capture`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["file", "stdin", "tmux"])))]
pub struct CaptureArgs {
    /// Session id or unique prefix
    pub session: String,
    /// A file that grows (`.jsonl` is read as a Claude Code transcript)
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Standard input, to its end
    #[arg(long)]
    pub stdin: bool,
    /// A tmux pane (`%3`, `work:0.1`): its scrollback, aligned by content
    #[arg(long, value_name = "PANE")]
    pub tmux: Option<String>,
    /// Keep reading the file or pane until interrupted (Ctrl-C or SIGTERM
    /// stop it after the last complete batch)
    #[arg(long, conflicts_with = "stdin")]
    pub follow: bool,
    /// The source's name within the session
    #[arg(long, default_value = "main", value_name = "NAME")]
    pub source: String,
    #[command(flatten)]
    pub json: JsonArg,
}

/// `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Transcript files or folders
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub json: JsonArg,
}

/// `hooks install|uninstall`.
#[derive(Debug, Subcommand)]
pub enum HooksAction {
    /// Merge logbook's hooks (and a status line if none is set) into settings.json
    Install(HooksScope),
    /// Remove exactly what install added
    Uninstall(HooksScope),
}

/// Which settings file.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("scope").args(["project", "user"])))]
pub struct HooksScope {
    /// `.claude/settings.json` in the current directory (the default)
    #[arg(long)]
    pub project: bool,
    /// `~/.claude/settings.json`
    #[arg(long)]
    pub user: bool,
}

/// `note`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["decision", "correction", "plan"])))]
pub struct NoteArgs {
    /// Something decided
    #[arg(long, value_name = "TEXT")]
    pub decision: Option<String>,
    /// A correction the agent must not forget
    #[arg(long, value_name = "TEXT")]
    pub correction: Option<String>,
    /// A plan
    #[arg(long, value_name = "TEXT")]
    pub plan: Option<String>,
    /// The session (default: the one of the Claude Code process this runs
    /// under, else the only active one)
    #[arg(long, value_name = "SESSION")]
    pub session: Option<String>,
}

/// `context`.
#[derive(Debug, Args)]
pub struct ContextArgs {
    /// Session id or unique prefix
    pub session: String,
    #[command(flatten)]
    pub json: JsonArg,
}

/// `handoff`.
#[derive(Debug, Args)]
pub struct HandoffArgs {
    /// Session id or unique prefix (default: the latest handoff)
    pub session: Option<String>,
    #[command(flatten)]
    pub json: JsonArg,
}

/// `tokens`.
#[derive(Debug, Args)]
pub struct TokensArgs {
    /// One session (id or unique prefix); default: all
    pub session: Option<String>,
    /// Group rows by
    #[arg(long, value_enum, default_value = "session")]
    pub by: TokensBy,
    /// Only usage from this time or date on
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    #[command(flatten)]
    pub json: JsonArg,
}

/// How `tokens` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokensBy {
    /// One row per logbook session
    Session,
    /// One row per agent conversation (its compaction segments together)
    AgentSession,
    /// One row per day
    Day,
    /// One row per model
    Model,
}
