//! `logbook hooks install|uninstall`: logbook's entries in Claude Code's
//! `settings.json`, or Codex CLI's `hooks.json` (the same shape), merged in
//! and taken out without disturbing anything else (key order included).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::{Map, Value, json};

use crate::cli::{HooksAction, HooksScope};
use logbook_engine::UsageError;
use logbook_engine::claude::hook::{Delivery, EVENTS, HookEvent};

/// How settings.json was changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Written (the old file kept as a backup, when there was one).
    Written,
    /// Already as asked.
    Unchanged,
}

/// The program path quoted for `sh -c`, so a path with spaces still runs.
fn shell_word(program: &str) -> String {
    if program
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        program.to_owned()
    } else {
        format!("'{}'", program.replace('\'', r"'\''"))
    }
}

/// The command line of one of logbook's entries.
pub fn command_line(program: &str, subcommand: &str) -> String {
    format!("{} {subcommand}", shell_word(program))
}

/// Whether `command` runs logbook's `subcommand` (any install path).
fn is_ours(command: &str, subcommand: &str) -> bool {
    let Some(program) = command.strip_suffix(&format!(" {subcommand}")) else {
        return false;
    };
    let program = program.trim_matches('\'');
    Path::new(program)
        .file_name()
        .is_some_and(|name| name == "logbook")
}

fn group_has_ours(group: &Value, subcommand: &str) -> bool {
    group
        .get("hooks")
        .and_then(Value::as_array)
        .is_some_and(|hooks| {
            hooks.iter().any(|h| {
                h.get("command")
                    .and_then(Value::as_str)
                    .is_some_and(|c| is_ours(c, subcommand))
            })
        })
}

/// What `hooks install` puts in one agent's hook file.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// The events, each with whether it may run in the background.
    pub events: &'static [(&'static str, bool)],
    /// What each entry runs after the program.
    pub subcommand: &'static str,
    /// Add logbook's status line when none is set (Claude Code only).
    pub status_line: bool,
}

/// Codex CLI's events that end or mark a turn: each one's rollout is
/// captured when it fires (Codex's hook payloads name it).
const CODEX_EVENTS: &[(&str, bool)] = &[
    ("SessionStart", false),
    ("UserPromptSubmit", false),
    ("Stop", false),
    ("PostCompact", false),
];

/// The profile for an agent named as `--agent` takes it.
pub fn profile(agent: &str) -> Result<Profile, UsageError> {
    static CLAUDE: std::sync::LazyLock<Vec<(&'static str, bool)>> =
        std::sync::LazyLock::new(|| {
            EVENTS
                .iter()
                .map(|HookEvent { name, delivery, .. }| (*name, *delivery == Delivery::Background))
                .collect()
        });
    match logbook_agents::Agent::from_name(agent) {
        Some(logbook_agents::Agent::ClaudeCode) => Ok(Profile {
            events: CLAUDE.as_slice(),
            subcommand: "hook",
            status_line: true,
        }),
        Some(logbook_agents::Agent::Codex) => Ok(Profile {
            events: CODEX_EVENTS,
            subcommand: "hook --agent codex",
            status_line: false,
        }),
        _ => Err(UsageError::Invalid(format!(
            "no hooks for agent `{agent}`: claude-code or codex (Gemini CLI is read from its files)"
        ))),
    }
}

/// Merges logbook's Claude Code hooks (and a status line when none is
/// set) into `settings`.
#[cfg(test)]
pub fn merge(settings: &mut Map<String, Value>, program: &str) -> anyhow::Result<bool> {
    merge_profile(settings, program, &profile("claude-code")?)
}

/// Merges `profile`'s hooks into `settings`.
pub fn merge_profile(
    settings: &mut Map<String, Value>,
    program: &str,
    profile: &Profile,
) -> anyhow::Result<bool> {
    let mut changed = false;
    let hooks = settings
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let hooks = hooks
        .as_object_mut()
        .context("settings.json: \"hooks\" is not an object")?;
    for &(event, background) in profile.events {
        let groups = hooks
            .entry(event)
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .with_context(|| format!("settings.json: hooks.{event} is not a list"))?;
        if !groups.iter().any(|g| group_has_ours(g, profile.subcommand)) {
            let mut hook =
                json!({"type": "command", "command": command_line(program, profile.subcommand)});
            if background {
                hook["async"] = Value::Bool(true);
            }
            groups.push(json!({"matcher": "", "hooks": [hook]}));
            changed = true;
        }
    }
    if profile.status_line && !settings.contains_key("statusLine") {
        settings.insert(
            "statusLine".into(),
            json!({"type": "command", "command": command_line(program, "statusline")}),
        );
        changed = true;
    }
    Ok(changed)
}

/// Removes exactly logbook's Claude Code entries: its hook commands, the
/// groups and event lists that held only them, and its status line.
#[cfg(test)]
pub fn remove(settings: &mut Map<String, Value>) -> bool {
    profile("claude-code").is_ok_and(|p| remove_profile(settings, &p))
}

/// Removes exactly `profile`'s entries.
pub fn remove_profile(settings: &mut Map<String, Value>, profile: &Profile) -> bool {
    let mut changed = false;
    if let Some(hooks) = settings.get_mut("hooks").and_then(Value::as_object_mut) {
        for &(event, _) in profile.events {
            let Some(groups) = hooks.get_mut(event).and_then(Value::as_array_mut) else {
                continue;
            };
            let before = groups.len();
            for group in groups.iter_mut() {
                if let Some(list) = group.get_mut("hooks").and_then(Value::as_array_mut) {
                    let n = list.len();
                    list.retain(|h| {
                        !h.get("command")
                            .and_then(Value::as_str)
                            .is_some_and(|c| is_ours(c, profile.subcommand))
                    });
                    changed |= list.len() != n;
                }
            }
            groups.retain(|g| {
                g.get("hooks")
                    .and_then(Value::as_array)
                    .is_none_or(|l| !l.is_empty())
            });
            if groups.is_empty() && before > 0 {
                hooks.remove(event);
            }
        }
        if hooks.is_empty() {
            settings.remove("hooks");
        }
    }
    let status_is_ours = settings
        .get("statusLine")
        .and_then(|s| s.get("command"))
        .and_then(Value::as_str)
        .is_some_and(|c| is_ours(c, "statusline"));
    if status_is_ours {
        settings.remove("statusLine");
        changed = true;
    }
    changed
}

fn settings_path(scope: &HooksScope, cwd: &Path) -> anyhow::Result<PathBuf> {
    if logbook_agents::Agent::from_name(&scope.agent) == Some(logbook_agents::Agent::Codex) {
        if !scope.user {
            return Ok(cwd.join(".codex/hooks.json"));
        }
        if let Some(dir) = std::env::var_os("CODEX_HOME").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir).join("hooks.json"));
        }
        let home = std::env::var_os("HOME").context("HOME is not set")?;
        return Ok(PathBuf::from(home).join(".codex/hooks.json"));
    }
    if scope.user {
        // Claude Code reads its user settings from CLAUDE_CONFIG_DIR when
        // that is set, so installing anywhere else would do nothing.
        if let Some(dir) = std::env::var_os("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir).join("settings.json"));
        }
        let home = std::env::var_os("HOME").context("HOME is not set")?;
        Ok(PathBuf::from(home).join(".claude/settings.json"))
    } else {
        Ok(cwd.join(".claude/settings.json"))
    }
}

/// Reads, edits and (when changed) rewrites `path`, keeping a backup.
pub fn edit(
    path: &Path,
    apply: impl FnOnce(&mut Map<String, Value>) -> anyhow::Result<bool>,
) -> anyhow::Result<Change> {
    let original = match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut settings = match &original {
        Some(bytes) if !bytes.iter().all(u8::is_ascii_whitespace) => {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(map)) => map,
                Ok(_) => {
                    return Err(UsageError::Invalid(format!(
                        "{} is not a JSON object; left untouched",
                        path.display()
                    ))
                    .into());
                }
                Err(e) => {
                    return Err(UsageError::Invalid(format!(
                        "{} is not valid JSON ({e}); left untouched",
                        path.display()
                    ))
                    .into());
                }
            }
        }
        _ => Map::new(),
    };
    if !apply(&mut settings)? {
        return Ok(Change::Unchanged);
    }
    let dir = path.parent().context("settings path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if let Some(bytes) = &original {
        let backup = path.with_extension("json.logbook-backup");
        std::fs::write(&backup, bytes).with_context(|| format!("writing {}", backup.display()))?;
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(settings))?;
    text.push('\n');
    let tmp = path.with_extension("json.logbook-tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(Change::Written)
}

/// Runs `hooks install|uninstall`.
pub fn hooks(action: HooksAction, cwd: &Path, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let program = std::env::current_exe()
        .context("cannot find the logbook binary")?
        .display()
        .to_string();
    let (scope, installing) = match &action {
        HooksAction::Install(scope) => (scope, true),
        HooksAction::Uninstall(scope) => (scope, false),
    };
    let profile = profile(&scope.agent)?;
    let path = settings_path(scope, cwd)?;
    let change = if installing {
        edit(&path, |s| merge_profile(s, &program, &profile))?
    } else {
        edit(&path, |s| Ok(remove_profile(s, &profile)))?
    };
    let verb = match (installing, change) {
        (true, Change::Written) => "installed logbook's hooks in",
        (true, Change::Unchanged) => "logbook's hooks were already in",
        (false, Change::Written) => "removed logbook's hooks from",
        (false, Change::Unchanged) => "no logbook hooks in",
    };
    writeln!(out, "{verb} {}", path.display())?;
    if installing && !profile.status_line {
        writeln!(
            out,
            "Codex runs them once you have reviewed and trusted them; a Codex that keeps hooks behind a feature flag also needs [features] codex_hooks = true in its config.toml"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn install_twice_then_uninstall_restores_the_original() {
        let original = json!({
            "model": "opus",
            "hooks": {
                "Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "say done"}]}],
                "PostToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "fmt"}]}]
            },
            "statusLine": {"type": "command", "command": "my-line"}
        });
        let mut s = original.as_object().unwrap().clone();
        assert!(merge(&mut s, "/opt/my tools/logbook").unwrap());
        let once = s.clone();
        assert!(!merge(&mut s, "/opt/my tools/logbook").unwrap());
        assert_eq!(s, once);
        assert_eq!(s["statusLine"]["command"], "my-line");
        assert_eq!(s["hooks"]["Stop"].as_array().unwrap().len(), 2);
        assert_eq!(
            s["hooks"]["SessionEnd"][0]["hooks"][0]["command"],
            "'/opt/my tools/logbook' hook"
        );
        assert!(remove(&mut s));
        assert_eq!(Value::Object(s), original);
    }

    #[test]
    fn a_status_line_is_added_only_when_none_is_set_and_removed_with_the_rest() {
        let mut s = Map::new();
        merge(&mut s, "/usr/bin/logbook").unwrap();
        assert_eq!(s["statusLine"]["command"], "/usr/bin/logbook statusline");
        remove(&mut s);
        assert!(s.is_empty());
    }
}
