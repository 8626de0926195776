//! One capture pass: cursor from the log, checks, scan, append.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use logbook_core::{
    CompactionDetected, CompactionTrigger, Event, EventLog, NewEvent, ResetReason, SessionId,
    SourceKind, SourceRef, SourceReset,
};

use crate::CaptureError;
use crate::cursor::{Cursor, FINGERPRINT_WINDOW, cursor_of, fingerprint};
use crate::scan::{ScanOptions, Scanner};

/// Tunables of a capture pass.
#[derive(Clone, Copy, Debug)]
pub struct CaptureConfig {
    /// Event and batch sizes.
    pub scan: ScanOptions,
    /// A text source whose line count falls below this fraction of what was
    /// captured is taken as a compaction (config `compaction_ratio`).
    pub shrink_ratio: f64,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            scan: ScanOptions::default(),
            shrink_ratio: 0.5,
        }
    }
}

/// What one pass recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureReport {
    /// New complete lines.
    pub lines: u64,
    /// New bytes.
    pub bytes: u64,
    /// Events appended.
    pub events: u64,
    /// JSONL lines that are empty or not JSON (kept, counted).
    pub malformed: u64,
    /// Source resets (truncated or replaced).
    pub resets: u64,
    /// Compactions detected.
    pub compactions: u64,
}

impl CaptureReport {
    fn count(&mut self, event: &Event) {
        self.events += 1;
        match event {
            Event::TranscriptCaptured(c) => {
                self.lines += c.lines;
                self.bytes += c.bytes.0.len() as u64;
            }
            Event::SourceReset(_) => self.resets += 1,
            Event::CompactionDetected(_) => self.compactions += 1,
            _ => {}
        }
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> CaptureError + '_ {
    move |source| CaptureError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Captures the complete lines a file gained since the log's cursor.
/// A truncated or replaced file is recorded as a `SourceReset` and read
/// from its start. `progress` is told how many bytes each batch took.
pub async fn capture_file(
    log: &dyn EventLog,
    session: SessionId,
    source: SourceRef,
    path: &Path,
    config: CaptureConfig,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<CaptureReport, CaptureError> {
    let err = io_err(path);
    let meta = std::fs::metadata(path).map_err(&err)?;
    if meta.is_dir() {
        return Err(CaptureError::NotAFile(path.display().to_string()));
    }
    let mut file = File::open(path).map_err(&err)?;
    let cursor = cursor_of(log, session, &source.key)
        .await?
        .unwrap_or_default();
    let mut prelude = Vec::new();
    let (start, window) = match check_cursor(&mut file, meta.len(), &cursor).map_err(&err)? {
        Ok(window) => (cursor, window),
        Err(reason) => {
            prelude.push(Event::SourceReset(SourceReset {
                source: source.clone(),
                reason,
                old_offset: cursor.offset,
            }));
            if source.kind == SourceKind::TextFile {
                let after = count_lines(&mut file).map_err(&err)?;
                if (after as f64) < cursor.line as f64 * config.shrink_ratio {
                    prelude.push(Event::CompactionDetected(CompactionDetected {
                        trigger: CompactionTrigger::Heuristic {
                            before: cursor.line,
                            after,
                        },
                        pre_tokens: None,
                    }));
                }
            }
            (Cursor::default(), Vec::new())
        }
    };
    file.seek(SeekFrom::Start(start.offset)).map_err(&err)?;
    let mut options = config.scan;
    options.jsonl = source.kind == SourceKind::ClaudeCode;
    let scanner = Scanner::new(source, start, options).with_tail(window);
    run(
        log, session, scanner, &mut file, false, prelude, progress, path,
    )
    .await
}

/// Captures a stream (standard input) to its end, continuing the source's
/// cursor. A stream cannot be re-read, so there is nothing to check and
/// its last line is complete at end of input.
pub async fn capture_stream(
    log: &dyn EventLog,
    session: SessionId,
    source: SourceRef,
    reader: &mut (dyn Read + Send),
    config: CaptureConfig,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<CaptureReport, CaptureError> {
    let cursor = cursor_of(log, session, &source.key)
        .await?
        .unwrap_or_default();
    let scanner = Scanner::new(source, cursor, config.scan);
    run(
        log,
        session,
        scanner,
        reader,
        true,
        Vec::new(),
        progress,
        Path::new("-"),
    )
    .await
}

/// Scans `reader` and appends batch by batch, `prelude` first.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    log: &dyn EventLog,
    session: SessionId,
    mut scanner: Scanner,
    reader: &mut (dyn Read + Send),
    eof_completes: bool,
    mut prelude: Vec<Event>,
    progress: &mut (dyn FnMut(u64) + Send),
    path: &Path,
) -> Result<CaptureReport, CaptureError> {
    let mut report = CaptureReport::default();
    let mut expected = log.session_len(session).await?;
    loop {
        let scanned = scanner
            .next_batch(reader, eof_completes)
            .map_err(io_err(path))?;
        let mut events = std::mem::take(&mut prelude);
        events.extend(scanned);
        if events.is_empty() {
            break;
        }
        let before = report.bytes;
        let batch = events
            .into_iter()
            .map(|event| {
                report.count(&event);
                let new = NewEvent {
                    session,
                    expected_session_seq: expected,
                    event,
                };
                expected += 1;
                new
            })
            .collect();
        log.append(batch).await?;
        progress(report.bytes - before);
    }
    report.malformed = scanner.malformed();
    Ok(report)
}

/// `Ok(window)` when the file still holds what the cursor says (`window` is
/// the bytes just before it); `Err(reason)` when it does not.
fn check_cursor(
    file: &mut File,
    len: u64,
    cursor: &Cursor,
) -> std::io::Result<Result<Vec<u8>, ResetReason>> {
    if cursor.offset == 0 {
        return Ok(Ok(Vec::new()));
    }
    if len < cursor.offset {
        return Ok(Err(ResetReason::Truncated));
    }
    let width = cursor.offset.min(FINGERPRINT_WINDOW as u64);
    file.seek(SeekFrom::Start(cursor.offset - width))?;
    let mut window = vec![0u8; usize::try_from(width).unwrap_or(FINGERPRINT_WINDOW)];
    file.read_exact(&mut window)?;
    Ok(if fingerprint(&window) == cursor.fingerprint {
        Ok(window)
    } else {
        Err(ResetReason::Replaced)
    })
}

fn count_lines(file: &mut File) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}
