//! logbook-redact: masks secrets in text logbook shows or hands on.
//!
//! The log keeps the exact bytes an agent wrote; everything that leaves the
//! store (briefs injected into the model, `context.json`, search snippets,
//! renders, `export --redact`) goes through [`redact`] or [`redact_bytes`]
//! first. It owns the list of what counts as a secret: API keys and tokens
//! of common providers, private keys, bearer tokens and JWTs, passwords in
//! URLs and in assignments (`PASSWORD=…`, `"api_key": "…"`), and `.env`-style
//! lines whose value looks like a credential.
//!
//! A secret is replaced by `[REDACTED:<kind>]`; the name of an assignment
//! and a URL's user stay, so the text still reads.
//!
//! ```
//! let text = "export ANTHROPIC_API_KEY=sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123";
//! let shown = logbook_redact::redact(text);
//! assert!(!shown.contains("abcdefghijklmnop"));
//! assert!(shown.contains("ANTHROPIC_API_KEY="));
//! assert_eq!(logbook_redact::redact("cargo test"), "cargo test");
//! ```
//!
//! Text in the log is often JSON with its quotes and newlines escaped
//! (`\"`, `\n`), so every pattern also matches inside an escaped string.

use std::borrow::Cow;
use std::sync::LazyLock;

/// One kind of secret: its name and the pattern. A pattern's `secret`
/// group, when it has one, is the part masked; otherwise the whole match.
struct Rule {
    kind: &'static str,
    pattern: &'static str,
    /// Only mask when the value looks like a credential (letters and
    /// digits, long enough): `.env` lines also hold `DEBUG=true`.
    credential_like: bool,
}

/// Ordered: the first rule to claim a span masks it, so specific provider
/// keys win over the generic assignment rule.
const RULES: &[Rule] = &[
    Rule {
        kind: "private-key",
        // A whole PEM block, or its head when the text was cut off.
        pattern: r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]*)",
        credential_like: false,
    },
    Rule {
        kind: "anthropic-key",
        pattern: r"sk-ant-[A-Za-z0-9_-]{16,}",
        credential_like: false,
    },
    Rule {
        kind: "openai-key",
        pattern: r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        credential_like: false,
    },
    Rule {
        kind: "github-token",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})",
        credential_like: false,
    },
    Rule {
        kind: "gitlab-token",
        pattern: r"\bglpat-[A-Za-z0-9_-]{20,}",
        credential_like: false,
    },
    Rule {
        kind: "aws-access-key",
        pattern: r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        credential_like: false,
    },
    Rule {
        kind: "google-api-key",
        pattern: r"\bAIza[0-9A-Za-z_-]{35}",
        credential_like: false,
    },
    Rule {
        kind: "slack-token",
        pattern: r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        credential_like: false,
    },
    Rule {
        kind: "stripe-key",
        pattern: r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
        credential_like: false,
    },
    Rule {
        kind: "huggingface-token",
        pattern: r"\bhf_[A-Za-z0-9]{30,}",
        credential_like: false,
    },
    Rule {
        kind: "npm-token",
        pattern: r"\bnpm_[A-Za-z0-9]{36}",
        credential_like: false,
    },
    Rule {
        kind: "jwt",
        pattern: r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        credential_like: false,
    },
    Rule {
        kind: "bearer-token",
        pattern: r"(?i)\b(?:bearer|token)\s+(?P<secret>[A-Za-z0-9._~+/-]{16,}=*)",
        credential_like: false,
    },
    Rule {
        kind: "url-password",
        pattern: r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/\s@]+:(?P<secret>[^@\s/]{1,})@",
        credential_like: false,
    },
    Rule {
        kind: "password",
        // NAME = value, NAME: value, "name": "value", with the quotes of a
        // JSON string possibly escaped.
        pattern: r#"(?i)[A-Z0-9_.-]*(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|auth[_-]?key)[A-Z0-9_.-]*(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?(?P<secret>[^\s"'\\,;&}]{4,})"#,
        credential_like: false,
    },
    Rule {
        kind: "env-value",
        pattern: r"(?m)(?:^|\\n)\s*(?:export\s+)?[A-Z][A-Z0-9_]{2,}=(?:\\?[\x22'])?(?P<secret>[^\s\x22'\\]{16,})",
        credential_like: true,
    },
];

/// Every rule, compiled once: the set says which rules match at all (one
/// pass), and only those look for where. The patterns are constants the
/// tests below compile, so a failure here is a bug any test run finds.
#[allow(clippy::expect_used)]
static RULES_COMPILED: LazyLock<(
    regex::bytes::RegexSet,
    Vec<(&'static Rule, regex::bytes::Regex)>,
)> = LazyLock::new(|| {
    (
        regex::bytes::RegexSet::new(RULES.iter().map(|r| r.pattern)).expect("redaction patterns"),
        RULES
            .iter()
            .map(|r| {
                (
                    r,
                    regex::bytes::Regex::new(r.pattern).expect("redaction pattern"),
                )
            })
            .collect(),
    )
});

/// A match: its whole span and its `secret` group's.
type Found = (usize, usize, Option<(usize, usize)>);

/// What a masked secret starts with.
const MASK: &[u8] = b"[REDACTED:";

/// The spans of masks already in `haystack` (`[REDACTED:kind]`).
fn masks(haystack: &[u8]) -> Vec<(usize, usize)> {
    memchr::memmem::find_iter(haystack, MASK)
        .map(|at| {
            let end = memchr::memchr(b']', &haystack[at..]).map_or(haystack.len(), |i| at + i + 1);
            (at, end)
        })
        .collect()
}

/// Where the masks in an already redacted `text` are (`[REDACTED:kind]`,
/// brackets included), so a caller that cuts the text can keep each one
/// whole.
pub fn mask_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    masks(text.as_bytes())
        .into_iter()
        .map(|(start, end)| start..end)
        .collect()
}

/// Whether a value is worth masking under a rule that asks for it: long,
/// with letters and digits mixed, as keys and tokens are.
fn credential_like(value: &[u8]) -> bool {
    value.len() >= 16
        && value.iter().any(u8::is_ascii_digit)
        && value.iter().any(u8::is_ascii_alphabetic)
}

/// A value no one would use as a secret: a number, or a literal that says
/// there is none.
fn not_a_secret(value: &[u8]) -> bool {
    value.iter().all(u8::is_ascii_digit)
        || [
            &b"None"[..],
            b"null",
            b"nil",
            b"true",
            b"false",
            b"undefined",
        ]
        .iter()
        .any(|word| value.eq_ignore_ascii_case(word))
}

/// The spans to mask in `haystack`, as (start, end, kind), sorted and
/// disjoint. `find` yields, per rule, the whole match and its secret group.
fn spans(
    rules: impl Iterator<Item = (&'static Rule, Vec<Found>)>,
    haystack: &[u8],
) -> Vec<(usize, usize, &'static str)> {
    let masked = masks(haystack);
    let mut out: Vec<(usize, usize, &'static str)> = Vec::new();
    for (rule, found) in rules {
        for (start, end, secret) in found {
            let (s, e) = secret.unwrap_or((start, end));
            if rule.credential_like && !credential_like(&haystack[s..e]) {
                continue;
            }
            // `max_tokens: 4096`, `pre_tokens=None`: counts and empty
            // values of a name that says token are not secrets.
            if rule.kind == "password" && not_a_secret(&haystack[s..e]) {
                continue;
            }
            // Already masked: masking again must change nothing, or a
            // projection that goes on from its own (masked) file would
            // differ from a rebuild from the log.
            if masked.iter().any(|&(a, b)| s < b && a < e) {
                continue;
            }
            if out.iter().any(|&(a, b, _)| s < b && a < e) {
                continue;
            }
            out.push((s, e, rule.kind));
        }
    }
    out.sort_unstable();
    out
}

fn splice(haystack: &[u8], spans: &[(usize, usize, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut at = 0;
    for &(start, end, kind) in spans {
        out.extend_from_slice(&haystack[at..start]);
        out.extend_from_slice(MASK);
        out.extend_from_slice(kind.as_bytes());
        out.push(b']');
        at = end;
    }
    out.extend_from_slice(&haystack[at..]);
    out
}

/// `text` with every secret masked; borrowed when there was none.
pub fn redact(text: &str) -> Cow<'_, str> {
    match redact_bytes(text.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        // The patterns are Unicode-aware, so on UTF-8 input every span
        // starts and ends on a character, and the spliced text stays UTF-8.
        Cow::Owned(masked) => Cow::Owned(String::from_utf8_lossy(&masked).into_owned()),
    }
}

/// [`redact`] for raw bytes (a transcript line as captured).
pub fn redact_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    let (set, each) = &*RULES_COMPILED;
    let hits = set.matches(bytes);
    if !hits.matched_any() {
        return Cow::Borrowed(bytes);
    }
    let found = hits.iter().map(|i| {
        let (rule, re) = &each[i];
        let matches: Vec<Found> = re
            .captures_iter(bytes)
            .filter_map(|c| {
                let whole = c.get(0)?;
                Some((
                    whole.start(),
                    whole.end(),
                    c.name("secret").map(|m| (m.start(), m.end())),
                ))
            })
            .collect();
        (*rule, matches)
    });
    let spans = spans(found, bytes);
    if spans.is_empty() {
        Cow::Borrowed(bytes)
    } else {
        Cow::Owned(splice(bytes, &spans))
    }
}

/// Redacts every string inside a JSON value, keys included, except the
/// fields named in `keep` (base64 bytes, ids) whose text is not prose.
pub fn redact_json(value: &mut serde_json::Value, keep: &[&str]) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(masked) = redact(s) {
                *s = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, keep)),
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if !keep.contains(&key.as_str()) {
                    redact_json(v, keep);
                }
            }
        }
        _ => {}
    }
}

/// Applies [`redact`] when `on`; the one switch `--no-redact` turns.
pub fn maybe(text: &str, on: bool) -> Cow<'_, str> {
    if on {
        redact(text)
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Secrets as they appear in the wild, each with a part that must not
    /// survive.
    const PLANTED: &[(&str, &str)] = &[
        (
            "ANTHROPIC_API_KEY=sk-ant-api03-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1JkLzXcVbNm",
            "Zx9Qw8Er7Ty6",
        ),
        (
            "key sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6",
            "A1b2C3d4E5f6",
        ),
        (
            "git clone https://ghp_0123456789abcdefABCDEF0123456789abcd@github.com/x/y",
            "0123456789abcdefABCDEF",
        ),
        (
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            "IOSFODNN7EXAMPLE",
        ),
        (
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI",
        ),
        (
            "postgres://admin:hunter2hunter@db.internal:5432/app",
            "hunter2hunter",
        ),
        (
            "{\"password\": \"correct-horse-battery\"}",
            "correct-horse-battery",
        ),
        ("{\\\"db_password\\\":\\\"s3cr3t-value\\\"}", "s3cr3t-value"),
        (
            "Authorization: Bearer abcdef0123456789ABCDEF.xyz",
            "abcdef0123456789ABCDEF",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
            "b3BlbnNzaC1rZXktdjEAAAAA",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA7\\n",
            "MIIEpAIBAAKCAQEA7",
        ),
        ("slack xoxb-1234567890-abcdefghij", "1234567890-abcdefghij"),
        (
            "STRIPE=sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "4eC39HqLyjWDarjtT1zdp7dc",
        ),
        (
            "AIzaSyA-1234567890abcdefghijklmnopqrstu",
            "1234567890abcdefghij",
        ),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
            "dozjgNryP4J3jVmNHl0w5N",
        ),
        (
            "DATABASE_URL_KEYVALUE=Zm9vYmFyMTIzNDU2Nzg5MGFi",
            "Zm9vYmFyMTIzNDU2Nzg5MGFi",
        ),
    ];

    #[test]
    fn every_planted_secret_is_masked_in_text_and_bytes() {
        for (text, secret) in PLANTED {
            let shown = redact(text);
            assert!(!shown.contains(secret), "{text} -> {shown}");
            assert!(shown.contains("[REDACTED:"), "{shown}");
            let bytes = redact_bytes(text.as_bytes());
            let bytes = String::from_utf8_lossy(&bytes);
            assert!(!bytes.contains(secret), "{text} -> {bytes}");
        }
    }

    #[test]
    fn masking_twice_changes_nothing() {
        for (text, _) in PLANTED {
            let once = redact(text).into_owned();
            assert_eq!(redact(&once), once, "{text}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "cargo test --workspace",
            "RUST_LOG=debug cargo run",
            "DEBUG=true",
            "the token budget is 200000 tokens",
            "fn password_strength(p: &str) -> u8",
            "https://github.com/logbook-rs/logbook",
            "Read src/auth.rs",
            "ünïcödé text — with dashes",
            "compaction_detected Auto pre_tokens=None",
            r#"{"max_tokens": 4096, "api_key": null, "secret": false}"#,
        ] {
            assert!(
                matches!(redact(text), Cow::Borrowed(_)),
                "{text} -> {}",
                redact(text)
            );
        }
    }

    #[test]
    fn names_stay_readable() {
        assert_eq!(
            redact("PASSWORD=hunter2hunter and more"),
            "PASSWORD=[REDACTED:password] and more"
        );
        assert_eq!(
            redact("https://bob:pw123456@example.com/x"),
            "https://bob:[REDACTED:url-password]@example.com/x"
        );
    }

    #[test]
    fn multibyte_text_around_a_secret_survives() {
        let text = "é sk-ant-api03-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1 ü";
        assert_eq!(redact(text), "é [REDACTED:anthropic-key] ü");
    }

    #[test]
    fn json_strings_are_redacted_but_kept_fields_are_not() {
        let mut value = serde_json::json!({
            "command": "curl -H 'Authorization: Bearer abcdef0123456789ABCDEF'",
            "list": ["PASSWORD=hunter2hunter"],
            "bytes": "PASSWORD=hunter2hunter",
            "n": 3
        });
        redact_json(&mut value, &["bytes"]);
        let text = value.to_string();
        assert!(!text.contains("abcdef0123456789ABCDEF"), "{text}");
        assert_eq!(value["list"][0], "PASSWORD=[REDACTED:password]");
        assert_eq!(value["bytes"], "PASSWORD=hunter2hunter");
        assert_eq!(value["n"], 3);
    }

    #[test]
    fn maybe_is_the_switch() {
        let text = "PASSWORD=hunter2hunter";
        assert_eq!(maybe(text, false), text);
        assert_ne!(maybe(text, true), text);
    }
}
