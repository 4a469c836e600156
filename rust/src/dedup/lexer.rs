//! A Python lexer for dedup: the same tokens tree-sitter's leaves give (`tokens.rs`, the
//! oracle it is tested against), at lexer speed. Parsing every function with tree-sitter took
//! ~200 µs per function, more than everything else in dedup together.
//!
//! Comments, layout, docstrings (logical lines that are only string literals) and no-op
//! statements (`pass`, `...`) are dropped;
//! a string literal, f-strings included, is one token. [`canonical_string`] is what code-level
//! dedup hashes of a string literal: its value, whatever the quoting it was written with. The
//! raw-text view ([`tokens_into`] with `raw_text`) keeps comments (one token each) and
//! docstrings, and string literals as written.

use std::sync::OnceLock;

use rustc_hash::{FxHashMap, FxHashSet};

/// One token: its text, what it is, and whether it starts a logical line (or follows `;`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub kind: Kind,
    pub starts_line: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Name,
    String,
    Number,
    Operator,
    /// Only in the raw-text view: a comment, `#` to the line end.
    Comment,
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

/// ASCII bytes that continue a name: letters, digits, `_`.
static NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = (b as u8).is_ascii_alphanumeric() || b == b'_' as usize;
        b += 1;
    }
    table
};

/// Length of the name at the start of `rest`: bytes while ASCII, chars once not.
fn name_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let ascii = bytes
        .iter()
        .position(|&b| !NAME_BYTES[b as usize])
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

fn is_string_prefix(b: u8) -> bool {
    matches!(b | 0x20, b'r' | b'b' | b'u' | b'f' | b't')
}

/// String prefix letters (r, b, u, f, t in any case, at most two) before a quote.
fn string_prefix_len(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    let mut n = 0;
    while n < 2 && n < bytes.len() && is_string_prefix(bytes[n]) {
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

/// Length and kind of the token at the start of `rest` (not whitespace, a comment or a line
/// end); tracks bracket `depth`, inside which line ends do not end the logical line.
fn token_at(rest: &str, depth: &mut usize) -> (usize, Kind) {
    let bytes = rest.as_bytes();
    let first = bytes[0];
    // The common cases first: a name (unless a string prefix), a string, a number.
    if NAME_BYTES[first as usize] && !first.is_ascii_digit() {
        return match string_prefix_len(rest) {
            Some(prefix) => (string_len(rest, prefix), Kind::String),
            None => (name_len(rest), Kind::Name),
        };
    }
    if first == b'\'' || first == b'"' {
        return (string_len(rest, 0), Kind::String);
    }
    if first.is_ascii_digit() || (first == b'.' && bytes.get(1).is_some_and(u8::is_ascii_digit)) {
        return (number_len(rest), Kind::Number);
    }
    let c = if first.is_ascii() {
        first as char
    } else {
        rest.chars().next().expect("not at the end")
    };
    if !first.is_ascii() && is_name_start(c) {
        return (name_len(rest), Kind::Name);
    }
    if let Some(len) = operator_len(rest) {
        return (len, Kind::Operator);
    }
    match first {
        b'(' | b'[' | b'{' => *depth += 1,
        b')' | b']' | b'}' => *depth = depth.saturating_sub(1),
        _ => {}
    }
    (c.len_utf8(), Kind::Operator)
}

/// Keywords that open a block: a line starting with one ends its header with `:`.
const BLOCK_KEYWORDS: [&str; 14] = [
    "def", "class", "if", "elif", "else", "for", "while", "with", "try", "except", "finally",
    "async", "match", "case",
];

/// Ends a logical line: drops it if it is only string literals (a docstring or a no-op),
/// unless `raw_text` keeps them.
/// A no-op statement (`pass`, `...`) is dropped too: alone on its line, after a `;`, or after
/// the `:` of a block's header. After another `:` it is a value, as tree-sitter reads it: the
/// annotation of `C: ...` in a class body, a lambda's body.
fn end_line(out: &mut Vec<Token<'_>>, line_start: &mut usize, raw_text: bool) {
    let only_strings = || out[*line_start..].iter().all(|t| t.kind == Kind::String);
    if !raw_text && out.len() > *line_start && only_strings() {
        out.truncate(*line_start);
    }
    let no_op = |t: &Token<'_>| t.text == "pass" || t.text == "...";
    let opens_block = BLOCK_KEYWORDS.contains(&out.get(*line_start).map_or("", |t| t.text));
    while !raw_text && out.len() > *line_start && out.last().is_some_and(no_op) {
        let k = out.len() - 1;
        if k == *line_start || out[k - 1].text == ";" || (out[k - 1].text == ":" && opens_block) {
            out.truncate(k);
        } else {
            break;
        }
    }
    *line_start = out.len();
}

/// Tokens of `source`, without comments, layout and docstrings.
pub fn tokens(source: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    tokens_into(source, &mut out, false);
    out
}

/// [`tokens`] into a reused buffer; with `raw_text`, comments (as [`Kind::Comment`] tokens)
/// and string-only lines are kept.
pub fn tokens_into<'a>(source: &'a str, out: &mut Vec<Token<'a>>, raw_text: bool) {
    out.clear();
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    // Where the current logical line's tokens start, to drop string-only lines.
    let mut line_start = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                if depth == 0 {
                    end_line(out, &mut line_start, raw_text);
                }
                i += 1;
            }
            b';' if depth == 0 => {
                end_line(out, &mut line_start, raw_text);
                out.push(Token {
                    text: ";",
                    kind: Kind::Operator,
                    starts_line: out.len() == line_start,
                });
                line_start = out.len();
                i += 1;
            }
            // Indentation: runs of spaces.
            b' ' => {
                i += bytes[i..]
                    .iter()
                    .position(|&b| b != b' ')
                    .unwrap_or(bytes.len() - i)
            }
            b'\t' | b'\r' | b'\x0c' => i += 1,
            b'\\' if bytes[i + 1..].starts_with(b"\n") => i += 2,
            b'\\' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
            b'#' => {
                let len = memchr::memchr(b'\n', &bytes[i..]).unwrap_or(bytes.len() - i);
                if raw_text {
                    out.push(Token {
                        text: source[i..i + len].trim_end(),
                        kind: Kind::Comment,
                        starts_line: false,
                    });
                }
                i += len;
            }
            _ => {
                let (len, kind) = token_at(&source[i..], &mut depth);
                out.push(Token {
                    text: &source[i..i + len],
                    kind,
                    starts_line: out.len() == line_start,
                });
                i += len.max(1);
            }
        }
    }
    end_line(out, &mut line_start, raw_text);
}

/// Names never renamed: keywords and builtins.
fn kept_names() -> &'static FxHashSet<&'static str> {
    static SET: OnceLock<FxHashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        let keywords = [
            "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
            "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
            "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise",
            "return", "try", "while", "with", "yield",
        ];
        let builtins = super::tokens::builtins().iter().copied();
        keywords.into_iter().chain(builtins).collect()
    })
}

/// A normalised token: a token's own text, a string literal (as written; code-level dedup
/// hashes its [`canonical_string`]), or the placeholder of the n-th distinct renamed name
/// (`$n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normal<'a> {
    Text(&'a str),
    Literal(&'a str),
    Placeholder(usize),
}

/// Normalises token sequences, one function after another, reusing its name table.
#[derive(Default)]
pub struct Normalizer<'a> {
    names: FxHashMap<&'a str, usize>,
    /// Tokens before this index are in a case pattern.
    pattern_end: usize,
}

impl<'a> Normalizer<'a> {
    /// Calls `emit` with each normalised token of `tokens`. In structural mode names become
    /// placeholders by first appearance, except keywords (soft ones too), builtins, attribute
    /// names (after a dot), module paths of `from … import` (see `tokens.rs` for why) and the
    /// wildcard `_` of a case pattern. `from ... import` is three dots, as tree-sitter splits
    /// it, not an ellipsis.
    pub fn run(
        &mut self,
        tokens: &[Token<'a>],
        structural: bool,
        mut emit: impl FnMut(Normal<'a>),
    ) {
        self.names.clear();
        self.pattern_end = 0;
        let mut module_path = false;
        let mut prev = "";
        for (k, token) in tokens.iter().enumerate() {
            match token.text {
                // `from` starts a statement only here; elsewhere it is `raise … from` or
                // `yield from`.
                "from" if token.starts_line || prev == ":" || prev == ";" => module_path = true,
                "import" => module_path = false,
                "..." if module_path => {
                    (0..3).for_each(|_| emit(Normal::Text(".")));
                    prev = ".";
                    continue;
                }
                _ => {}
            }
            let renamed = structural
                && token.kind == Kind::Name
                && !module_path
                && prev != "."
                && !kept_names().contains(token.text)
                && self.is_variable(tokens, k);
            if renamed {
                let next = self.names.len();
                emit(Normal::Placeholder(
                    *self.names.entry(token.text).or_insert(next),
                ));
            } else if token.kind == Kind::String {
                emit(Normal::Literal(token.text));
            } else {
                emit(Normal::Text(token.text));
            }
            prev = token.text;
        }
    }

    /// Whether the name `tokens[k]` is a variable, not a soft keyword or a case pattern's
    /// wildcard.
    fn is_variable(&mut self, tokens: &[Token<'a>], k: usize) -> bool {
        match tokens[k].text {
            "match" | "case" => match soft_keyword_colon(tokens, k) {
                Some(colon) => {
                    self.pattern_end = colon;
                    false
                }
                None => true,
            },
            "_" => k >= self.pattern_end,
            _ => true,
        }
    }
}

/// When `tokens[k]`, `match` or `case`, is a soft keyword (of a match statement), not a name:
/// the index of the `:` ending its subject or pattern. It starts a logical line whose first
/// top-level `:` comes before any `=`, with something in between.
fn soft_keyword_colon(tokens: &[Token<'_>], k: usize) -> Option<usize> {
    if !tokens[k].starts_line {
        return None;
    }
    if tokens
        .get(k + 1)
        .is_none_or(|next| matches!(next.text, ":" | "." | "," | "="))
    {
        return None;
    }
    let mut depth = 0usize;
    for (j, token) in tokens.iter().enumerate().skip(k + 1) {
        match token.text {
            _ if token.starts_line => return None,
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth = depth.saturating_sub(1),
            ":" if depth == 0 => return Some(j),
            "==" | "!=" | "<=" | ">=" => {}
            text if depth == 0 && text.ends_with('=') => return None,
            _ => {}
        }
    }
    None
}

/// What shingles see of a normalised token: every placeholder is the same `$`, because
/// placeholders numbered by first appearance all change when two statements swap.
/// String literals as written: the caller canonicalises them (or not, in the raw-text view).
pub fn shingle_text<'a>(token: &Normal<'a>) -> &'a str {
    match *token {
        Normal::Text(text) | Normal::Literal(text) => text,
        Normal::Placeholder(_) => "$",
    }
}

/// Whether a token is a string literal: a quote, or string prefix letters and a quote.
pub fn is_string_literal(text: &str) -> bool {
    text.starts_with(['\'', '"']) || string_prefix_len(text).is_some()
}

/// A string literal as code-level dedup sees it, into `out`: `b` for bytes, `f` for a
/// formatted (f- or t-) string, then its body in double quotes with escapes resolved (a raw
/// string's body is its value already). So `'a'`, `"a"`, `'''a'''`, `u'a'`, `r'a'` and
/// `"\x61"` are all `"a"`, and `'it\'s'` is `"it's"`; the prefix letters' case and order do
/// not count. Replacement fields of f-strings are kept as written.
pub fn canonical_string(text: &str, out: &mut String) {
    out.clear();
    let Some(prefix) = string_prefix_len(text) else {
        out.push_str(text);
        return;
    };
    let bytes = text.as_bytes();
    let flags = &bytes[..prefix];
    let has = |letters: &[u8]| flags.iter().any(|b| letters.contains(b));
    let quote = bytes[prefix];
    let triple =
        bytes.len() >= prefix + 6 && bytes[prefix + 1] == quote && bytes[prefix + 2] == quote;
    let width = if triple { 3 } else { 1 };
    let open = prefix + width;
    let closed =
        bytes.len() >= open + width && bytes[bytes.len() - width..].iter().all(|&b| b == quote);
    let body = &text[open..if closed {
        bytes.len() - width
    } else {
        bytes.len()
    }];
    if has(b"bB") {
        out.push('b');
    }
    if has(b"fFtT") {
        out.push('f');
    }
    out.push('"');
    if has(b"rR") {
        out.push_str(body);
    } else {
        unescape(body, out);
    }
    out.push('"');
}

/// A string body's escapes resolved (`\n`, `\'`, `\x41`, `\101`, `\u0041`, a backslash
/// before a line end); an unknown escape and `\N{...}` stay as written.
fn unescape(body: &str, out: &mut String) {
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&next) = chars.peek() else {
            out.push(c);
            break;
        };
        let simple = match next {
            '\n' => Some(None),
            '\\' | '\'' | '"' => Some(Some(next)),
            'n' => Some(Some('\n')),
            't' => Some(Some('\t')),
            'r' => Some(Some('\r')),
            'a' => Some(Some('\x07')),
            'b' => Some(Some('\x08')),
            'f' => Some(Some('\x0c')),
            'v' => Some(Some('\x0b')),
            _ => None,
        };
        if let Some(resolved) = simple {
            chars.next();
            out.extend(resolved);
            continue;
        }
        let (digits, radix) = match next {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (3, 8),
            _ => (0, 0),
        };
        if digits == 0 {
            out.push(c);
            continue;
        }
        let mut lookahead = chars.clone();
        if radix == 16 {
            lookahead.next();
        }
        let mut code = 0u32;
        let mut taken = 0;
        while taken < digits {
            match lookahead.peek().and_then(|d| d.to_digit(radix)) {
                Some(d) => {
                    code = code * radix + d;
                    lookahead.next();
                    taken += 1;
                }
                None => break,
            }
        }
        // Octal takes 1-3 digits; the others exactly their count.
        let whole = if radix == 8 {
            taken > 0
        } else {
            taken == digits
        };
        match char::from_u32(code).filter(|_| whole) {
            Some(resolved) => {
                out.push(resolved);
                chars = lookahead;
            }
            None => out.push(c),
        }
    }
}

/// Token texts for comparison, placeholders written `$0`, `$1`, … (as in `tokens.rs`).
pub fn normalized(source: &str, structural: bool) -> Vec<Normal<'_>> {
    let mut out = Vec::new();
    Normalizer::default().run(&tokens(source), structural, |t| out.push(t));
    out
}

impl std::fmt::Display for Normal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Normal::Text(text) | Normal::Literal(text) => f.write_str(text),
            Normal::Placeholder(n) => write!(f, "${n}"),
        }
    }
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

    fn canonical(text: &str) -> String {
        let mut out = String::new();
        canonical_string(text, &mut out);
        out
    }

    #[test]
    fn a_string_is_its_value_whatever_its_quoting() {
        for same in [
            r#"'a'"#,
            r#""a""#,
            r#"'''a'''"#,
            r#""""a""""#,
            r#"u'a'"#,
            r#"R"a""#,
            r#""\x61""#,
            r#""\141""#,
            r#""\u0061""#,
        ] {
            assert_eq!(canonical(same), r#""a""#, "{same}");
        }
        assert_eq!(canonical(r#"'it\'s'"#), canonical(r#""it's""#));
        assert_eq!(canonical("'a\\\nb'"), canonical("'ab'"));
        assert_eq!(canonical(r#"'\n'"#), "\"\n\"");
        // Kinds and raw backslashes still count.
        assert_eq!(canonical(r#"b'a'"#), r#"b"a""#);
        assert_eq!(canonical(r#"Rb'a'"#), canonical(r#"b"a""#));
        assert_eq!(canonical(r#"F'{x}'"#), r#"f"{x}""#);
        assert_ne!(canonical(r#"r'\n'"#), canonical(r#"'\n'"#));
        assert_eq!(canonical(r#"r'\d'"#), canonical(r#"'\d'"#));
        assert_eq!(canonical(r#"'\N{DASH}'"#), r#""\N{DASH}""#);
        // Unterminated: the rest of the line.
        assert_eq!(canonical("'ab"), r#""ab""#);
        assert!(is_string_literal("rb'x'") && is_string_literal("'x'") && !is_string_literal("rb"));
    }

    #[test]
    fn the_raw_text_view_keeps_comments_and_docstrings() {
        let source = "def f():\n    \"\"\"Doc.\"\"\"\n    # note\n    return 1  # one\n";
        let mut raw = Vec::new();
        tokens_into(source, &mut raw, true);
        let texts: Vec<&str> = raw.iter().map(|t| t.text).collect();
        assert_eq!(
            texts,
            [
                "def",
                "f",
                "(",
                ")",
                ":",
                "\"\"\"Doc.\"\"\"",
                "# note",
                "return",
                "1",
                "# one"
            ]
        );
        assert!(
            raw[7].starts_line,
            "a comment line leaves the next line's start"
        );
    }

    #[test]
    fn an_ellipsis_after_a_colon_that_opens_no_block_is_a_value() {
        // An annotation `C: ...` and a lambda's body are values to tree-sitter, not no-ops;
        // after a block's header (`def`, `class`, `else`, ...) `...` is the whole body.
        let source = "class M:\n    C: ...\n    def f(self): ...\n    g = lambda: ...\n    if x: ...\n    else: ...\n";
        assert_eq!(
            texts(source),
            [
                "class", "M", ":", "C", ":", "...", "def", "f", "(", "self", ")", ":", "g", "=",
                "lambda", ":", "...", "if", "x", ":", "else", ":"
            ]
        );
        checked(source, false);
    }

    #[test]
    fn no_op_statements_are_dropped() {
        let source = "def f(x):\n    pass\n    if x: pass\n    y = x; ...\n    return x[...]\n";
        assert_eq!(
            texts(source),
            [
                "def", "f", "(", "x", ")", ":", "if", "x", ":", "y", "=", "x", ";", "return", "x",
                "[", "...", "]"
            ]
        );
        checked(source, false);
    }

    #[test]
    fn nested_quotes_in_f_strings() {
        assert_eq!(texts("f\"{d[\"k\"]}\" + 1"), ["f\"{d[\"k\"]}\"", "+", "1"]);
    }

    /// The normalized tokens of `source`, checked against tree-sitter's.
    fn checked(source: &str, structural: bool) -> Vec<String> {
        let lexed: Vec<String> = normalized(source, structural)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            Some(&lexed),
            crate::dedup::tokens::token_texts(source, structural).as_ref(),
            "the lexer agrees with tree-sitter"
        );
        lexed
    }

    /// The structural tokens of `source`, checked against tree-sitter's.
    fn structural(source: &str) -> String {
        checked(source, true).join(" ")
    }

    #[test]
    fn module_paths_of_from_imports_are_kept() {
        let source = "from .pkg.sub import name as alias\nfrom ... import up; import os.path\nif x: from m import n\nraise Oops from cause\nyield from gen\nfrom __future__ import annotations\n";
        assert_eq!(
            structural(source),
            "from . pkg . sub import $0 as $1 from . . . import $2 ; import $3 . path \
             if $4 : from m import $5 raise $6 from $7 yield from $8 \
             from __future__ import $9"
        );
    }

    #[test]
    fn soft_keywords_and_case_wildcards_are_kept_only_in_match_statements() {
        let source = "match = re.match(p, s)\nmatch match:\n    case (_, 1) | [_]:\n        pass\n    case _:\n        case = _\n";
        assert_eq!(
            structural(source),
            "$0 = $1 . match ( $2 , $3 ) match $0 : case ( _ , 1 ) | [ _ ] : \
             case _ : $4 = $5"
        );
    }

    #[test]
    fn an_attribute_after_a_line_continuation_is_kept() {
        assert_eq!(structural("y = x. \\\n    attr\n"), "$0 = $1 . attr");
    }
}
