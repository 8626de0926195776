//! `config.toml`: optional tunables, with defaults when absent.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// The settings a store may override.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Seconds to wait for another process's lock before failing.
    pub lock_wait_secs: f64,
    /// Lines per transcript part.
    pub rotate_lines: u64,
    /// A text source whose line count falls below this fraction of what was
    /// captured counts as a compaction.
    pub compaction_ratio: f64,
    /// Milliseconds between passes of `capture --follow`.
    pub follow_interval_ms: u64,
    /// The context window in tokens, when the default detection (200K,
    /// 1M once usage or the status line says so) is not right.
    pub context_window: Option<u64>,
    /// Context windows by model-id substring, over the built-in table, for
    /// sessions no status line reports on (`claude -p`, the SDK).
    pub context_windows: std::collections::BTreeMap<String, u64>,
    /// Alert thresholds, percent of the window remaining.
    pub budget_thresholds: Vec<u8>,
    /// USD per million tokens by model-id substring, over the built-in table.
    pub pricing: std::collections::BTreeMap<String, logbook_tokens::pricing::Price>,
    /// Whether commands go through the store's daemon (`LOGBOOK_DAEMON=off`
    /// overrides it for one process).
    pub daemon: bool,
    /// Seconds the daemon stays up with no active session and no client.
    pub daemon_idle_secs: u64,
    /// After `SessionEnd`, or the agent's death, a session's files are
    /// drained until they have been quiet this long…
    pub drain_quiet_ms: u64,
    /// …but never longer than this.
    pub drain_max_ms: u64,
    /// Milliseconds between passes of a session watcher over its files.
    pub watch_interval_ms: u64,
    /// How long a hook or the status line waits for the daemon before it
    /// spools its payload and exits (Claude Code gives `SessionEnd` ~1.5 s).
    pub hook_wait_ms: u64,
    /// How long a `SessionStart` hook waits for its brief: the one hook whose
    /// output matters, run before the first prompt.
    pub session_start_wait_ms: u64,
    /// How long a `Stop` hook waits for the turn's last reply to reach the
    /// transcript (Claude Code fires `Stop` before it writes it), so that
    /// what the turn used is counted, and warned about, on that turn; 0
    /// does not wait.
    pub stop_wait_ms: u64,
    /// A new conversation is handed the brief of a session that ended at
    /// most this many seconds ago (0: any age).
    pub handoff_max_age_secs: u64,
    /// Free disk (MiB) the store keeps: a write that would leave less is
    /// refused before anything is written (0: no margin).
    pub min_free_mb: u64,
    /// Seconds between the daemon's sweeps of Claude Code's projects
    /// folder for transcripts no hook saw; 0 turns the sweep off.
    pub sweep_interval_secs: u64,
    /// Keep the full-text index that `search` and `files` read (in
    /// `<store>/index`, updated when the daemon is idle and before each
    /// search). Off: no index is kept and those commands refuse.
    pub search_index: bool,
    /// Give a new conversation with no handoff what its project's earlier
    /// sessions decided and corrected (the project memory's brief).
    pub memory_brief: bool,
    /// The most characters that brief may hold.
    pub memory_brief_chars: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            lock_wait_secs: 10.0,
            rotate_lines: logbook_core::sessions::DEFAULT_ROTATE_LINES,
            compaction_ratio: 0.5,
            follow_interval_ms: 200,
            context_window: None,
            context_windows: std::collections::BTreeMap::new(),
            budget_thresholds: logbook_tokens::budget::DEFAULT_THRESHOLDS.to_vec(),
            pricing: std::collections::BTreeMap::new(),
            daemon: true,
            daemon_idle_secs: 600,
            drain_quiet_ms: 400,
            drain_max_ms: 5_000,
            watch_interval_ms: 25,
            hook_wait_ms: 700,
            session_start_wait_ms: 3_000,
            stop_wait_ms: 300,
            handoff_max_age_secs: 86_400,
            sweep_interval_secs: 3_600,
            min_free_mb: logbook_store::DEFAULT_MIN_FREE >> 20,
            search_index: true,
            memory_brief: true,
            memory_brief_chars: 2_000,
        }
    }
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    path: String,
    message: String,
}

impl Config {
    /// Reads `path`, or the defaults when it does not exist.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let fail = |message: String| ConfigError {
            path: path.display().to_string(),
            message,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(fail(e.to_string())),
        };
        let config: Config = toml::from_str(&text).map_err(|e| {
            // toml's Display draws a multi-line snippet; one line is wanted.
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            let message = e.message().trim().replace('\n', " ");
            fail(match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            })
        })?;
        config.validate().map_err(fail)?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(bad) = self
            .budget_thresholds
            .iter()
            .find(|t| **t == 0 || **t >= 100)
        {
            return Err(format!(
                "budget_thresholds must be between 1 and 99, not {bad}"
            ));
        }
        if self.context_window == Some(0) {
            return Err("context_window must be positive".into());
        }
        if let Some((model, _)) = self.context_windows.iter().find(|(_, w)| **w == 0) {
            return Err(format!("context_windows.{model:?} must be positive"));
        }
        if !self.lock_wait_secs.is_finite() || !(0.0..=3600.0).contains(&self.lock_wait_secs) {
            return Err(format!(
                "lock_wait_secs must be between 0 and 3600, not {}",
                self.lock_wait_secs
            ));
        }
        if !(self.compaction_ratio > 0.0 && self.compaction_ratio < 1.0) {
            return Err(format!(
                "compaction_ratio must be between 0 and 1, not {}",
                self.compaction_ratio
            ));
        }
        if self.rotate_lines == 0 {
            return Err("rotate_lines must be at least 1".into());
        }
        if !(1..=10_000).contains(&self.watch_interval_ms) {
            return Err(format!(
                "watch_interval_ms must be between 1 and 10000, not {}",
                self.watch_interval_ms
            ));
        }
        if self.drain_quiet_ms > self.drain_max_ms {
            return Err(format!(
                "drain_quiet_ms ({}) must not exceed drain_max_ms ({})",
                self.drain_quiet_ms, self.drain_max_ms
            ));
        }
        if !(10..=30_000).contains(&self.session_start_wait_ms) {
            return Err(format!(
                "session_start_wait_ms must be between 10 and 30000, not {}",
                self.session_start_wait_ms
            ));
        }
        if self.stop_wait_ms > 1_000 {
            return Err(format!(
                "stop_wait_ms must be at most 1000 (the agent waits for it), not {}",
                self.stop_wait_ms
            ));
        }
        if !(10..=1_400).contains(&self.hook_wait_ms) {
            return Err(format!(
                "hook_wait_ms must be between 10 and 1400 (Claude Code gives SessionEnd about 1500), not {}",
                self.hook_wait_ms
            ));
        }
        Ok(())
    }

    /// Whether this process should use the daemon: the config, unless
    /// `LOGBOOK_DAEMON=off` (or `0`, `false`) says otherwise.
    pub fn daemon_enabled(&self) -> bool {
        match std::env::var("LOGBOOK_DAEMON") {
            Ok(v) if matches!(v.as_str(), "off" | "0" | "false" | "no") => false,
            Ok(v) if matches!(v.as_str(), "on" | "1" | "true" | "yes") => true,
            _ => self.daemon,
        }
    }

    /// The lock wait as a duration.
    pub fn lock_wait(&self) -> Duration {
        Duration::from_secs_f64(self.lock_wait_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path)
    }

    #[test]
    fn absent_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Config::load(&dir.path().join("nope")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn values_override_defaults() {
        let c = load("lock_wait_secs = 2.5\n").unwrap();
        assert_eq!(c.lock_wait(), Duration::from_millis(2500));
        assert_eq!(c.rotate_lines, 60_000);
    }

    #[test]
    fn bad_key_value_and_syntax_are_one_line_errors() {
        for (text, needle) in [
            ("lock_wait = 3\n", "unknown field `lock_wait`"),
            ("lock_wait_secs = \"soon\"\n", "line 1"),
            ("rotate_lines = 0\n", "rotate_lines must be at least 1"),
            ("lock_wait_secs = -1.0\n", "between 0 and 3600"),
            ("\n\n[[[\n", "line 3"),
        ] {
            let err = load(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?} gave {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
