//! Where an operation's output goes and what it knows of the person or
//! program that asked: the same operation renders for a process that runs
//! it itself and, through the daemon, for a client on another socket.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// What the asking process sees of its own surroundings. The daemon has no
/// terminal and another working directory, so the client sends these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientEnv {
    /// The client's working directory (relative paths are resolved here).
    pub cwd: PathBuf,
    /// Whether the client's stdout is a terminal (tables, not JSON rows).
    pub stdout_terminal: bool,
    /// Whether the client's stderr is a terminal (progress bars).
    pub stderr_terminal: bool,
    /// Whether colour may be used: stdout is a terminal and `NO_COLOR` is unset.
    pub color: bool,
    /// `LOGBOOK_PROGRESS=always`: draw progress even off a terminal.
    pub progress_always: bool,
    /// The client's variables that programs run for it need (`PATH`,
    /// `TMUX`, `TMUX_TMPDIR`), that locate the anchor key (`HOME`,
    /// `XDG_CONFIG_HOME`, `LOGBOOK_ANCHOR_KEY`) and the agents' folders
    /// (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `GEMINI_CLI_HOME`), as
    /// `(name, value)`.
    pub vars: Vec<(String, String)>,
}

impl ClientEnv {
    /// This process's own surroundings.
    pub fn current() -> std::io::Result<Self> {
        use std::io::IsTerminal as _;
        let stdout_terminal = std::io::stdout().is_terminal();
        Ok(Self {
            cwd: std::env::current_dir()?,
            stdout_terminal,
            stderr_terminal: std::io::stderr().is_terminal(),
            color: stdout_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            progress_always: std::env::var_os("LOGBOOK_PROGRESS").is_some_and(|v| v == "always"),
            vars: [
                "PATH",
                "TMUX",
                "TMUX_TMPDIR",
                "HOME",
                "XDG_CONFIG_HOME",
                "LOGBOOK_ANCHOR_KEY",
                "CLAUDE_CONFIG_DIR",
                "CODEX_HOME",
                "GEMINI_CLI_HOME",
            ]
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), std::env::var(name).ok()?)))
            .collect(),
        })
    }

    /// One of the client's [`vars`](Self::vars).
    pub fn var(&self, name: &str) -> Option<String> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// A path as the client meant it.
    pub fn resolve(&self, path: &std::path::Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.cwd.join(path)
        }
    }
}

/// A writer several parts of an operation share (messages and a progress
/// bar both go to stderr).
#[derive(Clone)]
pub struct SharedWriter(Arc<Mutex<Box<dyn Write + Send>>>);

impl std::fmt::Debug for SharedWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedWriter")
    }
}

impl SharedWriter {
    /// Shares `inner`.
    pub fn new(inner: Box<dyn Write + Send>) -> Self {
        Self(Arc::new(Mutex::new(inner)))
    }

    fn with<T>(&self, f: impl FnOnce(&mut dyn Write) -> std::io::Result<T>) -> std::io::Result<T> {
        // A writer poisoned by a panicking holder still has a usable stream.
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(guard.as_mut())
    }
}

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.with(|w| w.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.with(|w| w.flush())
    }
}

/// An operation's streams and surroundings.
pub struct Console {
    /// Data (stdout).
    pub out: Box<dyn Write + Send>,
    /// Messages and progress (stderr).
    pub err: SharedWriter,
    /// The client's standard input (`capture --stdin`).
    pub stdin: Box<dyn Read + Send>,
    /// The client's surroundings.
    pub env: ClientEnv,
    /// Raised when the client asks a long operation to stop (Ctrl-C on a
    /// `capture --follow`); the operation ends after its current batch.
    pub stop: Arc<AtomicBool>,
}

impl Console {
    /// This process's own stdin, stdout and stderr.
    pub fn process() -> std::io::Result<Self> {
        Ok(Self {
            out: Box::new(std::io::stdout()),
            err: SharedWriter::new(Box::new(std::io::stderr())),
            stdin: Box::new(std::io::stdin()),
            env: ClientEnv::current()?,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A console that keeps what is written, for tests and the demo.
    pub fn captured(env: ClientEnv) -> (Self, SharedBuffer, SharedBuffer) {
        let out = SharedBuffer::default();
        let err = SharedBuffer::default();
        let console = Self {
            out: Box::new(out.clone()),
            err: SharedWriter::new(Box::new(err.clone())),
            stdin: Box::new(std::io::empty()),
            env,
            stop: Arc::new(AtomicBool::new(false)),
        };
        (console, out, err)
    }

    /// Writes one message line to stderr; a closed stderr is not a failure.
    pub fn say(&mut self, line: impl std::fmt::Display) {
        let _ = writeln!(self.err, "{line}");
    }

    /// Whether the client asked to stop.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// An in-memory writer that can be read back after it was handed away.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// Everything written so far.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
