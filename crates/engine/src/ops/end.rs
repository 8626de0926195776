//! `logbook end`: end a session (by default the only active one).

use logbook_core::lifecycle::LifecycleCommand;
use logbook_core::{EndReason, EndStatus};

use super::print_view;
use crate::console::Console;
use crate::request::{EndArgs, StatusArg};
use crate::workspace::Workspace;

pub(crate) async fn end(ws: &Workspace, args: EndArgs, console: &mut Console) -> crate::Result<u8> {
    let id = ws.target(args.session.as_deref()).await?;
    let status = match args.status {
        StatusArg::Completed => EndStatus::Completed,
        StatusArg::Failed => EndStatus::Failed,
        StatusArg::Abandoned => EndStatus::Abandoned,
    };
    ws.run(
        id,
        LifecycleCommand::End {
            status,
            exit_code: args.exit_code,
            reason: EndReason::Exit,
        },
    )
    .await?;
    if args.json.json {
        print_view(&mut *console.out, &ws.quick_view(id).await?)?;
    } else {
        console.say(format_args!("logbook: ended {id} ({status})"));
    }
    Ok(0)
}
