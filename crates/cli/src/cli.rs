//! The command-line grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use logbook_engine::request::{
    AnchorArgs, CaptureArgs, ContextArgs, DoctorArgs, EndArgs, ExportArgs, FilesArgs, HandoffArgs,
    ImportArgs, JsonArg, LogArgs, LsArgs, MemoryArgs, NoteArgs, RenderArgs, ReplayArgs, ReviewArgs,
    SearchArgs, ShowArgs, StartArgs, StatsArgs, TaskArgs, TimelineArgs, TokensArgs, TransitionArgs,
    VerifyArgs,
};

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
    /// Check the hash chain, that every projected file equals a rebuild, and (--anchor) that the log still holds an anchor
    Verify(VerifyArgs),
    /// Rebuild the projected files from the log
    Replay(ReplayArgs),
    /// Every stored envelope as JSON lines (--redact masks secrets)
    Export(ExportArgs),
    /// Every action of a session in order: prompts, tool calls with their outcome, edits, subagents, compactions, alerts
    Timeline(TimelineArgs),
    /// Full-text search over prompts, answers, tool calls and results of every session
    Search(SearchArgs),
    /// Every session and moment that read or changed a file
    Files(FilesArgs),
    /// A session as readable Markdown or one self-contained HTML page
    Render(RenderArgs),
    /// Sign the log's head with your key (kept outside the store); check it later with verify --anchor
    Anchor(AnchorArgs),
    /// Diagnose the store in plain words (lock, leftovers, space, chain, projections, permissions); --repair fixes it
    Doctor(DoctorArgs),
    /// Capture new complete lines of a source into a session, exactly once
    Capture(CaptureArgs),
    /// Backfill Claude Code transcripts (files, project folders or ~/.claude/projects)
    Import(ImportArgs),
    /// The Claude Code hook: one payload (JSON) on stdin; never fails the agent
    Hook {
        /// The agent running it: claude-code (the default) or codex
        #[arg(long, value_name = "NAME")]
        agent: Option<String>,
    },
    /// Add logbook's hooks to Claude Code's settings, or remove them
    Hooks {
        /// install or uninstall
        #[command(subcommand)]
        action: HooksAction,
    },
    /// Record a note (decision, correction, plan, project memory) against the active session
    Note(NoteArgs),
    /// Add, complete or list a session's tasks (for agents without task tools)
    Task(TaskArgs),
    /// What a session achieved: requests, tasks, tests, files, time, tokens, corrections, blockers
    Review(ReviewArgs),
    /// What a project's sessions decided and corrected, the errors met and the files most touched
    Memory(MemoryArgs),
    /// Sessions, active time, tasks, tests, tokens and corrections by day, project or agent
    Stats(StatsArgs),
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
    /// The store's daemon: run it, or see and stop its watchers
    Daemon {
        /// What to do.
        #[command(subcommand)]
        action: DaemonAction,
    },
    /// Print shell completions
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
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
    /// `.claude/settings.json` in the current directory (the default);
    /// for Codex `.codex/hooks.json`
    #[arg(long)]
    pub project: bool,
    /// `~/.claude/settings.json` (`$CLAUDE_CONFIG_DIR/settings.json` when
    /// set); for Codex `${CODEX_HOME:-~/.codex}/hooks.json`
    #[arg(long)]
    pub user: bool,
    /// The agent: claude-code (the default) or codex
    #[arg(long, value_name = "NAME", default_value = "claude-code")]
    pub agent: String,
}

/// `daemon …`.
#[derive(Debug, Subcommand)]
pub enum DaemonAction {
    /// Run the daemon in the foreground (clients start it on their own)
    Run,
    /// Make sure a daemon answers, replacing one that does not
    Start,
    /// Each session watcher: session, files, lines captured, last write, pid
    Status(JsonArg),
    /// Stop one session's watcher, or (with no session) the daemon
    Stop {
        /// Session id, unique prefix or Claude Code session id
        session: Option<String>,
    },
}
