//! `logbook context`: what a session read, changed, ran and was told.

use std::io::Write;

use logbook_context::brief::{Links, render};
use logbook_context::model::ContextView;
use logbook_context::projection::context_path;

use super::read_json;
use crate::error::EngineError;
use crate::request::ContextArgs;
use crate::workspace::Workspace;

/// Runs `context`.
pub async fn context(ws: &Workspace, args: ContextArgs, out: &mut dyn Write) -> crate::Result<u8> {
    let id = ws.resolve(&args.session)?;
    let Some((view, bytes)) = read_json::<ContextView>(ws, &context_path(id))? else {
        return Err(EngineError::failed(format!(
            "session {id} has no context yet"
        )));
    };
    if args.json.json {
        out.write_all(&bytes)?;
    } else {
        let links = Links {
            session: id.to_string(),
            end_reason: None,
            previous: None,
            context_file: ws.root().join(context_path(id)).display().to_string(),
            transcript: Vec::new(),
        };
        out.write_all(render(&view, &links, usize::MAX).as_bytes())?;
    }
    Ok(0)
}
