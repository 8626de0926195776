//! Capture of a file an agent rewrites whole (Gemini CLI's JSON chats):
//! each pass parses the current version and records only the messages that
//! are new or changed since the versions already captured, as JSONL lines
//! (`logbook_agents::gemini::Snapshot`). The captured stream is logbook's,
//! not the file's bytes: its cursor counts the stream, and a version that
//! lost earlier history restarts it with a `SourceReset`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use logbook_agents::gemini::{Captured, Snapshot};
use logbook_agents::locate::SNAPSHOT_LIMIT;
use logbook_core::{
    Bytes, Event, EventLog, NewEvent, ResetReason, SessionId, SourceRef, SourceReset,
    TranscriptCaptured,
};

use crate::CaptureError;
use crate::cursor::{FINGERPRINT_WINDOW, cursor_of, fingerprint, recent_bytes};
use crate::run::{CaptureConfig, CaptureReport};

/// A version this young that does not parse may be half-written: it is
/// left for the next pass. An older one is recorded as it is (malformed).
const SETTLE: Duration = Duration::from_secs(2);

/// One pass over the whole-file chat at `path`, captured into `session` as
/// `source`.
pub async fn capture_snapshot(
    log: &dyn EventLog,
    session: SessionId,
    source: SourceRef,
    path: &Path,
    config: CaptureConfig,
) -> Result<CaptureReport, CaptureError> {
    let io = |source: std::io::Error| CaptureError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(CaptureError::NotAFile(path.display().to_string()));
    }
    if meta.len() > SNAPSHOT_LIMIT {
        return Err(io(std::io::Error::other(format!(
            "a whole-file chat larger than {} MiB is not read",
            SNAPSHOT_LIMIT >> 20
        ))));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let cursor = cursor_of(log, session, &source.key)
        .await?
        .unwrap_or_default();
    let (lines, count, malformed, reset) = match Snapshot::parse(&bytes) {
        Ok(snapshot) => {
            let mut seen = Captured::default();
            if cursor.offset > 0 {
                seen.take(&recent_bytes(log, session, &source.key, u64::MAX, usize::MAX).await?);
            }
            let change = snapshot.change(&seen, cursor.offset == 0);
            (change.lines, change.count, 0, change.rewind_to.is_some())
        }
        Err(_) => {
            let settled = meta
                .modified()
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .is_some_and(|age| age >= SETTLE);
            if !settled {
                return Ok(CaptureReport::default());
            }
            // Kept as it is, counted, and not taken again while unchanged.
            let mut raw = bytes;
            if raw.last() != Some(&b'\n') {
                raw.push(b'\n');
            }
            let recent = recent_bytes(log, session, &source.key, 0, raw.len()).await?;
            if recent.ends_with(&raw) {
                return Ok(CaptureReport::default());
            }
            let count = raw.iter().filter(|b| **b == b'\n').count() as u64;
            (raw, count, count, false)
        }
    };
    if count == 0 {
        return Ok(CaptureReport::default());
    }
    let mut report = CaptureReport {
        malformed,
        ..CaptureReport::default()
    };
    let mut expected = log.session_len(session).await?;
    let mut batch = Vec::new();
    let (mut offset, mut line, mut tail) = if reset {
        batch.push(NewEvent {
            session,
            expected_session_seq: expected,
            event: Event::SourceReset(SourceReset {
                source: source.clone(),
                reason: ResetReason::Replaced,
                old_offset: cursor.offset,
            }),
        });
        expected += 1;
        report.resets += 1;
        report.events += 1;
        (0, 0, Vec::new())
    } else {
        let tail = recent_bytes(log, session, &source.key, 0, FINGERPRINT_WINDOW).await?;
        (cursor.offset, cursor.line, tail)
    };
    // Events of at most the configured size, whole lines each.
    let mut rest = lines.as_slice();
    while !rest.is_empty() {
        let mut end = 0;
        while end < rest.len() && (end == 0 || end < config.scan.max_event_bytes) {
            end += memchr::memchr(b'\n', &rest[end..]).map_or(rest.len() - end, |i| i + 1);
        }
        let (piece, after) = rest.split_at(end);
        rest = after;
        tail.extend_from_slice(piece);
        let excess = tail.len().saturating_sub(FINGERPRINT_WINDOW);
        tail.drain(..excess);
        let piece_lines = piece.iter().filter(|b| **b == b'\n').count() as u64;
        let event = TranscriptCaptured {
            source: source.clone(),
            byte_start: offset,
            line_start: line,
            lines: piece_lines,
            fingerprint: fingerprint(&tail),
            bytes: Bytes(piece.to_vec()),
        };
        offset = event.byte_end();
        line = event.line_end();
        report.lines += piece_lines;
        report.bytes += piece.len() as u64;
        report.events += 1;
        batch.push(NewEvent {
            session,
            expected_session_seq: expected,
            event: Event::TranscriptCaptured(event),
        });
        expected += 1;
    }
    log.append(batch).await?;
    Ok(report)
}
