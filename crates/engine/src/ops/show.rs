//! `logbook show`: one session.

use super::{Out, plural, print_view, shown_view};
use crate::request::ShowArgs;
use crate::workspace::Workspace;

pub(crate) async fn show(ws: &Workspace, args: ShowArgs, out: &mut Out<'_>) -> crate::Result<u8> {
    let id = ws.resolve(&args.session)?;
    let view = shown_view(ws.quick_view(id).await?, !args.redact.no_redact);
    if args.json.json {
        print_view(out, &view)?;
        return Ok(0);
    }
    let opt = |s: Option<String>| s.unwrap_or_else(|| "-".into());
    writeln!(out, "session     {}", view.session_id)?;
    writeln!(out, "status      {}", view.status.as_str())?;
    writeln!(out, "command     {}", opt(view.command.clone()))?;
    writeln!(out, "origin      {}", opt(view.origin.clone()))?;
    writeln!(
        out,
        "started     {}",
        opt(view.started_at.map(|t| t.to_string()))
    )?;
    writeln!(
        out,
        "ended       {}",
        opt(view.ended_at.map(|t| t.to_string()))
    )?;
    writeln!(
        out,
        "exit code   {}",
        opt(view.exit_code.map(|c| c.to_string()))
    )?;
    writeln!(out, "end reason  {}", opt(view.end_reason.clone()))?;
    writeln!(
        out,
        "from        {}",
        opt(view.transitioned_from.map(|s| s.to_string()))
    )?;
    writeln!(
        out,
        "to          {}",
        opt(view.transitioned_to.map(|s| s.to_string()))
    )?;
    if let Some(agent) = &view.agent {
        writeln!(
            out,
            "agent       {} {}",
            agent.kind,
            opt(agent.session_id.clone())
        )?;
    }
    writeln!(
        out,
        "captured    {} line{}, {} byte{}, {} part{}",
        view.capture.lines,
        plural(view.capture.lines),
        view.capture.bytes,
        plural(view.capture.bytes),
        view.capture.parts,
        plural(view.capture.parts),
    )?;
    writeln!(out, "dir         {}", view.dir)?;
    Ok(0)
}
