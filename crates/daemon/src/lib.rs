//! logbook-daemon: one long-lived process per store.
//!
//! While it runs it is the only process that opens the store: it serves
//! every `logbook` command over `<store>/daemon.sock` (mode 0600,
//! length-prefixed frames, a version handshake), watches each live Claude
//! Code conversation's files and process ([`watch`]), applies the hook
//! spool, sweeps Claude Code's projects folder for transcripts no hook saw,
//! and exits when idle. It owns the socket, the wire format ([`protocol`]),
//! supervision and the client side ([`client`]); everything it does to the
//! store is the engine's (`logbook-engine`).
//!
//! ```no_run
//! use std::time::Duration;
//! use logbook_daemon::client::{Start, connect};
//! use logbook_daemon::protocol::Control;
//!
//! let store = std::path::Path::new("/home/me/.local/share/logbook");
//! // Starts the daemon if none runs (detached), then asks it for its watchers.
//! let daemon = connect(store, Start::IfNeeded, Duration::from_secs(2)).unwrap();
//! let status = daemon.control(Control::Status, Duration::from_secs(2)).unwrap();
//! println!("{status:?}");
//! ```

pub mod client;
pub mod protocol;
pub mod server;
pub mod watch;
