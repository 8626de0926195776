//! Which shell commands run tests, and whether they passed.
//!
//! A command runs tests when one of its pipeline steps starts a common
//! test runner (after environment assignments and wrappers such as `npx`,
//! `uv run` or `timeout 60`). It passed when it succeeded and its output
//! reports no failure: a runner piped into `tail` exits 0 whatever the
//! tests did, so the output is read too.

use std::sync::LazyLock;

use regex::Regex;

/// The runner a command starts, if it runs tests (`cargo`, `pytest`, …).
pub fn test_runner(command: &str) -> Option<&'static str> {
    command
        .split(['&', '|', ';', '\n'])
        .find_map(|step| runner_of(&words(step)))
}

fn words(step: &str) -> Vec<&str> {
    let mut words: Vec<&str> = step.split_whitespace().collect();
    loop {
        let skip = match words.as_slice() {
            [first, ..] if is_assignment(first) => 1,
            [
                "time" | "env" | "sudo" | "exec" | "npx" | "bunx" | "command",
                ..,
            ] => 1,
            ["timeout", _, ..] => 2,
            [
                "uv" | "poetry" | "pipenv" | "hatch" | "pdm" | "rye",
                "run",
                ..,
            ] => 2,
            ["python" | "python3" | "py", "-m", ..] => 2,
            _ => 0,
        };
        if skip == 0 || skip > words.len() {
            return words;
        }
        words.drain(..skip);
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn runner_of(words: &[&str]) -> Option<&'static str> {
    let program = words.first()?.rsplit('/').next()?;
    let mut sub = words.get(1).copied().unwrap_or_default();
    if sub == "run" && matches!(program, "npm" | "pnpm" | "yarn" | "bun") {
        sub = words.get(2).copied().unwrap_or_default();
    }
    let test_word = sub == "test" || sub.starts_with("test:");
    Some(match program {
        "cargo" if matches!(sub, "test" | "nextest" | "t") => "cargo",
        "pytest" | "py.test" | "tox" | "nox" => "pytest",
        "go" if sub == "test" => "go",
        "npm" | "pnpm" | "yarn" | "bun" if test_word || sub == "t" => "npm",
        "jest" | "vitest" | "mocha" | "ava" | "playwright" => "js",
        "mvn" | "gradle" | "gradlew" if test_word || sub == "verify" => "jvm",
        "make" | "just" if matches!(sub, "test" | "check" | "tests") => "make",
        "rspec" | "phpunit" | "ctest" => "xunit",
        "deno" | "dotnet" | "mix" | "swift" | "zig" if test_word => "xunit",
        "unittest" => "pytest",
        _ => return None,
    })
}

/// Output that reports failed tests, whatever the exit status said.
static FAILED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?m)test result: FAILED|^FAILED |^FAIL\b|^--- FAIL|\b[1-9][0-9]* (?:failed|failing|failures?|errors?)\b|Tests: +[0-9]+ failed",
    )
    .ok()
});

/// Whether a test run passed: it succeeded (`ok`, exit status 0 when
/// stated) and its output reports no failure.
pub fn passed(ok: bool, exit_code: Option<i32>, output: &str) -> bool {
    ok && exit_code.is_none_or(|c| c == 0) && !FAILED.as_ref().is_some_and(|re| re.is_match(output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_runners_are_recognised_behind_wrappers() {
        for (command, runner) in [
            ("cargo test -p foo", "cargo"),
            ("cargo nextest run", "cargo"),
            (
                "cd crates/x && RUST_LOG=debug cargo test 2>&1 | tail -20",
                "cargo",
            ),
            ("python -m pytest tests/", "pytest"),
            ("uv run pytest -x", "pytest"),
            ("npm test", "npm"),
            ("npm run test:unit", "npm"),
            ("npx vitest run", "js"),
            ("timeout 120 go test ./...", "go"),
            ("make test", "make"),
            ("./gradlew test", "jvm"),
        ] {
            assert_eq!(test_runner(command), Some(runner), "{command}");
        }
        for command in [
            "cargo build",
            "git status",
            "ls tests",
            "cat test.py",
            "echo cargo test",
        ] {
            assert_eq!(test_runner(command), None, "{command}");
        }
    }

    #[test]
    fn a_run_fails_on_its_status_or_its_output() {
        assert!(passed(true, Some(0), "test result: ok. 5 passed; 0 failed"));
        assert!(passed(true, None, "===== 12 passed in 0.3s ====="));
        assert!(!passed(false, Some(101), "error[E0425]"));
        assert!(!passed(true, Some(1), ""));
        assert!(!passed(
            true,
            Some(0),
            "test result: FAILED. 4 passed; 1 failed"
        ));
        assert!(!passed(true, None, "==== 2 failed, 10 passed in 1.2s ===="));
        assert!(!passed(
            true,
            None,
            "Tests:       1 failed, 9 passed, 10 total"
        ));
        assert!(!passed(true, None, "--- FAIL: TestParse (0.00s)"));
    }
}
