//! `logbook note`, `context`, `handoff` and `resume`: the context and
//! handoff projections on demand, and notes against the active session.

use std::io::Write;
use std::path::Path;

use logbook_context::brief::{Links, render};
use logbook_context::model::ContextView;
use logbook_context::projection::{Handoff, context_path, handoff_path};
use logbook_core::sessions::SessionStatus;
use logbook_core::{Event, NoteKind, NoteRecorded, SessionId};

use crate::error::{EngineError, UsageError};
use crate::request::{ContextArgs, HandoffArgs, JsonArg, NoteArgs};
use crate::workspace::Workspace;

/// Runs `note`.
pub async fn note(
    ws: &Workspace,
    args: NoteArgs,
    agent_pid: Option<u32>,
    out: &mut dyn Write,
) -> crate::Result<u8> {
    let (kind, text) = match (args.decision, args.correction, args.plan) {
        (Some(t), _, _) => (NoteKind::Decision, t),
        (_, Some(t), _) => (NoteKind::Correction, t),
        (_, _, Some(t)) => (NoteKind::Plan, t),
        _ => {
            return Err(
                UsageError::Invalid("give --decision, --correction or --plan".into()).into(),
            );
        }
    };
    if text.trim().is_empty() {
        return Err(UsageError::Invalid("the note is empty".into()).into());
    }
    let session = match args.session {
        Some(typed) => ws.resolve(&typed)?,
        None => match agent_session(ws, agent_pid).await? {
            Some(id) => id,
            None => ws.target(None).await?,
        },
    };
    let mut state = ws.quick_state(session).await?;
    if state.phase != logbook_core::lifecycle::Phase::Active {
        return Err(EngineError::failed(format!(
            "session {session} is not active"
        )));
    }
    let note = Event::NoteRecorded(NoteRecorded { kind, text });
    ws.commit(state.follow([note])).await?;
    writeln!(out, "{session}")?;
    Ok(0)
}

/// The active session of the Claude Code process this command runs under
/// (an agent calling `logbook note` from its shell tool).
async fn agent_session(ws: &Workspace, pid: Option<u32>) -> crate::Result<Option<SessionId>> {
    let Some(pid) = pid else {
        return Ok(None);
    };
    Ok(ws
        .newest(|v| {
            v.status == SessionStatus::Active && v.agent.as_ref().and_then(|a| a.pid) == Some(pid)
        })
        .await?
        .map(|v| v.session_id))
}

fn read_json<T: serde::de::DeserializeOwned>(
    ws: &Workspace,
    path: &str,
) -> crate::Result<Option<(T, Vec<u8>)>> {
    Ok(match ws.read_file(path)? {
        Some(bytes) => Some((serde_json::from_slice(&bytes)?, bytes)),
        None => None,
    })
}

/// Runs `context`.
pub async fn context(ws: &Workspace, args: ContextArgs, out: &mut dyn Write) -> crate::Result<u8> {
    let id = ws.resolve(&args.session)?;
    let Some((view, bytes)) = read_json::<ContextView>(ws, &context_path(id))? else {
        return Err(EngineError::failed(format!(
            "session {id} has no context yet"
        )));
    };
    if args.json.json {
        out.write_all(&bytes)?;
    } else {
        let links = Links {
            session: id.to_string(),
            end_reason: None,
            previous: None,
            context_file: ws.root().join(context_path(id)).display().to_string(),
            transcript: Vec::new(),
        };
        out.write_all(render(&view, &links, usize::MAX).as_bytes())?;
    }
    Ok(0)
}

fn print_handoff(
    handoff: &Handoff,
    bytes: &[u8],
    json: bool,
    out: &mut dyn Write,
) -> crate::Result<()> {
    if json {
        out.write_all(bytes)?;
    } else {
        out.write_all(handoff.brief.as_bytes())?;
    }
    Ok(())
}

/// Handoffs, newest session first, that `accept` takes.
async fn latest_handoff(
    ws: &Workspace,
    accept: impl Fn(&Handoff) -> bool,
) -> crate::Result<Option<(Handoff, Vec<u8>)>> {
    // Session ids are UUIDv7: their order is their start order.
    for id in logbook_core::EventLog::sessions(ws.log())
        .await?
        .into_iter()
        .rev()
    {
        if let Some((handoff, bytes)) = read_json::<Handoff>(ws, &handoff_path(id))?
            && accept(&handoff)
        {
            return Ok(Some((handoff, bytes)));
        }
    }
    Ok(None)
}

/// Runs `handoff`.
pub async fn handoff(ws: &Workspace, args: HandoffArgs, out: &mut dyn Write) -> crate::Result<u8> {
    let found = match &args.session {
        Some(typed) => read_json::<Handoff>(ws, &handoff_path(ws.resolve(typed)?))?,
        None => latest_handoff(ws, |_| true).await?,
    };
    let Some((handoff, bytes)) = found else {
        return Err(EngineError::failed(format!(
            "no handoff recorded{}",
            args.session
                .map(|s| format!(" for {s}"))
                .unwrap_or_default()
        )));
    };
    print_handoff(&handoff, &bytes, args.json.json, out)?;
    Ok(0)
}

/// Runs `resume`: the newest handoff whose project is `cwd` (or contains it).
pub async fn resume(
    ws: &Workspace,
    args: JsonArg,
    cwd: &Path,
    out: &mut dyn Write,
) -> crate::Result<u8> {
    let found = latest_handoff(ws, |h| {
        h.cwd
            .as_deref()
            .is_some_and(|project| cwd.starts_with(project))
    })
    .await?;
    let Some((handoff, bytes)) = found else {
        return Err(EngineError::failed(format!(
            "no handoff recorded for {}",
            cwd.display()
        )));
    };
    print_handoff(&handoff, &bytes, args.json, out)?;
    Ok(0)
}
