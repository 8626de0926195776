//! `logbook note`: a decision, correction or plan against the active session.

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
