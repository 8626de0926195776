//! The real Claude Code, run against [`crate::mock_api`] with logbook's hooks
//! and status line installed, headless (`-p`) or interactive in tmux.
//!
//! The binary is the npm package `@anthropic-ai/claude-code` at
//! [`version`], installed by `tests/agents/claude-code/install` into
//! `target/claude-code/<version>` (`.ci/run` does it first; a test does it
//! when it is missing). When it cannot be installed the test fails with one
//! line saying why: a suite about the real client never passes without it.
//!
//! Each run is isolated: Claude Code's config folder is the store's
//! scratch `claude/` (`CLAUDE_CONFIG_DIR`, pre-seeded so no onboarding,
//! trust or API-key dialog appears), `HOME` is an empty scratch folder, and
//! the only network it can reach is the mock on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::mock_api::{MockApi, Script};
use crate::{Store, wait_bounded};

/// The Claude Code version the suite covers unless told otherwise.
pub const COVERED_VERSION: &str = "2.1.328";

/// The API key the runs use; Claude Code asks about a custom key once, so
/// the seeded config approves it.
const API_KEY: &str = "sk-ant-logbook-tests-0001";

/// The version under test: `LOGBOOK_CLAUDE_CODE_VERSION`, or
/// [`COVERED_VERSION`].
pub fn version() -> String {
    std::env::var("LOGBOOK_CLAUDE_CODE_VERSION").unwrap_or_else(|_| COVERED_VERSION.to_owned())
}

fn platform_package() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "claude-code-linux-arm64"
    } else {
        "claude-code-linux-x64"
    }
}

/// The Claude Code binary: `LOGBOOK_CLAUDE_BIN`, or the npm install in
/// `target/claude-code/<version>`, installing it first when missing.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("LOGBOOK_CLAUDE_BIN") {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "LOGBOOK_CLAUDE_BIN={} is not a file",
            bin.display()
        );
        return bin;
    }
    let version = version();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = workspace.join("target/claude-code").join(&version);
    let bin = dir
        .join("node_modules/@anthropic-ai")
        .join(platform_package())
        .join("claude");
    if bin.is_file() {
        return bin;
    }
    std::fs::create_dir_all(&dir).unwrap();
    // Test binaries run in parallel: one installs, the others wait for it.
    let lock = std::fs::File::create(dir.join(".install.lock")).unwrap();
    lock.lock().unwrap();
    if !bin.is_file() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("agents/claude-code/install");
        let out = Command::new("bash")
            .arg(script)
            .arg(&version)
            .arg(&dir)
            .output();
        let why = match out {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .rfind(|l| !l.trim().is_empty())
                    .unwrap_or("no output")
                    .to_owned(),
            ),
            Err(e) => Some(format!("cannot run bash: {e}")),
        };
        if let Some(why) = why {
            panic!("the real Claude Code {version} could not be installed with npm: {why}");
        }
    }
    assert!(
        bin.is_file(),
        "the real Claude Code {version} was installed but {} is missing",
        bin.display()
    );
    bin
}

/// A project folder, a Claude Code config and a mock API, on one store.
pub struct ClaudeCode<'a> {
    pub store: &'a Store,
    pub mock: MockApi,
    /// `CLAUDE_CONFIG_DIR`: settings, `.claude.json` and `projects/`.
    pub config_dir: PathBuf,
    pub home: PathBuf,
    /// The folder Claude Code works in.
    pub project: PathBuf,
    bin: PathBuf,
}

impl<'a> ClaudeCode<'a> {
    /// Sets up a project in `store`'s scratch folder and installs logbook's
    /// hooks and status line in Claude Code's user settings with `logbook
    /// hooks install --user`, as a user would.
    pub fn new(store: &'a Store, script: Script) -> Self {
        let bin = binary();
        let scratch = store.scratch().canonicalize().unwrap();
        let config_dir = scratch.join("claude");
        let home = scratch.join("home");
        let project = scratch.join("project");
        for dir in [&config_dir, &home, &project] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let key_tail = &API_KEY[API_KEY.len() - 20..];
        let global = json!({
            "hasCompletedOnboarding": true,
            "theme": "dark",
            "customApiKeyResponses": {"approved": [key_tail], "rejected": []},
            "projects": {project.display().to_string(): {
                "hasTrustDialogAccepted": true,
                "hasCompletedProjectOnboarding": true,
            }},
        });
        std::fs::write(config_dir.join(".claude.json"), global.to_string()).unwrap();
        std::fs::write(
            config_dir.join("settings.json"),
            json!({"skipDangerousModePermissionPrompt": true}).to_string(),
        )
        .unwrap();
        let installed = store.ok(&["hooks", "install", "--user"]);
        assert!(installed.contains("settings.json"), "{installed}");
        Self {
            store,
            mock: MockApi::start(script),
            config_dir,
            home,
            project,
            bin,
        }
    }

    /// Any program with the environment Claude Code runs in.
    pub fn env_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = self.store.command(program);
        cmd.env("HOME", &self.home)
            .env("CLAUDE_CONFIG_DIR", &self.config_dir)
            .env("ANTHROPIC_BASE_URL", self.mock.base_url())
            .env("ANTHROPIC_API_KEY", API_KEY)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            // Root may use the bypass-permission mode only in a sandbox.
            .env("IS_SANDBOX", "1")
            .env("TERM", "xterm-256color")
            .env_remove("TMUX")
            .env_remove("CLAUDECODE")
            .env_remove("CLAUDE_CODE_ENTRYPOINT")
            .current_dir(&self.project);
        cmd
    }

    /// `claude ARGS` in the project, permissions bypassed so tools run.
    pub fn command(&self) -> Command {
        let mut cmd = self.env_command(&self.bin);
        cmd.arg("--dangerously-skip-permissions");
        cmd
    }

    /// `claude -p PROMPT ARGS…`, waited for (bounded); fails the test when
    /// Claude Code fails.
    pub fn headless(&self, prompt: &str, args: &[&str]) -> Output {
        let child = self
            .command()
            .arg("-p")
            .arg(prompt)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_output(child, Duration::from_secs(120));
        assert!(
            out.status.success(),
            "claude -p {prompt:?} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The folder Claude Code keeps this project's transcripts in.
    pub fn transcripts_dir(&self) -> PathBuf {
        let slug: String = self
            .project
            .display()
            .to_string()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self.config_dir.join("projects").join(slug)
    }

    /// The transcript of Claude Code session `id`.
    pub fn transcript(&self, id: &str) -> PathBuf {
        self.transcripts_dir().join(format!("{id}.jsonl"))
    }

    /// [`Self::agent_sessions`] once there are at least `n`: an interactive
    /// Claude Code shows an answer a moment before its transcript file
    /// exists.
    pub fn agent_sessions_at_least(&self, n: usize) -> Vec<String> {
        let mut found = Vec::new();
        crate::wait_until(Duration::from_secs(20), "Claude Code's transcripts", || {
            found = self.agent_sessions();
            found.len() >= n
        });
        found
    }

    /// Claude Code's session ids in this project, oldest transcript first.
    pub fn agent_sessions(&self) -> Vec<String> {
        let mut files: Vec<(std::time::SystemTime, String)> =
            std::fs::read_dir(self.transcripts_dir())
                .map(|d| {
                    d.filter_map(|e| {
                        let e = e.ok()?;
                        let name = e.file_name().to_string_lossy().into_owned();
                        let id = name.strip_suffix(".jsonl")?.to_owned();
                        Some((e.metadata().ok()?.created().ok()?, id))
                    })
                    .collect()
                })
                .unwrap_or_default();
        files.sort();
        files.into_iter().map(|(_, id)| id).collect()
    }

    /// A tmux server of its own running interactive `claude ARGS` in one
    /// window named `name`; more tabs join the same server.
    pub fn tab(&self, name: &str, args: &[&str]) -> Tab {
        self.tab_with_env(name, args, &[])
    }

    /// [`Self::tab`] with extra environment for this window's Claude Code.
    pub fn tab_with_env(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Tab {
        let sockets = self.store.scratch().join("tmux");
        std::fs::create_dir_all(&sockets).unwrap();
        let tab = Tab {
            sockets,
            target: format!("lb:{name}"),
        };
        let exists = tab
            .tmux()
            .args(["has-session", "-t", "lb"])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        // The server keeps the environment of the command that started it,
        // so every window runs Claude Code in the run's environment.
        let mut cmd = self.env_command("tmux");
        cmd.env("TMUX_TMPDIR", &tab.sockets);
        if exists {
            cmd.args(["new-window", "-d", "-t", "lb", "-n", name]);
        } else {
            cmd.args([
                "new-session",
                "-d",
                "-s",
                "lb",
                "-n",
                name,
                "-x",
                "160",
                "-y",
                "50",
            ]);
        }
        for (k, v) in env {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        let mut line = vec![
            self.bin.display().to_string(),
            "--dangerously-skip-permissions".to_owned(),
        ];
        line.extend(args.iter().map(|a| (*a).to_owned()));
        let out = cmd
            .arg("-c")
            .arg(&self.project)
            .args(line)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tab.wait_for("bypass permissions", Duration::from_secs(60));
        tab
    }
}

/// Waits for a child's output with a time limit, killing it if it overstays.
pub fn wait_output(mut child: Child, limit: Duration) -> Output {
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = read(stdout.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let err = read(stderr.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let status = wait_bounded(&mut child, limit);
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// One interactive Claude Code in a tmux window.
pub struct Tab {
    sockets: PathBuf,
    target: String,
}

impl Tab {
    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.env("TMUX_TMPDIR", &self.sockets).env_remove("TMUX");
        cmd
    }

    /// What the window shows now.
    pub fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", &self.target])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (bounded) until the window shows `text`.
    pub fn wait_for(&self, text: &str, limit: Duration) {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "{}: `{text}` not shown within {limit:?}; the screen:\n{screen}",
                self.target
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `text` and presses Enter.
    pub fn type_line(&self, text: &str) {
        let ok = self
            .tmux()
            .args(["send-keys", "-t", &self.target, "-l", text])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        // A beat between the text and Enter, or the input box may take the
        // Enter as part of a paste.
        std::thread::sleep(Duration::from_millis(150));
        let ok = self
            .tmux()
            .args(["send-keys", "-t", &self.target, "Enter"])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Sends a prompt and waits until the scripted answer's last text is
    /// shown.
    pub fn prompt(&self, text: &str, answer: &str) {
        self.type_line(text);
        self.wait_for(answer, Duration::from_secs(60));
    }

    /// The pid of the process in the window (Claude Code itself).
    pub fn pid(&self) -> u32 {
        let out = self
            .tmux()
            .args(["display-message", "-p", "-t", &self.target, "#{pane_pid}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    /// Whether the window's program is still running.
    pub fn alive(&self) -> bool {
        let out = self
            .tmux()
            .args(["display-message", "-p", "-t", &self.target, "#{pane_dead}"])
            .output()
            .unwrap();
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0"
    }
}

impl Drop for Tab {
    fn drop(&mut self) {
        let _ = self
            .tmux()
            .args(["kill-window", "-t", &self.target])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for ClaudeCode<'_> {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .env("TMUX_TMPDIR", self.store.scratch().join("tmux"))
            .env_remove("TMUX")
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
    }
}
