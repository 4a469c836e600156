//! A kept function's signature and docstring, for the record.

use tree_sitter::Node;

use super::kinds::grammar;
use super::names::text;
use super::report::{Param, ParamKind};

/// Parameters with their kinds, annotation and default text, and the return annotation.
pub fn signature(source: &str, def: Node<'_>) -> (Vec<Param>, Option<String>) {
    let g = grammar();
    let (k, f) = (&g.kinds, &g.fields);
    let returns = def
        .child_by_field_id(f.return_type)
        .map(|node| squash(text(source, node)));
    let Some(parameters) = def.child_by_field_id(f.parameters) else {
        return (Vec::new(), returns);
    };
    let mut params: Vec<Param> = Vec::new();
    let mut keyword_only = false;
    let mut cursor = parameters.walk();
    for node in parameters.named_children(&mut cursor) {
        let kind = node.kind_id();
        if kind == k.positional_separator {
            for param in &mut params {
                if param.kind == ParamKind::PositionalOrKeyword {
                    param.kind = ParamKind::PositionalOnly;
                }
            }
            continue;
        }
        if kind == k.keyword_separator {
            keyword_only = true;
            continue;
        }
        if kind == k.comment {
            continue;
        }
        let (target, annotation, default) = if kind == k.typed_parameter {
            (node.named_child(0), node.child_by_field_id(f.type_), None)
        } else if kind == k.default_parameter || kind == k.typed_default_parameter {
            (
                node.child_by_field_id(f.name),
                node.child_by_field_id(f.type_),
                node.child_by_field_id(f.value),
            )
        } else {
            (Some(node), None, None)
        };
        let Some(target) = target else { continue };
        let (name, kind) = if target.kind_id() == k.list_splat_pattern {
            keyword_only = true;
            (target.named_child(0), ParamKind::VarPositional)
        } else if target.kind_id() == k.dictionary_splat_pattern {
            (target.named_child(0), ParamKind::VarKeyword)
        } else if keyword_only {
            (Some(target), ParamKind::KeywordOnly)
        } else {
            (Some(target), ParamKind::PositionalOrKeyword)
        };
        params.push(Param {
            name: name.map(|n| text(source, n).to_owned()).unwrap_or_default(),
            kind,
            annotation: annotation.map(|n| squash(text(source, n))),
            default: default.map(|n| squash(text(source, n))),
        });
    }
    (params, returns)
}

/// `name(a, b: int = 1, *args, **kw) -> T`, on one line.
pub fn signature_text(name: &str, params: &[Param], returns: Option<&str>) -> String {
    let mut parts = Vec::with_capacity(params.len() + 2);
    let mut slash_written = false;
    let mut star_written = false;
    let has_positional_only = params.iter().any(|p| p.kind == ParamKind::PositionalOnly);
    for param in params {
        if has_positional_only && !slash_written && param.kind != ParamKind::PositionalOnly {
            parts.push("/".to_owned());
            slash_written = true;
        }
        if param.kind == ParamKind::KeywordOnly && !star_written {
            parts.push("*".to_owned());
            star_written = true;
        }
        let mut part = match param.kind {
            ParamKind::VarPositional => {
                star_written = true;
                format!("*{}", param.name)
            }
            ParamKind::VarKeyword => format!("**{}", param.name),
            _ => param.name.clone(),
        };
        match (&param.annotation, &param.default) {
            (Some(annotation), Some(default)) => {
                part.push_str(&format!(": {annotation} = {default}"))
            }
            (Some(annotation), None) => part.push_str(&format!(": {annotation}")),
            (None, Some(default)) => part.push_str(&format!("={default}")),
            (None, None) => {}
        }
        parts.push(part);
    }
    if has_positional_only && !slash_written {
        parts.push("/".to_owned());
    }
    let mut out = format!("{name}({})", parts.join(", "));
    if let Some(returns) = returns {
        out.push_str(" -> ");
        out.push_str(returns);
    }
    out
}

/// Collapse runs of whitespace (a multi-line default) to one space.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The docstring, as `ast.get_docstring(node, clean=True)` gives it.
pub fn docstring(source: &str, def: Node<'_>) -> Option<String> {
    let g = grammar();
    let (k, f) = (&g.kinds, &g.fields);
    let body = def.child_by_field_id(f.body)?;
    let mut cursor = body.walk();
    let first = body
        .named_children(&mut cursor)
        .find(|node| node.kind_id() != k.comment)?;
    if first.kind_id() != k.expression_statement || first.named_child_count() != 1 {
        return None;
    }
    let literal = first.named_child(0)?;
    let mut parts = Vec::new();
    if literal.kind_id() == k.string {
        parts.push(literal);
    } else if literal.kind_id() == k.concatenated_string {
        let mut cursor = literal.walk();
        parts.extend(
            literal
                .named_children(&mut cursor)
                .filter(|node| node.kind_id() != k.comment),
        );
    } else {
        return None;
    }
    let mut value = String::new();
    for part in parts {
        value.push_str(&string_value(text(source, part))?);
    }
    Some(cleandoc(&value))
}

/// The value of a plain (not bytes, not f-) string literal.
fn string_value(literal: &str) -> Option<String> {
    let quote_at = literal.find(['\'', '"'])?;
    let prefix = literal[..quote_at].to_ascii_lowercase();
    if prefix.contains('b') || prefix.contains('f') || prefix.contains('t') {
        return None;
    }
    let rest = &literal[quote_at..];
    let quote_len = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
        3
    } else {
        1
    };
    if rest.len() < 2 * quote_len {
        return None;
    }
    let body = &rest[quote_len..rest.len() - quote_len];
    let body = body.replace("\r\n", "\n").replace('\r', "\n");
    if prefix.contains('r') {
        return Some(body);
    }
    Some(unescape(&body))
}

fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(next) = chars.next() else {
            out.push('\\');
            break;
        };
        match next {
            '\n' => {}
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '0'..='7' => {
                let mut value = next.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(digit) => {
                            value = value * 8 + digit;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
            }
            'x' | 'u' | 'U' => {
                let width = match next {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let digits: String = (0..width)
                    .filter_map(|_| chars.next_if(char::is_ascii_hexdigit))
                    .collect();
                match u32::from_str_radix(&digits, 16)
                    .ok()
                    .and_then(char::from_u32)
                {
                    Some(ch) if digits.len() == width => out.push(ch),
                    _ => {
                        out.push('\\');
                        out.push(next);
                        out.push_str(&digits);
                    }
                }
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

/// `inspect.cleandoc`: tabs expanded, common indentation of all but the first line
/// removed, leading and trailing blank lines dropped.
pub fn cleandoc(doc: &str) -> String {
    let expanded = expand_tabs(doc);
    let lines: Vec<&str> = expanded.split('\n').collect();
    let margin = lines
        .iter()
        .skip(1)
        .filter_map(|line| {
            let content = line.trim_start_matches(' ');
            (!content.is_empty()).then(|| line.len() - content.len())
        })
        .min()
        .unwrap_or(0);
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    if let Some(first) = lines.first() {
        out.push(first.trim_start_matches(' ').to_owned());
    }
    for line in lines.iter().skip(1) {
        out.push(line.get(margin..).unwrap_or("").to_owned());
    }
    while out.last().is_some_and(|line| line.is_empty()) {
        out.pop();
    }
    let start = out
        .iter()
        .position(|line| !line.is_empty())
        .unwrap_or(out.len());
    out[start..].join("\n")
}

fn expand_tabs(text: &str) -> String {
    if !text.contains('\t') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut column = 0;
    for c in text.chars() {
        match c {
            '\t' => {
                let spaces = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\n' | '\r' => {
                out.push(c);
                column = 0;
            }
            _ => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleandoc_matches_inspect() {
        assert_eq!(
            cleandoc("  Summary.\n\n    Body\n      more\n    "),
            "Summary.\n\nBody\n  more"
        );
        assert_eq!(cleandoc("\n\n  x\n"), "x");
    }

    #[test]
    fn string_values() {
        assert_eq!(string_value(r#""a\tb""#).unwrap(), "a\tb");
        assert_eq!(string_value(r#"r"a\tb""#).unwrap(), "a\\tb");
        assert_eq!(string_value("'''x\\\ny'''").unwrap(), "xy");
        assert_eq!(string_value(r#""\x41\u00e9\101""#).unwrap(), "A\u{e9}A");
        assert!(string_value("b'x'").is_none());
        assert!(string_value("f'x'").is_none());
    }
}
