//! `logbook capture`: one incremental pass over a file or standard input,
//! or `--follow` passes until interrupted. The store lock is taken per pass,
//! never for the lifetime of a follow or a pipe, so hooks and other tabs
//! keep working.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::ResultExt as _;
use logbook_capture::run::{CaptureConfig, CaptureReport};
use logbook_capture::scan::ScanOptions;
use logbook_capture::source::{FileSource, Source, StreamSource};
use logbook_capture::tmux::{TmuxBinary, TmuxSource};
use logbook_core::{SessionId, SourceKind, SourceRef};
use serde::Serialize;

use crate::console::Console;
use crate::error::UsageError;
use crate::ops::{Store, plural};
use crate::request::CaptureArgs;
use crate::workspace::Workspace;

#[derive(Debug, Default, Serialize)]
struct Summary {
    session_id: String,
    passes: u64,
    lines: u64,
    bytes: u64,
    events: u64,
    malformed: u64,
    resets: u64,
    compactions: u64,
}

impl Summary {
    fn add(&mut self, r: &CaptureReport) {
        self.passes += 1;
        self.lines += r.lines;
        self.bytes += r.bytes;
        self.events += r.events;
        self.malformed += r.malformed;
        self.resets += r.resets;
        self.compactions += r.compactions;
    }
}

fn config(ws: &Workspace) -> CaptureConfig {
    CaptureConfig {
        scan: ScanOptions::default(),
        shrink_ratio: ws.config().compaction_ratio,
        token_reading: Some(logbook_tokens::text::token_usage),
    }
}

/// Runs `capture`.
pub async fn capture(store: &Store, args: CaptureArgs, console: &mut Console) -> crate::Result<u8> {
    let ws = store.open().await?;
    let session = ws.resolve(&args.session)?;
    let mut summary = Summary {
        session_id: session.to_string(),
        ..Summary::default()
    };
    if args.stdin {
        drop(ws);
        capture_stdin(store, session, &args.source, console, &mut summary).await?;
    } else {
        drop(ws);
        let (mut source, big): (Box<dyn Source>, bool) = match (&args.file, &args.tmux) {
            (Some(file), _) => file_source(&console.env.resolve(file), &args.source)?,
            (None, Some(pane)) => (
                Box::new(TmuxSource::new(
                    SourceRef {
                        kind: SourceKind::Tmux,
                        key: args.source.clone(),
                        location: pane.clone(),
                    },
                    TmuxBinary::with_env(
                        console
                            .env
                            .vars
                            .iter()
                            .map(|(k, v)| (k.into(), v.into()))
                            .collect(),
                    ),
                )),
                false,
            ),
            (None, None) => {
                return Err(
                    UsageError::Invalid("give one of --file, --stdin or --tmux".into()).into(),
                );
            }
        };
        passes(
            store,
            session,
            source.as_mut(),
            (big, args.follow),
            console,
            &mut summary,
        )
        .await?;
    }
    let out = &mut *console.out;
    if args.json.json {
        serde_json::to_writer_pretty(&mut *out, &summary)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "captured {} line{}, {} byte{} into {} ({} malformed, {} reset{}, {} compaction{})",
            summary.lines,
            plural(summary.lines),
            summary.bytes,
            plural(summary.bytes),
            summary.session_id,
            summary.malformed,
            summary.resets,
            plural(summary.resets),
            summary.compactions,
            plural(summary.compactions),
        )?;
    }
    Ok(0)
}

/// A file source, and whether it has enough unread bytes to show progress.
fn file_source(file: &Path, key: &str) -> crate::Result<(Box<dyn Source>, bool)> {
    let path = file.to_owned();
    if path.is_dir() {
        return Err(
            UsageError::Invalid(format!("{} is a directory, not a file", path.display())).into(),
        );
    }
    let kind = if path.extension().is_some_and(|e| e == "jsonl") {
        SourceKind::ClaudeCode
    } else {
        SourceKind::TextFile
    };
    let big = std::fs::metadata(&path).is_ok_and(|m| m.len() >= crate::progress::BIG);
    let source = SourceRef {
        kind,
        key: key.to_owned(),
        location: path.display().to_string(),
    };
    Ok((Box::new(FileSource::new(source, path)), big))
}

/// One pass, or with `follow` passes until the client asks to stop (its
/// Ctrl-C or SIGTERM), each with the store held only for its own batches.
async fn passes(
    store: &Store,
    session: SessionId,
    source: &mut dyn Source,
    (big, follow): (bool, bool),
    console: &Console,
    summary: &mut Summary,
) -> crate::Result<()> {
    let location = PathBuf::from(&source.source_ref().location);
    loop {
        let open = store.open().await?;
        let _lane = open.lane().await;
        // The bar counts what this pass reads, so it only knows its total
        // for a file; a pane is small.
        let total = std::fs::metadata(&location).map_or(0, |m| m.len());
        let bar = crate::progress::bytes(total, big, console);
        let report = source
            .capture(open.log(), session, config(&open), &mut |n| bar.inc(n))
            .await
            .map_err(crate::workspace::WorkspaceError::from)?;
        bar.finish_and_clear();
        open.project().await?;
        open.ensure_transcript(session).await?;
        open.flush()?;
        let interval = Duration::from_millis(open.config().follow_interval_ms);
        drop(_lane);
        drop(open);
        summary.add(&report);
        if !follow {
            return Ok(());
        }
        let mut slept = Duration::ZERO;
        while slept < interval && !console.stopped() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            slept += Duration::from_millis(20);
        }
        if console.stopped() {
            return Ok(());
        }
    }
}

/// Reads standard input as it comes and records complete lines, taking the
/// store lock only while recording each piece.
async fn capture_stdin(
    store: &Store,
    session: SessionId,
    key: &str,
    console: &mut Console,
    summary: &mut Summary,
) -> crate::Result<()> {
    let source = SourceRef {
        kind: SourceKind::Stdin,
        key: key.to_owned(),
        location: "-".into(),
    };
    let stdin = &mut console.stdin;
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = match stdin.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading standard input"),
        };
        pending.extend_from_slice(&chunk[..n]);
        let eof = n == 0;
        // Complete lines now; at the end of input, the rest too.
        let cut = if eof {
            pending.len()
        } else {
            memchr_last_newline(&pending).map_or(0, |i| i + 1)
        };
        if cut > 0 && (eof || cut >= (1 << 16) || !more_ready(n, chunk.len())) {
            let piece: Vec<u8> = pending.drain(..cut).collect();
            let ws = store.open().await?;
            let _lane = ws.lane().await;
            let report = StreamSource::new(source.clone(), piece.as_slice())
                .capture(ws.log(), session, config(&ws), &mut |_| {})
                .await
                .map_err(crate::workspace::WorkspaceError::from)?;
            ws.project().await?;
            ws.flush()?;
            summary.add(&report);
            drop(_lane);
        }
        if eof {
            return Ok(());
        }
    }
}

/// A full read buffer suggests more input is already waiting: keep reading
/// before paying for a store open.
fn more_ready(read: usize, capacity: usize) -> bool {
    read == capacity
}

fn memchr_last_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|b| *b == b'\n')
}
