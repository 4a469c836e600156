//! A Python lexer for dedup: the same tokens tree-sitter's leaves give (`tokens.rs`, the
//! oracle it is tested against), at lexer speed. Parsing every function with tree-sitter took
//! ~200 µs per function, more than everything else in dedup together.
//!
//! Comments, layout and docstrings (logical lines that are only string literals) are dropped;
//! a string literal, f-strings included, is one token.

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

/// Ends a logical line: drops it if it is only string literals (a docstring or a no-op).
fn end_line(out: &mut Vec<Token<'_>>, line_start: &mut usize) {
    if out.len() > *line_start && out[*line_start..].iter().all(|t| t.kind == Kind::String) {
        out.truncate(*line_start);
    }
    *line_start = out.len();
}

/// Tokens of `source`, without comments, layout and docstrings.
pub fn tokens(source: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    tokens_into(source, &mut out);
    out
}

/// [`tokens`] into a reused buffer.
pub fn tokens_into<'a>(source: &'a str, out: &mut Vec<Token<'a>>) {
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
                    end_line(out, &mut line_start);
                }
                i += 1;
            }
            b';' if depth == 0 => {
                end_line(out, &mut line_start);
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
            b'#' => i += memchr::memchr(b'\n', &bytes[i..]).unwrap_or(bytes.len() - i),
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
    end_line(out, &mut line_start);
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

/// A normalised token: a token's own text, or the placeholder of the n-th distinct renamed
/// name (`$n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normal<'a> {
    Text(&'a str),
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
pub fn shingle_text<'a>(token: &Normal<'a>) -> &'a str {
    match *token {
        Normal::Text(text) => text,
        Normal::Placeholder(_) => "$",
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
            Normal::Text(text) => f.write_str(text),
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

    #[test]
    fn nested_quotes_in_f_strings() {
        assert_eq!(texts("f\"{d[\"k\"]}\" + 1"), ["f\"{d[\"k\"]}\"", "+", "1"]);
    }

    /// The structural tokens of `source`, checked against tree-sitter's.
    fn structural(source: &str) -> String {
        let lexed: Vec<String> = normalized(source, true)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            Some(&lexed),
            crate::dedup::tokens::token_texts(source, true).as_ref()
        );
        lexed.join(" ")
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
            "$0 = $1 . match ( $2 , $3 ) match $0 : case ( _ , 1 ) | [ _ ] : pass \
             case _ : $4 = $5"
        );
    }

    #[test]
    fn an_attribute_after_a_line_continuation_is_kept() {
        assert_eq!(structural("y = x. \\\n    attr\n"), "$0 = $1 . attr");
    }
}
