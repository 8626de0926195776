//! logbook-capture: what an agent writes, turned into `TranscriptCaptured`
//! events exactly once, and projected back into files.
//!
//! It owns:
//! - the **cursor** of a source ([`cursor::Cursor`]), derived from the log
//!   (the last capture or reset of that source in the session), never from
//!   `marker.json`;
//! - the **scanner** ([`scan::Scanner`]) that reads a file or stream from the
//!   cursor, takes complete lines only, notices a truncated or replaced file,
//!   counts malformed JSONL lines and splits where the agent marks a
//!   compaction (`logbook-agents` says where);
//! - the capture of a file an agent rewrites whole ([`snapshot`]: Gemini
//!   CLI's JSON chats), as the messages each version adds;
//! - the **projection** ([`projection::TranscriptProjection`]) of
//!   `transcript/part-NNNN.*`, the combined transcript when a session ends,
//!   and `marker.json`.
//!
//! Because the bytes and the cursor advance are one event, appended with the
//! session's expected sequence, two capturers can never both take the same
//! bytes, and a capture killed at any moment resumes exactly where the log
//! says it stopped. It sees the log only through `logbook-core`'s traits and
//! depends on neither the store nor the context or tokens crates.
//!
//! # Example: scanning complete lines only
//!
//! ```
//! use logbook_capture::scan::{Scanner, ScanOptions};
//! use logbook_capture::cursor::Cursor;
//! use logbook_core::{Event, SourceKind, SourceRef};
//!
//! let source = SourceRef { kind: SourceKind::TextFile, key: "main".into(), location: "-".into() };
//! let mut scanner = Scanner::new(source, Cursor::default(), ScanOptions::default());
//! let mut input: &[u8] = b"one\ntwo\nthr";
//! let events = scanner.next_batch(&mut input, false).unwrap();
//! let Event::TranscriptCaptured(c) = &events[0] else { unreachable!() };
//! assert_eq!(c.bytes.0, b"one\ntwo\n");   // "thr" waits for its newline
//! assert_eq!(scanner.cursor().offset, 8);
//! ```

pub mod cursor;
pub mod projection;
pub mod run;
pub mod scan;
pub mod snapshot;
pub mod source;
pub mod tmux;
pub mod unterminated;

/// Why a capture failed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Reading the source failed.
    #[error("{path}: {source}")]
    Io {
        /// The source path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The path is a directory, not a file.
    #[error("{0} is not a regular file (a directory, FIFO, socket or device)")]
    NotAFile(String),
    /// There is no `tmux` binary on `PATH`.
    #[error("tmux is not installed (no `tmux` on PATH)")]
    TmuxMissing,
    /// tmux refused: no server, no such pane, …
    #[error("tmux pane {pane}: {message}")]
    Pane {
        /// The pane as given.
        pane: String,
        /// tmux's own message.
        message: String,
    },
    /// The log failed.
    #[error(transparent)]
    Log(#[from] logbook_core::LogError),
}
