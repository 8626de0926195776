//! `logbook replay`: rebuild the projections, in place or elsewhere as of a point.

use logbook_core::{EventLog as _, Timestamp};

use crate::console::Console;
use crate::error::{EngineError, UsageError};
use crate::files::create_private_dir;
use crate::request::ReplayArgs;
use crate::workspace::Workspace;

pub(crate) async fn replay(
    ws: &Workspace,
    args: ReplayArgs,
    console: &mut Console,
) -> crate::Result<u8> {
    let Some(out_dir) = args.out else {
        let removed = ws.replay_live().await?;
        ws.flush()?;
        console.say(format_args!(
            "logbook: rebuilt the projections of {} from the log ({removed} old files replaced)",
            ws.root().display()
        ));
        return Ok(0);
    };
    let until = match args.at.as_deref() {
        None => None,
        Some(text) if text.chars().all(|c| c.is_ascii_digit()) => Some(
            text.parse::<u64>()
                .map_err(|e| UsageError::Invalid(format!("--at {text}: {e}")))?,
        ),
        Some(text) => {
            let at = Timestamp::parse(text).map_err(|e| UsageError::Invalid(e.to_string()))?;
            Some(ws.log().seq_at_time(at)?)
        }
    };
    let out_dir = console.env.resolve(&out_dir);
    if out_dir.exists() && out_dir.canonicalize()? == ws.root() {
        return Err(EngineError::usage(
            "--out is the live store; run `logbook replay` without --out to rebuild it",
        ));
    }
    if out_dir.exists() && !out_dir.is_dir() {
        return Err(EngineError::usage(format!(
            "--out {} is not a directory",
            out_dir.display()
        )));
    }
    create_private_dir(&out_dir)?;
    let out_dir = out_dir.canonicalize()?;
    ws.rebuild_into(&out_dir, until).await?;
    let head = ws.log().head().await?.seq;
    console.say(format_args!(
        "logbook: rebuilt {} as of seq {}",
        out_dir.display(),
        until.map_or(head, |u| u.min(head))
    ));
    Ok(0)
}
