//! The standalone source of a kept function (`docs/extraction-rules.md` §5) and its id.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use tree_sitter::{Node, Point};

use super::kinds::grammar;
use super::module_scope::{ModuleName, ModuleScope};
use super::rules::Needs;

/// Where a definition's text ends: the end of its last token that is not a comment
/// or a `;` (tree-sitter may fold comments after a body into the body's block).
pub fn end_without_comments(node: Node<'_>) -> (usize, Point) {
    let comment = grammar().kinds.comment;
    let mut current = node;
    loop {
        let count = current.child_count();
        let last = (0..count)
            .rev()
            .filter_map(|i| current.child(i))
            .find(|child| child.kind_id() != comment && child.kind() != ";");
        match last {
            Some(child) => current = child,
            None => return (current.end_byte(), current.end_position()),
        }
    }
}

/// A definition's text from column 0 of its first line to the end of its last statement.
pub fn definition_text<'t>(source: &'t str, outer: Node<'_>) -> &'t str {
    let (end, _) = end_without_comments(outer);
    let start = source[..outer.start_byte()]
        .rfind('\n')
        .map_or(0, |newline| newline + 1);
    &source[start..end]
}

/// The module-level statements a candidate's standalone source is made of after its
/// imports, each list in file order.
pub struct Carried<'t> {
    pub constants: Vec<Node<'t>>,
    /// Helpers, then the candidate.
    pub definitions: Vec<Node<'t>>,
}

impl<'t> Carried<'t> {
    pub fn new(
        scope: &ModuleScope<'t>,
        candidate: Node<'t>,
        helpers: &[usize],
        needs: &[&Needs<'_>],
    ) -> Self {
        let mut constants: Vec<Node<'t>> = needs
            .iter()
            .flat_map(|need| need.constants.iter())
            .filter_map(|name| match scope.names.get(name) {
                Some(ModuleName::Constant(node)) => Some(*node),
                _ => None,
            })
            .collect();
        constants.sort_by_key(|node| node.start_byte());
        constants.dedup_by_key(|node| node.start_byte());
        let mut definitions: Vec<Node<'t>> =
            helpers.iter().map(|&i| scope.functions[i].0).collect();
        definitions.sort_by_key(|node| node.start_byte());
        definitions.push(candidate);
        Carried {
            constants,
            definitions,
        }
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node<'t>> {
        self.constants.iter().chain(&self.definitions)
    }
}

/// Everything one candidate carries: its imports, then what `Carried` lists.
pub fn standalone_source(
    source: &str,
    scope: &ModuleScope<'_>,
    carried: &Carried<'_>,
    needs: &[&Needs<'_>],
) -> String {
    let mut parts: Vec<String> = Vec::new();
    if needs.iter().any(|n| n.lazy_annotations) {
        parts.push("from __future__ import annotations".to_owned());
    }
    let mut import_lines: Vec<(usize, &str)> = Vec::new();
    for need in needs {
        for name in &need.imports {
            if let Some(ModuleName::Import { lines, .. }) = scope.names.get(name) {
                import_lines.extend(lines.iter().map(|(at, line)| (*at, line.as_str())));
            }
        }
    }
    import_lines.sort();
    let mut seen_lines = Vec::new();
    for (_, line) in import_lines {
        if !seen_lines.contains(&line) {
            seen_lines.push(line);
            parts.push(line.to_owned());
        }
    }
    for node in &carried.constants {
        parts.push(source[node.byte_range()].to_owned());
    }
    for node in &carried.definitions {
        parts.push(definition_text(source, *node).to_owned());
    }
    parts.join("\n")
}

/// The longest string, bytes or number literal under `nodes`, in bytes of source text (an
/// implicitly concatenated string counts as one). A statement that is only a string (a
/// docstring) does not count: it is prose, and the source cap bounds it.
pub fn longest_literal<'a, 't: 'a>(nodes: impl IntoIterator<Item = &'a Node<'t>>) -> usize {
    let k = &grammar().kinds;
    let is_literal = |kind: u16| {
        kind == k.string || kind == k.concatenated_string || kind == k.integer || kind == k.float
    };
    let mut longest = 0;
    for node in nodes {
        // Iterative walk: deeply nested expressions must not overflow the stack.
        let mut cursor = node.walk();
        'walk: loop {
            let current = cursor.node();
            if is_literal(current.kind_id()) {
                if !is_docstring(current) {
                    longest = longest.max(current.byte_range().len());
                }
            } else if cursor.goto_first_child() {
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    continue 'walk;
                }
                if !cursor.goto_parent() {
                    break 'walk;
                }
            }
        }
    }
    longest
}

fn is_docstring(literal: Node<'_>) -> bool {
    literal.parent().is_some_and(|parent| {
        parent.kind_id() == grammar().kinds.expression_statement && parent.named_child_count() == 1
    })
}

/// First 16 hex digits of SHA-256 over the normalised source: line endings unified,
/// trailing whitespace stripped, blank lines dropped.
pub fn function_id(standalone: &str) -> String {
    let mut hasher = Sha256::new();
    let mut first = true;
    for line in standalone.split(['\n', '\r']) {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if !first {
            hasher.update(b"\n");
        }
        hasher.update(line.as_bytes());
        first = false;
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(16);
    for byte in &digest[..8] {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_ignores_line_endings_trailing_space_and_blank_lines() {
        let a = function_id("def f(x):\n    return x\n");
        assert_eq!(a, function_id("def f(x):  \r\n\r\n    return x"));
        assert_ne!(a, function_id("def f(y):\n    return y\n"));
        assert_eq!(a.len(), 16);
    }
}
