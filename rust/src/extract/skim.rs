//! Class bodies, blanked before parsing: extraction never looks inside a top-level
//! class (methods are not candidates, class-level names are not module names), and
//! class bodies are half the bytes of typical code.
//!
//! A small lexer finds where top-level statements start; each top-level class body is
//! overwritten with spaces (newlines kept, so every position outside it is unchanged)
//! except a `0` where its first statement began. A body is only blanked when no line in
//! it starts at column 0 with code, so a lexer mistake can only make a body end early,
//! which leaves indented code behind: a parse error, on which the caller parses the
//! original text instead.

/// A text with class bodies blanked, and the byte ranges of blank the parser may skip
/// outright (everything after each body's `0` up to the body's last newline).
pub struct Skimmed {
    pub text: String,
    pub skippable: Vec<(usize, usize)>,
}

/// The text with top-level class bodies blanked, or `None` when there is no body to blank.
pub fn blank_class_bodies(text: &str) -> Option<Skimmed> {
    let bytes = text.as_bytes();
    let starts = top_level_statements(bytes);
    let mut out: Option<Vec<u8>> = None;
    let mut skippable = Vec::new();
    for (index, statement) in starts.iter().enumerate() {
        if !is_class_header(&bytes[statement.start..]) {
            continue;
        }
        let Some(body_start) = statement.body_start else {
            continue;
        };
        let body_end = starts.get(index + 1).map_or(bytes.len(), |next| next.start);
        if body_start >= body_end || !body_is_indented(&bytes[body_start..body_end]) {
            continue;
        }
        let Some(first) = first_statement(&bytes[body_start..body_end]) else {
            continue;
        };
        let buffer = out.get_or_insert_with(|| bytes.to_vec());
        for byte in &mut buffer[body_start..body_end] {
            if *byte != b'\n' && *byte != b'\r' {
                *byte = b' ';
            }
        }
        let zero = body_start + first;
        buffer[zero] = b'0';
        // Keep the body's final line break (`\r\n`, `\n` or `\r`) for the parser to see.
        let mut last_break = body_end;
        while last_break > zero + 1 && !matches!(bytes[last_break - 1], b'\n' | b'\r') {
            last_break -= 1;
        }
        let mut keep_from = last_break.saturating_sub(1);
        if keep_from > 0 && bytes[keep_from] == b'\n' && bytes[keep_from - 1] == b'\r' {
            keep_from -= 1;
        }
        if keep_from > zero + 1 {
            skippable.push((zero + 1, keep_from));
        }
    }
    // Whole lines were overwritten with ASCII, so the text is still UTF-8.
    let text = String::from_utf8(out?).ok()?;
    Some(Skimmed { text, skippable })
}

/// The parser's included ranges: all of `text` but the skippable ranges (sorted, disjoint).
pub fn included_ranges(text: &str, skippable: &[(usize, usize)]) -> Vec<tree_sitter::Range> {
    let bytes = text.as_bytes();
    let mut ranges = Vec::with_capacity(skippable.len() + 1);
    let mut row = 0;
    let mut line_start = 0;
    let mut scanned = 0;
    let mut point_at = |offset: usize| {
        for newline in memchr::memchr_iter(b'\n', &bytes[scanned..offset]) {
            row += 1;
            line_start = scanned + newline + 1;
        }
        scanned = offset;
        tree_sitter::Point::new(row, offset - line_start)
    };
    let mut from = 0;
    for &(skip_start, skip_end) in skippable {
        let (start_point, end_point) = (point_at(from), point_at(skip_start));
        ranges.push(tree_sitter::Range {
            start_byte: from,
            end_byte: skip_start,
            start_point,
            end_point,
        });
        from = skip_end;
    }
    let (start_point, end_point) = (point_at(from), point_at(bytes.len()));
    ranges.push(tree_sitter::Range {
        start_byte: from,
        end_byte: bytes.len(),
        start_point,
        end_point,
    });
    ranges
}

fn is_class_header(line: &[u8]) -> bool {
    line.starts_with(b"class") && matches!(line.get(5), Some(b' ' | b'\t' | b'(' | b':' | b'\\'))
}

/// Every line of a body is blank, a comment, or indented.
fn body_is_indented(body: &[u8]) -> bool {
    body.split(|&b| b == b'\n' || b == b'\r')
        .all(|line| matches!(line.first(), None | Some(b' ' | b'\t' | b'\x0c' | b'#')))
}

/// Offset of the first byte of the first line that holds code (not blank, not a comment).
fn first_statement(body: &[u8]) -> Option<usize> {
    let mut offset = 0;
    for line in body.split(|&b| b == b'\n') {
        let indent = line
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\x0c' | b'\r'))
            .count();
        if indent < line.len() && line[indent] != b'#' {
            return Some(offset + indent);
        }
        offset += line.len() + 1;
    }
    None
}

/// A top-level statement: where it starts, and where its body starts when its first
/// logical line ends with `:` (the next line), else `None`.
struct Statement {
    start: usize,
    body_start: Option<usize>,
}

/// Lex just enough (strings, comments, brackets, continuations) to find the logical
/// lines that start at column 0.
fn top_level_statements(bytes: &[u8]) -> Vec<Statement> {
    let mut out: Vec<Statement> = Vec::new();
    let mut depth = 0usize;
    let mut at = 0;
    let mut line_start = true;
    let mut last_significant: Option<u8> = None;
    let n = bytes.len();
    while at < n {
        let byte = bytes[at];
        if line_start {
            line_start = false;
            if depth == 0 && !matches!(byte, b' ' | b'\t' | b'\x0c' | b'\n' | b'\r' | b'#') {
                out.push(Statement {
                    start: at,
                    body_start: None,
                });
            }
        }
        match byte {
            b'#' => {
                while at < n && bytes[at] != b'\n' && bytes[at] != b'\r' {
                    at += 1;
                }
                continue;
            }
            b'\n' | b'\r' => {
                if byte == b'\r' && bytes.get(at + 1) == Some(&b'\n') {
                    at += 1;
                }
                at += 1;
                if depth == 0 {
                    if last_significant == Some(b':')
                        && let Some(statement) = out.last_mut()
                        && statement.body_start.is_none()
                    {
                        statement.body_start = Some(at);
                    }
                    line_start = true;
                    last_significant = None;
                }
                continue;
            }
            b'\\' => {
                // A continuation: the next physical line continues this logical one.
                at += 1;
                if bytes.get(at) == Some(&b'\r') {
                    at += 1;
                }
                if bytes.get(at) == Some(&b'\n') {
                    at += 1;
                }
                continue;
            }
            b'\'' | b'"' => {
                at = skip_string(bytes, at);
                last_significant = Some(b'"');
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if !matches!(byte, b' ' | b'\t' | b'\x0c') {
            last_significant = Some(byte);
        }
        at += 1;
    }
    out
}

/// Past the string literal whose opening quote is at `at` (prefixes need no care: a
/// backslash escapes the next byte in raw strings too, as far as ending goes).
fn skip_string(bytes: &[u8], at: usize) -> usize {
    let quote = bytes[at];
    let triple = bytes.get(at + 1) == Some(&quote) && bytes.get(at + 2) == Some(&quote);
    let n = bytes.len();
    let mut i = at + if triple { 3 } else { 1 };
    if !triple && bytes.get(at + 1) == Some(&quote) {
        return at + 2; // the empty string
    }
    while i < n {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' | b'\r' if !triple => return i, // unterminated: resynchronise at the line end
            b if b == quote => {
                if !triple {
                    return i + 1;
                }
                if bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote) {
                    return i + 3;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_class_bodies_and_keeps_positions() {
        let text = "import m\nclass C(B):  # note\n    x = '''\n    ) ( \"\n    '''\n    def f(self):\n        return 1\n\n# c\ndef g(a):\n    return a\n";
        let blanked = blank_class_bodies(text).unwrap().text;
        assert_eq!(blanked.len(), text.len());
        assert_eq!(blanked.matches('\n').count(), text.matches('\n').count());
        assert!(blanked.contains("class C(B):  # note\n    0"));
        assert!(!blanked.contains("def f"));
        assert!(blanked.ends_with("def g(a):\n    return a\n"));
    }

    #[test]
    fn leaves_one_line_classes_and_column_zero_strings_alone() {
        assert!(blank_class_bodies("class C: pass\ndef f(a): return a\n").is_none());
        // A string in the body with a line at column 0: not blanked, parsed as it is.
        let text = "class C:\n    s = '''\ndef fake(x): return x\n'''\ndef g(a):\n    return a\n";
        let blanked = blank_class_bodies(text).map(|s| s.text);
        assert!(blanked.as_deref().is_none_or(|b| b.contains("def fake")));
    }

    #[test]
    fn brackets_and_continuations_do_not_start_statements() {
        let text = "class C(\nBase):\n    x = 1\nX = (\n1)\nY = 1 + \\\n2\n";
        let starts: Vec<usize> = top_level_statements(text.as_bytes())
            .iter()
            .map(|s| s.start)
            .collect();
        assert_eq!(starts.len(), 3);
    }
}
