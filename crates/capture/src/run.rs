//! One capture pass: cursor from the log, checks, scan, append.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use logbook_core::{
    CompactionDetected, CompactionTrigger, Event, EventLog, NewEvent, ResetReason, SessionId,
    SourceKind, SourceRef, SourceReset, TokenUsageObserved, UsageSource,
};

use crate::CaptureError;
use crate::cursor::{Cursor, FINGERPRINT_WINDOW, cursor_of, fingerprint};
use crate::scan::{ScanOptions, Scanner};

/// Reads a `(used, window)` token figure from one line of text.
pub type TokenReading = fn(&[u8]) -> Option<(u64, u64)>;

/// Tunables of a capture pass.
#[derive(Clone, Copy, Debug)]
pub struct CaptureConfig {
    /// Event and batch sizes.
    pub scan: ScanOptions,
    /// A text source whose line count falls below this fraction of what was
    /// captured is taken as a compaction (config `compaction_ratio`).
    pub shrink_ratio: f64,
    /// Reads a `(used, window)` token figure from a line of a text source;
    /// each capture event's last reading is recorded as `TokenUsageObserved`.
    /// Passed in so capture need not know the tokens crate.
    pub token_reading: Option<TokenReading>,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            scan: ScanOptions::default(),
            shrink_ratio: 0.5,
            token_reading: None,
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

/// What a capture does at a compaction it meets: the session chain splits
/// there (the hooks' business), and capture goes on in the new segment.
pub trait Segments: Send {
    /// Called at a compaction found while capturing into `session`, whose
    /// next expected sequence is `expected`, with the source cursor at the
    /// boundary record. Returns `None` to record the compaction in `session`
    /// and go on there, or the split: a batch to append (it must hold the
    /// compaction, the end of `session` and the start of the next segment,
    /// and may carry the cursor over), and where capture continues.
    fn split(
        &mut self,
        session: SessionId,
        expected: u64,
        compaction: &CompactionDetected,
        cursor: &Cursor,
    ) -> Option<Split>;
}

/// A split of the session chain at a compaction.
#[derive(Debug)]
pub struct Split {
    /// Appended atomically.
    pub batch: Vec<NewEvent>,
    /// The segment capture continues in.
    pub session: SessionId,
    /// Its next expected sequence after `batch`.
    pub expected: u64,
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
    capture_file_split(log, session, source, path, config, progress, None)
        .await
        .map(|(report, _)| report)
}

/// [`capture_file`], splitting the session chain at compactions through
/// `segments`; also returns the session the capture ended in.
pub async fn capture_file_split(
    log: &dyn EventLog,
    session: SessionId,
    source: SourceRef,
    path: &Path,
    config: CaptureConfig,
    progress: &mut (dyn FnMut(u64) + Send),
    segments: Option<&mut dyn Segments>,
) -> Result<(CaptureReport, SessionId), CaptureError> {
    let err = io_err(path);
    let meta = std::fs::metadata(path).map_err(&err)?;
    // A directory, a FIFO (opening it waits for a writer) or a device (no
    // end) is not a transcript.
    if !meta.is_file() {
        return Err(CaptureError::NotAFile(path.display().to_string()));
    }
    let mut file = File::open(path).map_err(&err)?;
    let cursor = cursor_of(log, session, &source.key)
        .await?
        .unwrap_or_default();
    let mut prelude = Vec::new();
    let id = crate::unterminated::FileId::of(&meta);
    let tails = crate::unterminated::tails();
    let (start, window) = match check_cursor(&mut file, meta.len(), &cursor).map_err(&err)? {
        Ok(_)
            if tails
                .check(id, cursor.offset, meta.len(), &mut file)
                .map_err(&err)?
                == crate::unterminated::Known::NoNewLine =>
        {
            // Only a line still without its end since the last look.
            return Ok((CaptureReport::default(), session));
        }
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
    let start_offset = start.offset;
    let mut options = config.scan;
    options.jsonl = source.kind.is_agent_jsonl();
    let scanner = Scanner::new(source, start, options).with_tail(window);
    let mut state = Run {
        session,
        expected: log.session_len(session).await?,
        report: CaptureReport::default(),
        segments,
        token_reading: config.token_reading,
    };
    state
        .go(log, scanner, &mut file, false, prelude, progress, path)
        .await?;
    // The scanner read to the end and took every complete line: what is
    // left past the new cursor is one line without its end.
    tails.after_capture(id, start_offset + state.report.bytes, meta.len());
    Ok((state.report, state.session))
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
        config.token_reading,
    )
    .await
}

/// Scans `reader` and appends batch by batch, `prelude` first.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    log: &dyn EventLog,
    session: SessionId,
    scanner: Scanner,
    reader: &mut (dyn Read + Send),
    eof_completes: bool,
    prelude: Vec<Event>,
    progress: &mut (dyn FnMut(u64) + Send),
    path: &Path,
    token_reading: Option<TokenReading>,
) -> Result<CaptureReport, CaptureError> {
    let mut state = Run {
        session,
        expected: log.session_len(session).await?,
        report: CaptureReport::default(),
        segments: None,
        token_reading,
    };
    state
        .go(log, scanner, reader, eof_completes, prelude, progress, path)
        .await?;
    Ok(state.report)
}

/// Where a capture pass stands.
struct Run<'s> {
    session: SessionId,
    expected: u64,
    report: CaptureReport,
    segments: Option<&'s mut dyn Segments>,
    token_reading: Option<TokenReading>,
}

impl Run<'_> {
    fn push(&mut self, batch: &mut Vec<NewEvent>, event: Event) {
        self.report.count(&event);
        batch.push(NewEvent {
            session: self.session,
            expected_session_seq: self.expected,
            event,
        });
        self.expected += 1;
    }

    #[allow(clippy::too_many_arguments)]
    async fn go(
        &mut self,
        log: &dyn EventLog,
        mut scanner: Scanner,
        reader: &mut (dyn Read + Send),
        eof_completes: bool,
        mut prelude: Vec<Event>,
        progress: &mut (dyn FnMut(u64) + Send),
        path: &Path,
    ) -> Result<(), CaptureError> {
        loop {
            // The cursor at each point of the batch, for a split.
            let mut cursor = scanner.cursor().clone();
            let scanned = scanner
                .next_batch(reader, eof_completes)
                .map_err(io_err(path))?;
            let mut events = std::mem::take(&mut prelude);
            events.extend(scanned);
            if events.is_empty() {
                break;
            }
            let before = self.report.bytes;
            let mut batch = Vec::with_capacity(events.len());
            for event in events {
                if let Event::CompactionDetected(c) = &event {
                    let split = match self.segments.as_mut() {
                        Some(segments) => segments.split(self.session, self.expected, c, &cursor),
                        None => None,
                    };
                    if let Some(split) = split {
                        if !batch.is_empty() {
                            log.append(std::mem::take(&mut batch)).await?;
                        }
                        self.report.count(&event);
                        log.append(split.batch).await?;
                        self.session = split.session;
                        self.expected = split.expected;
                        continue;
                    }
                }
                if let Event::TranscriptCaptured(c) = &event {
                    cursor = Cursor {
                        offset: c.byte_end(),
                        line: c.line_end(),
                        fingerprint: c.fingerprint,
                    };
                }
                let reading = match (&event, self.token_reading) {
                    (Event::TranscriptCaptured(c), Some(read))
                        if !c.source.kind.is_agent_jsonl() =>
                    {
                        c.bytes.0.split(|b| *b == b'\n').rev().find_map(read)
                    }
                    _ => None,
                };
                self.push(&mut batch, event);
                if let Some((used, window)) = reading {
                    self.push(
                        &mut batch,
                        Event::TokenUsageObserved(TokenUsageObserved {
                            used,
                            window,
                            source: UsageSource::TextLine,
                        }),
                    );
                }
            }
            if !batch.is_empty() {
                log.append(batch).await?;
            }
            progress(self.report.bytes - before);
        }
        self.report.malformed = scanner.malformed();
        Ok(())
    }
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
