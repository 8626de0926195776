//! `logbook export`: every stored envelope as a JSON line.

use logbook_core::Envelope;

use super::Out;
use crate::error::EngineError;
use crate::workspace::Workspace;

pub(crate) fn export(ws: &Workspace, out: &mut Out<'_>) -> crate::Result<u8> {
    for item in ws.log().raw_events() {
        let (seq, raw) = item?;
        let env = Envelope::decode(&raw)
            .map_err(|e| EngineError::failed(format!("seq {seq} cannot be decoded: {e}")))?;
        serde_json::to_writer(&mut *out, &env)?;
        writeln!(out)?;
    }
    Ok(0)
}
