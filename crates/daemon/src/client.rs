//! The client side: find the store's daemon, start it when there is none,
//! replace it when it is of another build or stops answering, and run one
//! request through it. Blocking I/O with timeouts: a hook must not pay for
//! a runtime, and must never wait past its bound.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use logbook_engine::console::ClientEnv;
use logbook_engine::request::Request;

use crate::protocol::{
    self, ClientFrame, Control, FrameError, Hello, PROTOCOL, ServerFrame, build_id, socket_path,
};

/// How long a running daemon has to say hello before it counts as not
/// answering.
pub const HELLO_WAIT: Duration = Duration::from_secs(3);

/// Why the daemon could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon answered within the bound.
    #[error("the logbook daemon for {store} did not answer within {waited:?}")]
    Unresponsive {
        /// The store.
        store: PathBuf,
        /// How long the client waited.
        waited: Duration,
    },
    /// A daemon could not be started.
    #[error("cannot start the logbook daemon: {0}")]
    Spawn(std::io::Error),
    /// The daemon started and exited at once (its reason is in
    /// `<store>/daemon.log`); the request can still run in process, which
    /// reports the reason itself.
    #[error("the logbook daemon for {0} exited at start; see its daemon.log")]
    Exited(PathBuf),
    /// The connection broke.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// A connection to a daemon that said hello.
pub struct Connection {
    stream: UnixStream,
    /// The daemon's hello.
    pub hello: Hello,
}

/// What to do when no daemon answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Start one (detached) and wait for it within the bound.
    IfNeeded,
    /// Only talk to a running daemon.
    Never,
}

/// Connects to the daemon of the store at `root` within `bound`, starting
/// it if needed, and replacing a daemon of another build.
pub fn connect(root: &Path, start: Start, bound: Duration) -> Result<Connection, ClientError> {
    let deadline = Instant::now() + bound;
    let sock = socket_path(root);
    let mut spawned: Option<std::process::Child> = None;
    let mut pause = Duration::from_millis(1);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ClientError::Unresponsive {
                store: root.to_owned(),
                waited: bound,
            });
        }
        match UnixStream::connect(&sock) {
            Ok(stream) => {
                // Starting a daemon may take the whole bound (it waits for
                // the store like anyone); a running one answers at once.
                stream
                    .set_read_timeout(Some(left.min(HELLO_WAIT)))
                    .map_err(FrameError::Io)?;
                match read_hello(&stream) {
                    Ok(hello) if hello.protocol == PROTOCOL && hello.build == build_id() => {
                        return Ok(Connection { stream, hello });
                    }
                    Ok(other) => {
                        // Another build: it must go before this one can start.
                        tracing::info!("replacing daemon {} of build {}", other.pid, other.build);
                        terminate(other.pid, Duration::from_millis(500).min(left));
                    }
                    Err(FrameError::Io(e))
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        return Err(ClientError::Unresponsive {
                            store: root.to_owned(),
                            waited: bound,
                        });
                    }
                    // A daemon that closed on us is going away; try again.
                    Err(_) => {}
                }
            }
            Err(_) if start == Start::Never => {
                return Err(ClientError::Unresponsive {
                    store: root.to_owned(),
                    waited: Duration::ZERO,
                });
            }
            Err(_) => match spawned.as_mut() {
                None => spawned = Some(spawn(root).map_err(ClientError::Spawn)?),
                Some(child) => {
                    // Exit 0 means another daemon holds the store: wait
                    // for its socket. Anything else is a failed start.
                    if let Ok(Some(status)) = child.try_wait()
                        && !status.success()
                    {
                        return Err(ClientError::Exited(root.to_owned()));
                    }
                }
            },
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn read_hello(mut stream: &UnixStream) -> Result<Hello, FrameError> {
    let body = protocol::read_body(&mut stream)?;
    protocol::decode(&body)
}

/// Starts a daemon for `root`, detached: its own session (so closing the
/// terminal does not kill it), stdin from /dev/null, stdout and stderr to
/// `<store>/daemon.log`. Two clients racing both spawn; the daemon lock
/// lets one stay.
pub fn spawn(root: &Path) -> std::io::Result<std::process::Child> {
    let exe = std::env::current_exe()?;
    logbook_engine::files::create_private_dir(root)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(protocol::log_path(root))?;
    Command::new(exe)
        .arg("--dir")
        .arg(root)
        .args(["daemon", "run"])
        .env_remove("LOGBOOK_FAULT_PAUSE_AFTER_APPEND")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
}

/// Stops process `pid` if it is a logbook daemon: SIGTERM, then SIGKILL
/// after `grace`.
pub fn terminate(pid: u32, grace: Duration) {
    if !is_logbook_daemon(pid) {
        return;
    }
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return;
    };
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if rustix::process::test_kill_process(pid).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
}

/// Whether `pid` runs `logbook … daemon run` (a pid file can be stale and
/// the pid reused by anything).
pub fn is_logbook_daemon(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| {
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        args.windows(2).any(|w| w == [&b"daemon"[..], &b"run"[..]])
    })
}

/// Whether process `pid` still runs (a zombie has exited).
pub fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .is_some_and(|i| !stat[i..].starts_with(") Z"))
    })
}

/// The pid of the store's running daemon: the pid file, if it names a live
/// `logbook daemon run` of this store. (Probing the daemon lock instead
/// could make a daemon starting at that instant believe another holds it.)
pub fn daemon_pid(root: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(protocol::pid_path(root))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let root = root.as_os_str().as_encoded_bytes();
    let ours = cmdline.windows(root.len()).any(|w| w == root);
    (ours && is_logbook_daemon(pid)).then_some(pid)
}

/// How a request through the daemon ended.
#[derive(Debug)]
pub enum Served {
    /// It ran; the exit code.
    Exit(u8),
    /// It failed: the message and the exit code.
    Failed(String, u8),
    /// A hook the daemon did not accept in time: the caller spools it
    /// under this (already claimed) id.
    NotAccepted(String),
}

/// The client's side of one request.
pub struct Call<'a> {
    /// Where stdout bytes go.
    pub out: &'a mut dyn Write,
    /// Where stderr bytes go.
    pub err: &'a mut dyn Write,
    /// The client's stdin, for `capture --stdin`.
    pub stdin: Option<Box<dyn Read + Send>>,
    /// Raised by the client's Ctrl-C or SIGTERM.
    pub stop: Arc<AtomicBool>,
    /// For a hook: how long the daemon has to accept the request.
    pub accept_within: Option<Duration>,
}

impl Connection {
    /// Runs `request` and streams its output into `call`.
    pub fn run(
        mut self,
        root: &Path,
        env: ClientEnv,
        request: Request,
        call: Call<'_>,
    ) -> Result<Served, ClientError> {
        let id = uuid::Uuid::now_v7().to_string();
        let agent_facing = request.is_agent_facing();
        let spooled = request.is_spooled();
        let frame = ClientFrame::Request {
            id: id.clone(),
            env,
            request: Box::new(request),
        };
        self.stream
            .write_all(&protocol::encode(&frame)?)
            .map_err(FrameError::Io)?;
        if let Some(limit) = call.accept_within {
            self.stream
                .set_read_timeout(Some(limit.max(Duration::from_millis(1))))
                .map_err(FrameError::Io)?;
        } else {
            self.stream.set_read_timeout(None).map_err(FrameError::Io)?;
        }
        let writer = self.stream.try_clone().map_err(FrameError::Io)?;
        let feeder = call
            .stdin
            .map(|stdin| feed_stdin(stdin, writer.try_clone()));
        let canceller = watch_stop(call.stop.clone(), writer);
        let result = self.pump(
            root,
            &id,
            (agent_facing, spooled),
            call.out,
            call.err,
            call.accept_within,
        );
        canceller.store(true, Ordering::Relaxed);
        drop(feeder);
        result
    }

    fn pump(
        &mut self,
        root: &Path,
        id: &str,
        (agent_facing, spooled): (bool, bool),
        out: &mut dyn Write,
        err: &mut dyn Write,
        accept_within: Option<Duration>,
    ) -> Result<Served, ClientError> {
        let mut accepted = accept_within.is_none();
        loop {
            let body = match protocol::read_body(&mut self.stream) {
                Ok(body) => body,
                Err(FrameError::Io(e))
                    if accepted
                        && agent_facing
                        && matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                {
                    // Accepted: the daemon will apply it; the agent does
                    // not wait for the rest.
                    return Ok(Served::Exit(0));
                }
                Err(FrameError::Io(e))
                    if !accepted
                        && matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                {
                    // Not accepted in time: whoever claims the id first
                    // owns the hook. If the daemon got there first it
                    // will apply it; otherwise the caller spools it.
                    if !spooled || logbook_engine::spool::claim(root, id) {
                        return Ok(Served::NotAccepted(id.to_owned()));
                    }
                    return Ok(Served::Exit(0));
                }
                Err(e) => return Err(e.into()),
            };
            match protocol::decode::<ServerFrame>(&body)? {
                ServerFrame::Accepted => {
                    accepted = true;
                    // The daemon owns it now; a hook still never waits
                    // for it longer than its bound.
                    self.stream
                        .set_read_timeout(accept_within)
                        .map_err(FrameError::Io)?;
                }
                ServerFrame::Stdout(bytes) => out.write_all(&bytes).map_err(FrameError::Io)?,
                ServerFrame::Stderr(bytes) => err.write_all(&bytes).map_err(FrameError::Io)?,
                ServerFrame::Done(code) => return Ok(Served::Exit(code)),
                ServerFrame::Failed { message, code } => return Ok(Served::Failed(message, code)),
                ServerFrame::Status(_) | ServerFrame::Ok(_) => {}
            }
        }
    }

    /// Sends a management request and returns the answer.
    pub fn control(
        mut self,
        control: Control,
        within: Duration,
    ) -> Result<ServerFrame, ClientError> {
        self.stream
            .write_all(&protocol::encode(&ClientFrame::Control(control))?)
            .map_err(FrameError::Io)?;
        self.stream
            .set_read_timeout(Some(within))
            .map_err(FrameError::Io)?;
        let body = protocol::read_body(&mut self.stream)?;
        Ok(protocol::decode(&body)?)
    }
}

/// Streams the client's stdin to the daemon in pieces, then its end.
fn feed_stdin(
    mut stdin: Box<dyn Read + Send>,
    writer: std::io::Result<UnixStream>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(mut writer) = writer else { return };
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let frame = match stdin.read(&mut buf) {
                Ok(0) | Err(_) => ClientFrame::StdinEnd,
                Ok(n) => ClientFrame::Stdin(buf[..n].to_vec()),
            };
            let end = matches!(frame, ClientFrame::StdinEnd);
            let sent = protocol::encode(&frame).is_ok_and(|b| writer.write_all(&b).is_ok());
            if end || !sent {
                return;
            }
        }
    })
}

/// Sends `Cancel` once `stop` is raised; returns the flag that ends the
/// watch when the request is over.
fn watch_stop(stop: Arc<AtomicBool>, mut writer: UnixStream) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let finished = done.clone();
    std::thread::spawn(move || {
        while !finished.load(Ordering::Relaxed) {
            if stop.load(Ordering::Relaxed) {
                if let Ok(bytes) = protocol::encode(&ClientFrame::Cancel) {
                    let _ = writer.write_all(&bytes);
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    done
}
