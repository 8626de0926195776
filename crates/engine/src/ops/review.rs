//! `logbook review`, `memory`, `stats` and `task`: what sessions achieved
//! and what a project remembers, read from the review projection.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use logbook_core::{Event, SessionId, TaskChange, TaskChanged, Timestamp};
use logbook_review::memory::{MemoryView, ProjectMemory, memory_path};
use logbook_review::projection::{TasksFile, session_path};
use logbook_review::review::Review;
use serde::Serialize;

use super::note::session_for;
use crate::console::ClientEnv;
use crate::error::{EngineError, UsageError};
use crate::request::{MemoryArgs, ReviewArgs, StatsArgs, StatsBy, TaskAction, TaskArgs};
use crate::workspace::Workspace;

/// A session's review, as projected.
fn review_of(ws: &Workspace, id: SessionId) -> crate::Result<Option<Arc<Review>>> {
    Ok(ws.read_json::<Review>(&session_path(id, "review.json"))?)
}

/// Runs `review`.
pub async fn review(ws: &Workspace, args: ReviewArgs, out: &mut dyn Write) -> crate::Result<u8> {
    let id = match args.session.as_deref() {
        Some(typed) => ws.resolve(typed)?,
        None => match ws.target(None).await {
            Ok(id) => id,
            // No single active session: the newest one is what was meant.
            Err(_) => ws
                .newest(|_| true)
                .await?
                .map(|v| v.session_id)
                .ok_or_else(|| EngineError::failed("no sessions yet"))?,
        },
    };
    let file = if args.json.json {
        "review.json"
    } else {
        "review.md"
    };
    match ws.read_file(&session_path(id, file))? {
        Some(bytes) => {
            out.write_all(&bytes)?;
            Ok(0)
        }
        None => Err(EngineError::failed(format!(
            "session {id} has no review yet"
        ))),
    }
}

/// The project `dir` names, or the nearest directory above it that has a
/// memory (a session run from a subdirectory asks about its project).
fn find_memory(ws: &Workspace, dir: &Path) -> crate::Result<Option<Arc<ProjectMemory>>> {
    for candidate in dir.ancestors() {
        let project = candidate.display().to_string();
        if let Some(memory) = ws.read_json::<ProjectMemory>(&memory_path(&project))?
            && memory.project == project
        {
            return Ok(Some(memory));
        }
    }
    Ok(None)
}

/// The memory brief for a new session in `cwd`, if the store gives one.
pub(crate) fn memory_brief(ws: &Workspace, cwd: &Path) -> crate::Result<Option<String>> {
    let config = ws.config();
    if !config.memory_brief {
        return Ok(None);
    }
    Ok(find_memory(ws, cwd)?.and_then(|m| m.view().brief(config.memory_brief_chars)))
}

/// Runs `memory`.
pub fn memory(
    ws: &Workspace,
    args: MemoryArgs,
    env: &ClientEnv,
    out: &mut dyn Write,
) -> crate::Result<u8> {
    let dir = super::forensics::client_dir(env, args.project.as_deref().unwrap_or(Path::new(".")));
    let Some(memory) = find_memory(ws, &dir)? else {
        return Err(EngineError::failed(format!(
            "nothing remembered for {} (no session of this store ran there)",
            dir.display()
        )));
    };
    let view: MemoryView = memory.view();
    if args.brief {
        let chars = ws.config().memory_brief_chars;
        if let Some(brief) = view.brief(chars) {
            out.write_all(brief.as_bytes())?;
        }
        return Ok(0);
    }
    if args.json.json {
        serde_json::to_writer_pretty(&mut *out, &view)?;
        writeln!(out)?;
        return Ok(0);
    }
    for text in [
        view.decisions_md(),
        view.corrections_md(),
        view.errors_md(),
        view.files_md(),
    ] {
        writeln!(out, "{text}")?;
    }
    Ok(0)
}

/// One row of `stats`.
#[derive(Debug, Default, Serialize)]
struct StatsRow {
    key: String,
    sessions: u64,
    active_secs: u64,
    tasks_planned: u64,
    tasks_completed: u64,
    tests_passed: u64,
    tests_failed: u64,
    tokens: u64,
    cost_usd_estimate: Option<f64>,
    corrections: u64,
    corrections_per_session: f64,
}

/// Runs `stats`.
pub async fn stats(ws: &Workspace, args: StatsArgs, out: &mut dyn Write) -> crate::Result<u8> {
    let since = args
        .since
        .as_deref()
        .map(Timestamp::parse)
        .transpose()
        .map_err(|e| EngineError::usage(e.to_string()))?
        .map(|t| t.to_jiff());
    let mut rows: BTreeMap<String, StatsRow> = BTreeMap::new();
    for id in logbook_core::EventLog::sessions(ws.log()).await? {
        let Some(r) = review_of(ws, id)? else {
            continue;
        };
        // The agent's own time: an imported session was logged later.
        let started = r
            .first_activity
            .clone()
            .or_else(|| r.started_at.clone())
            .unwrap_or_default();
        // Agents write their times in several precisions: compared as
        // instants, not as text.
        let at = started.parse::<jiff::Timestamp>().ok();
        if since.is_some_and(|s| at.is_none_or(|at| at < s)) {
            continue;
        }
        let key = match args.by {
            StatsBy::Day => started.get(..10).unwrap_or("unknown").to_owned(),
            StatsBy::Project => r.project.clone().unwrap_or_else(|| "(none)".into()),
            StatsBy::Agent => r.agent.clone().unwrap_or_else(|| "other".into()),
        };
        let row = rows.entry(key.clone()).or_insert_with(|| StatsRow {
            key,
            ..StatsRow::default()
        });
        row.sessions += 1;
        row.active_secs += r.active_secs;
        row.tasks_planned += r.tasks.planned;
        row.tasks_completed += r.tasks.completed;
        row.tests_passed += r.tests.passed;
        row.tests_failed += r.tests.failed;
        row.tokens += r.tokens.total;
        if let Some(c) = r.cost_usd_estimate {
            *row.cost_usd_estimate.get_or_insert(0.0) += c;
        }
        row.corrections += r.corrections.len() as u64;
    }
    let mut rows: Vec<StatsRow> = rows.into_values().collect();
    for row in &mut rows {
        row.corrections_per_session =
            (row.corrections as f64 / row.sessions.max(1) as f64 * 100.0).round() / 100.0;
        row.cost_usd_estimate = row.cost_usd_estimate.map(|c| (c * 100.0).round() / 100.0);
    }
    if args.json.json {
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        writeln!(out)?;
        return Ok(0);
    }
    let by = match args.by {
        StatsBy::Day => "day",
        StatsBy::Project => "project",
        StatsBy::Agent => "agent",
    };
    writeln!(
        out,
        "{by:<24} {:>8} {:>8} {:>10} {:>12} {:>12} {:>13} {:>9} {:>19}",
        "sessions",
        "active",
        "tasks done",
        "tests passed",
        "tests failed",
        "tokens",
        "cost*",
        "corrections/session"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<24} {:>8} {:>8} {:>10} {:>12} {:>12} {:>13} {:>9} {:>19}",
            r.key,
            r.sessions,
            logbook_review::markdown::duration(r.active_secs),
            format!("{}/{}", r.tasks_completed, r.tasks_planned),
            r.tests_passed,
            r.tests_failed,
            logbook_review::markdown::thousands(r.tokens),
            r.cost_usd_estimate
                .map_or_else(|| "-".to_owned(), |c| format!("${c:.2}")),
            r.corrections_per_session
        )?;
    }
    if rows.is_empty() {
        writeln!(out, "(no sessions)")?;
    } else {
        writeln!(
            out,
            "* estimated at list prices ([pricing] in config.toml overrides); - where no model is priced"
        )?;
    }
    Ok(0)
}

/// Runs `task`.
pub async fn task(
    ws: &Workspace,
    args: TaskArgs,
    agent_pid: Option<u32>,
    out: &mut dyn Write,
) -> crate::Result<u8> {
    match args.action {
        TaskAction::Ls { session, json } => {
            let id = session_for(ws, session.as_deref(), agent_pid).await?;
            let path = session_path(id, "tasks.json");
            let bytes = ws.read_file(&path)?;
            if json.json {
                match bytes {
                    Some(bytes) => out.write_all(&bytes)?,
                    None => writeln!(out, "{{\"session_id\":\"{id}\",\"tasks\":[]}}")?,
                }
                return Ok(0);
            }
            let tasks: Vec<_> = match bytes {
                Some(bytes) => serde_json::from_slice::<TasksFile>(&bytes)?.tasks,
                None => Vec::new(),
            };
            for t in &tasks {
                writeln!(out, "{:>3}  {:<12} {}", t.id, t.status, t.text)?;
            }
            if tasks.is_empty() {
                writeln!(out, "(no tasks)")?;
            }
            Ok(0)
        }
        TaskAction::Add { text, session } => {
            let text = text.trim().to_owned();
            if text.is_empty() {
                return Err(UsageError::Invalid("the task is empty".into()).into());
            }
            let id = session_for(ws, session.as_deref(), agent_pid).await?;
            let event = Event::TaskChanged(TaskChanged {
                task_id: String::new(),
                subject: text.clone(),
                change: TaskChange::Created,
            });
            record(ws, id, event).await?;
            let tasks = tasks_of(ws, id)?;
            let shown = logbook_redact::redact(&text);
            let number = tasks
                .iter()
                .find(|t| t.text == shown.trim())
                .map_or(0, |t| t.id);
            writeln!(out, "{number}")?;
            Ok(0)
        }
        TaskAction::Done { task, session } => {
            let id = session_for(ws, session.as_deref(), agent_pid).await?;
            let tasks = tasks_of(ws, id)?;
            let wanted = task.trim();
            let found = match wanted.parse::<u32>() {
                Ok(n) => tasks.iter().find(|t| t.id == n),
                Err(_) => {
                    let mut matching = tasks.iter().filter(|t| t.text.starts_with(wanted));
                    match (matching.next(), matching.next()) {
                        (Some(one), None) => Some(one),
                        (Some(_), Some(_)) => {
                            return Err(UsageError::Ambiguous(format!(
                                "more than one task starts with `{wanted}`; give its number"
                            ))
                            .into());
                        }
                        _ => None,
                    }
                }
            };
            let Some(found) = found else {
                return Err(UsageError::Invalid(format!(
                    "session {id} has no task `{wanted}` (see `logbook task ls`)"
                ))
                .into());
            };
            let event = Event::TaskChanged(TaskChanged {
                task_id: found.agent_id.clone().unwrap_or_default(),
                subject: found.text.clone(),
                change: TaskChange::Completed,
            });
            let number = found.id;
            record(ws, id, event).await?;
            writeln!(out, "{number}")?;
            Ok(0)
        }
    }
}

fn tasks_of(ws: &Workspace, id: SessionId) -> crate::Result<Vec<logbook_review::tasks::Task>> {
    Ok(match ws.read_file(&session_path(id, "tasks.json"))? {
        Some(bytes) => serde_json::from_slice::<TasksFile>(&bytes)?.tasks,
        None => Vec::new(),
    })
}

/// Appends `event` to an active session and brings the projections up.
async fn record(ws: &Workspace, id: SessionId, event: Event) -> crate::Result<()> {
    let _lane = ws.lane().await;
    let mut state = ws.quick_state(id).await?;
    if state.phase != logbook_core::lifecycle::Phase::Active {
        return Err(EngineError::failed(format!("session {id} is not active")));
    }
    ws.commit(state.follow([event])).await?;
    Ok(())
}
