//! The spool: hook payloads that could not be served in time, kept on disk
//! until the store can take them.
//!
//! A hook must never make the agent wait and never be lost. When the
//! daemon does not answer within the bound, or the store is held by
//! another process, the hook writes its payload here (fsync'd, mode 0600)
//! and exits 0. Whoever next owns the store applies the spool, oldest
//! first, before its own work: the daemon before every request and on a
//! timer, a process without the daemon when it opens the store, and long
//! jobs between batches.
//!
//! A payload the hook already sent to a daemon that then stopped answering
//! must not be applied twice (once from the socket, once from the spool).
//! Both sides claim the request's id with an exclusive create of
//! `spool/<id>.claim`; only the winner applies it.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::EngineError;
use crate::workspace::Workspace;

/// A spooled agent-facing request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spooled {
    /// The request's id (also its claim).
    pub id: String,
    /// `hook`.
    pub kind: String,
    /// The Claude Code process above the hook.
    pub agent_pid: Option<u32>,
    /// When the hook read its payload (absent in spools written before
    /// it was kept).
    #[serde(default)]
    pub received_at: Option<logbook_core::Timestamp>,
    /// The agent whose hook it is, when not Claude Code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<logbook_agents::Agent>,
    /// The payload, as received.
    pub payload: String,
}

/// The spool directory of the store at `root`.
pub fn dir(root: &Path) -> PathBuf {
    root.join("spool")
}

/// Claims request `id` for the caller; false when the other side (hook or
/// daemon) already did. Errors count as not claimed only when the claim
/// exists; any other failure claims, because losing a hook is worse than
/// the small chance of applying one twice.
pub fn claim(root: &Path, id: &str) -> bool {
    let dir = dir(root);
    let _ = crate::files::create_private_dir(&dir);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(format!("{id}.claim")))
    {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::AlreadyExists,
    }
}

/// Releases a claim the daemon holds for a request it served.
pub fn release(root: &Path, id: &str) {
    let _ = std::fs::remove_file(dir(root).join(format!("{id}.claim")));
}

/// Writes `item` durably: a temporary file, fsync, rename, fsync of the
/// directory. The name sorts by the time the hook ran.
pub fn write(root: &Path, item: &Spooled) -> std::io::Result<PathBuf> {
    let dir = dir(root);
    crate::files::create_private_dir(&dir)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!("{nanos:024}-{}.json", item.id);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(&serde_json::to_vec(item).map_err(std::io::Error::other)?)?;
    file.sync_all()?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(path)
}

/// The spooled files, oldest first.
pub fn pending(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir(root)) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    found.sort();
    found
}

/// Applies every spooled request, oldest first, and removes it. A request
/// that fails is logged to `<store>/logbook.log` and removed too: it would
/// fail again, and it must not block the ones behind it. Returns what each
/// applied hook did (the daemon watches the sessions they name).
pub async fn ingest(ws: &Workspace) -> Vec<crate::claude::hook::HookOutcome> {
    let _turn = ws.spool_turn().await;
    let mut applied = Vec::new();
    for path in pending(ws.root()) {
        let item = std::fs::read(&path)
            .map_err(EngineError::from)
            .and_then(|bytes| serde_json::from_slice::<Spooled>(&bytes).map_err(EngineError::from));
        match item {
            Ok(item) => {
                let caller = crate::claude::hook::HookCaller {
                    agent_pid: item.agent_pid,
                    received_at: item.received_at,
                    agent: item.agent,
                };
                match crate::claude::hook::handle(ws, item.payload.as_bytes(), caller).await {
                    Ok(outcome) => applied.push(outcome),
                    Err(e) if e.is_out_of_space() => {
                        // Still no room: this one and the ones behind it
                        // wait, in order, for the next try.
                        release(ws.root(), &item.id);
                        break;
                    }
                    Err(e) => crate::claude::hook::log_failure(ws.root(), "spooled hook", &e),
                }
                release(ws.root(), &item.id);
            }
            Err(e) => crate::claude::hook::log_failure(
                ws.root(),
                &format!("spool file {}", path.display()),
                &e,
            ),
        }
        let _ = std::fs::remove_file(&path);
    }
    applied
}

/// Removes claims older than `age`: a daemon killed between claiming a
/// request and releasing it leaves its claim behind, and by now the client
/// has long given up on it.
pub fn forget_old_claims(root: &Path, age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(dir(root)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|elapsed| elapsed > age);
        if old && path.extension().is_some_and(|e| e == "claim") {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `<store>/busy`: a long job (import, verify, replay, export) holds the
/// store in its own process, so hooks spool at once rather than wait. It
/// names the job's pid and is removed when the job ends; one left by a
/// killed job names a dead pid and is ignored.
pub struct Busy {
    path: PathBuf,
}

impl Busy {
    /// Marks the store at `root` busy until the returned value is dropped.
    pub fn mark(root: &Path) -> Self {
        let path = root.join("busy");
        let _ = std::fs::write(&path, std::process::id().to_string());
        Self { path }
    }

    /// Whether a live process has marked the store at `root` busy.
    pub fn held(root: &Path) -> bool {
        std::fs::read_to_string(root.join("busy"))
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .is_some_and(|pid| {
                pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists()
            })
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
