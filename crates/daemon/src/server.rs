//! The daemon process: owns the store while it runs and serves every
//! client over `<store>/daemon.sock`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logbook_core::SessionId;
use logbook_core::sessions::SessionStatus;
use logbook_engine::Workspace;
use logbook_engine::claude::hook::Conversation;
use logbook_engine::console::{Console, SharedWriter};
use logbook_engine::ops::{Store, execute};
use tokio::io::AsyncWriteExt as _;
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use crate::protocol::{
    self, ClientFrame, Control, DaemonStatus, Hello, PROTOCOL, ServerFrame, build_id,
};
use crate::watch::{Mode, Watchers};

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The store could not be opened.
    #[error(transparent)]
    Engine(#[from] logbook_engine::EngineError),
    /// The socket, lock or runtime failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DaemonError {
    let context = context.into();
    move |source| DaemonError::Io { context, source }
}

struct Daemon {
    root: PathBuf,
    ws: Arc<Workspace>,
    watchers: Arc<Watchers>,
    started: Instant,
    requests: AtomicU64,
    spooled: AtomicU64,
    last_request: Mutex<Instant>,
    connections: AtomicU64,
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// Runs the daemon of the store at `root` until it is idle, told to stop,
/// or its store disappears. Returns at once if another daemon holds the
/// store.
pub fn run(root: &Path) -> Result<(), DaemonError> {
    // Its own session: closing the terminal that started a client must not
    // take the daemon with it.
    let _ = rustix::process::setsid();
    logbook_engine::files::create_private_dir(root).map_err(io("creating the store"))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(protocol::lock_path(root))
        .map_err(io("opening the daemon lock"))?;
    if lock.try_lock().is_err() {
        tracing::info!("another daemon runs for {}", root.display());
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io("starting the runtime"))?;
    let result = runtime.block_on(serve(root));
    // A request still running (a client that went away mid-import) must
    // not keep a stopped daemon alive: give it a moment, then leave.
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(lock);
    result
}

async fn serve(root: &Path) -> Result<(), DaemonError> {
    let ws = Arc::new(
        Workspace::open(root)
            .await
            .map_err(logbook_engine::EngineError::from)?,
    );
    let root = ws.root().to_owned();
    let sock = protocol::socket_path(&root);
    // Only the lock holder gets here, so a socket file left is stale.
    let _ = std::fs::remove_file(&sock);
    let listener =
        tokio::net::UnixListener::bind(&sock).map_err(io(format!("binding {}", sock.display())))?;
    std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(io("setting the socket's mode"))?;
    std::fs::write(protocol::pid_path(&root), std::process::id().to_string())
        .map_err(io("writing the pid file"))?;
    let (shutdown, mut stopping) = tokio::sync::watch::channel(false);
    let daemon = Arc::new(Daemon {
        root: root.clone(),
        ws,
        watchers: Arc::new(Watchers::default()),
        started: Instant::now(),
        requests: AtomicU64::new(0),
        spooled: AtomicU64::new(0),
        last_request: Mutex::new(Instant::now()),
        connections: AtomicU64::new(0),
        shutdown,
    });
    tracing::info!(pid = std::process::id(), store = %root.display(), "daemon up");
    tokio::spawn(adopt_active(daemon.clone()));
    tokio::spawn(housekeeping(daemon.clone()));
    tokio::spawn(sweep(daemon.clone()));
    tokio::spawn(signals(daemon.clone()));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let daemon = daemon.clone();
                    tokio::spawn(async move {
                        daemon.connections.fetch_add(1, Ordering::Relaxed);
                        if let Err(e) = connection(&daemon, stream).await {
                            tracing::debug!("connection ended: {e}");
                        }
                        daemon.connections.fetch_sub(1, Ordering::Relaxed);
                    });
                }
            }
            _ = stopping.changed() => break,
        }
    }
    daemon.watchers.stop_all();
    // Leave no socket behind for a client to find dead; the next daemon
    // would remove it anyway.
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_file(protocol::pid_path(&root));
    let _ = daemon.ws.flush();
    tracing::info!("daemon down");
    Ok(())
}

async fn signals(daemon: Arc<Daemon>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    let _ = daemon.shutdown.send(true);
}

/// Sessions that ended this recently are drained by a new daemon: the one
/// it replaces may have been killed while their late lines were written.
const RECENTLY_ENDED: Duration = Duration::from_secs(600);

/// Watches every conversation that is active when the daemon starts (it
/// may replace one that was killed), and drains those that ended lately.
async fn adopt_active(daemon: Arc<Daemon>) {
    let ws = daemon.ws.clone();
    let found = blocking(move |rt| {
        rt.block_on(async {
            let recent = logbook_core::Timestamp::from_jiff(
                jiff::Timestamp::now()
                    - jiff::SignedDuration::try_from(RECENTLY_ENDED).unwrap_or_default(),
            );
            let mut found = Vec::new();
            // Newest first: the live and lately ended sessions are at the top.
            for id in logbook_core::EventLog::sessions(ws.log())
                .await?
                .into_iter()
                .rev()
            {
                let view = ws.quick_view(id).await?;
                let Some(conversation) = conversation_of(&view) else {
                    continue;
                };
                // Only conversations a hook saw have an agent process to
                // follow; imported ones are the sweep's, not a watcher's.
                if conversation.pid.is_none() {
                    continue;
                }
                if view.status == SessionStatus::Active {
                    found.push((id, conversation, Mode::Live));
                } else if view.ended_at.is_some_and(|t| t >= recent) {
                    found.push((id, conversation, Mode::Draining));
                }
            }
            Ok::<_, logbook_engine::EngineError>(found)
        })
    })
    .await;
    if let Some(Ok(found)) = found {
        let mut seen = std::collections::HashSet::new();
        for (session, conversation, mode) in found {
            // A conversation's newest session decides how it is watched.
            if seen.insert(conversation.agent_session.clone()) {
                daemon
                    .watchers
                    .ensure(&daemon.ws, session, conversation, mode);
            }
        }
    }
}

fn conversation_of(view: &logbook_core::sessions::SessionView) -> Option<Conversation> {
    let agent = view.agent.as_ref()?;
    if agent.kind != "claude-code" {
        return None;
    }
    Some(Conversation {
        agent_session: agent.session_id.clone()?,
        transcript: PathBuf::from(agent.transcript_path.as_ref()?),
        cwd: agent.cwd.as_ref().map(PathBuf::from),
        pid: agent.pid,
    })
}

/// How long the daemon must have been asked nothing before it updates the
/// search index.
const INDEX_AFTER_IDLE: Duration = Duration::from_secs(2);

/// An index catch-up is running (one daemon per process).
static INDEXING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Applies the spool, and stops the daemon when its store is gone or it
/// has been idle long enough.
async fn housekeeping(daemon: Arc<Daemon>) {
    let idle = Duration::from_secs(daemon.ws.config().daemon_idle_secs);
    let mut tick = 0u64;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        tick += 1;
        if !logbook_engine::spool::pending(&daemon.root).is_empty() {
            let ws = daemon.ws.clone();
            let applied = blocking(move |rt| rt.block_on(logbook_engine::spool::ingest(&ws))).await;
            for outcome in applied.unwrap_or_default() {
                daemon.spooled.fetch_add(1, Ordering::Relaxed);
                after_hook(&daemon, &outcome).await;
            }
        }
        if !tick.is_multiple_of(10) {
            continue;
        }
        if tick.is_multiple_of(600) {
            logbook_engine::spool::forget_old_claims(&daemon.root, Duration::from_secs(3600));
        }
        // The search index follows the log when nothing is asked of the
        // daemon, so no hook ever waits for it; a search catches up itself.
        let idle_for = lock(&daemon.last_request).elapsed();
        if idle_for >= INDEX_AFTER_IDLE
            && !daemon.ws.log().is_poisoned()
            && !INDEXING.swap(true, Ordering::AcqRel)
        {
            // Its own task: a first index of a large store takes minutes,
            // and the spool must not wait for it.
            let daemon = daemon.clone();
            tokio::spawn(async move {
                let ws = daemon.ws.clone();
                let indexed = blocking(move |rt| {
                    rt.block_on(async {
                        if ws.index_behind().await? {
                            ws.index_catch_up().await?;
                        }
                        Ok::<_, logbook_engine::workspace::WorkspaceError>(())
                    })
                })
                .await;
                if let Some(Err(e)) = indexed {
                    logbook_engine::claude::hook::log_failure(&daemon.root, "index", &e.into());
                }
                INDEXING.store(false, Ordering::Release);
            });
        }
        let gone = !protocol::socket_path(&daemon.root).exists();
        let quiet = lock(&daemon.last_request).elapsed() >= idle
            && daemon.watchers.running() == 0
            && daemon.connections.load(Ordering::Relaxed) == 0;
        // A write that never reached the disk: this handle takes no more,
        // and the next client's daemon reopens the store from what is
        // durable (hooks wait in the spool meanwhile).
        let poisoned = daemon.ws.log().is_poisoned();
        if gone || quiet || poisoned {
            tracing::info!(gone, quiet, poisoned, "stopping");
            let _ = daemon.shutdown.send(true);
            return;
        }
    }
}

/// Records session files no hook saw, of every agent: at start, then
/// every `sweep_interval_secs`. A project store sweeps its own project's
/// sessions only; the user store sweeps them all.
async fn sweep(daemon: Arc<Daemon>) {
    let every = daemon.ws.config().sweep_interval_secs;
    if every == 0 {
        return;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    loop {
        let (ws, root) = (daemon.ws.clone(), daemon.root.clone());
        let done = blocking(move |rt| {
            let var = |name: &str| std::env::var(name).ok();
            rt.block_on(logbook_engine::ops::import::sweep(&ws, &root, &var))
        })
        .await;
        match done {
            Some(Ok(summary)) if summary.lines > 0 => {
                tracing::info!(files = summary.files, lines = summary.lines, "swept");
            }
            Some(Err(e)) => logbook_engine::claude::hook::log_failure(&daemon.root, "sweep", &e),
            _ => {}
        }
        tokio::time::sleep(Duration::from_secs(every)).await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce(tokio::runtime::Handle) -> T + Send + 'static,
) -> Option<T> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || work(handle)).await.ok()
}

/// A writer that turns bytes into frames for the client.
///
/// It runs inside the engine's synchronous work, so it cannot await a
/// bounded channel (tokio's budget would stall it under `block_on`): it
/// sends on an unbounded one and waits while more than [`IN_FLIGHT`] bytes
/// are still unwritten, which bounds memory when the client reads slowly.
struct FrameSink {
    tx: mpsc::UnboundedSender<ServerFrame>,
    in_flight: Arc<AtomicU64>,
    stderr: bool,
    buffer: Vec<u8>,
}

/// Stdout is sent in pieces of this size (fewer frames for big outputs).
const PIECE: usize = 64 << 10;
/// Bytes sent but not yet written to the socket before a writer waits.
const IN_FLIGHT: u64 = 8 << 20;

impl FrameSink {
    fn new(
        tx: mpsc::UnboundedSender<ServerFrame>,
        in_flight: Arc<AtomicU64>,
        stderr: bool,
    ) -> Self {
        Self {
            tx,
            in_flight,
            stderr,
            buffer: Vec::new(),
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        while self.in_flight.load(Ordering::Relaxed) > IN_FLIGHT {
            if self.tx.is_closed() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let bytes = std::mem::take(&mut self.buffer);
        self.in_flight
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let frame = if self.stderr {
            ServerFrame::Stderr(bytes)
        } else {
            ServerFrame::Stdout(bytes)
        };
        self.tx
            .send(frame)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for FrameSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        // Messages and progress go at once; data in pieces.
        if self.stderr || self.buffer.len() >= PIECE {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Drop for FrameSink {
    fn drop(&mut self) {
        let _ = self.send();
    }
}

/// The client's stdin, fed by the connection's reader.
struct ChannelStdin {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
}

impl std::io::Read for ChannelStdin {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            match self.rx.recv() {
                Ok(bytes) => self.pending = bytes,
                // The end of input (an empty piece or a closed channel).
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

async fn send(
    stream: &mut (impl tokio::io::AsyncWrite + Unpin),
    frame: &impl serde::Serialize,
) -> Result<(), protocol::FrameError> {
    stream.write_all(&protocol::encode(frame)?).await?;
    Ok(())
}

async fn connection(daemon: &Arc<Daemon>, stream: UnixStream) -> Result<(), protocol::FrameError> {
    let (mut rd, mut wr) = stream.into_split();
    let hello = Hello {
        protocol: PROTOCOL,
        build: build_id(),
        pid: std::process::id(),
    };
    send(&mut wr, &hello).await?;
    let body = protocol::read_body_async(&mut rd).await?;
    let (id, env, request) = match protocol::decode::<ClientFrame>(&body)? {
        ClientFrame::Control(control) => {
            let answer = control_answer(daemon, control);
            return send(&mut wr, &answer).await;
        }
        ClientFrame::Request { id, env, request } => (id, env, *request),
        _ => return Ok(()),
    };
    let spooled = request.is_spooled();
    // A hook that gave up waiting has claimed and spooled its request:
    // applying the copy on the socket too would apply it twice.
    if spooled && !logbook_engine::spool::claim(&daemon.root, &id) {
        return send(&mut wr, &ServerFrame::Done(0)).await;
    }
    send(&mut wr, &ServerFrame::Accepted).await?;
    daemon.requests.fetch_add(1, Ordering::Relaxed);
    *lock(&daemon.last_request) = Instant::now();

    let (tx, mut rx) = mpsc::unbounded_channel::<ServerFrame>();
    let in_flight = Arc::new(AtomicU64::new(0));
    let written = in_flight.clone();
    let (stdin_tx, stdin_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let stop = Arc::new(AtomicBool::new(false));
    let reader_stop = stop.clone();
    let reader = tokio::spawn(async move {
        loop {
            let Ok(body) = protocol::read_body_async(&mut rd).await else {
                // The client is gone: stop what runs for it.
                reader_stop.store(true, Ordering::Relaxed);
                return;
            };
            match protocol::decode::<ClientFrame>(&body) {
                Ok(ClientFrame::Stdin(bytes)) if !bytes.is_empty() => {
                    let _ = stdin_tx.send(bytes);
                }
                Ok(ClientFrame::StdinEnd) => {
                    let _ = stdin_tx.send(Vec::new());
                }
                Ok(ClientFrame::Cancel) => reader_stop.store(true, Ordering::Relaxed),
                _ => {}
            }
        }
    });
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            let size = match &frame {
                ServerFrame::Stdout(b) | ServerFrame::Stderr(b) => b.len() as u64,
                _ => 0,
            };
            let sent = send(&mut wr, &frame).await;
            written.fetch_sub(size, Ordering::Relaxed);
            if sent.is_err() {
                // The client is gone: unblock writers, drop the rest.
                rx.close();
                written.store(0, Ordering::Relaxed);
            }
        }
    });
    let console = Console {
        out: Box::new(FrameSink::new(tx.clone(), in_flight.clone(), false)),
        err: SharedWriter::new(Box::new(FrameSink::new(tx.clone(), in_flight, true))),
        stdin: Box::new(ChannelStdin {
            rx: stdin_rx,
            pending: Vec::new(),
        }),
        env,
        stop,
    };
    let ws = daemon.ws.clone();
    let name = request.name();
    let executed = blocking(move |rt| {
        let mut console = console;
        rt.block_on(execute(&Store::Shared(ws), request, &mut console))
    })
    .await;
    if !matches!(executed, Some(Ok(_))) {
        // A request stopped part way (an import or capture at a full disk)
        // may have appended what it never projected: a store opened per
        // use is caught up when next opened, and this one stays open.
        // Before the answer, so the client's next request sees the files.
        let ws = daemon.ws.clone();
        if let Some(Err(e)) = blocking(move |rt| rt.block_on(ws.project())).await {
            tracing::warn!("catching up after a failed {name}: {e}");
        }
    }
    let last = match executed {
        Some(Ok(executed)) => {
            // Hooks applied from the spool first are signals too.
            for earlier in &executed.spooled {
                daemon.spooled.fetch_add(1, Ordering::Relaxed);
                after_hook(daemon, earlier).await;
            }
            if let Some(outcome) = &executed.hook {
                after_hook(daemon, outcome).await;
            }
            ServerFrame::Done(executed.code)
        }
        Some(Err(e)) => ServerFrame::Failed {
            message: e.one_line(),
            code: e.exit_code(),
        },
        None => ServerFrame::Failed {
            message: format!("the daemon's {name} task failed"),
            code: 1,
        },
    };
    if spooled {
        logbook_engine::spool::release(&daemon.root, &id);
    }
    let _ = tx.send(last);
    drop(tx);
    let _ = writer.await;
    reader.abort();
    Ok(())
}

/// A hook is a signal: watch the conversation it names, or drain it once
/// it has ended.
async fn after_hook(daemon: &Arc<Daemon>, outcome: &logbook_engine::claude::hook::HookOutcome) {
    if let Some(cleared) = outcome.cleared {
        // The cleared conversation's process has only now moved on: its
        // last lines are still to come, however long this hook took.
        watch_session(daemon, cleared).await;
    }
    if let Some(session) = outcome.session {
        watch_session(daemon, session).await;
    }
}

/// Makes sure a watcher follows `session`: live while it is active,
/// draining (its quiet period started again) once it has ended.
async fn watch_session(daemon: &Arc<Daemon>, session: SessionId) {
    let Ok(view) = daemon.ws.quick_view(session).await else {
        return;
    };
    let Some(conversation) = conversation_of(&view) else {
        return;
    };
    let mode = if view.status == SessionStatus::Active {
        Mode::Live
    } else {
        Mode::Draining
    };
    daemon
        .watchers
        .ensure(&daemon.ws, session, conversation, mode);
}

fn control_answer(daemon: &Arc<Daemon>, control: Control) -> ServerFrame {
    match control {
        Control::Ping => ServerFrame::Ok("pong".into()),
        Control::Status => ServerFrame::Status(DaemonStatus {
            pid: std::process::id(),
            store: daemon.root.display().to_string(),
            uptime_secs: daemon.started.elapsed().as_secs(),
            requests: daemon.requests.load(Ordering::Relaxed),
            spooled_applied: daemon.spooled.load(Ordering::Relaxed),
            watchers: daemon.watchers.status(),
        }),
        Control::StopSession(typed) => match daemon.watchers.stop(&typed) {
            Ok(session) => ServerFrame::Ok(format!("stopped the watcher of {session}")),
            Err(message) => ServerFrame::Failed { message, code: 2 },
        },
        Control::Shutdown => {
            let _ = daemon.shutdown.send(true);
            ServerFrame::Ok("stopping".into())
        }
    }
}
