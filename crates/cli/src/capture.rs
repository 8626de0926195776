//! `logbook capture`: one incremental pass over a file or standard input,
//! or `--follow` passes until interrupted. The store lock is taken per pass,
//! never for the lifetime of a follow or a pipe, so hooks and other tabs
//! keep working.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use logbook_capture::run::{CaptureConfig, CaptureReport, capture_file, capture_stream};
use logbook_capture::scan::ScanOptions;
use logbook_core::{SessionId, SourceKind, SourceRef};
use serde::Serialize;

use crate::cli::CaptureArgs;
use crate::workspace::{UsageError, Workspace};

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
    }
}

/// Runs `capture`.
pub async fn capture(
    root: &Path,
    args: CaptureArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let ws = Workspace::open(root).await?;
    let session = ws.resolve(&args.session)?;
    let mut summary = Summary {
        session_id: session.to_string(),
        ..Summary::default()
    };
    if args.stdin {
        drop(ws);
        capture_stdin(root, session, &args.source, &mut summary).await?;
    } else if let Some(file) = &args.file {
        let path = std::path::absolute(file)
            .with_context(|| format!("cannot resolve {}", file.display()))?;
        if path.is_dir() {
            return Err(UsageError::Invalid(format!(
                "{} is a directory, not a file",
                path.display()
            ))
            .into());
        }
        let kind = if path.extension().is_some_and(|e| e == "jsonl") {
            SourceKind::ClaudeCode
        } else {
            SourceKind::TextFile
        };
        let source = SourceRef {
            kind,
            key: args.source.clone(),
            location: path.display().to_string(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        if args.follow {
            // A signal only raises the flag: the pass under way finishes its
            // batch, then the loop ends.
            for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(signal, stop.clone())?;
            }
        }
        let mut ws = Some(ws);
        loop {
            let open = match ws.take() {
                Some(open) => open,
                None => Workspace::open(root).await?,
            };
            let report = capture_file(
                open.log(),
                session,
                source.clone(),
                &path,
                config(&open),
                &mut |_| {},
            )
            .await
            .map_err(crate::workspace::WorkspaceError::from)?;
            open.project().await?;
            open.ensure_transcript(session).await?;
            open.flush()?;
            drop(open);
            summary.add(&report);
            if !args.follow {
                break;
            }
            let interval = Duration::from_millis(Workspace::open_config(root)?.follow_interval_ms);
            let mut slept = Duration::ZERO;
            while slept < interval && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
                slept += Duration::from_millis(20);
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
    }
    if args.json.json {
        serde_json::to_writer_pretty(&mut *out, &summary)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "captured {} lines, {} bytes into {} ({} malformed, {} resets, {} compactions)",
            summary.lines,
            summary.bytes,
            summary.session_id,
            summary.malformed,
            summary.resets,
            summary.compactions
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads standard input as it comes and records complete lines, taking the
/// store lock only while recording each piece.
async fn capture_stdin(
    root: &Path,
    session: SessionId,
    key: &str,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let source = SourceRef {
        kind: SourceKind::Stdin,
        key: key.to_owned(),
        location: "-".into(),
    };
    let mut stdin = std::io::stdin();
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
            let ws = Workspace::open(root).await?;
            let report = capture_stream(
                ws.log(),
                session,
                source.clone(),
                &mut piece.as_slice(),
                config(&ws),
                &mut |_| {},
            )
            .await
            .map_err(crate::workspace::WorkspaceError::from)?;
            ws.project().await?;
            ws.flush()?;
            summary.add(&report);
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
