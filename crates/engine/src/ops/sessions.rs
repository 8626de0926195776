//! The session commands: `start`, `end`, `transition`, `ls`, `show`,
//! `log`, `replay` and `export`. Data goes to the console's stdout, hints
//! to its stderr.

use std::io::Write;

use logbook_core::lifecycle::LifecycleCommand;
use logbook_core::sessions::{SessionStatus, SessionView};
use logbook_core::{
    EndReason, EndStatus, Envelope, Event, EventLog as _, Origin, SessionId, Timestamp,
};
use owo_colors::OwoColorize as _;

use crate::console::Console;
use crate::error::{EngineError, UsageError};
use crate::files::create_private_dir;
use crate::request::{
    EndArgs, ListStatus, LogArgs, LsArgs, ReasonArg, ReplayArgs, ShowArgs, StartArgs, StatusArg,
    TransitionArgs,
};
use crate::workspace::Workspace;

pub(crate) type Out<'a> = dyn Write + Send + 'a;

fn print_view(out: &mut Out<'_>, view: &SessionView) -> crate::Result<()> {
    out.write_all(&view.to_json()?)?;
    Ok(())
}

pub(crate) async fn start(ws: &Workspace, args: StartArgs, out: &mut Out<'_>) -> crate::Result<u8> {
    let id = SessionId::new_v7();
    ws.run(
        id,
        LifecycleCommand::Start {
            command: args.command,
            agent: None,
            origin: Origin::Fresh,
        },
    )
    .await?;
    if args.json.json {
        print_view(out, &ws.quick_view(id).await?)?;
    } else {
        writeln!(out, "{id}")?;
    }
    Ok(0)
}

pub(crate) async fn end(ws: &Workspace, args: EndArgs, console: &mut Console) -> crate::Result<u8> {
    let id = ws.target(args.session.as_deref()).await?;
    let status = match args.status {
        StatusArg::Completed => EndStatus::Completed,
        StatusArg::Failed => EndStatus::Failed,
        StatusArg::Abandoned => EndStatus::Abandoned,
    };
    ws.run(
        id,
        LifecycleCommand::End {
            status,
            exit_code: args.exit_code,
            reason: EndReason::Exit,
        },
    )
    .await?;
    if args.json.json {
        print_view(&mut *console.out, &ws.quick_view(id).await?)?;
    } else {
        console.say(format_args!("logbook: ended {id} ({status})"));
    }
    Ok(0)
}

pub(crate) async fn transition(
    ws: &Workspace,
    args: TransitionArgs,
    out: &mut Out<'_>,
) -> crate::Result<u8> {
    let id = ws.target(args.session.as_deref()).await?;
    let successor = SessionId::new_v7();
    let reason = match args.reason {
        ReasonArg::Manual => EndReason::Transition,
        ReasonArg::Clear => EndReason::Clear,
        ReasonArg::Compaction => EndReason::Compaction,
    };
    ws.run(id, LifecycleCommand::Transition { successor, reason })
        .await?;
    if args.json.json {
        print_view(out, &ws.quick_view(successor).await?)?;
    } else {
        writeln!(out, "{successor}")?;
    }
    Ok(0)
}

fn status_matches(filter: ListStatus, status: SessionStatus) -> bool {
    matches!(
        (filter, status),
        (ListStatus::Active, SessionStatus::Active)
            | (ListStatus::Completed, SessionStatus::Completed)
            | (ListStatus::Failed, SessionStatus::Failed)
            | (ListStatus::Abandoned, SessionStatus::Abandoned)
    )
}

fn short_time(t: Option<Timestamp>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.to_jiff().strftime("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

pub(crate) async fn ls(
    ws: &Workspace,
    args: LsArgs,
    out: &mut Out<'_>,
    color: bool,
) -> crate::Result<u8> {
    let views: Vec<SessionView> = ws
        .quick_views()
        .await?
        .into_iter()
        .filter(|v| args.status.is_none_or(|f| status_matches(f, v.status)))
        .collect();
    if args.json.json {
        serde_json::to_writer_pretty(&mut *out, &views)?;
        writeln!(out)?;
        return Ok(0);
    }
    writeln!(
        out,
        "{:<36}  {:<9}  {:<19}  {:<19}  {:<12}  LINKS",
        "SESSION", "STATUS", "STARTED", "ENDED", "COMMAND"
    )?;
    for v in &views {
        let status = match v.status {
            SessionStatus::Active if color => v.status.as_str().green().to_string(),
            SessionStatus::Failed if color => v.status.as_str().red().to_string(),
            _ => v.status.as_str().to_owned(),
        };
        let pad = " ".repeat(9usize.saturating_sub(v.status.as_str().len()));
        let mut links = String::new();
        if let Some(from) = v.transitioned_from {
            links.push_str(&format!("from {}", &from.to_string()[..13]));
        }
        if let Some(to) = v.transitioned_to {
            if !links.is_empty() {
                links.push_str(", ");
            }
            links.push_str(&format!("to {}", &to.to_string()[..13]));
        }
        writeln!(
            out,
            "{}  {status}{pad}  {:<19}  {:<19}  {:<12}  {links}",
            v.session_id,
            short_time(v.started_at),
            short_time(v.ended_at),
            v.command.as_deref().unwrap_or("-"),
        )?;
    }
    Ok(0)
}

pub(crate) async fn show(ws: &Workspace, args: ShowArgs, out: &mut Out<'_>) -> crate::Result<u8> {
    let id = ws.resolve(&args.session)?;
    let view = ws.quick_view(id).await?;
    if args.json.json {
        print_view(out, &view)?;
        return Ok(0);
    }
    let opt = |s: Option<String>| s.unwrap_or_else(|| "-".into());
    writeln!(out, "session     {}", view.session_id)?;
    writeln!(out, "status      {}", view.status.as_str())?;
    writeln!(out, "command     {}", opt(view.command.clone()))?;
    writeln!(out, "origin      {}", opt(view.origin.clone()))?;
    writeln!(
        out,
        "started     {}",
        opt(view.started_at.map(|t| t.to_string()))
    )?;
    writeln!(
        out,
        "ended       {}",
        opt(view.ended_at.map(|t| t.to_string()))
    )?;
    writeln!(
        out,
        "exit code   {}",
        opt(view.exit_code.map(|c| c.to_string()))
    )?;
    writeln!(out, "end reason  {}", opt(view.end_reason.clone()))?;
    writeln!(
        out,
        "from        {}",
        opt(view.transitioned_from.map(|s| s.to_string()))
    )?;
    writeln!(
        out,
        "to          {}",
        opt(view.transitioned_to.map(|s| s.to_string()))
    )?;
    if let Some(agent) = &view.agent {
        writeln!(
            out,
            "agent       {} {}",
            agent.kind,
            opt(agent.session_id.clone())
        )?;
    }
    writeln!(
        out,
        "captured    {} lines, {} bytes, {} parts",
        view.capture.lines, view.capture.bytes, view.capture.parts
    )?;
    writeln!(out, "dir         {}", view.dir)?;
    Ok(0)
}

/// A one-line summary of an event for `log`.
fn summary(event: &Event) -> String {
    match event {
        Event::SessionStarted(s) => {
            let mut text = format!("origin={}", logbook_core::sessions::origin_name(&s.origin));
            if let Some(from) = s.origin.predecessor() {
                text.push_str(&format!(" from={from}"));
            }
            if let Some(c) = &s.command {
                text.push_str(&format!(" command={c}"));
            }
            text
        }
        Event::SessionEnded(e) => {
            let mut text = format!("status={} reason={}", e.status, e.reason);
            if let Some(code) = e.exit_code {
                text.push_str(&format!(" exit_code={code}"));
            }
            if let Some(to) = e.successor {
                text.push_str(&format!(" successor={to}"));
            }
            text
        }
        Event::TranscriptCaptured(c) => format!(
            "{} lines {}..{} bytes {}..{}",
            c.source.key,
            c.line_start,
            c.line_end(),
            c.byte_start,
            c.byte_end()
        ),
        Event::SourceReset(r) => format!(
            "{} reset ({:?}) at byte {}",
            r.source.key, r.reason, r.old_offset
        ),
        Event::CompactionDetected(c) => format!("{:?} pre_tokens={:?}", c.trigger, c.pre_tokens),
        Event::TokenUsageObserved(t) => format!("{}/{} tokens ({:?})", t.used, t.window, t.source),
        Event::BudgetAlert(a) => format!("under {}% ({:.1}% left)", a.threshold, a.remaining_pct),
        Event::NoteRecorded(n) => format!("{:?}: {}", n.kind, n.text),
        Event::HandoffCreated(h) => format!("next={} context={}", h.next_session, h.context_ref),
        Event::CaptureGap(g) => format!("{} gap of {:?} lines", g.source.key, g.lines_missed),
    }
}

pub(crate) async fn log(ws: &Workspace, args: LogArgs, out: &mut Out<'_>) -> crate::Result<u8> {
    let since = args
        .since
        .as_deref()
        .map(Timestamp::parse)
        .transpose()
        .map_err(|e| UsageError::Invalid(e.to_string()))?;
    let keep = |env: &Envelope| since.is_none_or(|t| env.at >= t);
    let mut emit = |env: &Envelope| -> crate::Result<()> {
        if !keep(env) {
            return Ok(());
        }
        if args.json.json {
            serde_json::to_writer(&mut *out, env)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{:>6}  {}  {}  {:<20}  {}",
                env.seq,
                env.at,
                env.session,
                env.event.kind(),
                summary(&env.event).replace('\n', " ")
            )?;
        }
        Ok(())
    };
    if let Some(typed) = args.session.as_deref() {
        let id = ws.resolve(typed)?;
        for env in ws.log().read_session(id).await? {
            emit(&env)?;
        }
        return Ok(0);
    }
    let from = match since {
        Some(t) => {
            ws.log()
                .seq_at_time(Timestamp::from_micros(t.as_micros() - 1))?
                + 1
        }
        None => 1,
    };
    let mut next = from;
    loop {
        let batch = ws.log().read_from(next, 1024).await?;
        let Some(last) = batch.last().map(|e| e.seq) else {
            break;
        };
        for env in &batch {
            emit(env)?;
        }
        next = last + 1;
    }
    Ok(0)
}

pub(crate) async fn replay(
    ws: &Workspace,
    args: ReplayArgs,
    console: &mut Console,
) -> crate::Result<u8> {
    let Some(out_dir) = args.out else {
        let removed = ws.replay_live().await?;
        ws.flush()?;
        console.say(format_args!(
            "logbook: rebuilt the projections of {} from the log ({removed} old files replaced)",
            ws.root().display()
        ));
        return Ok(0);
    };
    let until = match args.at.as_deref() {
        None => None,
        Some(text) if text.chars().all(|c| c.is_ascii_digit()) => Some(
            text.parse::<u64>()
                .map_err(|e| UsageError::Invalid(format!("--at {text}: {e}")))?,
        ),
        Some(text) => {
            let at = Timestamp::parse(text).map_err(|e| UsageError::Invalid(e.to_string()))?;
            Some(ws.log().seq_at_time(at)?)
        }
    };
    let out_dir = console.env.resolve(&out_dir);
    if out_dir.exists() && out_dir.canonicalize()? == ws.root() {
        return Err(EngineError::usage(
            "--out is the live store; run `logbook replay` without --out to rebuild it",
        ));
    }
    if out_dir.exists() && !out_dir.is_dir() {
        return Err(EngineError::usage(format!(
            "--out {} is not a directory",
            out_dir.display()
        )));
    }
    create_private_dir(&out_dir)?;
    let out_dir = out_dir.canonicalize()?;
    ws.rebuild_into(&out_dir, &out_dir, until).await?;
    let head = ws.log().head().await?.seq;
    console.say(format_args!(
        "logbook: rebuilt {} as of seq {}",
        out_dir.display(),
        until.map_or(head, |u| u.min(head))
    ));
    Ok(0)
}

pub(crate) fn export(ws: &Workspace, out: &mut Out<'_>) -> crate::Result<u8> {
    for item in ws.log().raw_events() {
        let (seq, raw) = item?;
        let env = Envelope::decode(&raw)
            .map_err(|e| EngineError::failed(format!("seq {seq} cannot be decoded: {e}")))?;
        serde_json::to_writer(&mut *out, &env)?;
        writeln!(out)?;
    }
    Ok(0)
}
