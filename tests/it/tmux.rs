//! `logbook capture --tmux`: a real tmux server, isolated in its own socket
//! directory, whose pane shows a file through `tail -F`, so the test knows
//! exactly which lines the pane has shown.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use logbook_tests::{Store, parts_of};

/// A tmux server with one pane, killed on drop.
struct Pane {
    sockets: PathBuf,
    file: PathBuf,
    written: u64,
}

impl Pane {
    /// History of `history` lines, so a test can make lines scroll away.
    fn tailing(store: &Store, history: u32) -> Self {
        let sockets = store.scratch().join("tmux");
        std::fs::create_dir_all(&sockets).unwrap();
        let conf = store.scratch().join("tmux.conf");
        std::fs::write(&conf, format!("set -g history-limit {history}\n")).unwrap();
        let file = store.scratch().join("agent.out");
        std::fs::write(&file, "").unwrap();
        let pane = Self {
            sockets,
            file,
            written: 0,
        };
        let tail = format!("tail -n +1 -F {}", pane.file.display());
        let out = pane
            .tmux()
            .args([
                "-f",
                conf.to_str().unwrap(),
                "new-session",
                "-d",
                "-x",
                "80",
                "-y",
                "10",
            ])
            .arg(tail)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        pane
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.env("TMUX_TMPDIR", &self.sockets).env_remove("TMUX");
        cmd
    }

    /// Writes `count` more numbered lines and waits until the pane shows the
    /// last one.
    fn print(&mut self, count: u64) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.file)
            .unwrap();
        for _ in 0..count {
            self.written += 1;
            writeln!(f, "line {}", self.written).unwrap();
        }
        drop(f);
        let last = format!("line {}", self.written);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let shown = self.tmux().args(["capture-pane", "-p"]).output().unwrap();
            if String::from_utf8_lossy(&shown.stdout)
                .lines()
                .any(|l| l == last)
            {
                return;
            }
            assert!(Instant::now() < deadline, "the pane never showed {last}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn capture(&self, store: &Store, session: &str, pane: &str) -> Output {
        store
            .cmd()
            .env("TMUX_TMPDIR", &self.sockets)
            .env_remove("TMUX")
            .args(["capture", session, "--tmux", pane])
            .output()
            .unwrap()
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

fn lines_of(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn numbered(range: std::ops::RangeInclusive<u64>) -> Vec<String> {
    range.map(|n| format!("line {n}")).collect()
}

fn gaps(store: &Store, session: &str) -> usize {
    store
        .ok(&["log", "--session", session, "--json"])
        .lines()
        .filter(|l| l.contains("\"capture_gap\""))
        .count()
}

fn ok(out: Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_pane_is_captured_once_aligned_by_content_with_gaps_reported() {
    let store = Store::new();
    let id = store.start("tmux");
    let mut pane = Pane::tailing(&store, 50);

    pane.print(5);
    ok(pane.capture(&store, &id, "%0"));
    assert_eq!(lines_of(&parts_of(&store, &id, "main")), numbered(1..=5));

    pane.print(15);
    ok(pane.capture(&store, &id, "%0"));
    ok(pane.capture(&store, &id, "%0"));
    assert_eq!(lines_of(&parts_of(&store, &id, "main")), numbered(1..=20));
    assert_eq!(gaps(&store, &id), 0);

    // 30 more lines slide the 50-line history past line 1 but not past
    // line 20: alignment by content still finds where it left off.
    pane.print(30);
    ok(pane.capture(&store, &id, "%0"));
    assert_eq!(lines_of(&parts_of(&store, &id, "main")), numbered(1..=50));
    assert_eq!(gaps(&store, &id), 0);

    // 200 lines scroll everything captured out of the pane unseen: a gap is
    // recorded, then the pane's lines, and no line twice.
    pane.print(200);
    ok(pane.capture(&store, &id, "%0"));
    assert_eq!(gaps(&store, &id), 1);
    pane.print(10);
    ok(pane.capture(&store, &id, "%0"));
    assert_eq!(gaps(&store, &id), 1);
    let captured = lines_of(&parts_of(&store, &id, "main"));
    assert_eq!(captured[..50], numbered(1..=50)[..]);
    let after_gap: Vec<u64> = captured[50..]
        .iter()
        .map(|l| l.strip_prefix("line ").unwrap().parse().unwrap())
        .collect();
    assert!(after_gap[0] > 51, "the gap is real: {}", after_gap[0]);
    assert_eq!(after_gap, (after_gap[0]..=260).collect::<Vec<_>>());
}

#[test]
fn a_missing_pane_or_tmux_is_a_one_line_error_and_keeps_what_was_recorded() {
    let store = Store::new();
    let id = store.start("tmux");
    let mut pane = Pane::tailing(&store, 100);
    pane.print(3);
    ok(pane.capture(&store, &id, "%0"));

    let out = pane.capture(&store, &id, "%42");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("tmux pane %42"), "{stderr}");

    let no_tmux = Path::new(store.scratch()).join("empty-path");
    std::fs::create_dir_all(&no_tmux).unwrap();
    let out = store
        .cmd()
        .env("PATH", &no_tmux)
        .args(["capture", &id, "--tmux", "%0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tmux is not installed"), "{stderr}");

    assert_eq!(lines_of(&parts_of(&store, &id, "main")), numbered(1..=3));
}
