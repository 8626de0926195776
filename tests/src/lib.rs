//! logbook-tests: the integration harness.
//!
//! Every scenario drives the real `logbook` binary as a separate process on a
//! private temporary store ([`Store`]), because that is how hooks, scripts and
//! people use it: crash and concurrency tests need real processes to kill and
//! to race. The binary is the one cargo built next to this test executable.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod claude_code;
pub mod corpus;
pub mod mock_api;

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

/// Runs a command to its end with its output discarded, polling its peak
/// resident memory (VmHWM) from /proc; returns how long it took and that
/// peak in bytes. Panics when it fails.
pub fn run_measured(cmd: &mut Command) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{cmd:?} failed");
            return (started.elapsed(), peak_kb * 1024);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The Claude Code fixtures copied into the project (see
/// `tests/fixtures/claude-code/SOURCES.md` for origins and licences).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/claude-code")
}

/// Real session files of another agent (`codex` or `gemini`), copied with
/// their licences (`tests/fixtures/<agent>/SOURCES.md`).
pub fn agent_fixture(agent: &str, path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(agent)
        .join(path)
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
    /// `LOGBOOK_DAEMON` for this store's commands: forced for tests of one
    /// path; otherwise inherited, so the whole suite runs once with the
    /// daemon and once without.
    daemon: Option<&'static str>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Store {
    /// Ends the store's daemon before its directory is removed. Left alone,
    /// it lives on for up to a second of housekeeping and writes
    /// projections into the directory being deleted, so the removal fails
    /// and the directory is left behind (about 20 per suite run).
    fn drop(&mut self) {
        let Some(pid) = self.daemon_pid() else {
            return;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let root = self.root();
        let root = root.as_os_str().as_encoded_bytes();
        if !cmdline.windows(root.len()).any(|w| w == root) {
            return; // A stale pid file; the pid belongs to someone else now.
        }
        // SIGKILL: the test is over, and a stopped (SIGSTOP) daemon of a
        // fault test would not answer a polite request.
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
        let until = Instant::now() + Duration::from_secs(2);
        while std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rfind(')').is_some_and(|i| !s[i..].starts_with(") Z")))
            && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Store {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            daemon: None,
        }
    }

    /// A store whose commands all run in their own process, without the
    /// daemon (fault injection and lock tests).
    pub fn in_process() -> Self {
        let mut store = Self::new();
        store.daemon = Some("off");
        store
    }

    /// A store whose commands go through its daemon (tests of what only a
    /// daemon can do: watch files and processes).
    pub fn with_daemon() -> Self {
        let mut store = Self::new();
        store.daemon = Some("on");
        store
    }

    /// The pid of the store's running daemon, from its pid file.
    pub fn daemon_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.root().join("daemon.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
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
        self.command(logbook_bin())
    }

    /// Any program, with the environment of [`Self::cmd`] (an agent that
    /// runs `logbook` itself).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("LOGBOOK_DIR", self.root())
            .env_remove("LOGBOOK_LOG")
            .env_remove("LOGBOOK_FAULT_PAUSE_AFTER_APPEND")
            .env("NO_COLOR", "1")
            // The daemon's sweep reads Claude Code's projects folder: a
            // test's is its own, empty unless the test fills it.
            .env("CLAUDE_CONFIG_DIR", self.dir.path().join("claude"))
            // So are Codex CLI's and Gemini CLI's folders.
            .env("CODEX_HOME", self.dir.path().join("codex"))
            .env("GEMINI_CLI_HOME", self.dir.path().join("gemini"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        if let Some(mode) = self.daemon {
            cmd.env("LOGBOOK_DAEMON", mode);
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

    /// Runs `logbook hook` with `payload` as Claude Code does and checks it
    /// exited 0 within `limit` (its bound plus a process start, never the
    /// store's lock wait).
    pub fn hook_within(&self, payload: &[u8], limit: Duration) {
        use std::io::Write as _;
        let mut child = self
            .cmd()
            .arg("hook")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(payload).unwrap();
        assert!(wait_bounded(&mut child, limit).success());
    }

    /// Runs `logbook hook --agent codex` with `payload` as Codex CLI does
    /// and checks it exited 0 and printed nothing.
    pub fn hook_codex(&self, payload: &[u8]) {
        let out = self.piped(&["hook", "--agent", "codex"], payload);
        assert!(out.status.success());
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
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
        walk(&self.root().join("projects"), &self.root(), &mut out);
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

/// The string `key` of each object in the JSON array `items` (a test's
/// view of a list in a command's JSON output).
pub fn strs<'a>(items: &'a Value, key: &str) -> Vec<&'a str> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|item| {
            item[key]
                .as_str()
                .unwrap_or_else(|| panic!("no string `{key}` in {item}"))
        })
        .collect()
}

/// Polls `done` until it holds, failing the test after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "{what}: not reached within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The stand-in agent (`tests/agents/claude`): a process named like Claude
/// Code that writes a transcript and calls `logbook hook` as it does.
pub struct Agent {
    pub child: Child,
    /// Claude Code's session id.
    pub session_id: String,
    pub transcript: PathBuf,
    /// JSON lines: each hook's event, exit code, seconds and stdout.
    pub hooks_log: PathBuf,
    /// The token totals the agent wrote (once it has finished its turns).
    pub truth: PathBuf,
}

impl Agent {
    /// Starts agent `session_id` working in `cwd` on `store`, with the
    /// stand-in's extra `args` (`--turns`, `--pause`, `--end`, …).
    pub fn spawn(store: &Store, session_id: &str, cwd: &Path, args: &[&str]) -> Self {
        let dir = store.scratch().join("transcripts");
        let transcript = dir.join(format!("{session_id}.jsonl"));
        let hooks_log = dir.join(format!("{session_id}.hooks"));
        let truth = dir.join(format!("{session_id}.truth"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("agents/claude");
        let mut cmd = store.command("python3");
        cmd.current_dir(cwd);
        let child = cmd
            .args([script.as_os_str()])
            .args(["--transcript".as_ref(), transcript.as_os_str()])
            .args(["--session-id", session_id])
            .args(["--cwd".as_ref(), cwd.as_os_str()])
            .args(["--logbook".as_ref(), logbook_bin().as_os_str()])
            .args(["--hooks-log".as_ref(), hooks_log.as_os_str()])
            .args(["--truth".as_ref(), truth.as_os_str()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Self {
            child,
            session_id: session_id.to_owned(),
            transcript,
            hooks_log,
            truth,
        }
    }

    /// Waits (bounded) for the agent to print `line` (`hanging`, `done`).
    pub fn wait_for(&mut self, line: &str, limit: Duration) {
        let stdout = self.child.stdout.take().expect("stdout piped");
        let (tx, rx) = std::sync::mpsc::channel();
        let wanted = line.to_owned();
        std::thread::spawn(move || {
            for got in BufReader::new(stdout).lines() {
                let Ok(got) = got else { break };
                if got == wanted {
                    let _ = tx.send(());
                    break;
                }
            }
        });
        if rx.recv_timeout(limit).is_err() {
            let _ = self.child.kill();
            panic!("the agent did not print `{line}` within {limit:?}");
        }
    }

    /// Every hook the agent ran: `(event, exit code, seconds, stdout)`.
    pub fn hooks(&self) -> Vec<(String, i32, f64, String)> {
        std::fs::read_to_string(&self.hooks_log)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["event"].as_str().unwrap().to_owned(),
                    v["rc"].as_i64().unwrap() as i32,
                    v["secs"].as_f64().unwrap(),
                    v["stdout"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// The sessions recorded for Claude Code conversation `agent`, oldest first.
pub fn sessions_of(store: &Store, agent: &str) -> Vec<Value> {
    store
        .sessions()
        .into_iter()
        .filter(|s| s["agent"]["session_id"] == agent)
        .collect()
}

/// The main parts of every session of conversation `agent`, in chain order:
/// together they must be the transcript byte for byte.
pub fn chain_parts(store: &Store, agent: &str) -> Vec<u8> {
    sessions_of(store, agent)
        .iter()
        .flat_map(|s| parts_of(store, s["session_id"].as_str().unwrap(), "main"))
        .collect()
}

/// A tiny deterministic generator, so a failure can be replayed.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next number below `bound`.
    pub fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

/// A Claude Code hook payload: `event` for conversation `agent`, plus the
/// per-event fields in `extra`.
pub fn hook_payload(
    event: &str,
    agent: &str,
    transcript: &Path,
    cwd: &Path,
    extra: serde_json::Value,
) -> Vec<u8> {
    let mut p = serde_json::json!({
        "session_id": agent,
        "transcript_path": transcript,
        "cwd": cwd,
        "hook_event_name": event,
        "permission_mode": "default",
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        p[k] = v.clone();
    }
    p.to_string().into_bytes()
}

/// Sets `path`'s modification time `ago` in the past: a file its agent has
/// left alone that long.
pub fn age(path: &Path, ago: Duration) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - ago)
        .unwrap();
}

/// Appends `text` to `path`, creating it: what an agent writing its
/// transcript does.
pub fn append_text(path: &Path, text: &str) {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// ccusage for the benches that compare with it: `CCUSAGE`, else the one
/// `npm install --prefix target/ccusage ccusage@20.0.24` puts in place.
pub fn ccusage_bin() -> PathBuf {
    std::env::var_os("CCUSAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/ccusage/node_modules/.bin/ccusage")
        })
}
