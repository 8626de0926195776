//! Session watchers: one task per live conversation, capturing its
//! transcript and subagent files as they grow, draining them after
//! `SessionEnd`, and ending the session `abandoned` when the agent process
//! dies without one.
//!
//! Files are polled (a `stat` per file every `watch_interval_ms`, 25 ms by
//! default): a handful of files per session makes that cheaper than an
//! inotify watch set to keep in step with subagent files appearing, and it
//! works on every filesystem. Captures read their cursor from the log, so a
//! watcher that fails and is restarted resumes exactly where the log says.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use logbook_core::SessionId;
use logbook_engine::Workspace;
use logbook_engine::claude::hook::{self, Conversation};

use crate::protocol::WatcherStatus;

/// What a watcher is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The session is live: capture as the agent writes.
    Live,
    /// The session ended: take late lines until the files are quiet.
    Draining,
    /// The watcher has finished (or is finishing): a hook that finds it so
    /// starts a new one instead of handing it a session it will not watch.
    Done,
}

struct Entry {
    following: Following,
    mode: Arc<Mutex<Mode>>,
    status: Arc<Mutex<WatcherStatus>>,
    task: tokio::task::JoinHandle<()>,
}

/// What the daemon tells a running watcher about its conversation.
#[derive(Clone)]
struct Following {
    /// The conversation's current session: a resume or a compaction moves
    /// it on.
    session: Arc<Mutex<SessionId>>,
    /// The Claude Code process now writing the conversation: `--resume`
    /// and `--continue` take a conversation up in a new process.
    pid: Arc<Mutex<Option<u32>>>,
    /// Set when a hook speaks for the conversation: a draining watcher's
    /// quiet period starts again (the agent is not done with its files).
    nudged: Arc<AtomicBool>,
}

/// Every watcher of one daemon, by Claude Code session id.
#[derive(Default)]
pub struct Watchers {
    entries: Mutex<HashMap<String, Entry>>,
    /// Sessions whose watcher `daemon stop SESSION` stopped: hooks still
    /// record them, but no watcher is started for them again.
    stopped: Mutex<HashSet<SessionId>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Watchers {
    /// Makes sure `conversation` (in `session`) is watched in `mode`.
    pub fn ensure(
        self: &Arc<Self>,
        ws: &Arc<Workspace>,
        session: SessionId,
        conversation: Conversation,
        mode: Mode,
    ) {
        if lock(&self.stopped).contains(&session) {
            return;
        }
        let mut entries = lock(&self.entries);
        if let Some(entry) = entries.get_mut(&conversation.agent_session) {
            // Decided under the mode's lock, which the task also takes
            // when it finishes: it either sees the new mode or is Done.
            let mut current = lock(&entry.mode);
            // Hooks may finish out of order (a client that gave up waiting
            // lets the next hook in): a conversation's sessions start in id
            // order, so news of an older one never moves a watcher back.
            if *lock(&entry.following.session) > session {
                return;
            }
            if *current != Mode::Done && !entry.task.is_finished() {
                *lock(&entry.following.session) = session;
                entry.following.nudged.store(true, Ordering::SeqCst);
                if conversation.pid.is_some() {
                    *lock(&entry.following.pid) = conversation.pid;
                }
                let mut status = lock(&entry.status);
                status.session = session.to_string();
                status.pid = conversation.pid.or(status.pid);
                drop(status);
                *current = mode;
                return;
            }
        }
        let status = Arc::new(Mutex::new(WatcherStatus {
            session: session.to_string(),
            agent_session: conversation.agent_session.clone(),
            files: vec![conversation.transcript.display().to_string()],
            lines_captured: 0,
            last_write: None,
            pid: conversation.pid,
            state: "watching".into(),
        }));
        let mode = Arc::new(Mutex::new(mode));
        let following = Following {
            session: Arc::new(Mutex::new(session)),
            pid: Arc::new(Mutex::new(conversation.pid)),
            nudged: Arc::new(AtomicBool::new(false)),
        };
        let task = tokio::spawn(watch(
            ws.clone(),
            following.clone(),
            conversation.clone(),
            (mode.clone(), status.clone()),
        ));
        entries.insert(
            conversation.agent_session,
            Entry {
                following,
                mode,
                status,
                task,
            },
        );
    }

    /// Stops the watcher whose logbook session starts with `typed` (or whose
    /// agent session is `typed`); returns the session stopped.
    pub fn stop(&self, typed: &str) -> Result<SessionId, String> {
        let mut entries = lock(&self.entries);
        let matching: Vec<String> = entries
            .iter()
            .filter(|(agent, e)| {
                *agent == typed || lock(&e.following.session).to_string().starts_with(typed)
            })
            .map(|(agent, _)| agent.clone())
            .collect();
        let key = match matching.as_slice() {
            [one] => one.clone(),
            [] => return Err(format!("no watcher for {typed}")),
            many => {
                return Err(format!(
                    "{typed} matches {} watchers; give more of the session id",
                    many.len()
                ));
            }
        };
        let entry = entries
            .remove(&key)
            .ok_or_else(|| format!("no watcher for {typed}"))?;
        entry.task.abort();
        let session = *lock(&entry.following.session);
        lock(&self.stopped).insert(session);
        Ok(session)
    }

    /// Stops every watcher (daemon shutdown).
    pub fn stop_all(&self) {
        for (_, entry) in lock(&self.entries).drain() {
            entry.task.abort();
        }
    }

    /// The watchers still running.
    pub fn status(&self) -> Vec<WatcherStatus> {
        let mut entries = lock(&self.entries);
        entries.retain(|_, e| !e.task.is_finished());
        let mut out: Vec<WatcherStatus> =
            entries.values().map(|e| lock(&e.status).clone()).collect();
        out.sort_by(|a, b| a.session.cmp(&b.session));
        out
    }

    /// How many are running (the daemon stays up while any is).
    pub fn running(&self) -> usize {
        self.status().len()
    }
}

/// How often a live watcher checks that its session is still active.
const STATUS_CHECK: Duration = Duration::from_secs(1);

/// What a file looked like at the last pass.
type Signature = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn files_of(conversation: &Conversation) -> Vec<PathBuf> {
    let mut files = vec![conversation.transcript.clone()];
    let subagents = conversation.transcript.with_extension("").join("subagents");
    if let Ok(entries) = std::fs::read_dir(subagents) {
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

fn signature(files: &[PathBuf]) -> Signature {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok();
            (
                f.clone(),
                meta.as_ref().map_or(0, std::fs::Metadata::len),
                meta.and_then(|m| m.modified().ok()),
            )
        })
        .collect()
}

/// The agent process, identified by pid and start time so a reused pid is
/// not mistaken for it.
struct Agent {
    pid: u32,
    started: Option<String>,
}

impl Agent {
    fn new(pid: u32) -> Self {
        Self {
            pid,
            started: start_time(pid),
        }
    }

    fn alive(&self) -> bool {
        match start_time(self.pid) {
            Some(now) => self.started.as_ref().is_none_or(|s| *s == now),
            None => false,
        }
    }
}

fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    // A zombie has exited: it only waits for its parent to reap it.
    if rest.starts_with('Z') {
        return None;
    }
    rest.split_whitespace().nth(19).map(str::to_owned)
}

/// Runs blocking engine work off the runtime's workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce(tokio::runtime::Handle) -> T + Send + 'static,
) -> Option<T> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || work(handle)).await.ok()
}

async fn watch(
    ws: Arc<Workspace>,
    Following {
        session: cell,
        pid,
        nudged,
    }: Following,
    conversation: Conversation,
    (mode, status): (Arc<Mutex<Mode>>, Arc<Mutex<WatcherStatus>>),
) {
    let config = ws.config().clone();
    let interval = Duration::from_millis(config.watch_interval_ms);
    let quiet = Duration::from_millis(config.drain_quiet_ms);
    let drain_max = Duration::from_millis(config.drain_max_ms);
    let mut agent = conversation.pid.map(Agent::new);
    let mut last: Signature = Vec::new();
    let mut last_change = Instant::now();
    let mut draining_since: Option<Instant> = None;
    let mut dead = false;
    let mut backoff = Duration::ZERO;
    let mut checked = Instant::now();
    loop {
        tokio::time::sleep(interval + backoff).await;
        let session = *lock(&cell);
        if *lock(&mode) == Mode::Live && checked.elapsed() >= STATUS_CHECK {
            // Ended some other way (`logbook end`) while its files are
            // quiet: drain what is left, then stop.
            checked = Instant::now();
            let ended = ws
                .quick_view(session)
                .await
                .is_ok_and(|v| v.status != logbook_core::sessions::SessionStatus::Active);
            if ended {
                *lock(&mode) = Mode::Draining;
            }
        }
        let files = files_of(&conversation);
        let now = signature(&files);
        let grew = now != last;
        let current = *lock(&mode);
        let writer = *lock(&pid);
        if writer != agent.as_ref().map(|a| a.pid) {
            // Taken up by another process (`--resume`): the one that
            // exited was not this conversation's end.
            agent = writer.map(Agent::new);
            dead = false;
        }
        if !dead && current == Mode::Live && agent.as_ref().is_some_and(|a| !a.alive()) {
            // The agent died without SessionEnd: drain, then abandon.
            dead = true;
            tracing::info!(%session, "agent process exited; draining");
        }
        if current == Mode::Live && !dead {
            // Resumed: the conversation is live again.
            draining_since = None;
        }
        let draining = dead || current == Mode::Draining;
        if draining && draining_since.is_none() {
            draining_since = Some(Instant::now());
            last_change = Instant::now();
        }
        if nudged.swap(false, Ordering::SeqCst) {
            last_change = Instant::now();
            draining_since = draining_since.map(|_| Instant::now());
        }
        if grew {
            let (ws2, conv) = (ws.clone(), conversation.clone());
            let live = current == Mode::Live;
            let retrying = !backoff.is_zero();
            let result = blocking(move |rt| {
                rt.block_on(async {
                    let _lane = ws2.lane().await;
                    if retrying {
                        // Restart from the log: whatever the failure left of
                        // the session's files is rewritten from it first.
                        ws2.ensure_transcript(session).await?;
                    }
                    if live {
                        let got = hook::capture_live(&ws2, &conv).await?;
                        if let Some((s, _)) = got {
                            // Kept for the session's next Stop to say.
                            logbook_engine::ops::tokens::raise_alerts(&ws2, s).await?;
                        }
                        Ok::<_, logbook_engine::EngineError>(got)
                    } else {
                        let n = hook::capture_late(&ws2, session, &conv).await?;
                        Ok(Some((session, n)))
                    }
                })
            })
            .await;
            match result {
                Some(Ok(got)) => {
                    backoff = Duration::ZERO;
                    last = now;
                    last_change = Instant::now();
                    let mut st = lock(&status);
                    st.state = if draining { "draining" } else { "watching" }.into();
                    st.files = files.iter().map(|f| f.display().to_string()).collect();
                    st.last_write =
                        Some(logbook_core::Timestamp::from_jiff(jiff_now()).to_string());
                    let mut ended_elsewhere = false;
                    match got {
                        Some((s, n)) => {
                            // A compaction moves the conversation on; a pass
                            // that began before a resume must not move it
                            // back.
                            let mut current = lock(&cell);
                            if s > *current {
                                *current = s;
                                st.session = s.to_string();
                            }
                            st.lines_captured += n;
                        }
                        // Ended some other way (`logbook end`, an import):
                        // take what is left, then stop.
                        None => ended_elsewhere = live,
                    }
                    // The status lock is let go before the mode's: ensure()
                    // takes them the other way round.
                    drop(st);
                    if ended_elsewhere {
                        *lock(&mode) = Mode::Draining;
                    }
                }
                Some(Err(e)) => {
                    backoff =
                        (backoff * 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
                    logbook_engine::claude::hook::log_failure(ws.root(), "watcher", &e);
                    lock(&status).state =
                        format!("failing (retry in {backoff:?}): {}", e.one_line());
                    continue;
                }
                None => continue,
            }
        }
        if let Some(since) = draining_since {
            lock(&status).state = "draining".into();
            // Claude Code appends to a transcript after its SessionEnd hook
            // has run; on a loaded machine that can come later than the
            // quiet period, and a watcher gone by then loses the line. So
            // while the agent still runs, its files are not quiet yet
            // (`drain_max` still bounds the wait: after `/clear` the same
            // process goes on with another conversation).
            let writing = !dead && agent.as_ref().is_some_and(Agent::alive);
            let settled =
                (last_change.elapsed() >= quiet && !writing) || since.elapsed() >= drain_max;
            if settled {
                {
                    let mut current = lock(&mode);
                    if *current == Mode::Live && !dead {
                        // Resumed just now: keep watching.
                        draining_since = None;
                        continue;
                    }
                    *current = Mode::Done;
                }
                if dead {
                    let (ws2, conv) = (ws.clone(), conversation.clone());
                    let ended = blocking(move |rt| {
                        rt.block_on(async {
                            let _lane = ws2.lane().await;
                            hook::abandon(&ws2, &conv).await
                        })
                    })
                    .await;
                    if let Some(Err(e)) = ended {
                        logbook_engine::claude::hook::log_failure(ws.root(), "watcher", &e);
                    }
                }
                return;
            }
        }
    }
}

fn jiff_now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}
