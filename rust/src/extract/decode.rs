//! Raw file bytes to source text, following PEP 263 for the two codecs we decode.

use std::borrow::Cow;

use super::report::SkipReason;

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// Decode a Python source file: a BOM is stripped, a coding cookie in the first two
/// lines picks UTF-8 or Latin-1; any other codec is `Undecodable` (rare in practice,
/// and guessing would give wrong text). NUL bytes are refused before decoding.
pub fn decode_source(raw: &[u8]) -> Result<Cow<'_, str>, SkipReason> {
    if memchr::memchr(0, raw).is_some() {
        return Err(SkipReason::NulBytes);
    }
    let (raw, had_bom) = match raw.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    let codec = coding_cookie(raw).map(|name| name.to_ascii_lowercase());
    match codec.as_deref() {
        None | Some("utf-8" | "utf8" | "utf_8" | "utf-8-sig" | "utf8-sig" | "utf_8_sig") => {
            std::str::from_utf8(raw)
                .map(Cow::Borrowed)
                .map_err(|_| SkipReason::Undecodable)
        }
        Some(
            "latin-1" | "latin1" | "latin_1" | "iso-8859-1" | "iso8859-1" | "iso_8859_1" | "l1",
        ) if !had_bom => Ok(Cow::Owned(raw.iter().map(|&b| b as char).collect())),
        Some(_) => Err(SkipReason::Undecodable),
    }
}

/// `\r\n` and lone `\r` become `\n`, as CPython's tokenizer reads them; text without `\r`
/// is borrowed as it is.
pub fn normalise_newlines(text: &str) -> Cow<'_, str> {
    if memchr::memchr(b'\r', text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = memchr::memchr(b'\r', rest.as_bytes()) {
        out.push_str(&rest[..at]);
        out.push('\n');
        rest = &rest[at + 1..];
        rest = rest.strip_prefix('\n').unwrap_or(rest);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The codec named by a PEP 263 cookie (`^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)`) in the
/// first two lines; the second line counts only if the first is blank or a comment.
fn coding_cookie(raw: &[u8]) -> Option<&str> {
    let mut lines = raw.split(|&b| b == b'\n');
    for (index, line) in lines.by_ref().take(2).enumerate() {
        let trimmed = trim_start(line);
        if !trimmed.starts_with(b"#") {
            if index == 0 && !trimmed.iter().all(u8::is_ascii_whitespace) {
                return None;
            }
            continue;
        }
        if let Some(name) = cookie_in_comment(trimmed) {
            return Some(name);
        }
    }
    None
}

fn trim_start(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|&b| !matches!(b, b' ' | b'\t' | b'\x0c'))
        .unwrap_or(line.len());
    &line[start..]
}

fn cookie_in_comment(comment: &[u8]) -> Option<&str> {
    let mut from = 0;
    while let Some(pos) = memchr::memmem::find(&comment[from..], b"coding") {
        let after = from + pos + b"coding".len();
        if let Some(&sep) = comment.get(after)
            && (sep == b':' || sep == b'=')
        {
            let rest = trim_start_spaces_tabs(&comment[after + 1..]);
            let len = rest
                .iter()
                .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
                .unwrap_or(rest.len());
            if len > 0 {
                return std::str::from_utf8(&rest[..len]).ok();
            }
        }
        from = after;
    }
    None
}

fn trim_start_spaces_tabs(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(decode_source(b"x = 1\n").unwrap(), "x = 1\n");
        assert_eq!(decode_source(b"\xef\xbb\xbfx = 1\n").unwrap(), "x = 1\n");
    }

    #[test]
    fn latin1_cookie_decodes() {
        let raw = b"# -*- coding: latin-1 -*-\ns = '\xe9'\n";
        assert_eq!(
            decode_source(raw).unwrap(),
            "# -*- coding: latin-1 -*-\ns = '\u{e9}'\n"
        );
        let second_line =
            b"#!/usr/bin/env python\n# vim: set fileencoding=iso-8859-1 :\ns='\xe9'\n";
        assert!(decode_source(second_line).unwrap().contains('\u{e9}'));
    }

    #[test]
    fn cookie_on_second_line_after_code_is_ignored() {
        let raw = b"x = 1\n# coding: latin-1\ns = '\xe9'\n";
        assert_eq!(decode_source(raw), Err(SkipReason::Undecodable));
    }

    #[test]
    fn crlf_and_lone_cr_become_lf() {
        assert!(matches!(normalise_newlines("a\nb\n"), Cow::Borrowed(_)));
        assert_eq!(normalise_newlines("a\r\nb\rc\r\r\nd\r"), "a\nb\nc\n\nd\n");
        assert_eq!(normalise_newlines("\r\n\u{e9}\r"), "\n\u{e9}\n");
    }

    #[test]
    fn bad_bytes_and_unknown_codecs_are_refused() {
        assert_eq!(decode_source(b"s = '\xe9'\n"), Err(SkipReason::Undecodable));
        assert_eq!(
            decode_source(b"# coding: euc-jp\nx = 1\n"),
            Err(SkipReason::Undecodable)
        );
        assert_eq!(decode_source(b"x = 1\0\n"), Err(SkipReason::NulBytes));
    }
}
