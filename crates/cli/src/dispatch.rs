//! Where a request runs: through the store's daemon (started on demand),
//! or in this process when `LOGBOOK_DAEMON=off` or `daemon = false`.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context as _;
use logbook_daemon::client::{self, Call, ClientError, Served, Start};
use logbook_engine::console::{ClientEnv, Console};
use logbook_engine::ops::{Store, execute};
use logbook_engine::request::Request;
use logbook_engine::{EngineError, Workspace};

/// Runs a command's request and returns its exit code.
pub fn run(root: &Path, request: Request) -> ExitCode {
    let config = match Workspace::open_config(root) {
        Ok(config) => config,
        Err(e) => return fail(&EngineError::from(e)),
    };
    tracing::debug!(store = %root.display(), request = request.name(), "opening store");
    let stop = Arc::new(AtomicBool::new(false));
    if matches!(&request, Request::Capture(args) if args.follow) {
        // A signal only raises the flag: the pass under way finishes its
        // batch, then the capture ends and prints its summary.
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let _ = signal_hook::flag::register(signal, stop.clone());
        }
    }
    // A daemon needs its socket and pid file in the store: a store this
    // process cannot write is read here.
    if !config.daemon_enabled() || logbook_engine::workspace::read_only_reason(root).is_some() {
        return in_process(root, request, stop);
    }
    let env = match ClientEnv::current() {
        Ok(env) => env,
        Err(e) => return fail(&EngineError::from(e)),
    };
    let stdin_wanted = matches!(&request, Request::Capture(args) if args.stdin);
    let mut connection = client::connect(
        root,
        Start::IfNeeded,
        client::HELLO_WAIT.max(config.lock_wait()),
    );
    if let Err(ClientError::Unresponsive { .. }) = connection {
        // No command hangs on a daemon that stopped answering: replace it.
        if let Some(pid) = client::daemon_pid(root) {
            client::terminate(pid, Duration::from_millis(200));
        }
        connection = client::connect(root, Start::IfNeeded, config.lock_wait());
    }
    let connection = match connection {
        Ok(c) => c,
        // Whatever stopped the daemon stops the request too, and running
        // it here says what that is.
        Err(ClientError::Exited(_)) => return in_process(root, request, stop),
        Err(e) => {
            eprintln!("logbook: error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    let call = Call {
        out: &mut out,
        err: &mut err,
        stdin: stdin_wanted.then(|| Box::new(std::io::stdin()) as Box<dyn std::io::Read + Send>),
        stop,
        accept_within: None,
    };
    let served = connection.run(root, env, request, call);
    let _ = out.flush();
    match served {
        Ok(Served::Exit(code)) => ExitCode::from(code),
        Ok(Served::Failed(message, code)) => {
            eprintln!("logbook: error: {message}");
            ExitCode::from(code)
        }
        Ok(Served::NotAccepted(_)) => ExitCode::SUCCESS,
        Err(ClientError::Frame(logbook_daemon::protocol::FrameError::Io(e)))
            if e.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("logbook: error: {e}");
            ExitCode::from(1)
        }
    }
}

/// A hook or the status line: served by the daemon within the bound, else
/// spooled (a hook) or answered from the input alone (the status line).
/// Always exits 0.
pub fn agent_facing(root: &Path, request: Request) -> ExitCode {
    let config = Workspace::open_config(root).unwrap_or_default();
    let stop = Arc::new(AtomicBool::new(false));
    if !config.daemon_enabled() || logbook_engine::workspace::read_only_reason(root).is_some() {
        let _ = in_process(root, request, stop);
        return ExitCode::SUCCESS;
    }
    let bound = Duration::from_millis(match &request {
        Request::Hook { payload, .. }
            if logbook_engine::claude::hook::is_session_start(payload) =>
        {
            config.session_start_wait_ms.max(config.hook_wait_ms)
        }
        _ => config.hook_wait_ms,
    });
    let started = std::time::Instant::now();
    let env = ClientEnv::current().unwrap_or_else(|_| ClientEnv {
        cwd: root.to_owned(),
        stdout_terminal: false,
        stderr_terminal: false,
        color: false,
        progress_always: false,
        vars: Vec::new(),
    });
    let connected = client::connect(root, Start::IfNeeded, bound);
    if let Err(ClientError::Exited(_)) = connected {
        // The daemon cannot run here; the store may still be usable in
        // process (bounded, spooling otherwise).
        let _ = in_process(root, request, stop);
        return ExitCode::SUCCESS;
    }
    let served = connected.and_then(|connection| {
        let mut out = std::io::stdout().lock();
        let mut err = std::io::sink();
        let call = Call {
            out: &mut out,
            err: &mut err,
            stdin: None,
            stop,
            accept_within: Some(bound.saturating_sub(started.elapsed())),
        };
        let served = connection.run(root, env, request.clone(), call);
        let _ = out.flush();
        served
    });
    match (served, request) {
        (Ok(Served::Exit(_) | Served::Failed(..)), _) => {}
        (Ok(Served::NotAccepted(id)), Request::Hook { payload, caller }) => {
            logbook_engine::ops::spool_hook_as(root, &id, &payload, caller);
            replace_in_background(root);
        }
        (Err(e), Request::Hook { payload, caller }) => {
            tracing::info!("spooling the hook: {e}");
            logbook_engine::ops::spool_hook(root, &payload, caller);
            replace_in_background(root);
        }
        (Err(_) | Ok(Served::NotAccepted(_)), Request::Statusline { input }) => {
            let value = serde_json::from_slice(&input).unwrap_or_default();
            println!("{}", logbook_engine::claude::statusline::line(&value));
        }
        _ => {}
    }
    ExitCode::SUCCESS
}

/// Starts `logbook daemon start` detached, which replaces a daemon that
/// stopped answering; the hook itself never waits for that.
fn replace_in_background(root: &Path) {
    if let Ok(exe) = std::env::current_exe() {
        let _ = std::process::Command::new(exe)
            .arg("--dir")
            .arg(root)
            .args(["daemon", "start"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
}

/// Runs a request in this process.
pub fn in_process(root: &Path, request: Request, stop: Arc<AtomicBool>) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut console = match Console::process() {
        Ok(console) => console,
        Err(e) => return fail(&EngineError::from(e)),
    };
    console.stop = stop;
    let store = Store::PerUse(root.to_owned());
    let result = runtime.block_on(execute(&store, request, &mut console));
    let _ = console.out.flush();
    match result {
        Ok(executed) => ExitCode::from(executed.code),
        Err(e) => fail(&e),
    }
}

/// A runtime for work done in this process.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| {
            eprintln!("logbook: error: cannot start the runtime: {e}");
            ExitCode::from(1)
        })
}

fn fail(e: &EngineError) -> ExitCode {
    if e.is_broken_pipe() {
        return ExitCode::SUCCESS;
    }
    eprintln!("logbook: error: {}", e.one_line());
    ExitCode::from(e.exit_code())
}

/// Creates a project store: the directory (0700) and a `.gitignore` that
/// keeps it out of git.
pub fn init(root: &Path) -> anyhow::Result<()> {
    let existed = root.is_dir();
    logbook_engine::files::create_private_dir(root)
        .with_context(|| format!("cannot create {}", root.display()))?;
    let ignore = root.join(".gitignore");
    if !ignore.exists() {
        // Transcripts hold secrets: keep the whole store out of git.
        std::fs::write(
            &ignore,
            "# logbook store: transcripts may hold secrets\n*\n",
        )
        .with_context(|| format!("cannot write {}", ignore.display()))?;
    }
    if existed {
        eprintln!("logbook: {} was already a store", root.display());
    }
    Ok(())
}

/// `logbook demo`: always in this process, on a throwaway store.
pub fn demo(keep: bool) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let env = match ClientEnv::current() {
        Ok(env) => env,
        Err(e) => return fail(&EngineError::from(e)),
    };
    let mut out = std::io::stdout();
    match runtime.block_on(logbook_engine::ops::demo::demo(keep, &env, &mut out)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(&e),
    }
}
