//! Where each agent keeps its session files, and which agent and session a
//! file belongs to.
//!
//! A file is recognised by what it holds, not by its name or folder: a
//! Codex rollout opens with `{"type":"session_meta","payload":…}`, a Gemini
//! CLI chat with its `sessionId` and `projectHash`; anything else is read
//! as a Claude Code transcript, as before other agents were known.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Agent;
use crate::record::str_field;

/// The source key of a session's own file.
pub const MAIN: &str = "main";

/// How much of a file's opening is read to recognise it: the opening
/// records are small, and a file of one endless line (or `/dev/zero`) must
/// not be read into memory whole.
const OPENING_BYTES: u64 = 4 << 20;

/// The largest whole-file Gemini chat read (the JSON form is parsed whole).
pub const SNAPSHOT_LIMIT: u64 = 256 << 20;

/// How a file's bytes become captured lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Complete lines, appended: captured as they are.
    Lines,
    /// A zstd-compressed JSONL file (an archived Codex rollout): its
    /// decompressed lines are captured.
    Compressed,
    /// One JSON object rewritten whole (Gemini CLI's older chats): each
    /// version is captured as the lines it adds (see `gemini::Snapshot`).
    Snapshot,
}

/// A session file, recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The file.
    pub path: PathBuf,
    /// The agent that wrote it.
    pub agent: Agent,
    /// How to capture it.
    pub form: Form,
    /// The agent's id of the session it belongs to.
    pub session: String,
    /// [`MAIN`], or `subagents/<name>` for a subagent's own file.
    pub key: String,
    /// The agent's working directory, when the file states it.
    pub cwd: Option<String>,
}

/// Each agent's default folders, from the variables `var` reads (`HOME`,
/// `CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `GEMINI_CLI_HOME`).
pub fn default_roots(agent: Agent, var: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let home = var("HOME").map(PathBuf::from);
    match agent {
        Agent::ClaudeCode => var("CLAUDE_CONFIG_DIR")
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".claude")))
            .map(|base| vec![base.join("projects")])
            .unwrap_or_default(),
        Agent::Codex => var("CODEX_HOME")
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".codex")))
            .map(|base| vec![base.join("sessions"), base.join("archived_sessions")])
            .unwrap_or_default(),
        Agent::Gemini => var("GEMINI_CLI_HOME")
            .map(PathBuf::from)
            .or(home)
            .map(|base| vec![base.join(".gemini").join("tmp")])
            .unwrap_or_default(),
    }
}

/// The folder under `root` (one of [`default_roots`]) that holds one
/// project's sessions: Claude Code names it after the project's path with
/// every character but a letter or digit made `-`; Gemini CLI after the
/// sha256 of the path. Codex keeps every project's rollouts together
/// (`None`: filter them by their `cwd`).
pub fn project_folder(agent: Agent, root: &Path, project: &Path) -> Option<PathBuf> {
    let text = project.display().to_string();
    match agent {
        Agent::ClaudeCode => Some(
            root.join(
                text.chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect::<String>(),
            ),
        ),
        Agent::Gemini => {
            use sha2::Digest as _;
            let digest = sha2::Sha256::digest(text.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            Some(root.join(hex))
        }
        Agent::Codex => None,
    }
}

/// The session files of `agent` under `root` (a missing root has none), in
/// path order. Where one session has two files the agent's own rules pick
/// one: a Codex rollout under `sessions/` over its copy under
/// `archived_sessions/`, and a plain rollout over its `.zst`; a Gemini
/// `.jsonl` over the `.json` it was resumed from (it holds the whole old
/// history again).
pub fn session_files(agent: Agent, root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut all = Vec::new();
    if root.is_dir() {
        walk(root, 0, &mut all)?;
    }
    all.sort();
    let names: std::collections::BTreeSet<String> = all
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    let live = match agent {
        Agent::Codex => live_names(root),
        _ => Default::default(),
    };
    let has_sibling = |path: &Path, ext: &str| {
        let mut sibling = path.as_os_str().to_owned();
        sibling.push(ext);
        Path::new(&sibling).exists()
    };
    Ok(all
        .into_iter()
        .filter(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match agent {
                Agent::ClaudeCode => name.ends_with(".jsonl"),
                Agent::Codex => {
                    let plain = name.strip_suffix(".zst").unwrap_or(&name);
                    // Codex names them `rollout-*`, but any JSONL file in
                    // its folders is read (as ccusage does); what it holds
                    // says whose it is.
                    (name.ends_with(".jsonl")
                            || (name.ends_with(".jsonl.zst") && !names.contains(plain)))
                        // An archived copy of a rollout that is still live
                        // (same name under sessions/) is the same thread.
                        && !live.contains(&name)
                }
                Agent::Gemini => {
                    let in_chats = path
                        .ancestors()
                        .skip(1)
                        .take(2)
                        .any(|a| a.file_name().is_some_and(|n| n == "chats"));
                    in_chats
                        && (name.ends_with(".jsonl")
                            || (name.starts_with("session-")
                                && name.ends_with(".json")
                                && !has_sibling(path, "l")))
                }
            }
        })
        .collect())
}

/// The file names under `sessions/` beside an `archived_sessions/` root
/// (none for any other root): an archived copy of one of them is the same
/// thread.
fn live_names(root: &Path) -> std::collections::BTreeSet<String> {
    let mut found = Vec::new();
    if root.file_name().is_some_and(|n| n == "archived_sessions")
        && let Some(live) = root.parent().map(|b| b.join("sessions"))
        && live.is_dir()
    {
        // Unreadable: no copy is known, and each file is read as its own.
        let _ = walk(&live, 0, &mut found);
    }
    found
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect()
}

/// Regular files under `dir`, not following links out of it (the agents'
/// folders are plain trees; a link loop must not hang a sweep).
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if depth > 8 {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), depth + 1, out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// Recognises the file at `path`.
pub fn recognise(path: &Path) -> std::io::Result<Found> {
    // Opening a FIFO waits for a writer, and a device has no end.
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device), refused",
        ));
    }
    let compressed = path.extension().is_some_and(|e| e == "zst");
    let opening = opening(path, compressed)?;
    let first = opening
        .split(|b| *b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
        .unwrap_or_default();
    let first_value = serde_json::from_slice::<Value>(first).ok();
    if compressed || first_value.as_ref().is_some_and(is_codex) {
        return Ok(codex(path, &opening, compressed));
    }
    if let Some(v) = &first_value
        && v.get("sessionId").is_some()
        && v.get("projectHash").is_some()
        && v.get("messages").is_none()
    {
        return Ok(gemini(path, v, Form::Lines));
    }
    // A pretty-printed object (Gemini's whole-file form) does not parse as
    // a line; one that is a chat is read whole.
    if first_value.is_none() && first.first() == Some(&b'{')
        || first_value
            .as_ref()
            .is_some_and(|v| v.get("messages").is_some())
    {
        let size = std::fs::metadata(path)?.len();
        if size <= SNAPSHOT_LIMIT
            && let Ok(value) = serde_json::from_slice::<Value>(&std::fs::read(path)?)
            && value.get("sessionId").is_some()
            && value.get("messages").is_some_and(Value::is_array)
        {
            return Ok(gemini(path, &value, Form::Snapshot));
        }
    }
    // A `.json` file is never JSONL: one that does not parse is a chat
    // cut off or damaged, kept as it is under its file name.
    if path.extension().is_some_and(|e| e == "json") {
        return Ok(Found {
            path: path.to_owned(),
            agent: Agent::Gemini,
            form: Form::Snapshot,
            session: stem(path),
            key: MAIN.to_owned(),
            cwd: None,
        });
    }
    Ok(claude(path, &opening))
}

fn opening(path: &Path, compressed: bool) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut out = Vec::new();
    if compressed {
        zstd::stream::read::Decoder::new(file)?
            .take(OPENING_BYTES)
            .read_to_end(&mut out)?;
    } else {
        file.take(OPENING_BYTES).read_to_end(&mut out)?;
    }
    Ok(out)
}

fn is_codex(v: &Value) -> bool {
    v.get("payload").is_some()
        && matches!(
            str_field(v, "type"),
            Some("session_meta" | "response_item" | "event_msg" | "turn_context" | "compacted")
        )
}

fn stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = name.strip_suffix(".zst").unwrap_or(&name);
    let name = name
        .strip_suffix(".jsonl")
        .or_else(|| name.strip_suffix(".json"))
        .unwrap_or(name);
    name.to_owned()
}

fn codex(path: &Path, opening: &[u8], compressed: bool) -> Found {
    let meta = opening
        .split(|b| *b == b'\n')
        .take(4)
        .find_map(crate::codex::meta)
        .unwrap_or_default();
    let name = stem(path);
    Found {
        path: path.to_owned(),
        agent: Agent::Codex,
        form: if compressed {
            Form::Compressed
        } else {
            Form::Lines
        },
        // The thread id is also the end of the file name.
        session: meta.id.unwrap_or_else(|| {
            name.get(name.len().saturating_sub(36)..)
                .unwrap_or(&name)
                .to_owned()
        }),
        key: MAIN.to_owned(),
        cwd: meta.cwd,
    }
}

fn gemini(path: &Path, header: &Value, form: Form) -> Found {
    let session = str_field(header, "sessionId").map(str::to_owned);
    // A subagent's chat lives in `chats/<parent session id>/`.
    let parent = path
        .parent()
        .filter(|dir| {
            dir.parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == "chats")
        })
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned());
    let name = stem(path);
    match parent {
        Some(parent) => Found {
            path: path.to_owned(),
            agent: Agent::Gemini,
            form,
            session: parent,
            key: format!("subagents/{}", session.unwrap_or(name)),
            cwd: None,
        },
        None => Found {
            path: path.to_owned(),
            agent: Agent::Gemini,
            form,
            session: session.unwrap_or(name),
            key: MAIN.to_owned(),
            cwd: None,
        },
    }
}

/// Claude Code: the first `sessionId` and `cwd` of the opening records; a
/// subagent's transcript (`<session>/subagents/agent-*.jsonl`, or a flat
/// `agent-*.jsonl` naming its parent in `sessionId`) joins its parent.
fn claude(path: &Path, opening: &[u8]) -> Found {
    let (mut session, mut cwd) = (None, None);
    for line in BufReader::new(opening).split(b'\n').take(200) {
        let Ok(line) = line else { break };
        let Ok(record) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        if session.is_none() {
            session = str_field(&record, "sessionId").map(str::to_owned);
        }
        if cwd.is_none() {
            cwd = str_field(&record, "cwd").map(str::to_owned);
        }
        if session.is_some() && cwd.is_some() {
            break;
        }
    }
    let name = stem(path);
    let parent_dir = path.parent();
    let in_subagents = parent_dir
        .and_then(Path::file_name)
        .is_some_and(|n| n == "subagents");
    let (session, key) = if in_subagents || name.starts_with("agent-") {
        let parent = if in_subagents {
            parent_dir.and_then(Path::parent).map(stem)
        } else {
            session
        };
        (
            parent.unwrap_or_else(|| name.clone()),
            format!("subagents/{name}"),
        )
    } else {
        (session.unwrap_or(name), MAIN.to_owned())
    };
    Found {
        path: path.to_owned(),
        agent: Agent::ClaudeCode,
        form: Form::Lines,
        session,
        key,
        cwd,
    }
}
