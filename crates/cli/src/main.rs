//! logbook-cli: the `logbook` binary.
//!
//! It owns the command-line grammar, where each request is run (through the
//! store's daemon, or in this process with `LOGBOOK_DAEMON=off`), and exit
//! codes: 0 success, 1 a failed check or operation, 2 bad usage. Everything
//! done to a store is `logbook-engine`'s; the daemon and its wire are
//! `logbook-daemon`'s.

mod cli;
mod daemon;
mod dispatch;
mod settings;

use std::io::Read as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use logbook_engine::request::Request;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};

// An import folds, indexes and feeds tantivy's thread at once, so text is
// allocated on one thread and freed on another. glibc keeps what is freed
// that way in the arena it came from: a 274 MB import peaked at 108–138 MB
// with it and at 90–96 MB with jemalloc. jemalloc runs with one arena
// (`.cargo/config.toml`): a catch-up folds each batch on new threads, and
// with its default of four arenas per core each kept its own freed pages,
// which took a 1 GB `verify` to 199 MB where one arena holds it at 133 MB
// (live data about 60 MB), at no measured cost in speed.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are "errors" that go to stdout with 0.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("logbook: {}", one_line_usage_error(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    // Transcripts hold secrets: everything created from here on is private.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    init_tracing(cli.verbose);
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            eprintln!("logbook: error: cannot read the current directory: {e}");
            return ExitCode::from(1);
        }
    };
    let explicit = cli.dir.as_deref();
    let store = || match logbook_engine::discover_store(explicit, &cwd) {
        Ok(root) => Ok(root),
        Err(e) => {
            eprintln!("logbook: error: {e}");
            Err(ExitCode::from(2))
        }
    };
    let request = match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "logbook",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Command::Hooks { action } => {
            return report(settings::hooks(action, &cwd, &mut std::io::stdout()));
        }
        Command::Daemon { action } => {
            return match store() {
                Ok(root) => daemon::daemon(action, &root),
                Err(code) => code,
            };
        }
        Command::Demo { keep } => return dispatch::demo(keep),
        Command::Hook { agent } => {
            // Stamped first: for a hook run in the background this is the
            // time of what it reports.
            let mut caller = logbook_engine::claude::hook::HookCaller::now(None);
            // A hook never fails its agent, not even for a bad flag.
            caller.agent = agent.as_deref().and_then(logbook_agents::Agent::from_name);
            if agent.is_some() && caller.agent.is_none() {
                return ExitCode::SUCCESS;
            }
            let payload = read_stdin(logbook_engine::claude::hook::MAX_PAYLOAD);
            // With no store to record into there is nowhere to say so
            // either; a hook never fails the agent.
            let Ok(root) =
                logbook_engine::claude::hook::store_for_payload(explicit, &cwd, &payload)
            else {
                return ExitCode::SUCCESS;
            };
            if caller.agent.is_none() {
                caller.agent_pid = logbook_engine::claude::hook::agent_pid();
            }
            if logbook_engine::claude::hook::is_observation(&payload) {
                logbook_engine::ops::spool_hook(&root, &payload, caller);
                return ExitCode::SUCCESS;
            }
            return dispatch::agent_facing(&root, Request::Hook { payload, caller });
        }
        Command::Statusline => {
            let input = read_stdin(1 << 20);
            let Ok(root) =
                logbook_engine::claude::statusline::store_for_input(explicit, &cwd, &input)
            else {
                let value = serde_json::from_slice(&input).unwrap_or_default();
                println!("{}", logbook_engine::claude::statusline::line(&value));
                return ExitCode::SUCCESS;
            };
            return dispatch::agent_facing(&root, Request::Statusline { input });
        }
        Command::Init => {
            let root = explicit.map_or_else(|| cwd.join(".logbook"), |d| cwd.join(d));
            return match dispatch::init(&root) {
                Ok(()) => dispatch::run(&root, Request::Init),
                Err(e) => report(Err(e)),
            };
        }
        Command::Start(args) => Request::Start(args),
        Command::End(args) => Request::End(args),
        Command::Transition(args) => Request::Transition(args),
        Command::Ls(args) => Request::Ls(args),
        Command::Show(args) => Request::Show(args),
        Command::Log(args) => Request::Log(args),
        Command::Verify(args) => Request::Verify(args),
        Command::Replay(args) => Request::Replay(args),
        Command::Export(args) => Request::Export(args),
        Command::Timeline(args) => Request::Timeline(args),
        Command::Search(args) => Request::Search(args),
        Command::Files(args) => Request::Files(args),
        Command::Render(args) => Request::Render(args),
        Command::Anchor(args) => Request::Anchor(args),
        Command::Doctor(args) if args.repair => {
            // A repair replaces the log under the daemon's feet: the daemon
            // goes first, and the repair runs here, holding the store.
            return match store() {
                Ok(root) => {
                    daemon::stop(&root);
                    dispatch::in_process(&root, Request::Doctor(args), Default::default())
                }
                Err(code) => code,
            };
        }
        Command::Doctor(args) => Request::Doctor(args),
        Command::Capture(args) => Request::Capture(args),
        Command::Import(args) => Request::Import(args),
        Command::Note(args) => Request::Note {
            args,
            agent_pid: logbook_engine::claude::hook::agent_pid(),
        },
        Command::Task(args) => Request::Task {
            args,
            agent_pid: logbook_engine::claude::hook::agent_pid(),
        },
        Command::Review(args) => Request::Review(args),
        Command::Memory(args) => Request::Memory(args),
        Command::Stats(args) => Request::Stats(args),
        Command::Context(args) => Request::Context(args),
        Command::Handoff(args) => Request::Handoff(args),
        Command::Resume(args) => Request::Resume(args),
        Command::Tokens(args) => Request::Tokens(args),
    };
    match store() {
        Ok(root) => dispatch::run(&root, request),
        Err(code) => code,
    }
}

/// Reads at most `limit` bytes of stdin; what cannot be read is empty.
fn read_stdin(limit: u64) -> Vec<u8> {
    let mut raw = Vec::new();
    let _ = std::io::stdin().take(limit).read_to_end(&mut raw);
    raw
}

/// Prints a failure as one line and picks the exit code.
fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            let broken_pipe = err.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("logbook: error: {}", format!("{err:#}").replace('\n', " "));
            let usage = err
                .chain()
                .any(|cause| cause.downcast_ref::<logbook_engine::UsageError>().is_some());
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// clap renders usage errors over several lines with a usage block; scripts
/// and people reading logs want the message on one line.
fn one_line_usage_error(rendered: &str) -> String {
    let message = rendered
        .split("\n\nUsage:")
        .next()
        .unwrap_or(rendered)
        .replace("For more information, try '--help'.", "");
    let mut line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    line.push_str(" (see --help)");
    line
}

fn init_tracing(verbose: u8) {
    let filter = EnvFilter::try_from_env("LOGBOOK_LOG").unwrap_or_else(|_| {
        EnvFilter::new(match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
