//! Token readings in plain-text transcripts, for agents without structured
//! logs: a line such as `Token usage: 123456/200000; 76544 remaining`.

/// `(used, window)` from a line of the form `Token usage: USED/WINDOW…`
/// (case-insensitive, thousands separators allowed).
pub fn token_usage(line: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(line).ok()?;
    let lower = text.to_ascii_lowercase();
    let at = lower.find("token usage:")?;
    let rest = &text[at + "token usage:".len()..];
    let (used, rest) = rest.trim_start().split_once('/')?;
    let window: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '_')
        .collect();
    let number = |s: &str| -> Option<u64> {
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty()
            || s.trim()
                .chars()
                .any(|c| !(c.is_ascii_digit() || c == ',' || c == '_'))
        {
            return None;
        }
        digits.parse().ok()
    };
    let (used, window) = (number(used)?, number(&window)?);
    (window > 0).then_some((used, window))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_usage_line() {
        assert_eq!(
            token_usage(b"Token usage: 123456/200000; 76544 remaining\n"),
            Some((123_456, 200_000))
        );
        assert_eq!(
            token_usage(b"  token usage: 1,000/200,000"),
            Some((1_000, 200_000))
        );
        assert_eq!(token_usage(b"Token usage: lots/200000"), None);
        assert_eq!(token_usage(b"no tokens here"), None);
        assert_eq!(token_usage(b"Token usage: 5/0"), None);
    }
}
