//! The Markdown brief a new session is handed: what the previous one was
//! doing, within Claude Code's 10,000-character budget for injected context.
//!
//! Sections are filled in priority order; when the whole does not fit, items
//! are dropped from the lowest-priority sections first (the oldest items of
//! a section first), and a section says how many it left out. Lines are
//! never cut: a single overlong item is shortened as text, with an ellipsis.

use std::fmt::Write as _;

use crate::model::{ContextView, FileEntry};

/// Claude Code's cap on context added by a SessionStart hook.
pub const BRIEF_LIMIT: usize = 10_000;

/// Longest text of one item line.
const ITEM_CHARS: usize = 300;

/// Where the rest of a session's record lives, for the brief's header.
#[derive(Clone, Debug, Default)]
pub struct Links {
    /// The session that is handing off.
    pub session: String,
    /// How it ended (`clear`, `compaction`, …).
    pub end_reason: Option<String>,
    /// The session before it in its chain.
    pub previous: Option<String>,
    /// Its `context.json`, relative to the store.
    pub context_file: String,
    /// Its transcript parts, relative to the store.
    pub transcript: Vec<String>,
}

/// How the brief's header names the store its paths are relative to;
/// [`locate`] says where that store is when the brief is handed over.
const IN_THE_STORE: &str = "in the logbook store.";

/// `brief` with the store its paths are relative to placed at `root`.
/// Only the header's own phrase is touched: it comes before any text the
/// session wrote.
pub fn locate(brief: &str, root: &str) -> String {
    brief.replacen(
        IN_THE_STORE,
        &format!("in the logbook store at `{root}`."),
        1,
    )
}

struct Section {
    title: &'static str,
    items: Vec<String>,
    keep: usize,
    /// `prefix[k]`: characters of the first `k` item lines.
    prefix: Vec<usize>,
}

impl Section {
    fn heading(&self) -> String {
        format!("\n## {}\n", self.title)
    }

    fn more(left: usize) -> String {
        format!("- … {left} more in context.json\n")
    }

    /// Characters this section adds to the brief as it stands.
    fn chars(&self) -> usize {
        if self.items.is_empty() {
            return 0;
        }
        let left = self.items.len() - self.keep;
        self.heading().chars().count()
            + self.prefix[self.keep]
            + if left > 0 {
                Self::more(left).chars().count()
            } else {
                0
            }
    }
}

fn shorten(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= ITEM_CHARS {
        one_line
    } else {
        let cut: String = one_line.chars().take(ITEM_CHARS - 1).collect();
        format!("{cut}…")
    }
}

fn files(list: &[FileEntry]) -> Vec<String> {
    list.iter()
        .map(|f| format!("- `{}`", shorten(&f.path)))
        .collect()
}

/// Renders the brief of `view` with `links`, at most `limit` characters.
pub fn render(view: &ContextView, links: &Links, limit: usize) -> String {
    let mut header = format!("# Handoff from logbook session {}\n\n", links.session);
    let _ = writeln!(
        header,
        "The previous session {} ended{}. Its full context is in `{}`{}, {IN_THE_STORE}",
        links.session,
        links
            .end_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        links.context_file,
        links
            .transcript
            .first()
            .map(|t| format!(", its transcript in `{t}`"))
            .unwrap_or_default(),
    );
    if let Some(previous) = &links.previous {
        let _ = writeln!(header, "It continued session {previous}.");
    }
    // Newest first within each section: the tail is what gets dropped.
    let mut sections = vec![
        Section {
            title: "What it was doing (latest requests)",
            items: view
                .last_requests
                .iter()
                .rev()
                .map(|r| format!("- {}", shorten(&r.text)))
                .collect(),
            keep: 0,
            prefix: Vec::new(),
        },
        Section {
            title: "User corrections",
            items: view
                .corrections
                .iter()
                .rev()
                .map(|c| format!("- {}", shorten(&c.text)))
                .collect(),
            keep: 0,
            prefix: Vec::new(),
        },
        Section {
            title: "Decisions",
            items: view
                .decisions
                .iter()
                .chain(&view.plans)
                .rev()
                .map(|d| format!("- {}", shorten(&d.text)))
                .collect(),
            keep: 0,
            prefix: Vec::new(),
        },
        Section {
            title: "Open todos",
            items: view
                .todos
                .iter()
                .filter(|t| t.status != "completed")
                .map(|t| format!("- [{}] {}", t.status, shorten(&t.content)))
                .collect(),
            keep: 0,
            prefix: Vec::new(),
        },
        Section {
            title: "Files modified",
            items: files(&view.main.files_modified),
            keep: 0,
            prefix: Vec::new(),
        },
        Section {
            title: "Commands run",
            items: view
                .main
                .commands
                .iter()
                .rev()
                .map(|c| {
                    let status = match (c.exit_code, c.status.as_deref()) {
                        (Some(code), _) => format!(" (exit {code})"),
                        (None, Some("ok") | None) => String::new(),
                        (None, Some(other)) => format!(" ({other})"),
                    };
                    format!("- `{}`{status}", shorten(&c.command))
                })
                .collect(),
            keep: 0,
            prefix: Vec::new(),
        },
        Section {
            title: "Files read",
            items: files(&view.main.files_read),
            keep: 0,
            prefix: Vec::new(),
        },
    ];
    for s in &mut sections {
        s.keep = s.items.len();
        s.prefix = std::iter::once(0)
            .chain(s.items.iter().scan(0, |sum, item| {
                *sum += item.chars().count() + 1;
                Some(*sum)
            }))
            .collect();
    }
    // Drop from the lowest priority until it fits; the header always stays.
    let header_chars = header.chars().count();
    loop {
        let total = header_chars + sections.iter().map(Section::chars).sum::<usize>();
        if total <= limit {
            return assemble(&header, &sections);
        }
        match sections.iter_mut().rev().find(|s| s.keep > 0) {
            Some(s) => s.keep -= 1,
            None => return cut_lines(&assemble(&header, &sections), limit),
        }
    }
}

fn assemble(header: &str, sections: &[Section]) -> String {
    let mut out = header.to_owned();
    for s in sections.iter().filter(|s| !s.items.is_empty()) {
        out.push_str(&s.heading());
        for item in &s.items[..s.keep] {
            out.push_str(item);
            out.push('\n');
        }
        let left = s.items.len() - s.keep;
        if left > 0 {
            out.push_str(&Section::more(left));
        }
    }
    out
}

/// Whole lines of `text` up to `limit` characters (only reached when the
/// header alone is too long).
fn cut_lines(text: &str, limit: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if out.chars().count() + line.chars().count() + 1 > limit {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::TextEntry;
    use logbook_core::SessionId;

    fn links() -> Links {
        Links {
            session: "S1".into(),
            end_reason: Some("clear".into()),
            previous: None,
            context_file: "/store/sessions/S1/context.json".into(),
            transcript: vec!["/store/sessions/S1/transcript/part-0001.jsonl".into()],
        }
    }

    #[test]
    fn a_small_context_is_given_whole() {
        let mut v = ContextView::new(SessionId::new_v7(), None);
        v.apply_line(
            br#"{"type":"user","message":{"content":"fix the parser"}}"#,
            false,
        );
        v.apply_line(br#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"a","name":"Edit","input":{"file_path":"src/parse.rs"}}]}}"#, false);
        v.apply_line(br#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"a","content":"ok"}]}}"#, false);
        let brief = render(&v, &links(), BRIEF_LIMIT);
        assert!(brief.contains("- fix the parser"));
        assert!(brief.contains("## Files modified\n- `src/parse.rs`"));
        assert!(brief.contains("/store/sessions/S1/context.json"));
        assert!(!brief.contains("more in context.json"));
    }

    #[test]
    fn a_big_context_is_trimmed_by_priority_in_whole_lines() {
        let mut v = ContextView::new(SessionId::new_v7(), None);
        for n in 0..2000 {
            let line = format!(
                r#"{{"type":"assistant","message":{{"content":[{{"type":"tool_use","id":"r{n}","name":"Read","input":{{"file_path":"src/file_{n}.rs"}}}},{{"type":"tool_use","id":"w{n}","name":"Write","input":{{"file_path":"src/out_{n}.rs"}}}}]}}}}"#
            );
            v.apply_line(line.as_bytes(), false);
            let results = format!(
                r#"{{"type":"user","message":{{"content":[{{"type":"tool_result","tool_use_id":"r{n}","content":"ok"}},{{"type":"tool_result","tool_use_id":"w{n}","content":"ok"}}]}}}}"#
            );
            v.apply_line(results.as_bytes(), false);
        }
        v.corrections.push(TextEntry {
            text: "never touch main".into(),
            at: None,
            source: "prompt".into(),
        });
        let brief = render(&v, &links(), BRIEF_LIMIT);
        assert!(brief.chars().count() <= BRIEF_LIMIT);
        assert!(brief.contains("- never touch main"));
        // Files read go first, and the newest modified files stay.
        assert!(
            !brief.contains("src/file_"),
            "files read should be dropped first"
        );
        assert!(brief.contains("src/out_1999.rs"));
        assert!(brief.contains("more in context.json"));
        assert!(brief.lines().all(|l| !l.ends_with('\\')));
    }
}
