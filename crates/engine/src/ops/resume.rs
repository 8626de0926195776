//! `logbook resume`: the latest handoff for this project, for agents without hooks.

use std::io::Write;
use std::path::Path;

use crate::error::EngineError;
use crate::request::JsonArg;
use crate::workspace::Workspace;

/// Runs `resume`: the newest handoff whose project is `cwd` (or contains it).
pub async fn resume(
    ws: &Workspace,
    args: JsonArg,
    cwd: &Path,
    out: &mut dyn Write,
) -> crate::Result<u8> {
    let found = super::handoff::latest_handoff(ws, |h| {
        h.cwd
            .as_deref()
            .is_some_and(|project| cwd.starts_with(project))
    })
    .await?;
    let Some((handoff, _)) = found else {
        return Err(EngineError::failed(format!(
            "no handoff recorded for {}",
            cwd.display()
        )));
    };
    super::handoff::print_handoff(&handoff, ws.root(), args.json, out)?;
    Ok(0)
}
