//! `logbook note`: a decision, correction, plan or project memory against
//! the active session.

use std::io::Write;

use logbook_core::sessions::SessionStatus;
use logbook_core::{Event, NoteKind, NoteRecorded, SessionId};

use crate::error::{EngineError, UsageError};
use crate::request::NoteArgs;
use crate::workspace::Workspace;

/// Runs `note`.
pub async fn note(
    ws: &Workspace,
    args: NoteArgs,
    agent_pid: Option<u32>,
    out: &mut dyn Write,
) -> crate::Result<u8> {
    let (kind, text) = match (args.decision, args.correction, args.plan, args.memory) {
        (Some(t), _, _, _) => (NoteKind::Decision, t),
        (_, Some(t), _, _) => (NoteKind::Correction, t),
        (_, _, Some(t), _) => (NoteKind::Plan, t),
        (_, _, _, Some(t)) => (NoteKind::Memory, t),
        _ => {
            return Err(UsageError::Invalid(
                "give --decision, --correction, --plan or --memory".into(),
            )
            .into());
        }
    };
    if text.trim().is_empty() {
        return Err(UsageError::Invalid("the note is empty".into()).into());
    }
    let session = session_for(ws, args.session.as_deref(), agent_pid).await?;
    if kind == NoteKind::Memory {
        let view = ws.quick_view(session).await?;
        if view.agent.and_then(|a| a.cwd).is_none() {
            return Err(EngineError::failed(format!(
                "session {session} has no project (no agent directory recorded) to remember this in"
            )));
        }
    }
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

/// The session a note or task is for: the one named, else the agent's this
/// command runs under, else the only active one.
pub(crate) async fn session_for(
    ws: &Workspace,
    typed: Option<&str>,
    agent_pid: Option<u32>,
) -> crate::Result<SessionId> {
    Ok(match typed {
        Some(typed) => ws.resolve(typed)?,
        None => match agent_session(ws, agent_pid).await? {
            Some(id) => id,
            None => ws.target(None).await?,
        },
    })
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
