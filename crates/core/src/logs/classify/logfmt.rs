//! A small, strict logfmt reader for §7.3 field extraction.
//!
//! Hand-written on purpose: the logfmt crates on crates.io are tiny but unmaintained, and the
//! grammar we need fits in a screen. It is deliberately strict so that prose is never
//! mistaken for logfmt:
//!
//! * elements are separated by whitespace, and **every** element must be `key=value`
//!   (a bare word, as in `Failed login user=bob`, makes the line plain text);
//! * a key is one or more ASCII letters, digits, `_`, `.`, `-` or `@`;
//! * a value is either empty (`key=`), an unquoted run without whitespace or `"`, or a
//!   double-quoted string with the escapes `\"`, `\\`, `\n`, `\r`, `\t` and `\uXXXX` (any other
//!   escape is kept verbatim), followed by whitespace or the end of the line.
//!
//! Anything else (an unterminated quote, a stray `"`, an empty key) means "not logfmt".

/// Parses a whole line as logfmt. Returns the pairs in line order (duplicates kept), or `None`
/// when the line is not strictly logfmt or holds no pair at all.
pub(super) fn parse(line: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let key_len = rest.find(|c: char| !is_key_char(c)).unwrap_or(rest.len());
        if key_len == 0 {
            return None;
        }
        let key = &rest[..key_len];
        rest = rest[key_len..].strip_prefix('=')?;
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let (value, after) = read_quoted(quoted)?;
            if after.starts_with(|c: char| !c.is_whitespace()) {
                return None;
            }
            rest = after;
            value
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let raw = &rest[..end];
            if raw.contains('"') {
                return None;
            }
            rest = &rest[end..];
            raw.to_string()
        };
        pairs.push((key.to_string(), value));
        rest = rest.trim_start();
    }
    (!pairs.is_empty()).then_some(pairs)
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@')
}

/// Reads a quoted value whose opening `"` is already consumed. Returns the unescaped value and
/// the text after the closing quote, or `None` when the quote is never closed.
fn read_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex = s.get(i + 2..i + 6);
                    match hex
                        .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .and_then(char::from_u32)
                    {
                        Some(decoded) => {
                            out.push(decoded);
                            // Skip the four hex digits.
                            for _ in 0..4 {
                                chars.next();
                            }
                        }
                        None => out.push_str("\\u"),
                    }
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            _ => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn pairs(list: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn reads_plain_and_quoted_values() {
        assert_eq!(
            parse(r#"level=info msg="user logged in" user=bob"#),
            pairs(&[
                ("level", "info"),
                ("msg", "user logged in"),
                ("user", "bob")
            ])
        );
    }

    #[test]
    fn handles_escapes_empty_values_and_equals_in_values() {
        assert_eq!(
            parse(r#"msg="say \"hi\"\n\\ \u00e9 \q" empty= token=abc== x="""#),
            pairs(&[
                ("msg", "say \"hi\"\n\\ é \\q"),
                ("empty", ""),
                ("token", "abc=="),
                ("x", ""),
            ])
        );
    }

    #[test]
    fn bad_unicode_escape_is_kept_verbatim() {
        assert_eq!(parse(r#"m="\uZZ""#), pairs(&[("m", "\\uZZ")]));
        assert_eq!(parse(r#"m="\u12""#), pairs(&[("m", "\\u12")]));
    }

    #[test]
    fn tabs_and_extra_spaces_separate_pairs() {
        assert_eq!(parse("  a=1\t\tb=2  "), pairs(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn dotted_and_at_keys_are_allowed() {
        assert_eq!(
            parse("protoPayload.methodName=SetIamPolicy @timestamp=1 user-agent=curl"),
            pairs(&[
                ("protoPayload.methodName", "SetIamPolicy"),
                ("@timestamp", "1"),
                ("user-agent", "curl"),
            ])
        );
    }

    #[test]
    fn rejects_anything_that_is_not_strictly_logfmt() {
        for line in [
            "",
            "   ",
            "Failed login user=bob",
            "user=bob from 1.2.3.4",
            "GET /a?x=1 HTTP/1.1",
            "/a?x=1",
            "=value",
            r#"msg="unterminated"#,
            r#"msg="closed"trailing"#,
            r#"a=b"c"#,
            r#""quoted"=key"#,
            "sshd: Failed password for invalid user oracle from 198.51.100.9 port 50122",
        ] {
            assert_eq!(parse(line), None, "{line:?}");
        }
    }
}
