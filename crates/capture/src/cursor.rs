//! Where capture of a source stands, as the log records it.

use logbook_core::{Envelope, Event, EventLog, Hash, LogError, SessionId};

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
    let mut found = None;
    walk_back(log, session, |env| match &env.event {
        Event::TranscriptCaptured(c) if c.source.key == key => {
            found = Some(Cursor {
                offset: c.byte_end(),
                line: c.line_end(),
                fingerprint: c.fingerprint,
            });
            true
        }
        Event::SourceReset(r) if r.source.key == key => {
            found = Some(Cursor::default());
            true
        }
        _ => false,
    })
    .await?;
    Ok(found)
}

/// The last captured bytes of source `key` in `session`, back to its last
/// reset: at least `lines` complete lines and `bytes` bytes where the log
/// has them. Sources that cannot be re-read (a tmux pane) align against it.
pub async fn recent_bytes(
    log: &dyn EventLog,
    session: SessionId,
    key: &str,
    lines: u64,
    bytes: usize,
) -> Result<Vec<u8>, LogError> {
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let (mut got_lines, mut got_bytes) = (0u64, 0usize);
    walk_back(log, session, |env| match &env.event {
        Event::TranscriptCaptured(c) if c.source.key == key => {
            got_lines += c.lines;
            got_bytes += c.bytes.0.len();
            pieces.push(c.bytes.0.clone());
            got_lines >= lines && got_bytes >= bytes
        }
        Event::SourceReset(r) => r.source.key == key,
        _ => false,
    })
    .await?;
    pieces.reverse();
    Ok(pieces.concat())
}

/// Visits `session`'s events newest first until `visit` says stop, reading
/// a page at a time so a long session is not loaded whole.
async fn walk_back(
    log: &dyn EventLog,
    session: SessionId,
    mut visit: impl FnMut(&Envelope) -> bool + Send,
) -> Result<(), LogError> {
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
        if page.iter().rev().any(&mut visit) {
            return Ok(());
        }
        end = from - 1;
    }
    Ok(())
}

/// The fingerprint of `window`, the bytes just before a cursor.
pub fn fingerprint(window: &[u8]) -> Hash {
    if window.is_empty() {
        Hash::ZERO
    } else {
        Hash(*blake3::hash(window).as_bytes())
    }
}
