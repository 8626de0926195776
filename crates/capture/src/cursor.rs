//! Where capture of a source stands, as the log records it.

use logbook_core::{Event, EventLog, Hash, LogError, SessionId};

/// The position after the last captured byte of a source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Byte offset in the source.
    pub offset: u64,
    /// Complete lines before `offset`.
    pub line: u64,
    /// blake3 of the last (up to [`FINGERPRINT_WINDOW`]) bytes before
    /// `offset`; [`Hash::ZERO`] at offset 0.
    pub fingerprint: Hash,
}

/// How many bytes before the cursor the fingerprint covers: enough to tell a
/// replaced file from a grown one, small enough to read on every capture.
pub const FINGERPRINT_WINDOW: usize = 4096;

/// How many events to look back per step when searching a session's tail.
const PAGE: u64 = 64;

/// The cursor of source `key` in `session`, from the newest capture or reset
/// of that source; `None` when the session never captured it.
pub async fn cursor_of(
    log: &dyn EventLog,
    session: SessionId,
    key: &str,
) -> Result<Option<Cursor>, LogError> {
    let mut end = log.session_len(session).await?;
    while end > 0 {
        let from = end.saturating_sub(PAGE - 1).max(1);
        let page = log
            .read_session_range(
                session,
                from,
                usize::try_from(end - from + 1).unwrap_or(usize::MAX),
            )
            .await?;
        for env in page.iter().rev() {
            match &env.event {
                Event::TranscriptCaptured(c) if c.source.key == key => {
                    return Ok(Some(Cursor {
                        offset: c.byte_end(),
                        line: c.line_end(),
                        fingerprint: c.fingerprint,
                    }));
                }
                Event::SourceReset(r) if r.source.key == key => {
                    return Ok(Some(Cursor::default()));
                }
                _ => {}
            }
        }
        end = from - 1;
    }
    Ok(None)
}

/// The fingerprint of `window`, the bytes just before a cursor.
pub fn fingerprint(window: &[u8]) -> Hash {
    if window.is_empty() {
        Hash::ZERO
    } else {
        Hash(*blake3::hash(window).as_bytes())
    }
}
