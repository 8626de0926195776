//! logbook-engine: the application behind every front end.
//!
//! It owns opening a store ([`Workspace`]: the sled log, `config.toml`, the
//! projections, caught up on open), the requests a front end can make
//! ([`request::Request`]) and the operations that serve them
//! ([`ops::execute`]), the Claude Code adapter's session-chain policy
//! ([`claude`]), import, alerts, and the spool that keeps hooks nobody
//! could serve in time ([`spool`]). It does not own the command-line
//! grammar or exit-code mapping (the `logbook` binary), the socket server
//! and watchers (`logbook-daemon`), or any storage format (`logbook-core`,
//! `logbook-store`).
//!
//! The same request runs in the caller's process or in the daemon, with
//! the same output:
//!
//! ```
//! use logbook_engine::console::{ClientEnv, Console};
//! use logbook_engine::ops::{Store, execute};
//! use logbook_engine::request::{JsonArg, LsArgs, RedactArg, Request, StartArgs};
//!
//! # futures::executor::block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::PerUse(dir.path().join("store"));
//! let env = ClientEnv::current().unwrap();
//! let (mut console, out, _err) = Console::captured(env);
//! let start = Request::Start(StartArgs { command: Some("build".into()), json: JsonArg { json: false } });
//! execute(&store, start, &mut console).await.unwrap();
//! let id = String::from_utf8(out.take()).unwrap();
//! let ls = Request::Ls(LsArgs { status: None, redact: RedactArg::default(), json: JsonArg { json: true } });
//! execute(&store, ls, &mut console).await.unwrap();
//! assert!(String::from_utf8(out.take()).unwrap().contains(id.trim()));
//! # });
//! ```

pub mod claude;
pub mod config;
pub mod console;
pub mod error;
pub mod files;
pub mod ops;
pub mod progress;
pub mod request;
pub mod spool;
pub mod workspace;

pub use error::{EngineError, UsageError};
pub use workspace::{Workspace, WorkspaceError, discover_store};

/// The engine's result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
