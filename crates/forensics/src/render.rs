//! Readable transcripts: a session (or a chain of them) as Markdown or as
//! one self-contained HTML page.
//!
//! A transcript is hostile input: every text it holds is escaped for the
//! format it lands in (HTML entities; Markdown code fences longer than any
//! backtick run inside), and redacted unless the caller says otherwise.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use logbook_agents::record::{Counting, Outcome, Usage};
use logbook_agents::{Item as AgentItem, Record, Seen};
use logbook_core::sessions::is_subagent_source;
use logbook_core::{Envelope, Event, SessionId};
use serde_json::Value;

use crate::timeline::cut;

/// The longest tool result or input shown; the rest is summarised.
pub const RESULT_CHARS: usize = 8_000;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Markdown.
    Markdown,
    /// One HTML file with its styles inline.
    Html,
}

/// Tokens one turn used (each API response once, at its final count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tokens {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
}

/// What a segment's heading says under it: the agent, its directory, and
/// when the session started and ended (the agent's clock when the log
/// has it, as for an import).
#[derive(Debug)]
struct About {
    agent: Option<String>,
    cwd: Option<String>,
    started: String,
    ended: Option<String>,
}

impl About {
    fn line(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.agent.clone());
        parts.extend(self.cwd.as_ref().map(|c| format!("in {c}")));
        parts.push(format!("started {}", self.started));
        parts.extend(self.ended.as_ref().map(|e| format!("ended {e}")));
        parts.join(" · ")
    }
}

/// One thing to show.
#[derive(Debug)]
enum Item {
    Segment {
        session: SessionId,
        title: String,
        /// Which agent, where and when, as one line.
        about: About,
    },
    Prompt {
        at: String,
        text: String,
    },
    Answer {
        at: String,
        text: String,
        agent: Option<String>,
    },
    Tool {
        at: String,
        name: String,
        target: Option<String>,
        input: String,
        diff: Option<String>,
        result: Option<(String, bool)>,
        agent: Option<String>,
    },
    Summary {
        at: String,
        text: String,
    },
    Mark {
        at: String,
        text: String,
    },
    /// What a terminal agent printed (a pane, a log file, standard input),
    /// consecutive captures of one source as one block, or what a command
    /// the user ran through an agent printed. Kept unredacted until the
    /// block is whole: a key can span two captures.
    Output {
        at: String,
        source: String,
        text: String,
        /// Captured text, which the next capture of its source continues.
        captured: bool,
    },
    Tokens(Tokens),
}

/// Builds the document from envelopes, oldest first.
struct Builder {
    items: Vec<Item>,
    /// Tool calls waiting for their result: id to index in `items`.
    open: BTreeMap<String, usize>,
    /// Calls whose command was still running when answered, until it exits.
    running: BTreeMap<String, usize>,
    /// The turn's usage, by API message id (the last count of each wins:
    /// an agent may write one response over several lines).
    turn: BTreeMap<String, Tokens>,
    /// The last running total per source (Codex counts that way).
    totals: BTreeMap<String, logbook_agents::Tokens>,
    /// Running-total steps taken so far, to name each in `turn`.
    steps: u64,
    /// Items already taken from records an agent writes again.
    seen: Seen,
    redact: bool,
    /// Where each session's "Session ended" mark is (items are only ever
    /// pushed), so the agent's time for the end can replace logbook's.
    end_marks: BTreeMap<SessionId, usize>,
}

impl Builder {
    fn text(&self, text: &str) -> String {
        logbook_redact::maybe(text, self.redact).into_owned()
    }

    /// The heading of `session`'s segment.
    fn about(&mut self, session: SessionId) -> Option<&mut About> {
        self.items.iter_mut().rev().find_map(|item| match item {
            Item::Segment {
                session: s, about, ..
            } if *s == session => Some(about),
            _ => None,
        })
    }

    fn close_turn(&mut self) {
        if self.turn.is_empty() {
            return;
        }
        let total = self.turn.values().fold(Tokens::default(), |t, u| Tokens {
            input: t.input + u.input,
            output: t.output + u.output,
            cache_read: t.cache_read + u.cache_read,
            cache_write: t.cache_write + u.cache_write,
        });
        self.turn.clear();
        self.items.push(Item::Tokens(total));
    }

    fn envelope(&mut self, env: &Envelope) {
        let at = env.at.to_string();
        match &env.event {
            Event::SessionStarted(s) => {
                self.close_turn();
                let command = s
                    .command
                    .as_deref()
                    .map(|c| format!(" — {}", self.text(c)))
                    .unwrap_or_default();
                let agent = s.agent.as_ref();
                self.items.push(Item::Segment {
                    session: env.session,
                    title: format!(
                        "{}{}",
                        logbook_core::sessions::origin_name(&s.origin),
                        command
                    ),
                    about: About {
                        agent: agent.map(|a| a.kind.clone()),
                        cwd: agent.and_then(|a| a.cwd.as_deref()).map(|c| self.text(c)),
                        started: at,
                        ended: None,
                    },
                });
            }
            Event::SessionDated(d) => {
                if let Some(about) = self.about(env.session) {
                    about.started = d.started_at.to_string();
                }
            }
            Event::SessionEndDated(d) => {
                let ended = d.ended_at.to_string();
                if let Some(about) = self.about(env.session) {
                    about.ended = Some(ended.clone());
                }
                if let Some(Item::Mark { at, .. }) = self
                    .end_marks
                    .get(&env.session)
                    .and_then(|&i| self.items.get_mut(i))
                {
                    *at = ended;
                }
            }
            Event::TranscriptCaptured(c) if c.source.kind.is_agent_jsonl() => {
                let agent = is_subagent_source(&c.source.key).then(|| c.source.key.clone());
                for line in c.bytes.0.split_inclusive(|b| *b == b'\n') {
                    if let Some(record) =
                        logbook_agents::read(c.source.kind, &c.source.location, line)
                    {
                        self.record(&record, &c.source.key, agent.clone());
                    }
                }
            }
            // Plain text, not an agent's records: shown as it was printed.
            Event::TranscriptCaptured(c) => {
                let text = String::from_utf8_lossy(&c.bytes.0);
                match self.items.last_mut() {
                    Some(Item::Output {
                        source,
                        text: so_far,
                        captured: true,
                        ..
                    }) if *source == c.source.key => {
                        so_far.push_str(&text);
                    }
                    _ => self.items.push(Item::Output {
                        at,
                        source: c.source.key.clone(),
                        text: text.into_owned(),
                        captured: true,
                    }),
                }
            }
            Event::CompactionSummarized(s) => {
                self.close_turn();
                let text = self.text(&s.summary);
                self.items.push(Item::Summary { at, text });
            }
            Event::CompactionDetected(_) => {
                self.close_turn();
                self.items.push(Item::Mark {
                    at,
                    text: "The context was compacted".into(),
                });
            }
            Event::NoteRecorded(n) => {
                let kind = match n.kind {
                    logbook_core::NoteKind::Decision => "decision",
                    logbook_core::NoteKind::Correction => "correction",
                    logbook_core::NoteKind::Plan => "plan",
                    logbook_core::NoteKind::Memory => "memory",
                };
                let text = format!("Note ({kind}): {}", self.text(&n.text));
                self.items.push(Item::Mark { at, text });
            }
            Event::TurnFailed(t) => {
                let text = format!("API error: {}", self.text(&t.error));
                self.items.push(Item::Mark { at, text });
            }
            Event::BudgetAlert(b) => self.items.push(Item::Mark {
                at,
                text: format!("{:.1}% of the context window left", b.remaining_pct),
            }),
            Event::HandoffCreated(h) => self.items.push(Item::Mark {
                at,
                text: format!("Handoff to {}", h.next_session),
            }),
            Event::SessionEnded(e) => {
                self.close_turn();
                if let Some(about) = self.about(env.session) {
                    about.ended = Some(at.clone());
                }
                self.end_marks.insert(env.session, self.items.len());
                self.items.push(Item::Mark {
                    at,
                    text: format!("Session ended: {} ({})", e.reason, e.status),
                });
            }
            _ => {}
        }
    }

    fn record(&mut self, record: &Record, source: &str, agent: Option<String>) {
        // Copied history is rendered with the session it came from.
        if record.replayed {
            return;
        }
        let at = record.at.clone().unwrap_or_default();
        let agent = agent.or_else(|| record.sidechain.then(|| "sidechain".to_owned()));
        let mut seen = std::mem::take(&mut self.seen);
        for item in record.fresh(&mut seen) {
            match item {
                AgentItem::Summary { text } => {
                    self.close_turn();
                    let text = self.text(text);
                    self.items.push(Item::Summary {
                        at: at.clone(),
                        text,
                    });
                }
                AgentItem::Prompt { text, .. } | AgentItem::Interrupt { text }
                    if agent.is_none() =>
                {
                    self.close_turn();
                    // A slash or `!` command as the user typed it, and what
                    // it printed as output: Claude Code wrote it, not the
                    // user. Other markup is shown as it is.
                    let markup = match item {
                        AgentItem::Prompt {
                            command: true,
                            text,
                        } => Some(text),
                        _ => None,
                    };
                    let typed = markup.and_then(|m| logbook_agents::claude::command_line(m));
                    if typed.is_none()
                        && let Some(printed) =
                            markup.and_then(|m| logbook_agents::claude::command_output(m))
                    {
                        self.items.push(Item::Output {
                            at: at.clone(),
                            source: "local command".to_owned(),
                            text: printed,
                            captured: false,
                        });
                        continue;
                    }
                    let text = self.text(typed.as_deref().unwrap_or(text));
                    self.items.push(Item::Prompt {
                        at: at.clone(),
                        text,
                    });
                }
                AgentItem::Reply { text } if !text.trim().is_empty() => {
                    let text = self.text(text);
                    self.items.push(Item::Answer {
                        at: at.clone(),
                        text,
                        agent: agent.clone(),
                    });
                }
                AgentItem::Finished { status, text, .. } => {
                    let text = self.text(text);
                    self.items.push(Item::Answer {
                        at: at.clone(),
                        text,
                        agent: Some(format!("background task, {status}")),
                    });
                }
                AgentItem::Usage(usage) => self.usage(source, usage),
                AgentItem::Call(call) => {
                    let pretty = match &call.input {
                        Value::String(s) => s.clone(),
                        input => serde_json::to_string_pretty(input).unwrap_or_default(),
                    };
                    let item = Item::Tool {
                        at: at.clone(),
                        target: call
                            .target
                            .as_deref()
                            .map(|t| cut(&logbook_redact::maybe(first(t), self.redact))),
                        input: self.text(&clip(&pretty)),
                        diff: call.diff.as_deref().map(|d| self.text(&clip(d))),
                        result: None,
                        agent: agent.clone(),
                        name: call.name.clone(),
                    };
                    self.open.insert(call.id.clone(), self.items.len());
                    self.items.push(item);
                }
                AgentItem::Result(result) => {
                    let Some(index) = self.open.remove(&result.id) else {
                        continue;
                    };
                    let text = self.text(&clip(&result.text));
                    let patch = result.patch.as_deref().map(|d| self.text(&clip(d)));
                    let failed = result.outcome != Outcome::Ok;
                    if result.running {
                        self.running.insert(result.id.clone(), index);
                    }
                    if let Some(Item::Tool { result, diff, .. }) = self.items.get_mut(index) {
                        *result = Some((text, failed));
                        if patch.is_some() {
                            *diff = patch;
                        }
                    }
                }
                // The whole run's output and how it ended, in place of what
                // it had written when the call was answered.
                AgentItem::Exited {
                    id,
                    outcome,
                    exit_code,
                    text,
                } => {
                    let Some(index) = self.running.remove(id) else {
                        continue;
                    };
                    let mut shown = self.text(&clip(text));
                    if let Some(code) = exit_code {
                        shown.push_str(&format!("\n(exit code {code})"));
                    }
                    if let Some(Item::Tool { result, .. }) = self.items.get_mut(index) {
                        *result = Some((shown, *outcome != Outcome::Ok));
                    }
                }
                _ => {}
            }
        }
        self.seen = seen;
    }

    /// Adds a response's tokens to the turn: each response once, at its
    /// last count; a running total by its step.
    fn usage(&mut self, source: &str, usage: &Usage) {
        let counted = match usage.counting {
            Counting::Response => usage.tokens,
            Counting::Cumulative => {
                let before = self.totals.insert(source.to_owned(), usage.tokens);
                usage.tokens.step_from(before.as_ref())
            }
        };
        if counted.all() == 0 {
            return;
        }
        let key = match (&usage.key, usage.counting) {
            (Some(key), Counting::Response) => key.clone(),
            _ => {
                self.steps += 1;
                format!("step {}", self.steps)
            }
        };
        self.turn.insert(
            key,
            Tokens {
                input: counted.input,
                output: counted.output,
                cache_read: counted.cache_read,
                cache_write: counted.cache_creation,
            },
        );
    }
}

/// The first line of a text.
fn first(text: &str) -> &str {
    text.trim().lines().next().unwrap_or_default()
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(RESULT_CHARS) {
        Some((at, _)) => format!(
            "{}\n… ({} more characters)",
            &text[..at],
            text[at..].chars().count()
        ),
        None => text.to_owned(),
    }
}

/// Renders envelopes (one session, or a chain's sessions one after the
/// other) as `format`; `title` heads the page.
pub fn render<'a>(
    envelopes: impl IntoIterator<Item = &'a Envelope>,
    title: &str,
    format: Format,
    redact: bool,
) -> String {
    let mut builder = Builder {
        items: Vec::new(),
        open: BTreeMap::new(),
        running: BTreeMap::new(),
        turn: BTreeMap::new(),
        totals: BTreeMap::new(),
        steps: 0,
        seen: Seen::default(),
        redact,
        end_marks: BTreeMap::new(),
    };
    for env in envelopes {
        builder.envelope(env);
    }
    builder.close_turn();
    for item in &mut builder.items {
        if let Item::Output { text, .. } = item
            && let std::borrow::Cow::Owned(masked) = logbook_redact::maybe(text, redact)
        {
            *text = masked;
        }
    }
    let page = match format {
        Format::Markdown => markdown(&builder.items, title),
        Format::Html => html(&builder.items, title),
    };
    // A page is read in a terminal as often as in a viewer (`render` with
    // no `--out`, `cat`, `less -R`): an escape sequence from the transcript
    // must not clear that screen or hide what follows. It is shown as
    // `\u001b`; line ends written as CR LF stay line ends.
    let page = if page.contains('\r') {
        page.replace("\r\n", "\n")
    } else {
        page
    };
    crate::printable(&page).into_owned()
}

/// A fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

fn code_md(out: &mut String, lang: &str, text: &str) {
    let fence = fence(text);
    let _ = writeln!(
        out,
        "{fence}{lang}\n{}\n{fence}\n",
        text.trim_end_matches('\n')
    );
}

/// Text of a prompt or answer: kept as written, but anything that would
/// become HTML in a Markdown viewer is escaped.
fn prose_md(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn tokens_line(t: &Tokens) -> String {
    format!(
        "tokens: {} in, {} out, {} cache read, {} cache write",
        t.input, t.output, t.cache_read, t.cache_write
    )
}

fn by(agent: &Option<String>) -> String {
    agent
        .as_deref()
        .map(|a| format!(" ({a})"))
        .unwrap_or_default()
}

fn markdown(items: &[Item], title: &str) -> String {
    let mut out = format!("# {}\n\n", prose_md(title));
    for item in items {
        match item {
            Item::Segment {
                session,
                title,
                about,
            } => {
                let _ = writeln!(
                    out,
                    "## Session {session} — {}\n\n_{}_\n",
                    prose_md(title),
                    prose_md(&about.line())
                );
            }
            Item::Prompt { at, text } => {
                let _ = writeln!(out, "### User · {at}\n\n{}\n", prose_md(text));
            }
            Item::Answer { at, text, agent } => {
                let _ = writeln!(
                    out,
                    "### Assistant{} · {at}\n\n{}\n",
                    by(agent),
                    prose_md(text)
                );
            }
            Item::Tool {
                at,
                name,
                target,
                input,
                diff,
                result,
                agent,
            } => {
                let status = match result {
                    None => "no result",
                    Some((_, true)) => "error",
                    Some((_, false)) => "ok",
                };
                let target = target
                    .as_deref()
                    .map(|t| format!(" `{}`", t.replace('`', "'")))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<details><summary>{}{}{} · {status} · {at}</summary>\n",
                    prose_md(name),
                    prose_md(&target),
                    by(agent)
                );
                match diff {
                    Some(diff) => code_md(&mut out, "diff", diff),
                    None => code_md(&mut out, "json", input),
                }
                if let Some((text, _)) = result {
                    code_md(&mut out, "text", text);
                }
                out.push_str("</details>\n\n");
            }
            Item::Summary { at, text } => {
                let _ = writeln!(out, "### Compaction summary · {at}\n");
                code_md(&mut out, "text", text);
            }
            Item::Mark { at, text } => {
                let _ = writeln!(out, "> {} · {at}\n", prose_md(text));
            }
            Item::Output {
                at, source, text, ..
            } => {
                let _ = writeln!(out, "### Output ({}) · {at}\n", prose_md(source));
                code_md(&mut out, "text", text);
            }
            Item::Tokens(t) => {
                let _ = writeln!(out, "*{}*\n", tokens_line(t));
            }
        }
    }
    out
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;background:#fff}\
h1{font-size:1.5rem}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}\
.msg{margin:1rem 0;padding:.6rem .9rem;border-radius:8px;white-space:pre-wrap;overflow-wrap:anywhere}\
.user{background:#e8f0fe}.assistant{background:#f4f4f5}.summary{background:#fff7e0}\
.who{font-weight:600;font-size:.85rem;color:#555;display:block;margin-bottom:.3rem}\
details{margin:.4rem 0;border:1px solid #ddd;border-radius:6px;padding:.3rem .6rem}\
summary{cursor:pointer;font-family:ui-monospace,monospace;font-size:.85rem}\
pre{white-space:pre-wrap;overflow-wrap:anywhere;font:12px/1.4 ui-monospace,monospace;background:#fafafa;padding:.5rem}\
.err summary{color:#b00020}.add{color:#116329}.del{color:#b00020}\
.mark{color:#555;font-style:italic;margin:.6rem 0}.tokens{color:#777;font-size:.8rem;text-align:right}.about{color:#555;font-size:.9rem;margin-top:-.5rem}.output pre{background:#f6f8fa;border-left:3px solid #999}";

fn diff_html(diff: &str) -> String {
    let mut out = String::from("<pre>");
    for line in diff.lines() {
        let class = match line.as_bytes().first() {
            Some(b'+') => "add",
            Some(b'-') => "del",
            _ => "",
        };
        let _ = writeln!(out, "<span class=\"{class}\">{}</span>", escape(line));
    }
    out.push_str("</pre>");
    out
}

fn html(items: &[Item], title: &str) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
    for item in items {
        match item {
            Item::Segment {
                session,
                title,
                about,
            } => {
                let _ = writeln!(
                    out,
                    "<h2>Session {session} — {}</h2>\n<p class=\"about\">{}</p>",
                    escape(title),
                    escape(&about.line())
                );
            }
            Item::Prompt { at, text } => {
                let _ = writeln!(
                    out,
                    "<div class=\"msg user\"><span class=\"who\">User · {}</span>{}</div>",
                    escape(at),
                    escape(text)
                );
            }
            Item::Answer { at, text, agent } => {
                let _ = writeln!(
                    out,
                    "<div class=\"msg assistant\"><span class=\"who\">Assistant{} · {}</span>{}</div>",
                    escape(&by(agent)),
                    escape(at),
                    escape(text)
                );
            }
            Item::Tool {
                at,
                name,
                target,
                input,
                diff,
                result,
                agent,
            } => {
                let (status, class) = match result {
                    None => ("no result", ""),
                    Some((_, true)) => ("error", " class=\"err\""),
                    Some((_, false)) => ("ok", ""),
                };
                let target = target
                    .as_deref()
                    .map(|t| format!(" {t}"))
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "<details{class}><summary>{}{}{} · {status} · {}</summary>",
                    escape(name),
                    escape(&target),
                    escape(&by(agent)),
                    escape(at)
                );
                match diff {
                    Some(diff) => out.push_str(&diff_html(diff)),
                    None => {
                        let _ = write!(out, "<pre>{}</pre>", escape(input));
                    }
                }
                if let Some((text, _)) = result {
                    let _ = write!(out, "<pre>{}</pre>", escape(text));
                }
                out.push_str("</details>\n");
            }
            Item::Summary { at, text } => {
                let _ = writeln!(
                    out,
                    "<div class=\"msg summary\"><span class=\"who\">Compaction summary · {}</span>{}</div>",
                    escape(at),
                    escape(text)
                );
            }
            Item::Mark { at, text } => {
                let _ = writeln!(
                    out,
                    "<p class=\"mark\">{} · {}</p>",
                    escape(text),
                    escape(at)
                );
            }
            Item::Output {
                at, source, text, ..
            } => {
                let _ = writeln!(
                    out,
                    "<div class=\"output\"><span class=\"who\">Output ({}) · {}</span><pre>{}</pre></div>",
                    escape(source),
                    escape(at),
                    escape(text)
                );
            }
            Item::Tokens(t) => {
                let _ = writeln!(out, "<p class=\"tokens\">{}</p>", escape(&tokens_line(t)));
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}
