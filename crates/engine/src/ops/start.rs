//! `logbook start`: a new session; its id alone on stdout.

use logbook_core::lifecycle::LifecycleCommand;
use logbook_core::{Origin, SessionId};

use super::{Out, print_view};
use crate::request::StartArgs;
use crate::workspace::Workspace;

pub(crate) async fn start(ws: &Workspace, args: StartArgs, out: &mut Out<'_>) -> crate::Result<u8> {
    let id = SessionId::new_v7();
    ws.run(
        id,
        LifecycleCommand::Start {
            command: args.command,
            agent: None,
            origin: Origin::Fresh,
        },
    )
    .await?;
    if args.json.json {
        print_view(out, &ws.quick_view(id).await?)?;
    } else {
        writeln!(out, "{id}")?;
    }
    Ok(0)
}
