//! `logbook transition`: end a session and start its successor, linked, in one batch.

use logbook_core::lifecycle::LifecycleCommand;
use logbook_core::{EndReason, SessionId};

use super::{Out, print_view};
use crate::request::{ReasonArg, TransitionArgs};
use crate::workspace::Workspace;

pub(crate) async fn transition(
    ws: &Workspace,
    args: TransitionArgs,
    out: &mut Out<'_>,
) -> crate::Result<u8> {
    let id = ws.target(args.session.as_deref()).await?;
    let successor = SessionId::new_v7();
    let reason = match args.reason {
        ReasonArg::Manual => EndReason::Transition,
        ReasonArg::Clear => EndReason::Clear,
        ReasonArg::Compaction => EndReason::Compaction,
    };
    ws.run(id, LifecycleCommand::Transition { successor, reason })
        .await?;
    if args.json.json {
        print_view(out, &ws.quick_view(successor).await?)?;
    } else {
        writeln!(out, "{successor}")?;
    }
    Ok(0)
}
