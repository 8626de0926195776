//! A tmux pane as a capture source.
//!
//! A pane's scrollback is a sliding window, not a file: lines fall off its
//! top once `history-limit` is reached, and nothing about it can be
//! addressed by offset. So each pass takes the pane's complete lines (those
//! above the cursor's line, which may still be written to) and aligns them
//! by content with the tail of what the log already holds: the longest
//! prefix of the pane that is a suffix of the captured text is old, the rest
//! is new. When nothing overlaps although both sides have lines, lines
//! scrolled away unseen between two passes; that is recorded as a
//! `CaptureGap` rather than passed over in silence.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use async_trait::async_trait;
use logbook_core::{CaptureGap, Event, EventLog, SessionId, SourceRef};

use crate::CaptureError;
use crate::cursor::{FINGERPRINT_WINDOW, cursor_of, recent_bytes};
use crate::run::{CaptureConfig, CaptureReport, run};
use crate::scan::Scanner;
use crate::source::{Progress, Source};

/// Reads a pane's text.
#[cfg_attr(test, mockall::automock)]
pub trait Tmux: Send + Sync {
    /// The pane's complete lines, history included, each ending in `\n`:
    /// everything above the line the cursor is on.
    fn complete_lines(&self, pane: &str) -> Result<Vec<u8>, CaptureError>;
}

/// The `tmux` binary on `PATH` (or another one).
#[derive(Clone, Debug)]
pub struct TmuxBinary {
    program: OsString,
    /// Variables that find the server (`TMUX`, `TMUX_TMPDIR`) and the
    /// binary (`PATH`) as the asking client sees them: the daemon that runs
    /// the capture has its own environment.
    env: Vec<(OsString, OsString)>,
}

impl Default for TmuxBinary {
    fn default() -> Self {
        Self {
            program: "tmux".into(),
            env: Vec::new(),
        }
    }
}

impl TmuxBinary {
    /// `tmux` run with these variables set (and `TMUX`/`TMUX_TMPDIR`
    /// removed when absent from them, so the runner's own never leak in).
    pub fn with_env(env: Vec<(OsString, OsString)>) -> Self {
        Self {
            program: "tmux".into(),
            env,
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        if !self.env.is_empty() {
            for name in ["TMUX", "TMUX_TMPDIR"] {
                if !self.env.iter().any(|(k, _)| k == name) {
                    command.env_remove(name);
                }
            }
            command.envs(self.env.iter().map(|(k, v)| (k, v)));
        }
        command
    }

    fn run(&self, pane: &str, args: &[&str]) -> Result<Vec<u8>, CaptureError> {
        let output = self
            .command()
            .args(args)
            .output()
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => CaptureError::TmuxMissing,
                _ => CaptureError::Io {
                    path: Path::new(&self.program).display().to_string(),
                    source,
                },
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(CaptureError::Pane {
                pane: pane.to_owned(),
                message: stderr.lines().next().unwrap_or("tmux failed").to_owned(),
            });
        }
        Ok(output.stdout)
    }
}

impl Tmux for TmuxBinary {
    fn complete_lines(&self, pane: &str) -> Result<Vec<u8>, CaptureError> {
        let position = self.run(
            pane,
            &[
                "display-message",
                "-p",
                "-t",
                pane,
                "#{cursor_y} #{history_size}",
            ],
        )?;
        let position = String::from_utf8_lossy(&position);
        let mut numbers = position.split_whitespace().map(str::parse::<i64>);
        let (Some(Ok(cursor_y)), Some(Ok(history))) = (numbers.next(), numbers.next()) else {
            return Err(CaptureError::Pane {
                pane: pane.to_owned(),
                message: format!("unexpected cursor position {:?}", position.trim()),
            });
        };
        if cursor_y == 0 && history == 0 {
            return Ok(Vec::new());
        }
        // `-E` counts from the top of the screen, history above it negative,
        // so the line above the cursor is `cursor_y - 1` either way. Output
        // arriving between the two calls only moves the cursor further on,
        // so that line stays complete.
        let end = (cursor_y - 1).to_string();
        self.run(
            pane,
            &[
                "capture-pane",
                "-p",
                "-J",
                "-S",
                "-",
                "-E",
                &end,
                "-t",
                pane,
            ],
        )
    }
}

/// How a pane's lines continue what was captured before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alignment {
    /// Byte offset in the pane text where the new lines begin.
    pub new_from: usize,
    /// Lines were lost between the two passes.
    pub gap: bool,
}

fn lines(text: &[u8]) -> Vec<&[u8]> {
    text.split_inclusive(|b| *b == b'\n').collect()
}

/// Aligns `pane` (complete lines) with `captured` (the tail of what the log
/// holds): the longest prefix of the pane's lines that is also a suffix of
/// the captured lines is already recorded. Found with the KMP failure
/// function over lines, so repetitive output stays linear.
pub fn align(captured: &[u8], pane: &[u8]) -> Alignment {
    let old = lines(captured);
    let new = lines(pane);
    if new.is_empty() {
        return Alignment {
            new_from: 0,
            gap: false,
        };
    }
    let mut failure = vec![0usize; new.len()];
    let mut k = 0;
    for i in 1..new.len() {
        while k > 0 && new[i] != new[k] {
            k = failure[k - 1];
        }
        if new[i] == new[k] {
            k += 1;
        }
        failure[i] = k;
    }
    let mut matched = 0;
    for line in &old {
        if matched == new.len() {
            matched = failure[matched - 1];
        }
        while matched > 0 && *line != new[matched] {
            matched = failure[matched - 1];
        }
        if *line == new[matched] {
            matched += 1;
        }
    }
    Alignment {
        new_from: new[..matched].iter().map(|l| l.len()).sum(),
        gap: matched == 0 && !old.is_empty(),
    }
}

/// A tmux pane, read through a [`Tmux`].
pub struct TmuxSource<T> {
    source: SourceRef,
    tmux: T,
}

impl<T: Tmux> TmuxSource<T> {
    /// The pane `source.location`, read through `tmux`.
    pub fn new(source: SourceRef, tmux: T) -> Self {
        Self { source, tmux }
    }
}

#[async_trait]
impl<T: Tmux> Source for TmuxSource<T> {
    fn source_ref(&self) -> &SourceRef {
        &self.source
    }

    async fn capture(
        &mut self,
        log: &dyn EventLog,
        session: SessionId,
        config: CaptureConfig,
        progress: Progress<'_>,
    ) -> Result<CaptureReport, CaptureError> {
        let pane = self.tmux.complete_lines(&self.source.location)?;
        let cursor = cursor_of(log, session, &self.source.key)
            .await?
            .unwrap_or_default();
        let captured = if cursor.offset == 0 {
            Vec::new()
        } else {
            let want = memchr::memchr_iter(b'\n', &pane).count() as u64;
            recent_bytes(log, session, &self.source.key, want, FINGERPRINT_WINDOW).await?
        };
        let alignment = align(&captured, &pane);
        let mut prelude = Vec::new();
        if alignment.gap {
            prelude.push(Event::CaptureGap(CaptureGap {
                source: self.source.clone(),
                lines_missed: None,
            }));
        }
        let window = captured[captured.len().saturating_sub(FINGERPRINT_WINDOW)..].to_vec();
        let scanner = Scanner::new(self.source.clone(), cursor, config.scan).with_tail(window);
        let mut fresh = &pane[alignment.new_from..];
        run(
            log,
            session,
            scanner,
            &mut fresh,
            true,
            prelude,
            progress,
            Path::new(&self.source.location),
            config.token_reading,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(captured: &str, pane: &str) -> (String, bool) {
        let a = align(captured.as_bytes(), pane.as_bytes());
        (pane[a.new_from..].to_owned(), a.gap)
    }

    #[test]
    fn first_pass_takes_everything() {
        assert_eq!(at("", "a\nb\n"), ("a\nb\n".into(), false));
    }

    #[test]
    fn grown_pane_gives_only_new_lines() {
        assert_eq!(at("a\nb\n", "a\nb\nc\n"), ("c\n".into(), false));
    }

    #[test]
    fn slid_window_is_aligned_by_content() {
        assert_eq!(at("a\nb\nc\nd\n", "c\nd\ne\nf\n"), ("e\nf\n".into(), false));
    }

    #[test]
    fn unchanged_pane_gives_nothing() {
        assert_eq!(at("x\na\nb\n", "a\nb\n"), (String::new(), false));
    }

    #[test]
    fn repeated_lines_overlap_as_much_as_they_can() {
        assert_eq!(
            at("$ ls\nf\n$ ls\nf\n", "$ ls\nf\n$ ls\nf\n$ ls\nf\n"),
            ("$ ls\nf\n".into(), false)
        );
        assert_eq!(at("a\na\na\n", "a\na\na\na\nb\n"), ("a\nb\n".into(), false));
    }

    #[test]
    fn no_overlap_is_a_gap() {
        assert_eq!(at("a\nb\n", "x\ny\n"), ("x\ny\n".into(), true));
    }

    #[test]
    fn empty_pane_is_not_a_gap() {
        assert_eq!(at("a\n", ""), (String::new(), false));
    }

    /// An in-memory log behind the mock, enough for a capture pass.
    fn memory_log() -> logbook_core::MockEventLog {
        use logbook_core::{Envelope, EventId, Hash, Timestamp};
        use std::sync::{Arc, Mutex};
        let events: Arc<Mutex<Vec<Envelope>>> = Arc::default();
        let mut log = logbook_core::MockEventLog::new();
        let e = events.clone();
        log.expect_session_len()
            .returning(move |_| Ok(e.lock().unwrap().len() as u64));
        let e = events.clone();
        log.expect_read_session_range()
            .returning(move |_, from, limit| {
                let all = e.lock().unwrap();
                Ok(all
                    .iter()
                    .skip(from as usize - 1)
                    .take(limit)
                    .cloned()
                    .collect())
            });
        log.expect_append().returning(move |batch| {
            let mut all = events.lock().unwrap();
            // Callers here ignore the stored envelopes they get back.
            for new in batch {
                assert_eq!(new.expected_session_seq, all.len() as u64);
                let seq = all.len() as u64 + 1;
                all.push(Envelope {
                    format: 1,
                    seq,
                    id: EventId::new_v7(),
                    at: Timestamp::from_micros(seq as i64),
                    session: new.session,
                    session_seq: seq,
                    prev_hash: Hash::ZERO,
                    event: new.event,
                });
            }
            Ok(Vec::new())
        });
        log
    }

    #[test]
    fn passes_over_a_sliding_pane_record_each_line_once_and_gaps() {
        futures::executor::block_on(sliding_pane());
    }

    async fn sliding_pane() {
        let panes = ["a\nb\n", "b\nc\n", "b\nc\n", "x\n"];
        let mut tmux = MockTmux::new();
        let mut calls = 0;
        tmux.expect_complete_lines().returning(move |_| {
            calls += 1;
            Ok(panes[calls - 1].as_bytes().to_vec())
        });
        let source = SourceRef {
            kind: logbook_core::SourceKind::Tmux,
            key: "main".into(),
            location: "%1".into(),
        };
        let mut pane = TmuxSource::new(source, tmux);
        let log = memory_log();
        let session = SessionId::new_v7();
        let mut recorded = Vec::new();
        for _ in 0..4 {
            let report = pane
                .capture(&log, session, CaptureConfig::default(), &mut |_| {})
                .await
                .unwrap();
            recorded.push(report.lines);
        }
        assert_eq!(recorded, [2, 1, 0, 1]);
        let events = log.read_session_range(session, 1, 100).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.event.kind()).collect();
        assert_eq!(
            kinds,
            [
                "transcript_captured",
                "transcript_captured",
                "capture_gap",
                "transcript_captured"
            ]
        );
        let text: Vec<u8> = events
            .iter()
            .filter_map(|e| match &e.event {
                Event::TranscriptCaptured(c) => Some(c.bytes.0.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(text, b"a\nb\nc\nx\n");
    }
}
