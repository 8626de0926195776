//! Operations: one module per command family, all reached through
//! [`execute`], which a front end calls in its own process and the daemon
//! calls for its clients. An operation renders its own output on the
//! [`Console`] it is given, so both paths print the same bytes.

pub mod capture;
pub mod context;
pub mod demo;
pub mod doctor;
pub mod end;
pub mod export;
pub mod forensics;
pub mod handoff;
pub mod import;
pub mod log;
pub mod ls;
pub mod note;
pub mod replay;
pub mod resume;
pub mod review;
pub mod show;
pub mod start;
pub mod tokens;
pub mod transition;
pub mod verify;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::claude::hook::HookCaller;
use crate::claude::hook::HookOutcome;
use crate::console::Console;
use crate::error::EngineError;
use crate::request::Request;
use crate::spool::{self, Spooled};
use crate::workspace::Workspace;

/// How an operation reaches the store.
pub enum Store {
    /// Held open for the life of the process (the daemon).
    Shared(Arc<Workspace>),
    /// Opened for each unit of work and closed after it (a process without
    /// the daemon), so a long `capture --follow` never holds the store
    /// between passes.
    PerUse(PathBuf),
}

impl Store {
    /// The store directory.
    pub fn root(&self) -> &Path {
        match self {
            Self::Shared(ws) => ws.root(),
            Self::PerUse(root) => root,
        }
    }

    /// The open workspace.
    pub async fn open(&self) -> Result<Arc<Workspace>, EngineError> {
        match self {
            Self::Shared(ws) => {
                ws.reload_config()?;
                Ok(ws.clone())
            }
            Self::PerUse(root) => Ok(Arc::new(Workspace::open(root).await?)),
        }
    }

    /// The workspace, waiting for another process at most `wait`.
    async fn open_within(&self, wait: Duration) -> Result<Arc<Workspace>, EngineError> {
        match self {
            Self::Shared(ws) => {
                ws.reload_config()?;
                Ok(ws.clone())
            }
            Self::PerUse(root) => Ok(Arc::new(Workspace::open_waiting(root, Some(wait)).await?)),
        }
    }
}

/// What a request left besides its output.
#[derive(Debug, Default)]
pub struct Executed {
    /// The exit code: 0 success, 1 a failed check.
    pub code: u8,
    /// For a hook: what it did (the daemon watches the session it names).
    pub hook: Option<HookOutcome>,
    /// Spooled hooks applied before it, oldest first, and what they did.
    pub spooled: Vec<HookOutcome>,
}

impl Executed {
    fn code(code: u8) -> Self {
        Self {
            code,
            hook: None,
            spooled: Vec::new(),
        }
    }
}

/// Runs one request. Hooks and the status line never fail: their problems
/// are logged to `<store>/logbook.log` and they print what they can.
pub async fn execute(
    store: &Store,
    request: Request,
    console: &mut Console,
) -> Result<Executed, EngineError> {
    match request {
        Request::Hook { payload, caller } => Ok(hook(store, payload, caller, console).await),
        Request::Statusline { input } => {
            let from_input = || {
                let value = serde_json::from_slice(&input).unwrap_or_default();
                crate::claude::statusline::line(&value)
            };
            let busy = matches!(store, Store::PerUse(_)) && spool::Busy::held(store.root());
            let line = if busy {
                // A long job has the store: say what the input says, now.
                from_input()
            } else {
                match store.open_within(hook_wait(store.root(), None)).await {
                    Ok(ws) => crate::claude::statusline::statusline(&ws, &input).await,
                    Err(e) => {
                        crate::claude::hook::log_failure(store.root(), "statusline", &e);
                        from_input()
                    }
                }
            };
            let _ = writeln!(console.out, "{line}");
            Ok(Executed::code(0))
        }
        Request::Capture(args) => capture::capture(store, args, console)
            .await
            .map(Executed::code),
        // The doctor opens the store itself: not opening is a finding.
        Request::Doctor(args) => doctor::doctor(store, args, console)
            .await
            .map(Executed::code),
        request => {
            let ws = store.open().await?;
            // Hooks that only report spool themselves: what is read next
            // includes them.
            let spooled = match store {
                // Nothing can be applied to a store that cannot be written.
                _ if ws.is_read_only() => Vec::new(),
                Store::PerUse(_) => spool::ingest(&ws).await,
                Store::Shared(_) if !spool::pending(ws.root()).is_empty() => {
                    spool::ingest(&ws).await
                }
                Store::Shared(_) => Vec::new(),
            };
            let _busy = (matches!(store, Store::PerUse(_)) && is_long(&request))
                .then(|| spool::Busy::mark(ws.root()));
            let code = run(&ws, request, console).await?;
            Ok(Executed {
                spooled,
                ..Executed::code(code)
            })
        }
    }
}

/// Runs a view into a buffer, then prints it through [`shown`].
macro_rules! view {
    ($console:expr, $buf:ident => $run:expr) => {{
        let mut $buf = Vec::new();
        let code = $run;
        shown(code, &$buf, $console)
    }};
}

async fn run(ws: &Workspace, request: Request, console: &mut Console) -> crate::Result<u8> {
    let color = console.env.color;
    let terminal = console.env.stdout_terminal;
    match request {
        Request::Init => {
            writeln!(console.out, "{}", ws.root().display())?;
            Ok(0)
        }
        Request::Start(args) => {
            let _lane = ws.lane().await;
            start::start(ws, args, &mut *console.out).await
        }
        Request::End(args) => {
            let _lane = ws.lane().await;
            end::end(ws, args, console).await
        }
        Request::Transition(args) => {
            let _lane = ws.lane().await;
            transition::transition(ws, args, &mut *console.out).await
        }
        Request::Ls(args) => ls::ls(ws, args, &mut *console.out, color).await,
        Request::Show(args) => view!(console, buf => show::show(ws, args, &mut buf).await),
        Request::Log(args) => log::log(ws, args, &mut *console.out).await,
        Request::Verify(args) => verify::verify(ws, args, console).await,
        Request::Replay(args) => replay::replay(ws, args, console).await,
        Request::Export(args) => export::export(ws, args.redact, &mut *console.out),
        Request::Timeline(args) => forensics::timeline(ws, args, &mut *console.out).await,
        Request::Render(args) => forensics::render(ws, args, console).await,
        Request::Search(args) => forensics::search(ws, args, console).await,
        Request::Files(args) => forensics::files(ws, args, console).await,
        Request::Anchor(args) => forensics::anchor(ws, args, console).await,
        Request::Import(args) => import::import(ws, args, console).await,
        Request::Note { args, agent_pid } => {
            let _lane = ws.lane().await;
            note::note(ws, args, agent_pid, &mut *console.out).await
        }
        Request::Review(args) => view!(console, buf => review::review(ws, args, &mut buf).await),
        Request::Memory(args) => {
            view!(console, buf => review::memory(ws, args, &console.env, &mut buf))
        }
        Request::Stats(args) => view!(console, buf => review::stats(ws, args, &mut buf).await),
        Request::Task { args, agent_pid } => {
            review::task(ws, args, agent_pid, &mut *console.out).await
        }
        Request::Context(args) => view!(console, buf => context::context(ws, args, &mut buf).await),
        Request::Handoff(args) => view!(console, buf => handoff::handoff(ws, args, &mut buf).await),
        Request::Resume(args) => {
            let cwd = console.env.cwd.clone();
            view!(console, buf => resume::resume(ws, args, &cwd, &mut buf).await)
        }
        Request::Tokens(args) => tokens::tokens(ws, args, &mut *console.out, terminal).await,
        // Served by `execute` before a workspace is needed.
        Request::Hook { .. }
        | Request::Statusline { .. }
        | Request::Capture(_)
        | Request::Doctor(_) => Ok(0),
    }
}

/// Where an operation writes its data.
pub(crate) type Out<'a> = dyn std::io::Write + Send + 'a;

/// Writes what a view printed, with what came from transcripts made safe
/// for a terminal ([`logbook_forensics::printable`]): these views are
/// small, so they are printed whole once they are done.
fn shown(code: crate::Result<u8>, printed: &[u8], console: &mut Console) -> crate::Result<u8> {
    let text = String::from_utf8_lossy(printed);
    console
        .out
        .write_all(logbook_forensics::printable(&text).as_bytes())?;
    code
}

/// A view as it is shown: its `--command` is whatever the user or script
/// typed, and a token pasted there is masked like any other.
fn shown_view(
    mut view: logbook_core::sessions::SessionView,
    redact: bool,
) -> logbook_core::sessions::SessionView {
    if let Some(command) = &mut view.command
        && let std::borrow::Cow::Owned(masked) = logbook_redact::maybe(command, redact)
    {
        *command = masked;
    }
    view
}

/// `session.json` as `--json` prints it.
fn print_view(out: &mut Out<'_>, view: &logbook_core::sessions::SessionView) -> crate::Result<()> {
    out.write_all(&view.to_json()?)?;
    Ok(())
}

/// A projected JSON file, parsed, with its bytes (printed as they are by
/// `--json`).
fn read_json<T: serde::de::DeserializeOwned>(
    ws: &Workspace,
    path: &str,
) -> crate::Result<Option<(T, Vec<u8>)>> {
    Ok(match ws.read_file(path)? {
        Some(bytes) => Some((serde_json::from_slice(&bytes)?, bytes)),
        None => None,
    })
}

/// The `s` of a count's noun: "1 file", "2 files".
fn plural<N: PartialEq + From<u8>>(n: N) -> &'static str {
    if n == N::from(1) { "" } else { "s" }
}

/// Jobs that hold a store opened in their own process for long: a hook
/// that finds one running spools at once instead of waiting its bound.
fn is_long(request: &Request) -> bool {
    matches!(
        request,
        Request::Import(_)
            | Request::Verify(_)
            | Request::Replay(_)
            | Request::Export(_)
            | Request::Search(_)
            | Request::Files(_)
    )
}

/// The bound a hook (or, without a payload, the status line) waits for
/// the store, from the store's config.
pub fn hook_wait(root: &Path, payload: Option<&[u8]>) -> Duration {
    let config = Workspace::open_config(root).unwrap_or_default();
    let ms = match payload {
        Some(p) if crate::claude::hook::is_session_start(p) => {
            config.session_start_wait_ms.max(config.hook_wait_ms)
        }
        _ => config.hook_wait_ms,
    };
    Duration::from_millis(ms)
}

/// A hook: applied now when the store can be had within the bound, else
/// spooled. Always "succeeds".
async fn hook(
    store: &Store,
    payload: Vec<u8>,
    caller: HookCaller,
    console: &mut Console,
) -> Executed {
    let root = store.root().to_owned();
    if matches!(store, Store::PerUse(_)) && spool::Busy::held(&root) {
        // A long job has the store: waiting would only end in the spool.
        spool_hook(&root, &payload, caller);
        return Executed::code(0);
    }
    let ws = match store.open_within(hook_wait(&root, Some(&payload))).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::info!("store unavailable, spooling the hook: {e}");
            spool_hook(&root, &payload, caller);
            return Executed::code(0);
        }
    };
    // Older payloads first: the spool keeps the hooks' order.
    let spooled = spool::ingest(&ws).await;
    match crate::claude::hook::handle(&ws, &payload, caller).await {
        Ok(outcome) => {
            if let Some(text) = &outcome.print {
                // A closed stdout is Claude Code's business, not a failure.
                let _ = console
                    .out
                    .write_all(text.as_bytes())
                    .and_then(|()| console.out.flush());
            }
            Executed {
                hook: Some(outcome),
                spooled,
                ..Executed::code(0)
            }
        }
        Err(e) => {
            crate::claude::hook::log_failure(&root, "hook", &e);
            if e.is_out_of_space() {
                // Kept until there is room: the spool is applied, in order,
                // by whoever next writes to the store.
                spool_hook(&root, &payload, caller);
            }
            Executed {
                spooled,
                ..Executed::code(0)
            }
        }
    }
}

/// Writes a hook to the spool; a failure is logged, and the hook is lost
/// only if the store's own disk cannot take a small file.
pub fn spool_hook(root: &Path, payload: &[u8], caller: HookCaller) {
    spool_hook_as(root, &uuid::Uuid::now_v7().to_string(), payload, caller);
}

/// [`spool_hook`] under a request id already claimed.
pub fn spool_hook_as(root: &Path, id: &str, payload: &[u8], caller: HookCaller) {
    let item = Spooled {
        id: id.to_owned(),
        kind: "hook".into(),
        agent_pid: caller.agent_pid,
        received_at: caller.received_at,
        agent: caller.agent,
        payload: String::from_utf8_lossy(payload).into_owned(),
    };
    if let Err(e) = spool::write(root, &item) {
        crate::claude::hook::log_failure(root, "spooling a hook", &EngineError::from(e));
    }
}
