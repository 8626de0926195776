//! `logbook export`: every stored envelope as a JSON line.

use logbook_core::Envelope;

use super::Out;
use crate::error::EngineError;
use crate::workspace::Workspace;

/// Exports every envelope it can read. A damaged one does not stop it:
/// the rest is still worth having, and the seqs it could not read are
/// named at the end (exit 1).
///
/// `redact` masks secrets in every text and in the captured transcript
/// bytes; the default keeps the exact bytes, so an export is a copy of the
/// record that can be checked and imported back.
pub(crate) fn export(ws: &Workspace, redact: bool, out: &mut Out<'_>) -> crate::Result<u8> {
    let mut unreadable = Vec::new();
    for item in ws.log().raw_events() {
        let (seq, raw) = item?;
        match Envelope::decode(&raw) {
            Ok(env) if redact => {
                serde_json::to_writer(&mut *out, &redacted(env)?)?;
                writeln!(out)?;
            }
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

/// An envelope as JSON with secrets masked: transcript bytes line by line
/// before they are encoded, every other text after.
pub(crate) fn redacted(mut env: Envelope) -> crate::Result<serde_json::Value> {
    if let logbook_core::Event::TranscriptCaptured(c) = &mut env.event
        && let std::borrow::Cow::Owned(masked) = logbook_redact::redact_bytes(&c.bytes.0)
    {
        c.bytes.0 = masked;
    }
    let mut value = serde_json::to_value(&env)?;
    // Ids, hashes and the base64 of the (already masked) bytes hold no
    // prose, and base64 must stay decodable.
    logbook_redact::redact_json(
        &mut value,
        &["bytes", "id", "session", "prev_hash", "fingerprint"],
    );
    Ok(value)
}
