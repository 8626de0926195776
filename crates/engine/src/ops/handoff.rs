//! `logbook handoff`: a handoff brief, by default the latest.

use std::io::Write;

use logbook_context::projection::{Handoff, handoff_path};

use super::read_json;
use crate::error::EngineError;
use crate::request::HandoffArgs;
use crate::workspace::Workspace;

/// Prints a handoff, its paths placed in the store at `root`.
pub(super) fn print_handoff(
    handoff: &Handoff,
    root: &std::path::Path,
    json: bool,
    out: &mut dyn Write,
) -> crate::Result<()> {
    let handoff = handoff.clone().located(root);
    if json {
        serde_json::to_writer_pretty(&mut *out, &handoff)?;
        writeln!(out)?;
    } else {
        out.write_all(handoff.brief.as_bytes())?;
    }
    Ok(())
}

/// Handoffs, newest session first, that `accept` takes.
pub(super) async fn latest_handoff(
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
    let Some((handoff, _)) = found else {
        return Err(EngineError::failed(format!(
            "no handoff recorded{}",
            args.session
                .map(|s| format!(" for {s}"))
                .unwrap_or_default()
        )));
    };
    print_handoff(&handoff, ws.root(), args.json.json, out)?;
    Ok(0)
}
