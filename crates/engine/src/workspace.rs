//! The workspace: one opened store with its log, config and projections,
//! caught up on open. Operations talk to this, never to sled.

use std::any::Any;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use logbook_core::lifecycle::{LifecycleCommand, Phase, SessionState, decide};
use logbook_core::sessions::{SessionFileProjection, SessionStatus, SessionView, session_dir};
use logbook_core::{
    EndStatus, Envelope, EventLog, IdPrefix, MemoryCursors, Projection, ProjectionError, SessionId,
    catch_up,
};
use logbook_store::{Salvaged, SledLog, StoreError, StoreLock, StoreOptions};

use logbook_capture::projection::TranscriptProjection;
use logbook_context::projection::ContextProjection;
use logbook_tokens::projection::TokensProjection;

use crate::config::{Config, ConfigError};
use crate::error::UsageError;
use crate::files::{FsFiles, create_private_dir, list_files};

/// Errors from opening or using the workspace (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The store path cannot be a store.
    #[error("the store path {} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The store path is a symbolic link to nothing.
    #[error("the store path {} is a symbolic link to {}, which does not exist", path.display(), target.display())]
    DanglingLink {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// Creating or reading the store directory failed.
    #[error("cannot use the store directory {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A bad config.toml.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log failed.
    #[error(transparent)]
    Log(#[from] logbook_core::LogError),
    /// A projection failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// A capture failed.
    #[error(transparent)]
    Capture(#[from] logbook_capture::CaptureError),
    /// A lifecycle rule refused the command.
    #[error(transparent)]
    Lifecycle(#[from] logbook_core::lifecycle::LifecycleError),
    /// The search index failed.
    #[error(transparent)]
    Search(#[from] logbook_search::SearchError),
    /// The thread that indexes beside an import could not run.
    #[error("the search indexer: {0}")]
    Indexer(String),
}

/// How long the indexer following an import waits at the log's head
/// before it reads the head again.
const FOLLOW_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// Lowers the calling thread's scheduling priority (and so that of the
/// threads it starts: tantivy's). An import's own thread is what the user
/// waits for; the indexer beside it takes the time the import leaves idle,
/// and the rest once the import is done.
fn yield_to_the_import() {
    // Linux schedules threads by their own nice value; elsewhere the call
    // would lower the whole process.
    #[cfg(target_os = "linux")]
    {
        let me = rustix::thread::gettid();
        if let Ok(now) = rustix::process::getpriority_process(Some(me)) {
            let _ = rustix::process::setpriority_process(Some(me), (now + 10).min(19));
        }
    }
}

/// The search index following the log on its own thread
/// ([`Workspace::follow_index`]).
pub struct IndexFollower<'a> {
    done: tokio::sync::watch::Sender<bool>,
    result: tokio::sync::oneshot::Receiver<Result<u64, WorkspaceError>>,
    _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl IndexFollower<'_> {
    /// Says the appends are over and waits until the index holds the
    /// log's head. Returns how many events were indexed.
    pub async fn finish(self) -> Result<u64, WorkspaceError> {
        let _ = self.done.send(true);
        self.result
            .await
            .map_err(|_| WorkspaceError::Indexer("the indexer thread stopped".into()))?
    }
}

/// Where the search index lives in a store.
pub const INDEX_DIR: &str = "index";

/// What the projections of this build write for a given log. Bump it with
/// any change to a projected file's content, so `verify` can tell files an
/// older build wrote (which `replay` brings up to date) from files that
/// disagree with the log for any other reason.
pub const PROJECTIONS_VERSION: &str = "logbook-projections/10";

/// The file in a store naming the [`PROJECTIONS_VERSION`] its projected
/// files were built by: written with a new store and by each full rebuild.
/// A store from before it has none.
const PROJECTIONS_STAMP: &str = "projections-version";

/// An open store.
pub struct Workspace {
    root: PathBuf,
    /// Re-read when `config.toml` changes (the daemon outlives edits).
    config: std::sync::RwLock<(Config, Option<ConfigStamp>)>,
    /// Shared with the indexer thread that follows an import.
    log: std::sync::Arc<SledLog>,
    files: FsFiles,
    /// Held by whoever reads a session's state and appends to it, so a
    /// hook, a watcher and an import batch never race on one session's
    /// sequence inside the daemon. Long jobs take it per batch.
    lane: tokio::sync::Mutex<()>,
    /// Projections move their cursors one writer at a time.
    projecting: tokio::sync::Mutex<()>,
    /// Held while the spool is applied (see [`Self::spool_turn`]).
    spool_turn: tokio::sync::Mutex<()>,
    /// Projected JSON files already parsed, reused while unchanged: the
    /// daemon lists hundreds of sessions per `ls` or `tokens`.
    parsed: std::sync::Mutex<HashMap<String, Parsed>>,
    /// Budget alerts raised but not yet said in words, by session: the
    /// status line and the daemon's watchers can only record them, so the
    /// session's next `Stop` hook says them. A session left behind (by a
    /// compaction or `/clear`) keeps its own, never said by its successor.
    unsaid: std::sync::Mutex<HashMap<SessionId, Vec<(u8, f64)>>>,
    /// For a read-only store, the private copy of its log this process
    /// reads (sled cannot open a directory it cannot write).
    copy: Option<tempfile::TempDir>,
    /// The search index, opened on first use and kept (the daemon keeps
    /// its reader warm).
    search: std::sync::Mutex<Option<std::sync::Arc<logbook_search::SearchIndex>>>,
    /// One index catch-up at a time: tantivy allows one writer.
    indexing: tokio::sync::Mutex<()>,
}

/// A parsed file, the hash of the bytes it was parsed from, and its stamp
/// when that can be trusted.
struct Parsed {
    stamp: Option<FileStamp>,
    digest: u64,
    value: Arc<dyn Any + Send + Sync>,
}

/// A file's inode, size and modification time.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    inode: u64,
    len: u64,
    modified: std::time::SystemTime,
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        Self {
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().unwrap_or(std::time::UNIX_EPOCH),
        }
    }

    /// Whether the file was last written long enough ago that any later
    /// write must show a different mtime (clocks tick coarsely).
    fn settled(&self) -> bool {
        self.modified
            .elapsed()
            .is_ok_and(|age| age > std::time::Duration::from_secs(2))
    }
}

/// Parsed files kept at most; past it the cache starts over.
const PARSED_MAX: usize = 20_000;

/// An existing store directory others can read (made by hand, or by an
/// older tool) is made private: transcripts hold secrets.
fn tighten_mode(root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(root)?.permissions().mode();
    if mode & 0o077 != 0 {
        // Quietly: hooks print nothing, and a one-line error stays one line.
        tracing::info!(
            "{} was mode {:o}; making it 0700",
            root.display(),
            mode & 0o777
        );
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))?;
        // A store others could enter may hold files others can read
        // (copied in, restored from a backup): transcripts hold secrets.
        tighten_tree(root)?;
    }
    Ok(())
}

/// Makes every directory under `dir` 0700 and every file 0600 where group
/// or others had any access; symbolic links are left as they are. Returns
/// how many it changed.
pub(crate) fn tighten_tree(dir: &Path) -> std::io::Result<usize> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut changed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.path().symlink_metadata()?;
        let mode = meta.permissions().mode();
        if meta.is_dir() {
            if mode & 0o077 != 0 {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o700))?;
                changed += 1;
            }
            changed += tighten_tree(&entry.path())?;
        } else if meta.is_file() && mode & 0o077 != 0 {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Why this process cannot write the existing store at `root`, if it
/// cannot: then it is opened read-only (see [`Workspace::open`]).
pub fn read_only_reason(root: &Path) -> Option<String> {
    use rustix::fs::{Access, access};
    use rustix::io::Errno;
    if !root.is_dir() {
        return None;
    }
    match access(root, Access::WRITE_OK) {
        Err(Errno::ROFS) => Some(format!("{} is on a read-only file system", root.display())),
        Err(Errno::ACCESS | Errno::PERM) => {
            Some(format!("{} is not writable by you", root.display()))
        }
        _ => None,
    }
}

/// Copies every file under `from/sub` to the same place under `to`.
fn copy_tree(from: &Path, sub: &str, to: &Path) -> std::io::Result<()> {
    create_private_dir(&to.join(sub))?;
    for rel in list_files(from, sub)? {
        let target = to.join(&rel);
        if let Some(parent) = target.parent() {
            create_private_dir(parent)?;
        }
        std::fs::copy(from.join(&rel), target)?;
    }
    Ok(())
}

/// What `config.toml` looked like when it was read: its size and mtime.
type ConfigStamp = (u64, std::time::SystemTime);

fn config_stamp(root: &Path) -> Option<ConfigStamp> {
    let meta = std::fs::metadata(root.join("config.toml")).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Where the store is, per DESIGN.md §7: `--dir`/`LOGBOOK_DIR` (already
/// folded in by clap), else the nearest `.logbook/` above `cwd`, else the
/// user data directory. With neither `XDG_DATA_HOME` nor `HOME` set there
/// is no user store: a relative fallback would put transcripts inside the
/// project, one `git add -A` from being committed.
pub fn discover_store(explicit: Option<&Path>, cwd: &Path) -> Result<PathBuf, UsageError> {
    if let Some(dir) = explicit {
        return Ok(if dir.is_absolute() {
            dir.to_owned()
        } else {
            cwd.join(dir)
        });
    }
    if let Some(found) = cwd
        .ancestors()
        .map(|a| a.join(".logbook"))
        .find(|candidate| candidate.is_dir())
    {
        return Ok(found);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|h| h.is_absolute())
                .map(|h| h.join(".local/share"))
        })
        .ok_or_else(|| {
            UsageError::Invalid(
                "no store: HOME and XDG_DATA_HOME are unset; give --dir or LOGBOOK_DIR, or run `logbook init` in the project".into(),
            )
        })?;
    Ok(data.join("logbook"))
}

/// Test hook for the crash test: stop dead after an append is durable and
/// before any projection runs, so the test can SIGKILL the process there.
const PAUSE_AFTER_APPEND: &str = "LOGBOOK_FAULT_PAUSE_AFTER_APPEND";

impl Workspace {
    /// Opens the store at `root` (creating it, mode 0700), takes the lock and
    /// brings every projection up to date: that is crash recovery.
    pub async fn open(root: &Path) -> Result<Self, WorkspaceError> {
        Self::open_waiting(root, None).await
    }

    /// [`Self::open`], waiting at most `lock_wait` (instead of the
    /// configured `lock_wait_secs`) for another process holding the store.
    pub async fn open_waiting(
        root: &Path,
        lock_wait: Option<std::time::Duration>,
    ) -> Result<Self, WorkspaceError> {
        if let Some(why) = read_only_reason(root) {
            return Self::open_read_only(root, why);
        }
        let (root, config, stamp, mut options) = Self::prepare(root)?;
        if let Some(wait) = lock_wait {
            options.lock_wait = wait;
        }
        let log = SledLog::open(&root, &options)?;
        let workspace = Self::assemble(root, config, stamp, log);
        workspace.catch_up().await?;
        let stamp = workspace.root.join(PROJECTIONS_STAMP);
        if !stamp.exists() && workspace.log.head().await?.seq == 0 {
            workspace.stamp_projections()?;
        }
        Ok(workspace)
    }

    /// Records that this build's projections wrote every projected file.
    fn stamp_projections(&self) -> Result<(), WorkspaceError> {
        logbook_core::ProjectionFiles::write(
            &self.files,
            PROJECTIONS_STAMP,
            format!("{PROJECTIONS_VERSION}\n").as_bytes(),
        )?;
        Ok(())
    }

    /// The projection version the store's files were built by, when it is
    /// not this build's (`None` when it is): `"none"` for a store from
    /// before the stamp.
    pub fn other_projections(&self) -> Option<String> {
        let found = std::fs::read_to_string(self.root.join(PROJECTIONS_STAMP)).ok();
        match found.as_deref().map(str::trim) {
            Some(PROJECTIONS_VERSION) => None,
            Some(other) => Some(other.to_owned()),
            None => Some("none".to_owned()),
        }
    }

    /// Rebuilds the log from every event it can still read
    /// ([`logbook_store::salvage`]), then every projected file from it, under
    /// one hold of the lock: nobody sees the old files against the new log.
    pub async fn salvage(root: &Path) -> Result<(Self, Salvaged), WorkspaceError> {
        let (root, config, stamp, options) = Self::prepare(root)?;
        let lock = StoreLock::take(&root, options.lock_wait)?;
        let salvaged = logbook_store::salvage(&root, &lock, &options)?;
        let log = SledLog::open_held(&root, lock, &options)?;
        let workspace = Self::assemble(root, config, stamp, log);
        workspace.replay_live().await?;
        workspace.flush()?;
        Ok((workspace, salvaged))
    }

    /// A store this process cannot write (a read-only mount, a backup
    /// owned by someone else): its log is copied to a private temporary
    /// directory and opened there, refusing every write; the projected
    /// files are read where they are, as they are.
    fn open_read_only(root: &Path, why: String) -> Result<Self, WorkspaceError> {
        let dir_err = |source| WorkspaceError::Dir {
            path: root.to_owned(),
            source,
        };
        let root = root.canonicalize().map_err(dir_err)?;
        let stamp = config_stamp(&root);
        let config = Config::load(&root.join("config.toml"))?;
        let copy = tempfile::Builder::new()
            .prefix("logbook-read-only-")
            .tempdir()
            .map_err(dir_err)?;
        copy_tree(&root, "log", copy.path()).map_err(dir_err)?;
        let options = StoreOptions {
            lock_wait: config.lock_wait(),
            min_free_bytes: 0,
            read_only: Some(why),
            ..StoreOptions::default()
        };
        let log = SledLog::open(copy.path(), &options)?;
        let mut workspace = Self::assemble(root, config, stamp, log);
        workspace.copy = Some(copy);
        Ok(workspace)
    }

    /// Whether the store was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.copy.is_some()
    }

    /// Where scratch work of this process goes: inside the store, as
    /// private as the store, unless the store is read-only.
    pub fn scratch_dir(&self) -> &Path {
        self.copy.as_ref().map_or(&self.root, |c| c.path())
    }

    /// Checks the directory, makes it private, reads the config.
    fn prepare(
        root: &Path,
    ) -> Result<(PathBuf, Config, Option<ConfigStamp>, StoreOptions), WorkspaceError> {
        let dir_err = |source| WorkspaceError::Dir {
            path: root.to_owned(),
            source,
        };
        if root.exists() && !root.is_dir() {
            return Err(WorkspaceError::NotADirectory(root.to_owned()));
        }
        if !root.exists()
            && let Ok(target) = std::fs::read_link(root)
        {
            return Err(WorkspaceError::DanglingLink {
                path: root.to_owned(),
                target,
            });
        }
        create_private_dir(root).map_err(dir_err)?;
        let root = root.canonicalize().map_err(dir_err)?;
        tighten_mode(&root).map_err(dir_err)?;
        // Fails early and clearly on a store we cannot read or write.
        std::fs::read_dir(&root).map_err(dir_err)?;
        let stamp = config_stamp(&root);
        let config = Config::load(&root.join("config.toml"))?;
        let options = StoreOptions {
            lock_wait: config.lock_wait(),
            min_free_bytes: config.min_free_mb.saturating_mul(1 << 20),
            ..StoreOptions::default()
        };
        Ok((root, config, stamp, options))
    }

    fn assemble(root: PathBuf, config: Config, stamp: Option<ConfigStamp>, log: SledLog) -> Self {
        Self {
            files: FsFiles::new(root.clone()),
            root,
            config: std::sync::RwLock::new((config, stamp)),
            log: std::sync::Arc::new(log),
            lane: tokio::sync::Mutex::new(()),
            projecting: tokio::sync::Mutex::new(()),
            spool_turn: tokio::sync::Mutex::new(()),
            parsed: std::sync::Mutex::new(HashMap::new()),
            unsaid: std::sync::Mutex::new(HashMap::new()),
            copy: None,
            search: std::sync::Mutex::new(None),
            indexing: tokio::sync::Mutex::new(()),
        }
    }

    /// The store directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The event log.
    pub fn log(&self) -> &SledLog {
        &self.log
    }

    fn projections(&self) -> Vec<Box<dyn Projection>> {
        vec![
            Box::new(SessionFileProjection::new(self.config().rotate_lines)),
            Box::new(TranscriptProjection::new(self.config().rotate_lines)),
            Box::new(ContextProjection::new(self.config().rotate_lines)),
            Box::new(logbook_forensics::projection::TimelineProjection),
            Box::new(logbook_review::projection::ReviewProjection::new(
                self.config().pricing.clone().into_iter().collect(),
            )),
            Box::new(TokensProjection::new(logbook_tokens::projection::Windows {
                fixed: self.config().context_window,
                models: logbook_tokens::budget::ModelWindows::new(
                    self.config().context_windows.clone(),
                ),
            })),
        ]
    }

    /// The settings of the store at `root`, without opening it.
    pub fn open_config(root: &Path) -> Result<Config, WorkspaceError> {
        if root.exists() && !root.is_dir() {
            return Err(WorkspaceError::NotADirectory(root.to_owned()));
        }
        if !root.exists()
            && let Ok(target) = std::fs::read_link(root)
        {
            return Err(WorkspaceError::DanglingLink {
                path: root.to_owned(),
                target,
            });
        }
        Ok(Config::load(&root.join("config.toml"))?)
    }

    /// The store's settings.
    pub fn config(&self) -> Config {
        self.config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .clone()
    }

    /// Re-reads `config.toml` if it changed since it was read. A file that
    /// became invalid is an error and the settings in use stay.
    pub fn reload_config(&self) -> Result<(), WorkspaceError> {
        let stamp = config_stamp(&self.root);
        let mut held = self
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.1 != stamp {
            held.0 = Config::load(&self.root.join("config.toml"))?;
            held.1 = stamp;
        }
        Ok(())
    }

    /// Rewrites a session's transcript files and marker from the log if the
    /// marker is missing or does not match it.
    pub async fn ensure_transcript(&self, session: SessionId) -> Result<(), WorkspaceError> {
        TranscriptProjection::new(self.config().rotate_lines)
            .ensure_session(&*self.log, session, &self.files)
            .await?;
        Ok(())
    }

    /// Brings the projections up to date after callers outside the
    /// lifecycle (capture, import) appended through the log directly.
    pub async fn project(&self) -> Result<(), WorkspaceError> {
        self.catch_up().await.map(|_| ())
    }

    /// Keeps alerts just raised for `session` until its next `Stop`.
    pub fn keep_unsaid(&self, session: SessionId, alerts: &[(u8, f64)]) {
        if alerts.is_empty() {
            return;
        }
        let mut unsaid = self.unsaid.lock().unwrap_or_else(|e| e.into_inner());
        unsaid.entry(session).or_default().extend_from_slice(alerts);
    }

    /// Takes `session`'s alerts not yet said, in firing order.
    pub fn take_unsaid(&self, session: SessionId) -> Vec<(u8, f64)> {
        let mut unsaid = self.unsaid.lock().unwrap_or_else(|e| e.into_inner());
        unsaid.remove(&session).unwrap_or_default()
    }

    /// Exclusive use of the store's sessions for one short unit of work
    /// (see the field's doc).
    pub async fn lane(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lane.lock().await
    }

    /// The one applier of the spool at a time: two would both see, and
    /// apply, the same spooled hook.
    pub async fn spool_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.spool_turn.lock().await
    }

    /// Applies everything past the cursors, then makes the cursors durable.
    pub async fn catch_up(&self) -> Result<u64, WorkspaceError> {
        let _one_writer = self.projecting.lock().await;
        let projections = self.projections();
        let read = catch_up(&*self.log, &*self.log, &self.files, &projections, None).await?;
        if read > 0 {
            self.log.flush()?;
        }
        Ok(read)
    }

    /// The search index (in the store, or beside the private copy of a
    /// read-only store's log).
    pub fn search_index(
        &self,
    ) -> Result<std::sync::Arc<logbook_search::SearchIndex>, WorkspaceError> {
        let mut held = self.search.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = held.as_ref() {
            return Ok(index.clone());
        }
        let index = std::sync::Arc::new(logbook_search::SearchIndex::open(
            &self.scratch_dir().join(INDEX_DIR),
        )?);
        *held = Some(index.clone());
        Ok(index)
    }

    /// Brings the search index up to the log's head (nothing when the
    /// store's `search_index` setting is off). Returns the events read.
    pub async fn index_catch_up(&self) -> Result<u64, WorkspaceError> {
        if !self.config().search_index {
            return Ok(0);
        }
        let _one = self.indexing.lock().await;
        let index = self.search_index()?;
        Ok(index.catch_up(&*self.log).await?)
    }

    /// Starts indexing the log on a thread of its own, following it while
    /// the caller appends (an import), so the two share the machine's
    /// cores; [`IndexFollower::finish`] says the appends are over and waits
    /// for the index to reach the head. `None` when the store's
    /// `search_index` setting is off. Holds the one writer's turn until
    /// finished: a search meanwhile waits for it.
    pub async fn follow_index(&self) -> Result<Option<IndexFollower<'_>>, WorkspaceError> {
        if !self.config().search_index {
            return Ok(None);
        }
        let turn = self.indexing.lock().await;
        let index = self.search_index()?;
        let log = self.log.clone();
        let (done, done_rx) = tokio::sync::watch::channel(false);
        let (result_tx, result) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("logbook-index".into())
            .spawn(move || {
                yield_to_the_import();
                let indexed = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .map_err(|e| WorkspaceError::Indexer(e.to_string()))
                    .and_then(|rt| {
                        rt.block_on(index.follow(&*log, || {
                            let mut done = done_rx.clone();
                            async move {
                                // Reads the head again after a pause, unless
                                // the appends ended meanwhile.
                                tokio::time::timeout(FOLLOW_PAUSE, done.wait_for(|d| *d))
                                    .await
                                    .is_err()
                            }
                        }))
                        .map_err(WorkspaceError::from)
                    });
                let _ = result_tx.send(indexed);
            })
            .map_err(|e| WorkspaceError::Indexer(e.to_string()))?;
        Ok(Some(IndexFollower {
            done,
            result,
            _turn: turn,
        }))
    }

    /// Whether the search index is behind the log (cheap: two reads).
    pub async fn index_behind(&self) -> Result<bool, WorkspaceError> {
        if !self.config().search_index {
            return Ok(false);
        }
        let head = self.log.head().await?;
        Ok(self.search_index()?.position()?.seq != head.seq)
    }

    /// Appends a decided batch, then projects it.
    pub async fn commit(
        &self,
        batch: Vec<logbook_core::NewEvent>,
    ) -> Result<Vec<Envelope>, WorkspaceError> {
        let stored = self.log.append(batch).await?;
        if std::env::var_os(PAUSE_AFTER_APPEND).is_some() {
            eprintln!("logbook: paused after append (fault injection)");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        self.catch_up().await?;
        Ok(stored)
    }

    /// The lifecycle state of a session, folded from the log.
    pub async fn state(&self, id: SessionId) -> Result<SessionState, WorkspaceError> {
        let history = self.log.read_session(id).await?;
        Ok(SessionState::from_events(
            id,
            history.iter().map(|e| &e.event),
        ))
    }

    /// Appends `events` to `session` after everything it holds (they are
    /// not lifecycle decisions: notes, readings, alerts, handoffs) and
    /// projects them.
    pub async fn record(
        &self,
        session: SessionId,
        events: Vec<logbook_core::Event>,
    ) -> Result<Vec<Envelope>, WorkspaceError> {
        let mut state = SessionState::new(session);
        state.version = self.log.session_len(session).await?;
        self.commit(state.follow(events)).await
    }

    /// Runs a lifecycle command against `id` and records what it decides.
    pub async fn run(
        &self,
        id: SessionId,
        command: LifecycleCommand,
    ) -> Result<Vec<Envelope>, WorkspaceError> {
        let state = self.state(id).await?;
        let batch = decide(&state, command)?;
        self.commit(batch).await
    }

    /// Records what a lifecycle command decides against `state` (a session's
    /// state the caller has folded) without projecting it: for a caller
    /// that appends many batches and then projects them in one pass
    /// ([`Workspace::project`]), as an import does.
    pub async fn run_unprojected(
        &self,
        state: &SessionState,
        command: LifecycleCommand,
    ) -> Result<Vec<Envelope>, WorkspaceError> {
        let batch = decide(state, command)?;
        Ok(self.log.append(batch).await?)
    }

    /// The session a user means by `typed` (a full id or unique prefix).
    pub fn resolve(&self, typed: &str) -> Result<SessionId, UsageError> {
        let prefix = IdPrefix::parse(typed)?;
        let (low, high) = prefix.byte_range();
        let candidates = self
            .log
            .sessions_in(low, high)
            .map_err(|e| UsageError::Invalid(e.to_string()))?;
        Ok(prefix.resolve(candidates)?)
    }

    /// The view of one session (what `session.json` holds), from the log.
    pub async fn view(&self, id: SessionId) -> Result<SessionView, WorkspaceError> {
        let history = self.log.read_session(id).await?;
        Ok(self.fold(id, &history))
    }

    /// `view` with its directory where this store is (session.json names
    /// it relative to the store).
    fn located(&self, mut view: SessionView) -> SessionView {
        view.dir = self.root.join(&view.dir).display().to_string();
        view
    }

    fn fold(&self, id: SessionId, history: &[Envelope]) -> SessionView {
        self.located(SessionView::fold(
            id,
            history,
            session_dir(id),
            self.config().rotate_lines,
        ))
    }

    /// A session's view as `session.json` holds it (cheap: one small file),
    /// folded from the log only when that file is missing or unreadable.
    pub async fn quick_view(&self, id: SessionId) -> Result<SessionView, WorkspaceError> {
        let path = format!("{}/session.json", session_dir(id));
        let stored = self
            .read_json::<SessionView>(&path)?
            .filter(|v| v.session_id == id);
        match stored {
            Some(view) => Ok(self.located(SessionView::clone(&view))),
            None => self.view(id).await,
        }
    }

    /// A projected JSON file, parsed; `None` when it is missing or does not
    /// parse as `T`. Parsing is what costs, so a file is parsed again only
    /// when it changed: unchanged is known from its inode, size and mtime
    /// when the mtime was already old when the file was cached (a later
    /// rewrite then has a later mtime, whatever the clock's granularity),
    /// and otherwise from a hash of its bytes.
    pub fn read_json<T>(&self, path: &str) -> Result<Option<Arc<T>>, WorkspaceError>
    where
        T: serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        let full = self.root.join(path);
        let stamp = match std::fs::metadata(&full) {
            Ok(m) => FileStamp::of(&m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(WorkspaceError::Dir { path: full, source }),
        };
        if let Some(value) = self.cached::<T>(path, |hit| hit.stamp == Some(stamp)) {
            return Ok(Some(value));
        }
        let Some(bytes) = logbook_core::ProjectionFiles::read(&self.files, path)? else {
            return Ok(None);
        };
        let digest = {
            use std::hash::{Hash as _, Hasher as _};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut hasher);
            hasher.finish()
        };
        let trusted = stamp.settled().then_some(stamp);
        let value = match self.cached::<T>(path, |hit| hit.digest == digest) {
            Some(value) => value,
            None => match serde_json::from_slice::<T>(&bytes) {
                Ok(value) => Arc::new(value),
                Err(_) => return Ok(None),
            },
        };
        let mut parsed = self
            .parsed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if parsed.len() >= PARSED_MAX {
            parsed.clear();
        }
        parsed.insert(
            path.to_owned(),
            Parsed {
                stamp: trusted,
                digest,
                value: value.clone(),
            },
        );
        Ok(Some(value))
    }

    fn cached<T: Send + Sync + 'static>(
        &self,
        path: &str,
        fresh: impl Fn(&Parsed) -> bool,
    ) -> Option<Arc<T>> {
        let parsed = self
            .parsed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let hit = parsed.get(path).filter(|p| fresh(p))?;
        hit.value.clone().downcast::<T>().ok()
    }

    /// Every session's [`Self::quick_view`], oldest first.
    pub async fn quick_views(&self) -> Result<Vec<SessionView>, WorkspaceError> {
        let mut out = Vec::new();
        for id in self.log.sessions().await? {
            out.push(self.quick_view(id).await?);
        }
        Ok(out)
    }

    /// The newest session whose view `accept` takes, reading views newest
    /// first and stopping at the first match: hooks and the status line look
    /// for a live conversation, which is near the top. (Session ids are
    /// UUIDv7: their order is their start order.)
    pub async fn newest(
        &self,
        accept: impl Fn(&SessionView) -> bool,
    ) -> Result<Option<SessionView>, WorkspaceError> {
        for id in self.log.sessions_newest_first() {
            let view = self.quick_view(id?).await?;
            if accept(&view) {
                return Ok(Some(view));
            }
        }
        Ok(None)
    }

    /// The lifecycle state of a session without reading its transcript
    /// events: the view says how it started and whether it ended, the
    /// index how many events it has.
    pub async fn quick_state(&self, id: SessionId) -> Result<SessionState, WorkspaceError> {
        let version = self.log.session_len(id).await?;
        if version == 0 {
            return Ok(SessionState::new(id));
        }
        let view = self.quick_view(id).await?;
        let phase = match view.status {
            SessionStatus::Active => Phase::Active,
            SessionStatus::Completed => Phase::Ended(EndStatus::Completed),
            SessionStatus::Failed => Phase::Ended(EndStatus::Failed),
            SessionStatus::Abandoned => Phase::Ended(EndStatus::Abandoned),
        };
        Ok(SessionState {
            id,
            version,
            phase,
            command: view.command,
            agent: view.agent,
        })
    }

    /// A projected file under the store, if it exists.
    pub fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, WorkspaceError> {
        Ok(logbook_core::ProjectionFiles::read(&self.files, path)?)
    }

    /// The session to act on: the one named, else the only active one.
    pub async fn target(&self, typed: Option<&str>) -> crate::Result<SessionId> {
        if let Some(typed) = typed {
            return Ok(self.resolve(typed)?);
        }
        let active: Vec<SessionId> = self
            .quick_views()
            .await?
            .into_iter()
            .filter(|v| v.status == logbook_core::sessions::SessionStatus::Active)
            .map(|v| v.session_id)
            .collect();
        match active.as_slice() {
            [one] => Ok(*one),
            [] => Err(UsageError::Ambiguous("no active session; name one".into()).into()),
            many => Err(UsageError::Ambiguous(format!(
                "{} sessions are active; name one (e.g. {})",
                many.len(),
                many[0]
            ))
            .into()),
        }
    }

    /// Deletes every file the projections own (and nothing else), resets
    /// the cursors and rebuilds from seq 1.
    pub async fn replay_live(&self) -> Result<usize, WorkspaceError> {
        if self.is_read_only() {
            return Err(logbook_core::LogError::ReadOnly(format!(
                "{} cannot be written",
                self.root.display()
            ))
            .into());
        }
        let _lane = self.lane().await;
        let projections = self.projections();
        let owned = self.owned_files(&self.root, &projections)?;
        for path in &owned {
            logbook_core::ProjectionFiles::remove(&self.files, path)?;
        }
        self.log.reset_cursors()?;
        self.catch_up().await?;
        self.stamp_projections()?;
        // The index is emptied, and refilled from the log by the next
        // search or the idle daemon: refilling it here too would hold the
        // rebuilt projections' memory and the writer's at once.
        if self.config().search_index {
            let _one = self.indexing.lock().await;
            self.search_index()?.clear()?;
        }
        Ok(owned.len())
    }

    /// Rebuilds into `out` as of `until` without touching the live store.
    pub async fn rebuild_into(&self, out: &Path, until: Option<u64>) -> Result<(), WorkspaceError> {
        create_private_dir(out).map_err(|source| WorkspaceError::Dir {
            path: out.to_owned(),
            source,
        })?;
        let files = FsFiles::new(out.to_owned());
        let projections = self.projections();
        catch_up(
            &*self.log,
            &MemoryCursors::default(),
            &files,
            &projections,
            until,
        )
        .await?;
        Ok(())
    }

    /// Files under `root/sessions` and `root/projects` that some
    /// projection owns.
    pub fn owned_files(
        &self,
        root: &Path,
        projections: &[Box<dyn Projection>],
    ) -> Result<Vec<String>, WorkspaceError> {
        let mut all = Vec::new();
        for dir in ["sessions", "projects"] {
            all.extend(list_files(root, dir).map_err(|source| WorkspaceError::Dir {
                path: root.join(dir),
                source,
            })?);
        }
        Ok(all
            .into_iter()
            .filter(|p| projections.iter().any(|proj| proj.owns(p)))
            .collect())
    }

    /// Owned files of the live store, for `verify`.
    pub fn live_owned_files(&self) -> Result<Vec<String>, WorkspaceError> {
        let projections = self.projections();
        self.owned_files(&self.root, &projections)
    }

    /// Owned files of a rebuild directory.
    pub fn rebuilt_owned_files(&self, dir: &Path) -> Result<Vec<String>, WorkspaceError> {
        let projections = self.projections();
        self.owned_files(dir, &projections)
    }

    /// Makes everything durable.
    pub fn flush(&self) -> Result<(), WorkspaceError> {
        Ok(self.log.flush()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_file_rewritten_at_once_with_the_same_length_is_parsed_again() {
        futures::executor::block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let ws = Workspace::open(&dir.path().join("store")).await.unwrap();
            let path = "sessions/x/tokens.json";
            let full = ws.root().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            for n in 0..20 {
                // Same length, same second, maybe the same recycled inode.
                std::fs::write(&full, format!("{{\"n\":{}}}", n % 10)).unwrap();
                let got = ws.read_json::<serde_json::Value>(path).unwrap().unwrap();
                assert_eq!(got["n"], n % 10);
            }
            std::fs::remove_file(&full).unwrap();
            assert!(ws.read_json::<serde_json::Value>(path).unwrap().is_none());
            std::fs::write(&full, "not json").unwrap();
            assert!(ws.read_json::<serde_json::Value>(path).unwrap().is_none());
        });
    }
}
