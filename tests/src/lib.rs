//! logbook-tests: the integration harness.
//!
//! Every scenario drives the real `logbook` binary as a separate process on a
//! private temporary store ([`Store`]), because that is how hooks, scripts and
//! people use it: crash and concurrency tests need real processes to kill and
//! to race. The binary is the one cargo built next to this test executable.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod corpus;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `logbook` executable built by this cargo invocation.
pub fn logbook_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("LOGBOOK_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/it-<hash> → target/<profile>/logbook
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin = profile_dir.join("logbook");
    assert!(
        bin.exists(),
        "{} is missing: `cargo test --workspace` builds it; benchmarks need `cargo build --release -p logbook-cli` first",
        bin.display()
    );
    bin
}

/// The Claude Code fixtures copied into the project (see
/// `tests/fixtures/claude-code/SOURCES.md` for origins and licences).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/claude-code")
}

/// The concatenated transcript parts of a session's source (`main` or a
/// sub-key), in order.
pub fn parts_of(store: &Store, session: &str, key: &str) -> Vec<u8> {
    let mut dir = store
        .root()
        .join("sessions")
        .join(session)
        .join("transcript");
    if key != "main" {
        dir = dir.join(key);
    }
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    p.is_file()
                        && p.file_name()
                            .unwrap()
                            .to_string_lossy()
                            .starts_with("part-")
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// A temporary store and a way to run `logbook` against it.
pub struct Store {
    dir: tempfile::TempDir,
    /// Forces `LOGBOOK_DAEMON=off` (tests of the in-process path);
    /// otherwise the variable is inherited, so the whole suite runs once
    /// with the daemon and once without.
    in_process: bool,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            in_process: false,
        }
    }

    /// A store whose commands all run in their own process, without the
    /// daemon (fault injection and lock tests).
    pub fn in_process() -> Self {
        Self {
            in_process: true,
            ..Self::new()
        }
    }

    /// Stops the store's daemon, if one runs, and waits until it has let go
    /// of the store (before a test opens the log itself).
    pub fn stop_daemon(&self) {
        let out = self.run(&["daemon", "stop"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The scratch directory holding the store (and anything else a test needs).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// The store directory.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// A `logbook` command on this store, with a clean environment.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(logbook_bin());
        cmd.env("LOGBOOK_DIR", self.root())
            .env_remove("LOGBOOK_LOG")
            .env_remove("LOGBOOK_FAULT_PAUSE_AFTER_APPEND")
            .env("NO_COLOR", "1")
            // The daemon's sweep reads Claude Code's projects folder: a
            // test's is its own, empty unless the test fills it.
            .env("CLAUDE_CONFIG_DIR", self.dir.path().join("claude"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        if self.in_process {
            cmd.env("LOGBOOK_DAEMON", "off");
        }
        cmd
    }

    /// Runs `logbook ARGS` and returns its output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs `logbook ARGS` with `input` on stdin, as Claude Code runs its
    /// hooks and status line; returns the output, whatever the status.
    pub fn piped(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write as _;
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs `logbook ARGS`, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "logbook {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `logbook ARGS`, asserts it fails with `code` and a one-line error;
    /// returns that line.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "logbook {args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected a one-line error, got {stderr:?}");
        assert!(lines[0].starts_with("logbook: error: "), "{stderr}");
        lines[0].to_owned()
    }

    /// `logbook start --command NAME`, returning the id.
    pub fn start(&self, command: &str) -> String {
        self.ok(&["start", "--command", command]).trim().to_owned()
    }

    /// Every session as `ls --json` reports it.
    pub fn sessions(&self) -> Vec<Value> {
        let text = self.ok(&["ls", "--json"]);
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// One session as `show --json` reports it.
    pub fn show(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["show", id, "--json"])).unwrap()
    }

    /// The path of a session's `session.json`.
    pub fn session_json(&self, id: &str) -> PathBuf {
        self.root().join("sessions").join(id).join("session.json")
    }

    /// Writes `config.toml`.
    pub fn configure(&self, toml: &str) {
        std::fs::create_dir_all(self.root()).unwrap();
        std::fs::write(self.root().join("config.toml"), toml).unwrap();
    }

    /// Every file under the store with its bytes, excluding sled's own
    /// database and the lock (for before/after comparisons).
    pub fn projected_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![];
        walk(&self.root().join("sessions"), &self.root(), &mut out);
        out.sort();
        out
    }
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, root, out);
        } else {
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            out.push((rel, std::fs::read(&path).unwrap()));
        }
    }
}

/// Waits (bounded) until the child writes a stderr line containing `needle`.
/// Returns the child so the caller can kill it.
pub fn wait_for_stderr(child: &mut Child, needle: &str, limit: Duration) {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = needle.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains(&wanted) {
                let _ = tx.send(());
                break;
            }
        }
    });
    let started = Instant::now();
    rx.recv_timeout(limit).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("no `{needle}` on stderr within {:?}", started.elapsed())
    });
}

/// Waits for a child with a time limit, killing it if it overstays.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("child still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn note(i: u64) -> logbook_core::Event {
    logbook_core::Event::NoteRecorded(logbook_core::NoteRecorded {
        kind: logbook_core::NoteKind::Memory,
        text: format!("note {i:08}: the agent read src/lib.rs and ran cargo test"),
    })
}

/// Appends `events` notes straight to the log in batches of `batch`, in
/// sessions of 1,000 events: a big store, fast, for benchmarks.
pub fn fill(log: &logbook_store::SledLog, events: u64, batch: u64) {
    use logbook_core::{EventLog, NewEvent, SessionId};
    let mut session = SessionId::new_v7();
    let mut in_session = 0;
    let mut done = 0;
    while done < events {
        let n = batch.min(events - done);
        let mut items = Vec::with_capacity(n as usize);
        for _ in 0..n {
            if in_session == 1000 {
                session = SessionId::new_v7();
                in_session = 0;
            }
            items.push(NewEvent {
                session,
                expected_session_seq: in_session,
                event: note(done),
            });
            in_session += 1;
            done += 1;
        }
        futures::executor::block_on(log.append(items)).unwrap();
    }
}
