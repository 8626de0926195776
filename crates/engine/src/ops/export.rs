//! `logbook export`: every stored envelope as a JSON line.

use logbook_core::Envelope;

use super::Out;
use crate::error::EngineError;
use crate::workspace::Workspace;

/// Exports every envelope it can read. A damaged one does not stop it:
/// the rest is still worth having, and the seqs it could not read are
/// named at the end (exit 1).
pub(crate) fn export(ws: &Workspace, out: &mut Out<'_>) -> crate::Result<u8> {
    let mut unreadable = Vec::new();
    for item in ws.log().raw_events() {
        let (seq, raw) = item?;
        match Envelope::decode(&raw) {
            Ok(env) => {
                serde_json::to_writer(&mut *out, &env)?;
                writeln!(out)?;
            }
            Err(_) => unreadable.push(seq.to_string()),
        }
    }
    if unreadable.is_empty() {
        return Ok(0);
    }
    Err(EngineError::failed(format!(
        "exported everything else; could not read event{} {}",
        if unreadable.len() == 1 { "" } else { "s" },
        unreadable.join(", ")
    )))
}
