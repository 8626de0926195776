//! `review.md`: a session's review for people.

use std::fmt::Write as _;

use crate::review::Review;
use crate::tasks::{COMPLETED, Task};

/// A duration as people say it: `1h 05m`, `12m 30s`, `45s`.
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// A count with thousands separated: `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn inline(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn code(text: &str) -> String {
    format!("`{}`", inline(text).replace('`', "'"))
}

/// `review.md` for `review` and its `tasks`.
pub fn review_md(review: &Review, tasks: &[Task]) -> String {
    let mut md = format!("# Review of session {}\n\n", review.session_id);
    let mut facts = Vec::new();
    if let Some(agent) = &review.agent {
        facts.push(agent.clone());
    }
    if let Some(project) = &review.project {
        facts.push(format!("in {project}"));
    }
    facts.push(review.status.clone());
    if let Some(at) = &review.started_at {
        facts.push(format!("started {at}"));
    }
    if let Some(at) = &review.ended_at {
        facts.push(format!("ended {at}"));
    }
    let _ = writeln!(md, "{}", facts.join(" · "));
    let cost = review
        .cost_usd_estimate
        .map(|c| format!(" · about ${c:.2}"))
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "\nActive {} of {} · {} tokens in {} responses{cost} · {} compaction(s)",
        duration(review.active_secs),
        duration(review.wall_secs),
        thousands(review.tokens.total),
        thousands(review.tokens.responses),
        review.compactions
    );

    md.push_str("\n## Requests\n\n");
    if review.requests.is_empty() {
        md.push_str("None recorded.\n");
    }
    for r in &review.requests {
        let _ = writeln!(md, "- {}", inline(&r.text));
    }

    let t = &review.tasks;
    let rate = t
        .completion_rate
        .map(|r| format!(" ({:.0}%)", r * 100.0))
        .unwrap_or_default();
    let _ = write!(
        md,
        "\n## Tasks: {} of {} completed{rate}, {} open\n\n",
        t.completed, t.planned, t.open
    );
    for task in tasks {
        let mark = if task.status == COMPLETED { "x" } else { " " };
        let status = if task.status == COMPLETED {
            String::new()
        } else {
            format!(" ({})", task.status)
        };
        let files = if task.files.is_empty() {
            String::new()
        } else {
            format!(" — changed {}", task.files.join(", "))
        };
        let _ = writeln!(
            md,
            "- [{mark}] {}. {}{status}{files}",
            task.id,
            inline(&task.text)
        );
    }

    let tests = &review.tests;
    let _ = write!(
        md,
        "\n## Tests: {} run(s), {} passed, {} failed\n\n",
        tests.runs, tests.passed, tests.failed
    );
    for run in &review.test_runs {
        let verdict = if run.passed { "passed" } else { "FAILED" };
        let _ = writeln!(
            md,
            "- {verdict}: {} ({})",
            code(&run.command),
            run.at.as_deref().unwrap_or("?")
        );
    }

    let _ = write!(
        md,
        "\n## Files changed: {} (+{} −{})\n\n",
        review.files_changed.len(),
        review.lines_added,
        review.lines_removed
    );
    if !review.files_changed.is_empty() {
        md.push_str("| file | edits | + | − |\n|---|---:|---:|---:|\n");
        for f in &review.files_changed {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                code(&f.path).replace('|', "\\|"),
                f.edits,
                f.added,
                f.removed
            );
        }
    }

    for (title, list) in [
        ("Corrections", &review.corrections),
        ("Decisions", &review.decisions),
        ("Remembered for the project", &review.remembered),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(md, "\n## {title}: {}\n\n", list.len());
        for e in list {
            let _ = writeln!(md, "- {} ({})", inline(&e.text), e.source);
        }
    }

    if !review.blockers.is_empty() {
        md.push_str("\n## Blockers\n\n");
        for b in &review.blockers {
            let _ = writeln!(
                md,
                "- {}: {} ({}×)",
                b.kind.replace('_', " "),
                inline(&b.what),
                b.count
            );
        }
    }
    if !review.errors.is_empty() {
        md.push_str("\n## Errors\n\n");
        for e in &review.errors {
            let fix = match &e.fixed_at {
                Some(_) if e.fixed_by.is_empty() => " → passed on a later run".to_owned(),
                Some(_) => format!(" → fixed after changing {}", e.fixed_by.join(", ")),
                None => " → not fixed".to_owned(),
            };
            let _ = writeln!(
                md,
                "- {} failed {}×: {}{fix}",
                code(&e.command),
                e.failures,
                inline(&e.error)
            );
        }
    }
    md
}
