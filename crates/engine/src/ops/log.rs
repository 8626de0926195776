//! `logbook log`: the audit trail, oldest first.

use logbook_core::{
    CompactionTrigger, Envelope, Event, EventLog as _, TaskChange, Timestamp, ToolCall, ToolOutcome,
};

use super::Out;
use crate::error::UsageError;
use crate::request::LogArgs;
use crate::workspace::Workspace;

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
        Event::SessionResumed(r) => format!("resumed in {}", r.successor),
        Event::SessionDated(d) => format!("began at {} (by the agent's clock)", d.started_at),
        Event::SessionEndDated(d) => format!("ended at {} (by the agent's clock)", d.ended_at),
        Event::ToolCallFinished(t) => {
            let outcome = match &t.outcome {
                ToolOutcome::Succeeded => "ok".to_owned(),
                ToolOutcome::Failed { error } => format!("error: {}", first_line(error)),
                ToolOutcome::Interrupted { error } => format!("interrupted: {}", first_line(error)),
            };
            let took = t
                .duration_ms
                .map(|ms| format!(" in {ms} ms"))
                .unwrap_or_default();
            format!("{} {outcome}{took}", call(&t.call))
        }
        Event::CompactionSummarized(c) => format!(
            "{} compaction summary, {} chars: {}",
            trigger_name(c.trigger),
            c.summary.chars().count(),
            first_line(&c.summary)
        ),
        Event::SubagentStarted(s) => format!("{} ({})", s.agent_id, s.agent_type),
        Event::TurnFailed(f) => match &f.details {
            Some(details) => format!("{}: {}", f.error, first_line(details)),
            None => f.error.clone(),
        },
        Event::PermissionRequested(p) => call(&p.call),
        Event::PermissionDenied(p) => match &p.reason {
            Some(reason) => format!("{}: {}", call(&p.call), first_line(reason)),
            None => call(&p.call),
        },
        Event::WorkdirChanged(w) => format!("{} -> {}", w.from, w.to),
        Event::TaskChanged(t) => {
            let change = match t.change {
                TaskChange::Created => "created",
                TaskChange::Completed => "completed",
            };
            format!("#{} {change}: {}", t.task_id, t.subject)
        }
    }
}

/// `Tool target` (or the tool alone).
fn call(call: &ToolCall) -> String {
    match &call.target {
        Some(target) => format!("{} {}", call.tool, first_line(target)),
        None => call.tool.clone(),
    }
}

fn trigger_name(trigger: CompactionTrigger) -> &'static str {
    match trigger {
        CompactionTrigger::Manual => "manual",
        CompactionTrigger::Auto => "auto",
        CompactionTrigger::Heuristic { .. } => "heuristic",
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
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
        // The audit trail is shown, so it is masked like every view;
        // `export` is the exact record.
        if args.json.json {
            serde_json::to_writer(&mut *out, &super::export::redacted(env.clone())?)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{:>6}  {}  {}  {:<20}  {}",
                env.seq,
                env.at,
                env.session,
                env.event.kind(),
                logbook_forensics::printable(
                    &logbook_redact::redact(&summary(&env.event)).replace('\n', " ")
                )
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
