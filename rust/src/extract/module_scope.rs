//! What each module-level name is bound to (`docs/extraction-rules.md` §2).

use rustc_hash::FxHashMap;
use tree_sitter::{Node, TreeCursor};

use super::kinds::{Grammar, grammar};
use super::names::{import_bindings, text};

/// A module-level name, once all its bindings are known.
#[derive(Clone, Debug)]
pub enum ModuleName<'t> {
    /// Bound only by top-level imports that agree on the qualified name.
    Import {
        qualified: String,
        relative: bool,
        /// (statement start byte, canonical line), in file order, without repeats.
        lines: Vec<(usize, String)>,
    },
    /// One top-level `NAME = <literal>`; the statement node.
    Constant(Node<'t>),
    /// One top-level `def`: index into `ModuleScope::functions`.
    Function(usize),
    /// Anything else: not usable from a standalone function.
    Other,
}

/// A top-level `def`: (`decorated_definition` or the def itself, the `function_definition`).
pub type TopLevelDef<'t> = (Node<'t>, Node<'t>);

pub struct ModuleScope<'t> {
    pub names: FxHashMap<&'t str, ModuleName<'t>>,
    pub functions: Vec<TopLevelDef<'t>>,
}

enum Binding<'t> {
    Import {
        qualified: String,
        relative: bool,
        at: usize,
        line: String,
    },
    Constant(Node<'t>),
    Function(usize),
    Other,
}

pub fn module_scope<'t>(source: &'t str, root: Node<'t>) -> ModuleScope<'t> {
    let g = grammar();
    let mut collector = Collector {
        source,
        g,
        bindings: FxHashMap::default(),
        functions: Vec::new(),
        cursor: root.walk(),
    };
    let statements: Vec<Node<'t>> = root.named_children(&mut root.walk()).collect();
    for statement in statements {
        collector.top_level(statement);
    }
    let names = collector
        .bindings
        .into_iter()
        .map(|(name, bindings)| (name, settle(bindings)))
        .collect();
    ModuleScope {
        names,
        functions: collector.functions,
    }
}

fn settle(bindings: Vec<Binding<'_>>) -> ModuleName<'_> {
    match bindings.as_slice() {
        [Binding::Constant(node)] => return ModuleName::Constant(*node),
        [Binding::Function(index)] => return ModuleName::Function(*index),
        _ => {}
    }
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut agreed: Option<(&str, bool)> = None;
    for binding in &bindings {
        let Binding::Import {
            qualified,
            relative,
            at,
            line,
        } = binding
        else {
            return ModuleName::Other;
        };
        match agreed {
            None => agreed = Some((qualified, *relative)),
            Some((first, _)) if first != qualified => return ModuleName::Other,
            Some(_) => {}
        }
        if !lines.iter().any(|(_, seen)| seen == line) {
            lines.push((*at, line.clone()));
        }
    }
    match agreed {
        Some((qualified, relative)) => {
            lines.sort_by_key(|(at, _)| *at);
            ModuleName::Import {
                qualified: qualified.to_owned(),
                relative,
                lines,
            }
        }
        None => ModuleName::Other,
    }
}

struct Collector<'g, 't> {
    source: &'t str,
    g: &'g Grammar,
    bindings: FxHashMap<&'t str, Vec<Binding<'t>>>,
    functions: Vec<TopLevelDef<'t>>,
    cursor: TreeCursor<'t>,
}

impl<'t> Collector<'_, 't> {
    fn add(&mut self, name: &'t str, binding: Binding<'t>) {
        self.bindings.entry(name).or_default().push(binding);
    }

    fn top_level(&mut self, statement: Node<'t>) {
        let (k, f) = (&self.g.kinds, &self.g.fields);
        let kind = statement.kind_id();
        if kind == k.function_definition {
            self.function(statement, statement);
        } else if kind == k.decorated_definition {
            match statement.child_by_field_id(f.definition) {
                Some(def) if def.kind_id() == k.function_definition => {
                    self.function(statement, def)
                }
                Some(other) => self.bind_in_scope(other),
                None => {}
            }
        } else if kind == k.import_statement || kind == k.import_from_statement {
            for binding in import_bindings(self.source, statement, &mut self.cursor) {
                self.add(
                    binding.name,
                    Binding::Import {
                        qualified: binding.qualified,
                        relative: binding.relative,
                        at: binding.at,
                        line: binding.line,
                    },
                );
            }
        } else if kind == k.expression_statement {
            match self.constant_name(statement) {
                Some(name) => self.add(name, Binding::Constant(statement)),
                None => self.bind_in_scope(statement),
            }
        } else if kind != k.comment && kind != k.future_import_statement {
            self.bind_in_scope(statement);
        }
    }

    fn function(&mut self, outer: Node<'t>, def: Node<'t>) {
        let index = self.functions.len();
        self.functions.push((outer, def));
        if let Some(name) = def.child_by_field_id(self.g.fields.name) {
            self.add(text(self.source, name), Binding::Function(index));
        }
    }

    /// `NAME = <literal>` or `NAME: T = <literal>`, the statement's only content.
    fn constant_name(&self, statement: Node<'t>) -> Option<&'t str> {
        let (k, f) = (&self.g.kinds, &self.g.fields);
        if statement.named_child_count() != 1 {
            return None;
        }
        let assignment = statement.named_child(0)?;
        if assignment.kind_id() != k.assignment {
            return None;
        }
        let left = assignment.child_by_field_id(f.left)?;
        let right = assignment.child_by_field_id(f.right)?;
        if left.kind_id() != k.identifier || !is_literal(self.source, right) {
            return None;
        }
        Some(text(self.source, left))
    }

    /// Every name bound in module scope inside `node` (not inside functions,
    /// lambdas, classes or comprehensions): all of them are `Other`.
    fn bind_in_scope(&mut self, node: Node<'t>) {
        let (k, f) = (&self.g.kinds, &self.g.fields);
        let mut pending = vec![(node, false)];
        while let Some((node, is_target)) = pending.pop() {
            let kind = node.kind_id();
            if kind == k.identifier {
                if is_target {
                    self.add(text(self.source, node), Binding::Other);
                }
            } else if kind == k.function_definition || kind == k.class_definition {
                if let Some(name) = node.child_by_field_id(f.name) {
                    self.add(text(self.source, name), Binding::Other);
                }
            } else if kind == k.import_statement || kind == k.import_from_statement {
                for binding in import_bindings(self.source, node, &mut self.cursor) {
                    self.add(binding.name, Binding::Other);
                }
            } else if kind == k.lambda || is_comprehension(node) {
            } else if kind == k.assignment
                || kind == k.augmented_assignment
                || kind == k.for_statement
                || kind == k.for_in_clause
            {
                let left = node.child_by_field_id(f.left);
                for child in node.named_children(&mut self.cursor) {
                    pending.push((child, is_target || Some(child) == left));
                }
            } else if kind == k.as_pattern_target || kind == k.delete_statement {
                for child in node.named_children(&mut self.cursor) {
                    pending.push((child, true));
                }
            } else if kind == k.named_expression {
                if let Some(name) = node.child_by_field_id(f.name) {
                    self.add(text(self.source, name), Binding::Other);
                }
                if let Some(value) = node.child_by_field_id(f.value) {
                    pending.push((value, false));
                }
            } else if is_target
                && (kind == k.attribute || kind == k.keyword_argument || kind == k.subscript)
            {
                // `a.b = 1` and `a[i] = 1` bind nothing.
            } else {
                let keep = is_target && is_target_container(node);
                for child in node.named_children(&mut self.cursor) {
                    pending.push((child, keep));
                }
            }
        }
    }
}

fn is_comprehension(node: Node<'_>) -> bool {
    let k = &grammar().kinds;
    let kind = node.kind_id();
    kind == k.list_comprehension
        || kind == k.set_comprehension
        || kind == k.dictionary_comprehension
        || kind == k.generator_expression
}

/// Nodes whose parts are themselves targets (`a, (b, *c) = ...`).
pub fn is_target_container(node: Node<'_>) -> bool {
    let k = &grammar().kinds;
    let kind = node.kind_id();
    kind == k.pattern_list
        || kind == k.tuple_pattern
        || kind == k.list_pattern
        || kind == k.tuple
        || kind == k.list
        || kind == k.parenthesized_expression
        || kind == k.expression_list
        || kind == k.list_splat_pattern
        || kind == k.list_splat
}

/// What `ast.literal_eval` accepts, as the rules' §2 narrows it.
pub fn is_literal(source: &str, node: Node<'_>) -> bool {
    let k = &grammar().kinds;
    let f = &grammar().fields;
    let kind = node.kind_id();
    let mut cursor = node.walk();
    if kind == k.integer
        || kind == k.float
        || kind == k.true_
        || kind == k.false_
        || kind == k.none
        || kind == k.ellipsis
    {
        true
    } else if kind == k.string {
        is_plain_string(source, node)
    } else if kind == k.concatenated_string {
        node.named_children(&mut cursor)
            .all(|part| part.kind_id() == k.comment || is_plain_string(source, part))
    } else if kind == k.tuple
        || kind == k.expression_list
        || kind == k.list
        || kind == k.set
        || kind == k.parenthesized_expression
    {
        let children: Vec<Node<'_>> = node
            .named_children(&mut cursor)
            .filter(|child| child.kind_id() != k.comment)
            .collect();
        (kind != k.parenthesized_expression || children.len() == 1)
            && children.iter().all(|child| is_literal(source, *child))
    } else if kind == k.dictionary {
        node.named_children(&mut cursor)
            .filter(|child| child.kind_id() != k.comment)
            .all(|pair| {
                pair.kind_id() == k.pair
                    && pair
                        .child_by_field_id(f.key)
                        .is_some_and(|key| is_literal(source, key))
                    && pair
                        .child_by_field_id(f.value)
                        .is_some_and(|value| is_literal(source, value))
            })
    } else if kind == k.unary_operator {
        is_signed_number(source, node)
    } else if kind == k.binary_operator {
        let operator = node
            .child_by_field_id(f.operator)
            .map(|op| text(source, op));
        matches!(operator, Some("+" | "-"))
            && node
                .child_by_field_id(f.left)
                .is_some_and(|left| is_signed_number(source, left))
            && node
                .child_by_field_id(f.right)
                .is_some_and(|right| is_signed_number(source, right))
    } else {
        false
    }
}

fn is_number(node: Node<'_>) -> bool {
    let k = &grammar().kinds;
    node.kind_id() == k.integer || node.kind_id() == k.float
}

fn is_signed_number(source: &str, node: Node<'_>) -> bool {
    let k = &grammar().kinds;
    let f = &grammar().fields;
    if node.kind_id() != k.unary_operator {
        return is_number(node);
    }
    let operator = node
        .child_by_field_id(f.operator)
        .map(|op| text(source, op));
    matches!(operator, Some("+" | "-")) && node.child_by_field_id(f.argument).is_some_and(is_number)
}

/// A string or bytes literal with no f-prefix (an f-string is not a literal).
fn is_plain_string(source: &str, node: Node<'_>) -> bool {
    let k = &grammar().kinds;
    if node.kind_id() != k.string {
        return false;
    }
    match node.named_child(0) {
        Some(start) if start.kind_id() == k.string_start => !text(source, start)
            .chars()
            .any(|c| c == 'f' || c == 'F' || c == 't' || c == 'T'),
        _ => false,
    }
}
