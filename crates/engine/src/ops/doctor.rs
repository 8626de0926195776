//! `logbook doctor`: a store's health in plain words, and `--repair`.
//!
//! Each check says what it found and, when something is wrong, what to do.
//! The diagnosis never changes the store beyond what every command does
//! (opening it brings projections up to date); `--repair` fixes what it
//! can: leftovers, permissions, the projected files, and a log that is
//! damaged or refuses to open, which it rebuilds from every event it can
//! still read, keeping the damaged one aside.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::console::Console;
use crate::error::EngineError;
use crate::ops::{Store, plural};
use crate::request::DoctorArgs;
use crate::workspace::{Workspace, WorkspaceError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Bad,
}

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    status: Status,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

impl Check {
    fn new(name: &'static str, status: Status, message: impl Into<String>) -> Self {
        Self {
            name,
            status,
            message: message.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    store: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    repaired: Vec<String>,
    checks: Vec<Check>,
}

const REPAIR_HINT: &str =
    "`logbook doctor --repair` rebuilds the log from every event it can still read";

/// Failures in `logbook.log` younger than this are reported.
const RECENT: Duration = Duration::from_secs(24 * 3600);

/// Runs the checks (after the repairs, with `--repair`); exit 1 when a
/// check fails.
pub(crate) async fn doctor(
    store: &Store,
    args: DoctorArgs,
    console: &mut Console,
) -> crate::Result<u8> {
    let root = store.root().to_owned();
    let mut repaired = Vec::new();
    if args.repair {
        if matches!(store, Store::Shared(_)) {
            return Err(EngineError::usage(
                "doctor --repair runs in its own process with the daemon stopped",
            ));
        }
        if let Some(why) = crate::workspace::read_only_reason(&root) {
            return Err(EngineError::failed(format!(
                "cannot repair: {why}; copy the store somewhere writable and repair the copy"
            )));
        }
        repaired = repair(&root).await?;
    }
    let checks = diagnose(store).await;
    let report = Report {
        ok: checks.iter().all(|c| c.status != Status::Bad),
        store: root.display().to_string(),
        repaired,
        checks,
    };
    let out = &mut *console.out;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(out, "logbook doctor: {}", report.store)?;
        for line in &report.repaired {
            writeln!(out, "  repaired     {line}")?;
        }
        for check in &report.checks {
            let status = match check.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Bad => "bad ",
            };
            writeln!(out, "  {status} {:<12} {}", check.name, check.message)?;
            if let Some(hint) = &check.hint {
                writeln!(out, "       {:<12} hint: {hint}", "")?;
            }
        }
    }
    let bad: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Bad)
        .collect();
    if let Some(first) = bad.first() {
        console.say(format_args!(
            "logbook: doctor: {}: {}{}",
            first.name,
            first.message,
            if bad.len() > 1 {
                format!(" (and {} more problems)", bad.len() - 1)
            } else {
                String::new()
            }
        ));
        return Ok(1);
    }
    Ok(0)
}

/// Every check, in the order a person would look.
async fn diagnose(store: &Store) -> Vec<Check> {
    let root = store.root();
    if !root.is_dir() {
        return vec![
            Check::new(
                "store",
                Status::Bad,
                format!("{} is not a store directory", root.display()),
            )
            .hint("a store is created by the first command that records"),
        ];
    }
    let mut checks = vec![permissions(root), space(root)];
    checks.extend(leftovers(root, matches!(store, Store::PerUse(_))));
    let ws = match store {
        Store::Shared(ws) => {
            checks.push(Check::new(
                "lock",
                Status::Ok,
                format!("held by this store's daemon (pid {})", std::process::id()),
            ));
            Ok(ws.clone())
        }
        Store::PerUse(_) => {
            // Not the configured wait: a doctor says who holds the store
            // rather than queueing behind them.
            match Workspace::open_waiting(root, Some(Duration::from_secs(2))).await {
                Ok(ws) if ws.is_read_only() => {
                    let why = crate::workspace::read_only_reason(root).unwrap_or_default();
                    checks.push(Check::new(
                        "lock",
                        Status::Warn,
                        format!("not taken: {why}; it can be read, nothing can be recorded in it"),
                    ));
                    Ok(std::sync::Arc::new(ws))
                }
                Ok(ws) => {
                    checks.push(Check::new(
                        "lock",
                        Status::Ok,
                        "free; taken for these checks",
                    ));
                    Ok(std::sync::Arc::new(ws))
                }
                Err(e) => Err(e),
            }
        }
    };
    match ws {
        Ok(ws) => {
            checks.push(chain(&ws));
            checks.push(projections(&ws).await);
        }
        Err(WorkspaceError::Store(logbook_store::StoreError::Locked {
            holder, waited, ..
        })) => {
            let who = holder.map_or_else(|| "another process".to_owned(), describe_process);
            checks.push(
                Check::new(
                    "lock",
                    Status::Bad,
                    format!("held by {who} (waited {:.1}s)", waited.as_secs_f64()),
                )
                .hint("the log and projections are checked once it lets go; run doctor again"),
            );
        }
        Err(e) => {
            checks.push(
                Check::new(
                    "log",
                    Status::Bad,
                    format!("does not open: {}", EngineError::from(e).one_line()),
                )
                .hint(REPAIR_HINT),
            );
        }
    }
    checks.push(failures(root));
    checks
}

fn describe_process(pid: u32) -> String {
    let command = std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|part| !part.is_empty())
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|c| !c.is_empty());
    match command {
        Some(command) => format!("pid {pid} (`{command}`)"),
        None => format!("pid {pid}"),
    }
}

/// Entries under the store that others may read, or that another user
/// owns (which this user could not tighten).
fn permissions(root: &Path) -> Check {
    use std::os::unix::fs::MetadataExt as _;
    let uid = rustix::process::geteuid().as_raw();
    let (mut total, mut loose, mut foreign) = (0usize, Vec::new(), Vec::new());
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            total += 1;
            let shown = relative(root, &entry.path());
            if meta.mode() & 0o077 != 0 {
                loose.push(shown.clone());
            }
            if meta.uid() != uid {
                foreign.push(shown);
            }
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    let root_loose = std::fs::metadata(root).is_ok_and(|m| m.mode() & 0o077 != 0);
    if root_loose {
        loose.insert(0, ".".into());
    }
    if !foreign.is_empty() {
        return Check::new(
            "permissions",
            Status::Bad,
            format!(
                "{} entries belong to another user, first {}",
                foreign.len(),
                foreign[0]
            ),
        )
        .hint("give them back to you (chown); logbook cannot");
    }
    if !loose.is_empty() {
        return Check::new(
            "permissions",
            Status::Bad,
            format!(
                "{} entries others can read (transcripts hold secrets), first {}",
                loose.len(),
                loose[0]
            ),
        )
        .hint("`logbook doctor --repair` makes them 0700 (directories) and 0600 (files)");
    }
    Check::new(
        "permissions",
        Status::Ok,
        format!("the store and its {total} entries are private to you"),
    )
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn space(root: &Path) -> Check {
    let margin = Workspace::open_config(root)
        .unwrap_or_default()
        .min_free_mb
        .saturating_mul(1 << 20);
    let Ok(stat) = rustix::fs::statvfs(root) else {
        return Check::new("space", Status::Warn, "the file system does not say");
    };
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let said = format!(
        "{} free on the store's disk; the margin is {}",
        size(free),
        size(margin)
    );
    if free < margin {
        Check::new(
            "space",
            Status::Bad,
            format!("{said}: new events are refused"),
        )
        .hint("free some space; hooks wait in the spool and land once there is room")
    } else {
        Check::new("space", Status::Ok, said)
    }
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = "bytes";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    if unit == "bytes" {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// What killed or interrupted processes leave, and what waits to be
/// applied. `quiet` is true when no daemon holds the store, so sled's own
/// files are not being written under us.
fn leftovers(root: &Path, quiet: bool) -> Vec<Check> {
    let mut found = Vec::new();
    let mut hint = None;
    if quiet {
        let snapshots = names(&root.join("log"), |n| {
            n.starts_with("snap.") && n.ends_with(".generating")
        });
        if !snapshots.is_empty() {
            found.push(format!(
                "{} unfinished sled snapshot{} (removed when the store next opens)",
                snapshots.len(),
                plural(snapshots.len())
            ));
        }
    }
    let scratch = names(root, |n| n.starts_with(".verify-"));
    if !scratch.is_empty() {
        found.push(format!(
            "{} scratch director{} of an interrupted verify",
            scratch.len(),
            if scratch.len() == 1 { "y" } else { "ies" }
        ));
        hint = Some("`logbook doctor --repair` removes them");
    }
    let unfinished = names(root, |n| n.starts_with(".repair-"));
    if !unfinished.is_empty() {
        found.push(format!("an interrupted repair ({})", unfinished.join(", ")));
        hint = Some("`logbook doctor --repair` keeps its log under damaged/ and removes the rest");
    }
    let spooled = crate::spool::pending(root).len();
    if spooled > 0 {
        found.push(format!(
            "{spooled} hook{} wait{} in the spool (applied by the next command that opens the store)",
            plural(spooled),
            if spooled == 1 { "s" } else { "" }
        ));
    }
    let mut checks = Vec::new();
    if found.is_empty() {
        checks.push(Check::new("leftovers", Status::Ok, "none"));
    } else {
        let mut check = Check::new("leftovers", Status::Warn, found.join("; "));
        check.hint = hint.map(str::to_owned);
        checks.push(check);
    }
    let kept = names(&root.join("damaged"), |_| true);
    if !kept.is_empty() {
        let bytes: u64 = kept
            .iter()
            .map(|k| tree_size(root, &format!("damaged/{k}")))
            .sum();
        checks.push(
            Check::new(
                "damaged",
                Status::Warn,
                format!(
                    "{} damaged log{} kept by a repair ({}): damaged/{}",
                    kept.len(),
                    plural(kept.len()),
                    size(bytes),
                    kept.join(", damaged/")
                ),
            )
            .hint("remove them once you no longer need them; nothing reads them"),
        );
    }
    checks
}

/// Names of the entries of `dir` that `keep` accepts, sorted.
fn names(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| keep(n))
        .collect();
    out.sort();
    out
}

fn tree_size(root: &Path, sub: &str) -> u64 {
    crate::files::list_files(root, sub)
        .unwrap_or_default()
        .iter()
        .filter_map(|rel| std::fs::symlink_metadata(root.join(rel)).ok())
        .map(|meta| meta.len())
        .sum()
}

fn chain(ws: &Workspace) -> Check {
    match ws.log().verify_chain() {
        Ok(v) => match v.problem {
            None => Check::new(
                "log",
                Status::Ok,
                format!(
                    "{} event{} in {} session{}; the hash chain is intact to seq {}",
                    v.report.events,
                    plural(v.report.events),
                    v.report.sessions,
                    plural(v.report.sessions),
                    v.report.head.seq
                ),
            ),
            Some(problem) => Check::new("log", Status::Bad, problem.to_string()).hint(REPAIR_HINT),
        },
        Err(e) => Check::new("log", Status::Bad, format!("cannot be read: {e}")).hint(REPAIR_HINT),
    }
}

async fn projections(ws: &Workspace) -> Check {
    match super::verify::projection_problems(ws).await {
        Ok((checked, problems)) if problems.is_empty() => Check::new(
            "projections",
            Status::Ok,
            format!("{checked} files match a rebuild from the log"),
        ),
        Ok((checked, problems)) => Check::new(
            "projections",
            Status::Bad,
            format!(
                "{} of {checked} files do not match the log, first {}: {}",
                problems.len(),
                problems[0].0,
                problems[0].1
            ),
        )
        .hint("`logbook replay` (or `doctor --repair`) rebuilds them from the log"),
        Err(e) => Check::new(
            "projections",
            Status::Bad,
            format!("could not be compared: {}", e.one_line()),
        ),
    }
}

/// Hooks and the status line cannot print their failures; they log them
/// to `logbook.log`, read here from its tail.
fn failures(root: &Path) -> Check {
    use std::io::{Read as _, Seek as _, SeekFrom};
    const TAIL: u64 = 256 << 10;
    let Ok(mut file) = std::fs::File::open(root.join("logbook.log")) else {
        return Check::new("failures", Status::Ok, "none logged");
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    // Lossy: the tail may start inside a character.
    let mut raw = Vec::new();
    if file.seek(SeekFrom::Start(len.saturating_sub(TAIL))).is_ok() {
        let _ = file.read_to_end(&mut raw);
    }
    let text = String::from_utf8_lossy(&raw);
    let since = jiff::Timestamp::now() - jiff::SignedDuration::try_from(RECENT).unwrap_or_default();
    let recent: Vec<&str> = text
        .lines()
        .filter(|line| {
            line.split_whitespace()
                .next()
                .and_then(|stamp| stamp.parse::<jiff::Timestamp>().ok())
                .is_some_and(|at| at >= since)
        })
        .collect();
    match recent.last() {
        None => Check::new("failures", Status::Ok, "none logged in the last day"),
        Some(last) => Check::new(
            "failures",
            Status::Warn,
            format!(
                "{} in the last day in logbook.log, the last: {last}",
                recent.len()
            ),
        ),
    }
}

/// The repairs, in order; each says what it did.
async fn repair(root: &Path) -> crate::Result<Vec<String>> {
    let mut done = Vec::new();
    if !root.is_dir() {
        return Ok(done);
    }
    for dir in names(root, |n| n.starts_with(".verify-")) {
        std::fs::remove_dir_all(root.join(&dir))?;
        done.push(format!(
            "removed {dir}, the scratch of an interrupted verify"
        ));
    }
    for dir in names(root, |n| n.starts_with(".repair-")) {
        let log = root.join(&dir).join("log");
        if log.is_dir() {
            // After the swap, an interrupted repair's work directory holds
            // the damaged log: keep it like a finished repair would.
            let kept = root
                .join("damaged")
                .join(dir.trim_start_matches(".repair-"));
            crate::files::create_private_dir(&kept)?;
            std::fs::rename(&log, kept.join("log"))?;
            done.push(format!(
                "kept the log of an interrupted repair in {}",
                relative(root, &kept.join("log"))
            ));
        }
        std::fs::remove_dir_all(root.join(&dir))?;
    }
    let tightened = crate::workspace::tighten_tree(root)?;
    if tightened > 0 {
        done.push(format!(
            "made {tightened} entries private (0700 directories, 0600 files)"
        ));
    }
    let sound = match Workspace::open(root).await {
        Ok(ws) => matches!(ws.log().verify_chain(), Ok(v) if v.problem.is_none()).then_some(ws),
        Err(WorkspaceError::Store(
            logbook_store::StoreError::Database { .. } | logbook_store::StoreError::Log(_),
        ))
        | Err(WorkspaceError::Log(_) | WorkspaceError::Projection(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let needs_salvage = sound.is_none();
    if let Some(ws) = sound {
        let (_, problems) = super::verify::projection_problems(&ws).await?;
        if !problems.is_empty() {
            let replaced = ws.replay_live().await?;
            ws.flush()?;
            done.push(format!(
                "rebuilt the projected files from the log ({} differed, {replaced} replaced)",
                problems.len()
            ));
        }
    }
    if needs_salvage {
        let (ws, salvaged) = Workspace::salvage(root).await?;
        let kept = relative(root, &salvaged.kept);
        write_salvage_report(&salvaged, &root.join(&kept))?;
        done.push(format!(
            "rebuilt the log from {} readable events of {} ({} verified from seq 1 without a break), and every projected file from it; the damaged log is kept in {kept}",
            salvaged.restored, salvaged.last_seq, salvaged.verified_prefix
        ));
        done.extend(salvaged.findings.iter().map(|f| format!("  {f}")));
        drop(ws);
    }
    Ok(done)
}

/// What was lost, next to the log it was lost from.
fn write_salvage_report(salvaged: &logbook_store::Salvaged, kept: &Path) -> crate::Result<()> {
    let dir: PathBuf = kept
        .parent()
        .map_or_else(|| kept.to_owned(), Path::to_owned);
    let mut text = format!(
        "restored {} of the events up to seq {} ({} verified from seq 1)\n",
        salvaged.restored, salvaged.last_seq, salvaged.verified_prefix
    );
    for finding in &salvaged.findings {
        text.push_str(&format!("{finding}\n"));
    }
    crate::files::write_private(&dir.join("salvage.txt"), text.as_bytes())?;
    Ok(())
}
