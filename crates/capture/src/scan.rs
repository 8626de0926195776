//! The line scanner: bytes in, `TranscriptCaptured` (and
//! `CompactionDetected`) events out, complete lines only.

use std::io::Read;

use logbook_core::{Bytes, Event, SourceRef, TranscriptCaptured};
use serde::de::IgnoredAny;

use crate::cursor::{Cursor, FINGERPRINT_WINDOW, fingerprint};

/// Size limits of what one scan step produces.
#[derive(Clone, Copy, Debug)]
pub struct ScanOptions {
    /// An event closes once it holds this many bytes (a longer single line
    /// still goes whole into one event: lines are never split).
    pub max_event_bytes: usize,
    /// A batch (one atomic append) closes once it holds this many bytes, so
    /// memory stays bounded whatever the source's size.
    pub max_batch_bytes: usize,
    /// Treat lines as an agent's JSONL: count malformed ones and split at
    /// the compactions the agent marks.
    pub jsonl: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            max_event_bytes: 1 << 20,
            max_batch_bytes: 4 << 20,
            jsonl: false,
        }
    }
}

const READ_CHUNK: usize = 1 << 20;

/// Reads a source from a cursor and cuts it into events.
#[derive(Debug)]
pub struct Scanner {
    source: SourceRef,
    cursor: Cursor,
    options: ScanOptions,
    /// The last bytes before the cursor, for the next fingerprint.
    tail: Vec<u8>,
    /// Bytes read past the cursor that are not yet in an event.
    pending: Vec<u8>,
    /// How much of `pending` is known to hold no newline: each read is
    /// searched once, so a long unterminated line costs its length, not
    /// its square.
    searched: usize,
    eof: bool,
    malformed: u64,
}

impl Scanner {
    /// A scanner starting at `cursor`.
    pub fn new(source: SourceRef, cursor: Cursor, options: ScanOptions) -> Self {
        Self {
            source,
            cursor,
            options,
            tail: Vec::new(),
            pending: Vec::new(),
            searched: 0,
            eof: false,
            malformed: 0,
        }
    }

    /// Seeds the bytes just before the cursor, so fingerprints continue.
    pub fn with_tail(mut self, window: Vec<u8>) -> Self {
        self.tail = window;
        self
    }

    /// Where the scanner stands (after everything it returned).
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// JSONL lines that are empty or not JSON, so far.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Reads on and returns the next batch of events; an empty batch means
    /// the input is exhausted. A final line without a newline waits, unless
    /// `eof_completes` (a closed stream cannot grow, so its last line is
    /// complete).
    pub fn next_batch(
        &mut self,
        reader: &mut dyn Read,
        eof_completes: bool,
    ) -> std::io::Result<Vec<Event>> {
        let mut out = Vec::new();
        let mut out_bytes = 0usize;
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            self.drain(&mut out, &mut out_bytes);
            if out_bytes >= self.options.max_batch_bytes {
                return Ok(out);
            }
            if self.eof {
                if eof_completes && !self.pending.is_empty() {
                    let rest = std::mem::take(&mut self.pending);
                    self.check_line(&rest);
                    self.emit(rest, 1, &mut out, &mut out_bytes);
                }
                return Ok(out);
            }
            let n = loop {
                match reader.read(&mut chunk) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                self.eof = true;
            } else {
                self.pending.extend_from_slice(&chunk[..n]);
            }
        }
    }

    /// Moves complete lines from `pending` into events, up to the batch size.
    fn drain(&mut self, out: &mut Vec<Event>, out_bytes: &mut usize) {
        let from = self.searched.min(self.pending.len());
        let Some(last_newline) = memchr::memrchr(b'\n', &self.pending[from..]) else {
            self.searched = self.pending.len();
            return;
        };
        let region = from + last_newline + 1;
        let (mut start, mut pos, mut lines) = (0usize, 0usize, 0u64);
        while pos < region {
            let end =
                memchr::memchr(b'\n', &self.pending[pos..region]).map_or(region, |i| pos + i + 1);
            let boundary = if self.options.jsonl {
                logbook_agents::compaction(self.source.kind, &self.pending[pos..end])
            } else {
                None
            };
            let current = pos - start;
            if current > 0
                && (boundary.is_some() || current + (end - pos) > self.options.max_event_bytes)
            {
                let bytes = self.pending[start..pos].to_vec();
                self.emit(bytes, lines, out, out_bytes);
                start = pos;
                lines = 0;
                if *out_bytes >= self.options.max_batch_bytes {
                    break;
                }
            }
            if let Some(c) = boundary {
                out.push(Event::CompactionDetected(c));
            }
            if self.options.jsonl {
                let line = self.pending[pos..end].to_vec();
                self.check_line(&line);
            }
            lines += 1;
            pos = end;
        }
        if pos > start {
            let bytes = self.pending[start..pos].to_vec();
            self.emit(bytes, lines, out, out_bytes);
        }
        self.pending.drain(..pos);
        // What is left may still hold newlines (a full batch stopped early).
        self.searched = 0;
    }

    fn check_line(&mut self, line: &[u8]) {
        if !self.options.jsonl {
            return;
        }
        let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        if trimmed.iter().all(u8::is_ascii_whitespace)
            || serde_json::from_slice::<IgnoredAny>(trimmed).is_err()
        {
            self.malformed += 1;
        }
    }

    fn emit(&mut self, bytes: Vec<u8>, lines: u64, out: &mut Vec<Event>, out_bytes: &mut usize) {
        if bytes.len() >= FINGERPRINT_WINDOW {
            self.tail = bytes[bytes.len() - FINGERPRINT_WINDOW..].to_vec();
        } else {
            self.tail.extend_from_slice(&bytes);
            let excess = self.tail.len().saturating_sub(FINGERPRINT_WINDOW);
            self.tail.drain(..excess);
        }
        let event = TranscriptCaptured {
            source: self.source.clone(),
            byte_start: self.cursor.offset,
            line_start: self.cursor.line,
            lines,
            fingerprint: fingerprint(&self.tail),
            bytes: Bytes(bytes),
        };
        self.cursor = Cursor {
            offset: event.byte_end(),
            line: event.line_end(),
            fingerprint: event.fingerprint,
        };
        *out_bytes += event.bytes.0.len();
        out.push(Event::TranscriptCaptured(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbook_core::{CompactionDetected, CompactionTrigger, SourceKind};

    fn source() -> SourceRef {
        SourceRef {
            kind: SourceKind::ClaudeCode,
            key: "main".into(),
            location: "t.jsonl".into(),
        }
    }

    fn captured(events: &[Event]) -> Vec<&TranscriptCaptured> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::TranscriptCaptured(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    fn scan_all(input: &[u8], options: ScanOptions, eof_completes: bool) -> (Vec<Event>, Scanner) {
        let mut scanner = Scanner::new(source(), Cursor::default(), options);
        let mut reader = input;
        let mut all = vec![];
        loop {
            let batch = scanner.next_batch(&mut reader, eof_completes).unwrap();
            if batch.is_empty() {
                break;
            }
            all.extend(batch);
        }
        (all, scanner)
    }

    #[test]
    fn events_rebuild_the_input_and_never_split_lines() {
        let mut input = Vec::new();
        for i in 0..5000 {
            input.extend_from_slice(
                format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 300)).as_bytes(),
            );
        }
        let options = ScanOptions {
            max_event_bytes: 10_000,
            max_batch_bytes: 50_000,
            jsonl: true,
        };
        let (events, scanner) = scan_all(&input, options, false);
        let caps = captured(&events);
        assert!(caps.len() > 10);
        let mut rebuilt = Vec::new();
        let mut line = 0;
        for c in &caps {
            assert_eq!(c.byte_start, rebuilt.len() as u64);
            assert_eq!(c.line_start, line);
            assert!(c.bytes.0.ends_with(b"\n"));
            rebuilt.extend_from_slice(&c.bytes.0);
            line += c.lines;
        }
        assert_eq!(rebuilt, input);
        assert_eq!(line, 5000);
        assert_eq!(scanner.malformed(), 0);
        assert_eq!(scanner.cursor().offset, input.len() as u64);
    }

    #[test]
    fn a_line_longer_than_an_event_goes_whole() {
        let mut input = b"{\"a\":1}\n".to_vec();
        input.extend_from_slice(format!("{{\"big\":\"{}\"}}\n", "y".repeat(300_000)).as_bytes());
        input.extend_from_slice(b"{\"z\":2}\n");
        let options = ScanOptions {
            max_event_bytes: 1000,
            max_batch_bytes: 1 << 20,
            jsonl: true,
        };
        let (events, _) = scan_all(&input, options, false);
        let caps = captured(&events);
        assert_eq!(caps.len(), 3);
        assert_eq!(caps[1].lines, 1);
        assert!(caps[1].bytes.0.len() > 300_000);
    }

    #[test]
    fn a_half_written_line_waits_unless_the_stream_ended() {
        let (events, scanner) = scan_all(b"a\nb\nhalf", ScanOptions::default(), false);
        assert_eq!(captured(&events)[0].bytes.0, b"a\nb\n");
        assert_eq!(scanner.cursor().line, 2);
        let (events, scanner) = scan_all(b"a\nb\nhalf", ScanOptions::default(), true);
        let caps = captured(&events);
        assert_eq!(caps.iter().map(|c| c.bytes.0.len()).sum::<usize>(), 8);
        assert_eq!(scanner.cursor().line, 3);
    }

    #[test]
    fn malformed_lines_are_kept_and_counted() {
        let input = b"{\"ok\":1}\n\nnot json\n\xff\xfe{\n{\"ok\":2}\n";
        let options = ScanOptions {
            jsonl: true,
            ..ScanOptions::default()
        };
        let (events, scanner) = scan_all(input, options, false);
        let bytes: Vec<u8> = captured(&events)
            .iter()
            .flat_map(|c| c.bytes.0.clone())
            .collect();
        assert_eq!(bytes, input);
        assert_eq!(scanner.malformed(), 3);
    }

    #[test]
    fn a_compact_boundary_opens_a_new_event_after_its_detection() {
        let input = concat!(
            "{\"type\":\"user\"}\n",
            "{\"type\":\"system\",\"subtype\":\"compact_boundary\",\"compactMetadata\":{\"trigger\":\"manual\",\"preTokens\":155000}}\n",
            "{\"type\":\"user\",\"isCompactSummary\":true}\n"
        );
        let options = ScanOptions {
            jsonl: true,
            ..ScanOptions::default()
        };
        let (events, _) = scan_all(input.as_bytes(), options, false);
        assert_eq!(events.len(), 3);
        assert!(matches!(&events[0], Event::TranscriptCaptured(c) if c.lines == 1));
        assert_eq!(
            events[1],
            Event::CompactionDetected(CompactionDetected {
                trigger: CompactionTrigger::Manual,
                pre_tokens: Some(155_000)
            })
        );
        assert!(
            matches!(&events[2], Event::TranscriptCaptured(c) if c.lines == 2 && c.line_start == 1)
        );
        // A user merely mentioning the word is not a boundary.
        assert!(
            logbook_agents::compaction(
                SourceKind::ClaudeCode,
                b"{\"type\":\"user\",\"text\":\"compact_boundary\"}"
            )
            .is_none()
        );
    }

    #[test]
    fn fingerprints_cover_the_bytes_before_the_cursor() {
        let input: Vec<u8> = (0..2000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let options = ScanOptions {
            max_event_bytes: 3000,
            ..ScanOptions::default()
        };
        let (events, _) = scan_all(&input, options, false);
        for c in captured(&events) {
            let end = c.byte_end() as usize;
            let window = &input[end.saturating_sub(FINGERPRINT_WINDOW)..end];
            assert_eq!(c.fingerprint, fingerprint(window));
        }
    }
}
