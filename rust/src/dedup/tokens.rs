//! Code tokens from tree-sitter: the definition of what two functions are compared on, and the
//! oracle the fast lexer (`lexer.rs`, used for hashing) is tested against.
//!
//! Comments, docstrings (any statement that is only a string literal) and no-op statements
//! (`pass`, `...`) are dropped, a string
//! literal is one token, and layout is gone by construction, so reformatting or re-commenting a
//! function does not change its tokens. In structural mode every identifier that is not a
//! builtin, an attribute name or part of a `from … import` module path becomes a placeholder
//! numbered by first appearance (`$0`, `$1`, …), so consistently renamed copies have the same
//! tokens too. (`$` cannot start a
//! Python token, so a placeholder never collides with real code.)

use std::sync::OnceLock;

use rustc_hash::{FxHashMap, FxHashSet};
use tree_sitter::{Node, TreeCursor};

use crate::extract::config::{BUILTINS, list_entries};

pub(crate) fn builtins() -> &'static FxHashSet<&'static str> {
    static SET: OnceLock<FxHashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| list_entries(BUILTINS).collect())
}

/// A statement that does nothing: only a string (a docstring), `...`, or `pass`.
fn is_string_statement(node: Node<'_>) -> bool {
    node.kind() == "pass_statement"
        || node.kind() == "expression_statement"
            && node.named_child_count() == 1
            && node
                .named_child(0)
                .is_some_and(|c| matches!(c.kind(), "string" | "concatenated_string" | "ellipsis"))
}

/// The token texts of `source`, or None when it does not parse.
pub fn token_texts(source: &str, structural: bool) -> Option<Vec<String>> {
    let tree = crate::extract::parse(source)?;
    let mut out = Vec::new();
    let mut names: FxHashMap<&str, usize> = FxHashMap::default();
    let mut cursor = tree.walk();
    walk(&mut cursor, source, structural, &mut names, &mut out);
    Some(out)
}

fn walk<'a>(
    cursor: &mut TreeCursor<'a>,
    source: &'a str,
    structural: bool,
    names: &mut FxHashMap<&'a str, usize>,
    out: &mut Vec<String>,
) {
    loop {
        let node = cursor.node();
        let kind = node.kind();
        let skip = matches!(kind, "comment" | "line_continuation") || is_string_statement(node);
        let atom = matches!(kind, "string" | "integer" | "float");
        if !skip {
            if atom || node.child_count() == 0 {
                let text = &source[node.byte_range()];
                if !text.is_empty() {
                    out.push(token(node, text, structural, names));
                }
            } else if cursor.goto_first_child() {
                continue;
            }
        }
        // Next sibling, or climb until one exists.
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

fn token<'a>(
    node: Node<'a>,
    text: &'a str,
    structural: bool,
    names: &mut FxHashMap<&'a str, usize>,
) -> String {
    if !structural || node.kind() != "identifier" || builtins().contains(text) {
        return text.to_owned();
    }
    // After a dot: an attribute, or a later part of a dotted module name (as the lexer sees it).
    let is_attribute_name = previous_sibling(node).is_some_and(|p| p.kind() == ".");
    if is_attribute_name || in_from_module_path(node) {
        return text.to_owned();
    }
    let next = names.len();
    format!("${}", names.entry(text).or_insert(next))
}

/// The sibling before `node`, past comments and line continuations (as the lexer skips them).
fn previous_sibling(node: Node<'_>) -> Option<Node<'_>> {
    std::iter::successors(node.prev_sibling(), Node::prev_sibling).find(|n| !n.is_extra())
}

/// Part of the module path of `from … import`: a module, not a variable (the statement binds
/// only the imported names). `import a.b` still renames `a`: it binds the variable `a`, whose
/// later uses are renamed too.
fn in_from_module_path(node: Node<'_>) -> bool {
    let Some(path) = node.parent().filter(|p| p.kind() == "dotted_name") else {
        return false;
    };
    path.parent()
        .is_some_and(|statement| match statement.kind() {
            "relative_import" => true,
            "import_from_statement" => statement.child_by_field_name("module_name") == Some(path),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_docstrings_and_layout_do_not_count() {
        let a = "def f(x, y):\n    \"\"\"Add.\"\"\"\n    # sum\n    return x + y  # done\n";
        let b = "def f(x,\n      y):\n    return (x\n            + y)\n";
        let ta = token_texts(a, false).unwrap();
        let tb = token_texts(b, false).unwrap();
        assert_eq!(ta.join(" "), "def f ( x , y ) : return x + y");
        assert_eq!(tb.join(" "), "def f ( x , y ) : return ( x + y )");
    }

    #[test]
    fn structural_mode_renames_variables_but_not_builtins_or_attributes() {
        let a = "def total(items):\n    return len(items) + items.count(0)\n";
        let b = "def size(xs):\n    return len(xs) + xs.count(0)\n";
        assert_eq!(token_texts(a, true), token_texts(b, true));
        assert_eq!(
            token_texts(a, true).unwrap().join(" "),
            "def $0 ( $1 ) : return len ( $1 ) + $1 . count ( 0 )"
        );
        assert_ne!(token_texts(a, false), token_texts(b, false));
    }

    #[test]
    fn a_string_literal_is_one_token() {
        let tokens = token_texts("def f():\n    return 'a b c'\n", false).unwrap();
        assert!(tokens.contains(&"'a b c'".to_string()));
    }
}
