//! The wire between a client and the daemon: length-prefixed frames (a
//! big-endian `u32` length, then the frame in bincode with core's codec
//! config) over the store's Unix socket.
//!
//! The daemon speaks first with [`Hello`], whose encoding never changes:
//! a client of another build reads it, sees the difference, and neither
//! side decodes anything else from the other.

use std::path::{Path, PathBuf};

use logbook_engine::console::ClientEnv;
use logbook_engine::request::Request;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Bumped whenever a frame type changes shape.
pub const PROTOCOL: u32 = 2;

/// Frames above this are refused (a hook payload is capped at 4 MiB, stdin
/// is sent in 1 MiB pieces).
pub const MAX_FRAME: u32 = 16 << 20;

/// The socket of the store at `root`.
pub fn socket_path(root: &Path) -> PathBuf {
    root.join("daemon.sock")
}

/// The daemon's pid file (for people and `status`; the lock is the truth).
pub fn pid_path(root: &Path) -> PathBuf {
    root.join("daemon.pid")
}

/// Held by the running daemon for its whole life: one daemon per store.
pub fn lock_path(root: &Path) -> PathBuf {
    root.join("daemon.lock")
}

/// The daemon's log (its stdout and stderr).
pub fn log_path(root: &Path) -> PathBuf {
    root.join("daemon.log")
}

/// What identifies this build: the package version and the executable's
/// size and modification time, so a rebuilt binary never talks to the
/// daemon of the one before.
pub fn build_id() -> String {
    let exe = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{mtime}", m.len())
        })
        .unwrap_or_default();
    format!("{}+{exe}", env!("CARGO_PKG_VERSION"))
}

/// The daemon's first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// [`build_id`].
    pub build: String,
    /// The daemon's pid.
    pub pid: u32,
}

/// Daemon management, outside the engine's requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// Is it answering?
    Ping,
    /// Every watcher.
    Status,
    /// Stop the watcher of one session (id, prefix or agent session id).
    StopSession(String),
    /// Stop the daemon.
    Shutdown,
}

/// A client's frames.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ClientFrame {
    /// An engine request, with an id (the spool claim) and the client's
    /// surroundings.
    Request {
        /// Unique per request.
        id: String,
        /// The client's surroundings.
        env: ClientEnv,
        /// What to do (boxed: the frames are otherwise a few bytes).
        request: Box<Request>,
    },
    /// A management request.
    Control(Control),
    /// A piece of the client's stdin.
    Stdin(Vec<u8>),
    /// The client's stdin ended.
    StdinEnd,
    /// The client was interrupted: finish the current batch and stop.
    Cancel,
}

/// One session watcher, as `daemon status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatcherStatus {
    /// The logbook session.
    pub session: String,
    /// Claude Code's session id.
    pub agent_session: String,
    /// The files watched.
    pub files: Vec<String>,
    /// Lines captured by this watcher.
    pub lines_captured: u64,
    /// When a watched file last grew (RFC 3339), if it did.
    pub last_write: Option<String>,
    /// The agent process watched.
    pub pid: Option<u32>,
    /// `watching`, `draining` or `failing (retry in …)`.
    pub state: String,
}

/// The daemon as `daemon status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// Its pid.
    pub pid: u32,
    /// The store.
    pub store: String,
    /// Seconds up.
    pub uptime_secs: u64,
    /// Requests served.
    pub requests: u64,
    /// Spooled hooks applied.
    pub spooled_applied: u64,
    /// The watchers.
    pub watchers: Vec<WatcherStatus>,
}

/// The daemon's frames after [`Hello`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ServerFrame {
    /// The request is the daemon's now (a hook need not spool it).
    Accepted,
    /// Bytes for the client's stdout.
    Stdout(Vec<u8>),
    /// Bytes for the client's stderr.
    Stderr(Vec<u8>),
    /// The request finished with this exit code.
    Done(u8),
    /// The request failed: the one-line message and the exit code.
    Failed {
        /// The message.
        message: String,
        /// 1, or 2 for bad usage.
        code: u8,
    },
    /// The answer to [`Control::Status`].
    Status(DaemonStatus),
    /// The answer to the other controls.
    Ok(String),
}

/// A frame that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection failed or closed.
    #[error("daemon connection: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a frame of this build.
    #[error("daemon frame cannot be decoded: {0}")]
    Decode(String),
    /// Over [`MAX_FRAME`].
    #[error("daemon frame of {0} bytes is too large")]
    TooLarge(u32),
}

/// Encodes one frame with its length prefix.
pub fn encode<T: Serialize>(frame: &T) -> Result<Vec<u8>, FrameError> {
    let body = bincode::serde::encode_to_vec(frame, logbook_core::CODEC)
        .map_err(|e| FrameError::Decode(e.to_string()))?;
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge(u32::MAX))?;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a frame body.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    bincode::serde::decode_from_slice(body, logbook_core::CODEC)
        .map(|(v, _)| v)
        .map_err(|e| FrameError::Decode(e.to_string()))
}

/// Reads one frame body (blocking I/O, for the client).
pub fn read_body(reader: &mut impl std::io::Read) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    reader.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len);
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0u8; len as usize];
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// Reads one frame body (async, for the daemon).
pub async fn read_body_async(
    reader: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Result<Vec<u8>, FrameError> {
    use tokio::io::AsyncReadExt as _;
    let mut len = [0u8; 4];
    reader.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len);
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0u8; len as usize];
    reader.read_exact(&mut body).await?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversize_is_refused() {
        let hello = Hello {
            protocol: PROTOCOL,
            build: build_id(),
            pid: 7,
        };
        let bytes = encode(&hello).unwrap();
        let body = read_body(&mut bytes.as_slice()).unwrap();
        assert_eq!(decode::<Hello>(&body).unwrap(), hello);
        let huge = (MAX_FRAME + 1).to_be_bytes();
        assert!(matches!(
            read_body(&mut huge.as_slice()),
            Err(FrameError::TooLarge(_))
        ));
    }
}
