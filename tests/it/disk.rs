//! A full disk: the store on a small tmpfs (the suite runs as root, as CI
//! does), filled for real. Writes are refused before sled writes anything,
//! hooks wait in the spool, nothing acknowledged is lost, and once space is
//! freed the spooled hooks land and `verify` passes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use logbook_tests::{Store, hook_payload, wait_until};
use serde_json::{Value, json};

/// A tmpfs mounted on a directory for the length of a test.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size_mb: u64) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m,mode=0700")])
            .arg("tmpfs")
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Self(at.to_owned())
    }

    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a daemon may still be letting go of the store.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system at `dir` until `left` bytes stay free.
fn fill_until(disk: &Tmpfs, dir: &Path, left: u64) -> PathBuf {
    let filler = dir.join("filler");
    let size = disk.free().saturating_sub(left);
    std::fs::write(&filler, vec![0u8; usize::try_from(size).unwrap()]).unwrap();
    filler
}

#[test]
fn a_full_disk_refuses_writes_loses_nothing_and_recovers_when_space_returns() {
    let store = Store::new();
    let disk = Tmpfs::mount(&store.root(), 128);
    store.configure("min_free_mb = 16\n");
    let acknowledged: Vec<String> = (0..5).map(|i| store.start(&format!("job-{i}"))).collect();
    store.ok(&["end", &acknowledged[0]]);
    let exported_before = store.ok(&["export"]);

    // Leave less than the margin: 10 MB free of the 16 the store keeps.
    let filler = fill_until(&disk, &store.scratch().join("store"), 10 << 20);
    let refused = store.fails(&["start", "--command", "refused"], 1);
    assert!(
        refused.contains("refusing to write") && refused.contains("min_free_mb"),
        "{refused}"
    );
    // An import is refused at once, with one line, instead of hanging.
    let transcript = store.scratch().join("big.jsonl");
    let line = json!({"type": "user", "sessionId": "a", "message": {"content": "x".repeat(1000)}});
    std::fs::write(&transcript, format!("{line}\n").repeat(2_000)).unwrap();
    let refused = store.fails(&["import", transcript.to_str().unwrap()], 1);
    assert!(refused.contains("refusing to write"), "{refused}");

    // A hook exits 0, prints nothing, and keeps its payload in the spool.
    let agent = "0b8f8c52-6a2e-4a8e-9d3c-2f1e5d7c9a10";
    let cwd = store.scratch().join("project");
    let agent_transcript = store.scratch().join(format!("{agent}.jsonl"));
    std::fs::write(&agent_transcript, "").unwrap();
    let start = hook_payload(
        "SessionStart",
        agent,
        &agent_transcript,
        &cwd,
        json!({"source": "startup"}),
    );
    let out = store.piped(&["hook"], &start);
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
    let spool = store.root().join("spool");
    let spooled = || {
        std::fs::read_dir(&spool)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .count()
            })
            .unwrap_or(0)
    };
    wait_until(Duration::from_secs(10), "the hook in the spool", || {
        spooled() == 1
    });
    let log = std::fs::read_to_string(store.root().join("logbook.log")).unwrap();
    assert!(log.contains("refusing to write"), "{log}");
    // The status line says so where the user looks.
    let input = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/claude-code-2.1.328/hooks/statusline-reading.json"),
    )
    .unwrap();
    let shown = store.piped(&["statusline"], &input);
    assert!(shown.status.success());
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("disk full, not recording"), "{shown}");
    // And `doctor` says what is wrong, and what waits.
    let out = store.run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(check("space")["status"], "bad", "{report:#}");
    assert!(
        check("failures")["message"]
            .as_str()
            .unwrap()
            .contains("refusing to write"),
        "{report:#}"
    );
    assert!(
        check("leftovers")["message"]
            .as_str()
            .unwrap()
            .contains("1 hook waits in the spool"),
        "{report:#}"
    );
    assert_eq!(check("log")["status"], "ok", "{report:#}");

    // Reading still works, and everything acknowledged is there.
    let listed = store.sessions();
    assert_eq!(listed.len(), acknowledged.len(), "{listed:?}");
    assert_eq!(store.ok(&["export"]), exported_before);

    // Space again: the next command applies the spool, then does its own.
    std::fs::remove_file(filler).unwrap();
    store.start("after");
    wait_until(Duration::from_secs(10), "the spooled hook applied", || {
        spooled() == 0
    });
    let sessions = store.sessions();
    assert!(
        sessions
            .iter()
            .any(|s: &Value| s["agent"]["session_id"] == agent),
        "{sessions:?}"
    );
    assert_eq!(sessions.len(), acknowledged.len() + 2);
    assert!(store.ok(&["export"]).starts_with(&exported_before));
    store.ok(&["verify"]);

    // An import that runs into the margin part way: what it acknowledged
    // stays (the projected files may wait for room), and once there is room
    // the store verifies and the same import completes, idempotently.
    let filler = fill_until(&disk, &store.root(), 22 << 20);
    let big = store.scratch().join("projects").join("big.jsonl");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    // Text that does not compress: the log stores transcripts compressed.
    let mut rng = logbook_tests::Lcg(42);
    let alphabet: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
    let mut noise = |n: usize| -> String {
        (0..n)
            .map(|_| alphabet[rng.next(alphabet.len() as u64) as usize])
            .collect()
    };
    let mut record = |n: usize| {
        json!({"type": "user", "sessionId": "big", "uuid": format!("u{n}"),
               "message": {"content": format!("{n} {}", noise(2000))}})
    };
    let text: String = (0..6_000).map(|n| format!("{}\n", record(n))).collect();
    std::fs::write(&big, &text).unwrap();
    let refused = store.fails(&["import", big.to_str().unwrap()], 1);
    assert!(refused.contains("refusing to write"), "{refused}");
    assert!(store.ok(&["export"]).starts_with(&exported_before));
    std::fs::remove_file(filler).unwrap();
    store.ok(&["verify"]);
    store.ok(&["import", big.to_str().unwrap()]);
    store.ok(&["verify"]);
    let imported = store
        .sessions()
        .into_iter()
        .find(|s| {
            s["agent"]["transcript_path"]
                .as_str()
                .is_some_and(|p| p.ends_with("big.jsonl"))
        })
        .unwrap();
    let id = imported["session_id"].as_str().unwrap();
    assert_eq!(
        logbook_tests::parts_of(&store, id, "main"),
        text.as_bytes(),
        "the import after the refusal took every line once"
    );
}

/// A read-only bind mount of a directory for the length of a test.
struct ReadOnlyView(PathBuf);

impl ReadOnlyView {
    fn of(source: &Path, at: &Path) -> Self {
        std::fs::create_dir_all(at).unwrap();
        for args in [
            vec!["--bind".as_ref(), source.as_os_str(), at.as_os_str()],
            vec!["-o".as_ref(), "remount,bind,ro".as_ref(), at.as_os_str()],
        ] {
            let out = Command::new("mount").args(args).output().unwrap();
            assert!(
                out.status.success(),
                "a read-only bind mount needs root (CI runs as root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Self(at.to_owned())
    }
}

impl Drop for ReadOnlyView {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_read_only_store_answers_every_reading_command_and_refuses_writes() {
    let store = Store::new();
    store.ok(&[
        "import",
        logbook_tests::fixtures()
            .join("viewer-sample")
            .to_str()
            .unwrap(),
    ]);
    let id = store.start("job");
    store.ok(&[
        "note",
        "--session",
        &id,
        "--decision",
        "keep the backup read-only",
    ]);
    let reads: Vec<Vec<&str>> = vec![
        vec!["ls", "--json"],
        vec!["show", &id, "--json"],
        vec!["log"],
        vec!["export"],
        vec!["tokens", "--json"],
        vec!["context", &id, "--json"],
    ];
    let expected: Vec<String> = reads.iter().map(|args| store.ok(args)).collect();
    store.stop_daemon();
    let root = store.root().canonicalize().unwrap();
    let view = ReadOnlyView::of(&root, &store.scratch().join("backup"));
    let on_view = |args: &[&str]| {
        store
            .cmd()
            .env("LOGBOOK_DIR", &view.0)
            .args(args)
            .output()
            .unwrap()
    };
    for (args, expected) in reads.iter().zip(&expected) {
        let out = on_view(args);
        assert!(
            out.status.success(),
            "{args:?} on a read-only store: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Paths shown are resolved where the store is found.
        let shown = String::from_utf8(out.stdout)
            .unwrap()
            .replace(view.0.to_str().unwrap(), root.to_str().unwrap());
        assert_eq!(&shown, expected, "{args:?}");
    }
    let verified = on_view(&["verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    let doctor = on_view(&["doctor"]);
    let said = String::from_utf8_lossy(&doctor.stdout);
    assert!(doctor.status.success(), "{said}");
    assert!(said.contains("read-only file system"), "{said}");

    // A write is refused in one line; nothing is recorded anywhere.
    let out = on_view(&["start", "--command", "refused"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("read-only"), "{stderr}");
    assert_eq!(store.ok(&["export"]), expected[3]);
}
