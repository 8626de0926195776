//! `logbook ls`: every session, as a table or JSON.

use logbook_core::Timestamp;
use logbook_core::sessions::{SessionStatus, SessionView};
use owo_colors::OwoColorize as _;

use super::Out;
use crate::request::{ListStatus, LsArgs};
use crate::workspace::Workspace;

fn status_matches(filter: ListStatus, status: SessionStatus) -> bool {
    matches!(
        (filter, status),
        (ListStatus::Active, SessionStatus::Active)
            | (ListStatus::Completed, SessionStatus::Completed)
            | (ListStatus::Failed, SessionStatus::Failed)
            | (ListStatus::Abandoned, SessionStatus::Abandoned)
    )
}

fn short_time(t: Option<Timestamp>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.to_jiff().strftime("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

pub(crate) async fn ls(
    ws: &Workspace,
    args: LsArgs,
    out: &mut Out<'_>,
    color: bool,
) -> crate::Result<u8> {
    let mut views: Vec<SessionView> = ws
        .quick_views()
        .await?
        .into_iter()
        .filter(|v| args.status.is_none_or(|f| status_matches(f, v.status)))
        .map(|v| super::shown_view(v, !args.redact.no_redact))
        .collect();
    // In the order the work was done: an import creates today, in its own
    // order, sessions its agent dated weeks ago. Ids (creation order) break
    // ties, and order live sessions as before.
    views.sort_by_key(|v| (v.started_at, v.session_id));
    if args.json.json {
        serde_json::to_writer_pretty(&mut *out, &views)?;
        writeln!(out)?;
        return Ok(0);
    }
    writeln!(
        out,
        "{:<36}  {:<9}  {:<19}  {:<19}  {:<12}  LINKS",
        "SESSION", "STATUS", "STARTED", "ENDED", "COMMAND"
    )?;
    for v in &views {
        let status = match v.status {
            SessionStatus::Active if color => v.status.as_str().green().to_string(),
            SessionStatus::Failed if color => v.status.as_str().red().to_string(),
            _ => v.status.as_str().to_owned(),
        };
        let pad = " ".repeat(9usize.saturating_sub(v.status.as_str().len()));
        let mut links = String::new();
        if let Some(from) = v.transitioned_from {
            links.push_str(&format!("from {}", &from.to_string()[..13]));
        }
        if let Some(to) = v.transitioned_to {
            if !links.is_empty() {
                links.push_str(", ");
            }
            links.push_str(&format!("to {}", &to.to_string()[..13]));
        }
        writeln!(
            out,
            "{}  {status}{pad}  {:<19}  {:<19}  {:<12}  {links}",
            v.session_id,
            short_time(v.started_at),
            short_time(v.ended_at),
            v.command.as_deref().unwrap_or("-"),
        )?;
    }
    Ok(0)
}
