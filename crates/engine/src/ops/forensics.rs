//! The auditor's commands: `timeline`, `render`, `search`, `files` and
//! `anchor`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use logbook_core::{Envelope, EventLog as _, Pin, SessionId, Timestamp};
use logbook_forensics::anchor::Key;
use logbook_forensics::printable;
use logbook_forensics::projection::timeline_path;
use logbook_forensics::render::{Format, render as render_envelopes};
use logbook_forensics::timeline::{Action, Kind, Outcome, Timeline};

use super::Out;
use crate::console::{ClientEnv, Console};
use crate::error::EngineError;
use crate::request::{AnchorArgs, FilesArgs, RenderArgs, RenderFormat, SearchArgs, TimelineArgs};
use crate::workspace::Workspace;

/// The sessions of `id`'s chain, oldest first: back along each session's
/// origin, forward along its successor (`/clear`, compaction, resume,
/// handoff, transition).
pub(crate) async fn chain(ws: &Workspace, id: SessionId) -> crate::Result<Vec<SessionId>> {
    let mut seen = BTreeSet::from([id]);
    let mut back = Vec::new();
    let mut at = id;
    while let Some(from) = ws.view(at).await?.transitioned_from {
        if !seen.insert(from) {
            break;
        }
        back.push(from);
        at = from;
    }
    back.reverse();
    back.push(id);
    let mut at = id;
    while let Some(to) = ws.view(at).await?.transitioned_to {
        if !seen.insert(to) {
            break;
        }
        back.push(to);
        at = to;
    }
    Ok(back)
}

fn parse_time(text: &str) -> crate::Result<Timestamp> {
    Timestamp::parse(text).map_err(|e| EngineError::usage(e.to_string()))
}

/// A session's envelopes, up to `until` (inclusive) when given.
async fn envelopes(
    ws: &Workspace,
    id: SessionId,
    until: Option<u64>,
) -> crate::Result<Vec<Envelope>> {
    let mut history = ws.log().read_session(id).await?;
    if let Some(until) = until {
        history.retain(|e| e.seq <= until);
    }
    Ok(history)
}

/// Resolves a path the client gave, relative to the client's directory.
pub(crate) fn client_path(env: &ClientEnv, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        env.cwd.join(path)
    }
}

/// A directory the client named, as agents record theirs: resolved
/// through symlinks when it exists here, else with `.` and `..` folded
/// away (an imported project from another machine), so `--project .` or
/// `--project ../app` name the directory a session's cwd holds.
pub(crate) fn client_dir(env: &ClientEnv, path: &Path) -> PathBuf {
    let path = client_path(env, path);
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Runs `timeline`.
pub async fn timeline(ws: &Workspace, args: TimelineArgs, out: &mut Out<'_>) -> crate::Result<u8> {
    let id = ws.resolve(&args.session)?;
    let until = match &args.at {
        Some(at) => Some(ws.log().seq_at_time(parse_time(at)?)?),
        None => None,
    };
    let sessions = if args.chain {
        chain(ws, id).await?
    } else {
        vec![id]
    };
    let redact = !args.redact.no_redact;
    let mut timelines = Vec::with_capacity(sessions.len());
    for session in sessions {
        // The projected file is the redacted timeline at the head; any
        // other view is folded from the log.
        let projected = match (until, redact) {
            (None, true) => ws
                .read_file(&timeline_path(session))?
                .and_then(|bytes| serde_json::from_slice::<Timeline>(&bytes).ok()),
            _ => None,
        };
        let timeline = match projected {
            Some(t) => t,
            None => Timeline::fold(session, redact, &envelopes(ws, session, until).await?),
        };
        if until.is_some() && timeline.actions.is_empty() {
            continue;
        }
        timelines.push(timeline);
    }
    // Said rather than printed as nothing: `--at` is the log's time, and an
    // import logs weeks of work at the moment it runs.
    if let (Some(at), true) = (&args.at, timelines.is_empty()) {
        let first = ws.log().read_session_range(id, 1, 1).await?;
        let logged = first
            .first()
            .map_or_else(|| "never".to_owned(), |e| e.at.to_string());
        return Err(EngineError::failed(format!(
            "the log held nothing of session {id} at {at} (--at is the log's time; it was first recorded at {logged})"
        )));
    }
    if args.json.json {
        let value = if args.chain {
            serde_json::to_value(&timelines)?
        } else {
            serde_json::to_value(timelines.first())?
        };
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
        return Ok(0);
    }
    for timeline in &timelines {
        if args.chain {
            writeln!(out, "== session {}", timeline.session_id)?;
        }
        for action in &timeline.actions {
            writeln!(out, "{}", printable(&line(action)))?;
        }
    }
    Ok(0)
}

/// One action as a line: time, number, kind, what, outcome.
fn line(a: &Action) -> String {
    // Agents write their times in their own precision (and some with an
    // offset); one form keeps the column straight and comparable by eye.
    // The JSON keeps each time as it was written.
    let at = Timestamp::parse(&a.at).map_or_else(|_| a.at.clone(), |t| t.to_string());
    let head = format!("{at:<27}  #{:<4} {:<17}", a.n, a.kind.as_str());
    // What it was: who, which tool, on what.
    let what: Vec<String> = [
        a.agent.as_ref().map(|agent| format!("[{agent}]")),
        a.tool.clone(),
        a.target.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut parts = vec![what.join(" ")];
    if let (Some(added), Some(removed)) = (a.added, a.removed) {
        parts.push(format!("+{added} -{removed}"));
    }
    let outcome = match a.outcome {
        Some(Outcome::Ok) => Some("ok"),
        Some(Outcome::Pending) => Some("(no result yet)"),
        Some(Outcome::Refused) => Some("REFUSED"),
        Some(Outcome::Interrupted) => Some("INTERRUPTED"),
        Some(Outcome::Error) => Some("ERROR"),
        None => None,
    };
    match (outcome, &a.error) {
        (Some(outcome), Some(error)) => parts.push(format!("{outcome}: {error}")),
        (Some(outcome), None) => parts.push(outcome.to_owned()),
        (None, Some(error)) => parts.push(format!("error: {error}")),
        (None, None) => {}
    }
    if let Some(detail) = &a.detail {
        let detail = detail.replace('\n', " ");
        // A prompt is its detail; anything else has said what it is first.
        parts.push(if a.kind == Kind::Prompt {
            detail
        } else {
            format!("— {detail}")
        });
    }
    parts.retain(|p| !p.is_empty());
    format!("{head}  {}", parts.join("  "))
        .trim_end()
        .to_owned()
}

/// Runs `render`.
pub async fn render(ws: &Workspace, args: RenderArgs, console: &mut Console) -> crate::Result<u8> {
    let id = ws.resolve(&args.session)?;
    let sessions = if args.chain {
        chain(ws, id).await?
    } else {
        vec![id]
    };
    let mut all = Vec::new();
    for session in &sessions {
        all.extend(envelopes(ws, *session, None).await?);
    }
    let redact = !args.redact.no_redact;
    let title = match ws.view(id).await?.command {
        Some(command) => format!(
            "logbook session {id} — {}",
            logbook_redact::maybe(&command, redact)
        ),
        None => format!("logbook session {id}"),
    };
    let format = match args.format {
        RenderFormat::Md => Format::Markdown,
        RenderFormat::Html => Format::Html,
    };
    let page = render_envelopes(&all, &title, format, redact);
    match args.out {
        Some(path) => {
            let path = client_path(&console.env, &path);
            std::fs::write(&path, page.as_bytes()).map_err(|e| {
                EngineError::failed(format!("cannot write {}: {e}", path.display()))
            })?;
        }
        None => console.out.write_all(page.as_bytes())?,
    }
    Ok(0)
}

/// Catches the index up, with a line on stderr when that is a long job
/// (the first search of a large store).
async fn fresh_index(
    ws: &Workspace,
    console: &mut Console,
) -> crate::Result<std::sync::Arc<logbook_search::SearchIndex>> {
    if !ws.config().search_index {
        return Err(EngineError::failed(
            "the search index is off (search_index = false in config.toml)",
        ));
    }
    let index = ws.search_index()?;
    let head = ws.log().head().await?.seq;
    let behind = head.saturating_sub(index.position()?.seq);
    if behind > 10_000 {
        console.say(format_args!("logbook: indexing {behind} events first"));
    }
    ws.index_catch_up().await?;
    Ok(index)
}

/// Runs `search`.
pub async fn search(ws: &Workspace, args: SearchArgs, console: &mut Console) -> crate::Result<u8> {
    if args.query.trim().is_empty() {
        return Err(EngineError::usage("the query is empty"));
    }
    let query = logbook_search::Query {
        text: args.query,
        session: args.session.as_deref().map(|s| ws.resolve(s)).transpose()?,
        project: args.project.map(|p| {
            client_dir(&console.env, Path::new(&p))
                .display()
                .to_string()
        }),
        since: args.since.as_deref().map(parse_time).transpose()?,
        tool: args.tool,
        file: args.file,
        limit: args.limit,
        redact: !args.redact.no_redact,
    };
    let index = fresh_index(ws, console).await?;
    let hits = index.search(&query)?;
    if let Some(code) = answered(console, &hits, args.json.json, "logbook: no match")? {
        return Ok(code);
    }
    let out = &mut *console.out;
    let color = console.env.color;
    for hit in &hits {
        let what = match (&hit.tool, &hit.file) {
            (Some(tool), Some(file)) => format!("{} {tool} {file}", hit.role),
            (Some(tool), None) => format!("{} {tool}", hit.role),
            _ => hit.role.clone(),
        };
        writeln!(
            out,
            "{}  {}  seq {}  {}",
            hit.session,
            hit.at,
            hit.seq,
            printable(&what)
        )?;
        writeln!(
            out,
            "    {}",
            highlight(&hit.snippet, &hit.highlights, color)
        )?;
    }
    Ok(0)
}

/// The whole answer of a lookup when it is JSON or empty, with its exit
/// code: like grep, nothing found is 1, so scripts can tell. It is an
/// answer, not an error: said without "error:", and JSON is still the
/// empty list. `None` when the found items are to be printed as text.
fn answered<T: serde::Serialize>(
    console: &mut Console,
    found: &[T],
    json: bool,
    none: impl std::fmt::Display,
) -> crate::Result<Option<u8>> {
    let code = u8::from(found.is_empty());
    if json {
        serde_json::to_writer_pretty(&mut *console.out, found)?;
        writeln!(console.out)?;
        return Ok(Some(code));
    }
    if found.is_empty() {
        console.say(none);
        return Ok(Some(code));
    }
    Ok(None)
}

/// The snippet on one line with its matches marked: bold on a terminal,
/// `[…]` otherwise.
fn highlight(snippet: &str, ranges: &[(usize, usize)], color: bool) -> String {
    let (open, close) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    let mut out = String::new();
    let mut at = 0;
    // The snippet's own text is made printable piece by piece, so the
    // marks stay as they are.
    for &(start, end) in ranges {
        if start < at
            || end > snippet.len()
            || !snippet.is_char_boundary(start)
            || !snippet.is_char_boundary(end)
        {
            continue;
        }
        out.push_str(&printable(&snippet[at..start]));
        out.push_str(open);
        out.push_str(&printable(&snippet[start..end]));
        out.push_str(close);
        at = end;
    }
    out.push_str(&printable(&snippet[at..]));
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs `files`.
pub async fn files(ws: &Workspace, args: FilesArgs, console: &mut Console) -> crate::Result<u8> {
    if args.path.trim().is_empty() {
        return Err(EngineError::usage("the path is empty"));
    }
    let index = fresh_index(ws, console).await?;
    let uses = index.files(&args.path)?;
    let none = format_args!(
        "logbook: no session read or changed {}",
        printable(&args.path)
    );
    if let Some(code) = answered(console, &uses, args.json.json, none)? {
        return Ok(code);
    }
    let out = &mut *console.out;
    for u in &uses {
        writeln!(
            out,
            "{}  {}  {:<7} {:<12} {}  (seq {})",
            u.at,
            u.session,
            u.action,
            printable(&u.tool),
            printable(&u.file),
            u.seq
        )?;
    }
    Ok(0)
}

/// Where this user's anchor key lives: `LOGBOOK_ANCHOR_KEY`, else
/// `$XDG_CONFIG_HOME/logbook/anchor.key`, else `~/.config/logbook/anchor.key`
/// (the client's variables: the daemon's may differ). A relative
/// `LOGBOOK_ANCHOR_KEY` is the client's, like any path it gives: the daemon
/// runs wherever it was first started. A relative `XDG_CONFIG_HOME` is
/// ignored, as the XDG spec asks.
pub(crate) fn key_path(env: &ClientEnv) -> crate::Result<PathBuf> {
    let var = |name: &str| {
        env.vars
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| PathBuf::from(v))
    };
    var("LOGBOOK_ANCHOR_KEY")
        .map(|p| client_path(env, &p))
        .or_else(|| {
            var("XDG_CONFIG_HOME")
                .filter(|d| d.is_absolute())
                .map(|d| d.join("logbook/anchor.key"))
        })
        .or_else(|| var("HOME").map(|d| client_path(env, &d).join(".config/logbook/anchor.key")))
        .ok_or_else(|| {
            EngineError::failed(
                "no place for the anchor key: set LOGBOOK_ANCHOR_KEY, XDG_CONFIG_HOME or HOME",
            )
        })
}

/// The user's key, which must live outside the store it vouches for.
pub(crate) fn key(ws: &Workspace, env: &ClientEnv) -> crate::Result<Key> {
    let path = key_path(env)?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    let resolved = parent
        .canonicalize()
        .map(|p| p.join(path.file_name().unwrap_or_default()))
        .unwrap_or_else(|_| path.clone());
    if resolved.starts_with(ws.root()) {
        return Err(EngineError::failed(format!(
            "the anchor key {} is inside the store it would vouch for; keep it elsewhere (LOGBOOK_ANCHOR_KEY)",
            path.display()
        )));
    }
    Key::load_or_create(&path).map_err(|e| EngineError::failed(e.to_string()))
}

/// Runs `anchor`.
pub async fn anchor(ws: &Workspace, args: AnchorArgs, console: &mut Console) -> crate::Result<u8> {
    let key = key(ws, &console.env)?;
    let head = ws.log().head().await?;
    let head_at = match ws.log().read_from(head.seq, 1).await?.first() {
        Some(env) if env.seq == head.seq => env.at.to_string(),
        _ => String::new(),
    };
    let anchor = key.sign(
        Pin {
            seq: head.seq,
            hash: head.hash,
        },
        head_at,
        Timestamp::from_jiff(jiff::Timestamp::now()).to_string(),
        ws.root().display().to_string(),
    );
    let mut bytes = serde_json::to_vec_pretty(&anchor)?;
    bytes.push(b'\n');
    match args.out {
        Some(path) => {
            let path = client_path(&console.env, &path);
            std::fs::write(&path, &bytes).map_err(|e| {
                EngineError::failed(format!("cannot write {}: {e}", path.display()))
            })?;
            console.say(format_args!(
                "logbook: anchored seq {} ({}) in {}",
                anchor.seq,
                anchor.hash,
                path.display()
            ));
        }
        None => console.out.write_all(&bytes)?,
    }
    Ok(0)
}
