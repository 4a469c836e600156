//! A Python lexer for dedup: the same tokens tree-sitter's leaves give (`tokens.rs`, the
//! oracle it is tested against), at lexer speed. Parsing every function with tree-sitter took
//! ~200 µs per function, more than everything else in dedup together.
//!
//! Comments, layout and docstrings (logical lines that are only string literals) are dropped;
//! a string literal, f-strings included, is one token.

/// One token: its text, and whether it is a name (an identifier or a keyword).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Name,
    String,
    Number,
    Operator,
}

const OPERATORS_3: [&str; 6] = ["**=", "//=", ">>=", "<<=", "...", "!=="];
const OPERATORS_2: [&str; 20] = [
    "!=", "%=", "&=", "**", "*=", "+=", "-=", "->", "//", "/=", ":=", "<<", "<=", "==", ">=", ">>",
    "@=", "^=", "|=", "<>",
];

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_alphabetic() || (!c.is_ascii() && !c.is_whitespace())
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric() || (!c.is_ascii() && !c.is_whitespace())
}

/// Length of the name at the start of `rest`: bytes while ASCII, chars once not.
fn name_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let ascii = bytes
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or(bytes.len());
    if ascii < bytes.len() && !bytes[ascii].is_ascii() {
        return ascii
            + rest[ascii..]
                .find(|ch: char| !is_name_char(ch))
                .unwrap_or(rest.len() - ascii);
    }
    ascii
}

/// Length of a two- or three-character operator at the start of `rest`, if there is one.
fn operator_len(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    // Every multi-character operator's second character is one of these.
    if bytes.len() < 2 || !b"=*/<>.-!".contains(&bytes[1]) {
        return None;
    }
    if let Some(op) = OPERATORS_3.iter().find(|op| rest.starts_with(*op)) {
        return Some(op.len());
    }
    OPERATORS_2
        .iter()
        .find(|op| rest.starts_with(*op))
        .map(|op| op.len())
}

/// String prefix letters (r, b, u, f, t in any case, at most two) before a quote.
fn string_prefix_len(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    let mut n = 0;
    while n < 2 && n < bytes.len() && b"rRbBuUfFtT".contains(&bytes[n]) {
        n += 1;
    }
    (n < bytes.len() && (bytes[n] == b'\'' || bytes[n] == b'"')).then_some(n)
}

/// Length of the string literal at the start of `rest` (prefix included).
fn string_len(rest: &str, prefix: usize) -> usize {
    let bytes = rest.as_bytes();
    let formatted = bytes[..prefix].iter().any(|b| b"fFtT".contains(b));
    let quote = bytes[prefix];
    let triple =
        bytes.len() >= prefix + 3 && bytes[prefix + 1] == quote && bytes[prefix + 2] == quote;
    let mut i = prefix + if triple { 3 } else { 1 };
    let mut braces = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            i += 2;
            continue;
        }
        if formatted && b == b'{' {
            if braces == 0 && bytes.get(i + 1) == Some(&b'{') {
                i += 2;
                continue;
            }
            braces += 1;
        } else if formatted && b == b'}' && braces > 0 {
            braces -= 1;
        } else if braces > 0 && (b == b'\'' || b == b'"') {
            // A string inside a replacement field (PEP 701 allows any quotes there).
            if let Some(p) = string_prefix_len(&rest[i..]) {
                i += string_len(&rest[i..], p);
                continue;
            }
        } else if b == quote && braces == 0 {
            if !triple {
                return i + 1;
            }
            if bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote) {
                return i + 3;
            }
        } else if b == b'\n' && !triple && braces == 0 {
            return i; // unterminated: stop at the line end
        }
        i += 1;
    }
    bytes.len()
}

fn number_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let hex_like = bytes.len() > 1 && bytes[0] == b'0' && b"xXoObB".contains(&bytes[1]);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let exponent_sign = (b == b'+' || b == b'-')
            && i > 0
            && !hex_like
            && (bytes[i - 1] == b'e' || bytes[i - 1] == b'E');
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// Tokens of `source`, without comments, layout and docstrings.
pub fn tokens(source: &str) -> Vec<Token<'_>> {
    let mut out: Vec<Token<'_>> = Vec::new();
    let mut depth = 0usize;
    // Where the current logical line's tokens start, to drop string-only lines.
    let mut line_start = 0usize;
    let end_line = |out: &mut Vec<Token<'_>>, line_start: &mut usize| {
        if out.len() > *line_start && out[*line_start..].iter().all(|t| t.kind == Kind::String) {
            out.truncate(*line_start);
        }
        *line_start = out.len();
    };
    let mut i = 0;
    while i < source.len() {
        let rest = &source[i..];
        let c = rest.chars().next().expect("not at the end");
        match c {
            '\n' => {
                if depth == 0 {
                    end_line(&mut out, &mut line_start);
                }
                i += 1;
            }
            ';' if depth == 0 => {
                end_line(&mut out, &mut line_start);
                out.push(Token {
                    text: ";",
                    kind: Kind::Operator,
                });
                line_start = out.len();
                i += 1;
            }
            ' ' | '\t' | '\r' | '\x0c' => i += 1,
            '\\' if rest[1..].starts_with('\n') || rest[1..].starts_with("\r\n") => {
                i += if rest[1..].starts_with('\n') { 2 } else { 3 };
            }
            '#' => i += rest.find('\n').unwrap_or(rest.len()),
            _ => {
                let (len, kind) = if let Some(prefix) = string_prefix_len(rest) {
                    (string_len(rest, prefix), Kind::String)
                } else if c.is_ascii_digit()
                    || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit()))
                {
                    (number_len(rest), Kind::Number)
                } else if is_name_start(c) {
                    (name_len(rest), Kind::Name)
                } else if let Some(len) = operator_len(rest) {
                    (len, Kind::Operator)
                } else {
                    match c {
                        '(' | '[' | '{' => depth += 1,
                        ')' | ']' | '}' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    (c.len_utf8(), Kind::Operator)
                };
                out.push(Token {
                    text: &rest[..len],
                    kind,
                });
                i += len.max(1);
            }
        }
    }
    end_line(&mut out, &mut line_start);
    out
}

const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// What shingles see of a normalised token: every placeholder is the same `$`, because
/// placeholders numbered by first appearance all change when two statements swap.
pub fn shingle_text(token: &str) -> &str {
    if super::tokens::is_placeholder(token) {
        "$"
    } else {
        token
    }
}

/// Token texts for comparison; in structural mode names other than keywords, builtins and
/// attribute names become `$0`, `$1`, … by first appearance (as in `tokens.rs`).
pub fn normalized(source: &str, structural: bool) -> Vec<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let tokens = tokens(source);
    if !structural {
        return tokens.iter().map(|t| Cow::Borrowed(t.text)).collect();
    }
    let builtins = super::tokens::builtins();
    let mut names: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
    let mut out = Vec::with_capacity(tokens.len());
    for (k, token) in tokens.iter().enumerate() {
        let attribute = k > 0 && tokens[k - 1].text == ".";
        let keep = token.kind != Kind::Name
            || attribute
            || KEYWORDS.contains(&token.text)
            || token.text == "__future__"
            || builtins.contains(token.text);
        if keep {
            out.push(Cow::Borrowed(token.text));
        } else {
            let next = names.len();
            out.push(Cow::Owned(format!(
                "${}",
                names.entry(token.text).or_insert(next)
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<&str> {
        tokens(source).iter().map(|t| t.text).collect()
    }

    #[test]
    fn tokens_of_a_function() {
        let source = "def f(x, *, y=1e-3):\n    \"\"\"Doc.\"\"\"\n    # note\n    return x ** 2 // y if x != 0x1F else f'{x!r:>{y}}' \\\n        + 'a'\n";
        assert_eq!(
            texts(source),
            [
                "def",
                "f",
                "(",
                "x",
                ",",
                "*",
                ",",
                "y",
                "=",
                "1e-3",
                ")",
                ":",
                "return",
                "x",
                "**",
                "2",
                "//",
                "y",
                "if",
                "x",
                "!=",
                "0x1F",
                "else",
                "f'{x!r:>{y}}'",
                "+",
                "'a'"
            ]
        );
    }

    #[test]
    fn string_statements_are_dropped_but_string_values_kept() {
        assert_eq!(
            texts("x = ('a'\n     'b')\n'doc' 'more'\ny = \"\"\"s\"\"\"\n"),
            ["x", "=", "(", "'a'", "'b'", ")", "y", "=", "\"\"\"s\"\"\""]
        );
    }

    #[test]
    fn nested_quotes_in_f_strings() {
        assert_eq!(texts("f\"{d[\"k\"]}\" + 1"), ["f\"{d[\"k\"]}\"", "+", "1"]);
    }
}
