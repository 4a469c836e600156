//! One walk over a top-level function: the names it binds and reads, and the
//! facts the rules need (yield, return, global, parameters).
//!
//! Scopes are flattened (`docs/extraction-rules.md` §3): a name bound anywhere in
//! the function, nested scopes included, is local. The walk uses an explicit stack,
//! so a pathologically deep expression cannot overflow the thread's stack.

use rustc_hash::FxHashSet;
use tree_sitter::{Node, TreeCursor};

use super::kinds::{Grammar, grammar};
use super::module_scope::is_target_container;

/// Where a reference is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// The function body (and nested scopes).
    Body,
    /// The function's own decorators and default values: evaluated in module scope.
    ModuleEval,
    /// Any annotation: never a reason for rejection, see the rules' §5.
    Annotation,
}

/// A name read in load context, with the attribute chain read from it
/// (`datetime.date.today()` is `datetime` with chain `["date", "today"]`).
#[derive(Clone, Debug)]
pub struct Reference<'t> {
    pub name: &'t str,
    pub chain: Vec<&'t str>,
    pub region: Region,
}

/// An `import` made inside the function.
#[derive(Clone, Debug)]
pub struct LocalImport<'t> {
    pub name: &'t str,
    pub qualified: String,
    pub relative: bool,
}

#[derive(Debug)]
pub struct FunctionFacts<'t> {
    pub name: &'t str,
    /// The `decorated_definition` when there is one, else the `function_definition`.
    pub outer: Node<'t>,
    pub def: Node<'t>,
    pub is_async: bool,
    /// Decorator expressions, in order.
    pub decorators: Vec<Node<'t>>,
    pub n_params: usize,
    pub has_yield: bool,
    pub has_return_value: bool,
    pub has_global: bool,
    /// Names bound by anything but an import.
    pub bound: FxHashSet<&'t str>,
    pub imports: Vec<LocalImport<'t>>,
    pub references: Vec<Reference<'t>>,
}

impl<'t> FunctionFacts<'t> {
    pub fn is_local(&self, name: &str) -> bool {
        self.bound.contains(name) || self.imports.iter().any(|import| import.name == name)
    }

    /// The qualified name of a local bound only by imports (all agreeing), if any.
    pub fn local_import(&self, name: &str) -> Option<&LocalImport<'t>> {
        if self.bound.contains(name) {
            return None;
        }
        self.imports.iter().find(|import| import.name == name)
    }
}

#[derive(Clone, Copy)]
struct Context {
    region: Region,
    /// Inside a nested `def` or `lambda`: its `yield`/`return` are not ours.
    nested: bool,
}

const BODY: Context = Context {
    region: Region::Body,
    nested: false,
};

/// Text of a node in the source it was parsed from.
pub fn text<'t>(source: &'t str, node: Node<'_>) -> &'t str {
    &source[node.byte_range()]
}

/// Dotted text without whitespace (`a . b` is `a.b`).
pub fn dotted(source: &str, node: Node<'_>) -> String {
    text(source, node)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\\')
        .collect()
}

pub fn analyze_function<'t>(source: &'t str, outer: Node<'t>, def: Node<'t>) -> FunctionFacts<'t> {
    let g = grammar();
    let f = &g.fields;
    let name = def
        .child_by_field_id(f.name)
        .map(|n| text(source, n))
        .unwrap_or("");
    let facts = FunctionFacts {
        name,
        outer,
        def,
        is_async: text(source, def).starts_with("async"),
        decorators: Vec::new(),
        n_params: 0,
        has_yield: false,
        has_return_value: false,
        has_global: false,
        bound: FxHashSet::default(),
        imports: Vec::new(),
        references: Vec::new(),
    };
    let mut walker = Walker {
        source,
        g,
        facts,
        stack: Vec::with_capacity(64),
        cursor: def.walk(),
    };
    let module_eval = Context {
        region: Region::ModuleEval,
        nested: false,
    };
    if outer.id() != def.id() {
        let mut cursor = outer.walk();
        for decorator in outer.named_children(&mut cursor) {
            if decorator.kind_id() == g.kinds.decorator
                && let Some(expression) = decorator.named_child(0)
            {
                walker.facts.decorators.push(expression);
                walker.stack.push((expression, module_eval));
            }
        }
    }
    if let Some(type_parameters) = def.child_by_field_id(f.type_parameters) {
        walker.bind_all_identifiers(type_parameters);
    }
    if let Some(parameters) = def.child_by_field_id(f.parameters) {
        walker.facts.n_params = walker.parameters(parameters, module_eval);
    }
    if let Some(returns) = def.child_by_field_id(f.return_type) {
        walker.push_annotation(returns, BODY);
    }
    if let Some(body) = def.child_by_field_id(f.body) {
        walker.stack.push((body, BODY));
    }
    walker.run();
    walker.facts
}

struct Walker<'g, 't> {
    source: &'t str,
    g: &'g Grammar,
    facts: FunctionFacts<'t>,
    stack: Vec<(Node<'t>, Context)>,
    cursor: TreeCursor<'t>,
}

impl<'t> Walker<'_, 't> {
    fn run(&mut self) {
        while let Some((node, context)) = self.stack.pop() {
            self.visit(node, context);
        }
    }

    fn text(&self, node: Node<'_>) -> &'t str {
        text(self.source, node)
    }

    fn bind(&mut self, node: Node<'_>) {
        let name = self.text(node);
        self.facts.bound.insert(name);
    }

    fn reference(&mut self, node: Node<'_>, chain: Vec<&'t str>, context: Context) {
        let name = self.text(node);
        self.facts.references.push(Reference {
            name,
            chain,
            region: context.region,
        });
    }

    fn push_children(&mut self, node: Node<'t>, context: Context) {
        for child in node.named_children(&mut self.cursor) {
            self.stack.push((child, context));
        }
    }

    fn push_annotation(&mut self, node: Node<'t>, context: Context) {
        let annotation = Context {
            region: Region::Annotation,
            ..context
        };
        self.stack.push((node, annotation));
    }

    fn visit(&mut self, node: Node<'t>, context: Context) {
        let k = &self.g.kinds;
        let f = &self.g.fields;
        let kind = node.kind_id();
        if kind == k.identifier {
            self.reference(node, Vec::new(), context);
        } else if kind == k.attribute {
            self.attribute(node, context);
        } else if kind == k.keyword_argument {
            if let Some(value) = node.child_by_field_id(f.value) {
                self.stack.push((value, context));
            }
        } else if kind == k.function_definition {
            self.nested_function(node, context);
        } else if kind == k.lambda {
            let inner = Context {
                nested: true,
                ..context
            };
            if let Some(parameters) = node.child_by_field_id(f.parameters) {
                self.parameters(parameters, context);
            }
            if let Some(body) = node.child_by_field_id(f.body) {
                self.stack.push((body, inner));
            }
        } else if kind == k.class_definition {
            self.class_definition(node, context);
        } else if kind == k.assignment || kind == k.augmented_assignment {
            if let Some(left) = node.child_by_field_id(f.left) {
                self.targets(left, context);
            }
            if let Some(annotation) = node.child_by_field_id(f.type_) {
                self.push_annotation(annotation, context);
            }
            if let Some(right) = node.child_by_field_id(f.right) {
                self.stack.push((right, context));
            }
        } else if kind == k.for_statement || kind == k.for_in_clause {
            self.with_left_as_targets(node, context);
        } else if kind == k.as_pattern {
            // `with x as y` / `except E as e` (match patterns go through `pattern`).
            for child in self.named_children(node) {
                if child.kind_id() == k.as_pattern_target {
                    for target in self.named_children(child) {
                        self.targets(target, context);
                    }
                } else {
                    self.stack.push((child, context));
                }
            }
        } else if kind == k.named_expression {
            if let Some(name) = node.child_by_field_id(f.name) {
                self.bind(name);
            }
            if let Some(value) = node.child_by_field_id(f.value) {
                self.stack.push((value, context));
            }
        } else if kind == k.import_statement || kind == k.import_from_statement {
            self.import(node);
        } else if kind == k.global_statement {
            self.facts.has_global = true;
        } else if kind == k.nonlocal_statement
            || kind == k.future_import_statement
            || kind == k.comment
        {
        } else if kind == k.delete_statement {
            for target in self.named_children(node) {
                self.targets(target, context);
            }
        } else if kind == k.yield_ {
            if !context.nested {
                self.facts.has_yield = true;
            }
            self.push_children(node, context);
        } else if kind == k.return_statement {
            if !context.nested && node.named_child_count() > 0 {
                self.facts.has_return_value = true;
            }
            self.push_children(node, context);
        } else if kind == k.case_pattern {
            self.pattern(node, context);
        } else if kind == k.type_ {
            self.push_annotation_children(node, context);
        } else {
            self.push_children(node, context);
        }
    }

    fn named_children(&mut self, node: Node<'t>) -> Vec<Node<'t>> {
        node.named_children(&mut self.cursor).collect()
    }

    fn push_annotation_children(&mut self, node: Node<'t>, context: Context) {
        let annotation = Context {
            region: Region::Annotation,
            ..context
        };
        self.push_children(node, annotation);
    }

    /// `a.b.c`: one reference to `a` with chain `[b, c]`; attribute names are not references.
    fn attribute(&mut self, node: Node<'t>, context: Context) {
        let f = &self.g.fields;
        let mut chain = Vec::new();
        let mut base = node;
        while base.kind_id() == self.g.kinds.attribute {
            if let Some(attribute) = base.child_by_field_id(f.attribute) {
                chain.push(self.text(attribute));
            }
            match base.child_by_field_id(f.object) {
                Some(object) => base = object,
                None => return,
            }
        }
        if base.kind_id() == self.g.kinds.identifier {
            chain.reverse();
            self.reference(base, chain, context);
        } else {
            self.stack.push((base, context));
        }
    }

    fn nested_function(&mut self, def: Node<'t>, context: Context) {
        let f = &self.g.fields;
        if let Some(name) = def.child_by_field_id(f.name) {
            self.bind(name);
        }
        if let Some(type_parameters) = def.child_by_field_id(f.type_parameters) {
            self.bind_all_identifiers(type_parameters);
        }
        if let Some(parameters) = def.child_by_field_id(f.parameters) {
            self.parameters(parameters, context);
        }
        if let Some(returns) = def.child_by_field_id(f.return_type) {
            self.push_annotation(returns, context);
        }
        if let Some(body) = def.child_by_field_id(f.body) {
            let inner = Context {
                nested: true,
                ..context
            };
            self.stack.push((body, inner));
        }
    }

    fn class_definition(&mut self, class: Node<'t>, context: Context) {
        let f = &self.g.fields;
        if let Some(name) = class.child_by_field_id(f.name) {
            self.bind(name);
        }
        if let Some(type_parameters) = class.child_by_field_id(f.type_parameters) {
            self.bind_all_identifiers(type_parameters);
        }
        if let Some(superclasses) = class.child_by_field_id(f.superclasses) {
            self.stack.push((superclasses, context));
        }
        if let Some(body) = class.child_by_field_id(f.body) {
            self.stack.push((body, context));
        }
    }

    /// Bind every parameter; defaults are read in `defaults`, annotations as annotations.
    /// Returns the number of parameters (the `*` and `/` markers do not count).
    fn parameters(&mut self, parameters: Node<'t>, defaults: Context) -> usize {
        let k = &self.g.kinds;
        let f = &self.g.fields;
        let mut count = 0;
        for parameter in self.named_children(parameters) {
            let kind = parameter.kind_id();
            if kind == k.identifier {
                self.bind(parameter);
            } else if kind == k.list_splat_pattern || kind == k.dictionary_splat_pattern {
                self.bind_all_identifiers(parameter);
            } else if kind == k.typed_parameter {
                if let Some(target) = parameter.named_child(0) {
                    self.bind_all_identifiers(target);
                }
                if let Some(annotation) = parameter.child_by_field_id(f.type_) {
                    self.push_annotation(annotation, defaults);
                }
            } else if kind == k.default_parameter || kind == k.typed_default_parameter {
                if let Some(name) = parameter.child_by_field_id(f.name) {
                    self.bind_all_identifiers(name);
                }
                if let Some(annotation) = parameter.child_by_field_id(f.type_) {
                    self.push_annotation(annotation, defaults);
                }
                if let Some(value) = parameter.child_by_field_id(f.value) {
                    self.stack.push((value, defaults));
                }
            } else {
                if kind != k.positional_separator
                    && kind != k.keyword_separator
                    && kind != k.comment
                {
                    self.bind_all_identifiers(parameter);
                    count += 1;
                }
                continue;
            }
            count += 1;
        }
        count
    }

    fn with_left_as_targets(&mut self, node: Node<'t>, context: Context) {
        let left = node.child_by_field_id(self.g.fields.left);
        for child in self.named_children(node) {
            if Some(child) == left {
                self.targets(child, context);
            } else {
                self.stack.push((child, context));
            }
        }
    }

    /// An assignment target: plain names are bound; `a.b` and `a[i]` read `a`.
    fn targets(&mut self, target: Node<'t>, context: Context) {
        let k = &self.g.kinds;
        let mut pending = vec![target];
        while let Some(node) = pending.pop() {
            let kind = node.kind_id();
            if kind == k.identifier {
                self.bind(node);
            } else if is_target_container(node) {
                pending.extend(node.named_children(&mut self.cursor));
            } else {
                self.stack.push((node, context));
            }
        }
    }

    /// A `match` pattern: bare names capture (bind); dotted names and class
    /// patterns' classes are read; keyword names of class patterns are neither.
    fn pattern(&mut self, pattern: Node<'t>, context: Context) {
        let k = &self.g.kinds;
        let mut pending = vec![pattern];
        while let Some(node) = pending.pop() {
            let kind = node.kind_id();
            if kind == k.identifier {
                self.bind(node);
            } else if kind == k.dotted_name {
                self.dotted_pattern(node, context, false);
            } else if kind == k.class_pattern {
                let children = self.named_children(node);
                for (index, child) in children.into_iter().enumerate() {
                    if index == 0 && child.kind_id() == k.dotted_name {
                        self.dotted_pattern(child, context, true);
                    } else {
                        pending.push(child);
                    }
                }
            } else if kind == k.keyword_pattern {
                let children = self.named_children(node);
                pending.extend(children.into_iter().skip(1));
            } else {
                pending.extend(node.named_children(&mut self.cursor));
            }
        }
    }

    fn dotted_pattern(&mut self, node: Node<'t>, context: Context, always_read: bool) {
        let parts = self.named_children(node);
        match parts.split_first() {
            Some((head, [])) if !always_read => self.bind(*head),
            Some((head, rest)) => {
                let chain = rest.iter().map(|part| self.text(*part)).collect();
                self.reference(*head, chain, context);
            }
            None => {}
        }
    }

    fn bind_all_identifiers(&mut self, node: Node<'t>) {
        let mut pending = vec![node];
        while let Some(node) = pending.pop() {
            if node.kind_id() == self.g.kinds.identifier {
                self.bind(node);
            } else {
                pending.extend(node.named_children(&mut self.cursor));
            }
        }
    }

    fn import(&mut self, node: Node<'t>) {
        for binding in import_bindings(self.source, node, &mut self.cursor) {
            self.facts.imports.push(LocalImport {
                name: binding.name,
                qualified: binding.qualified,
                relative: binding.relative,
            });
        }
    }
}

/// A name bound by an import statement.
pub struct ImportBinding<'t> {
    /// Start byte of the imported name: orders lines as the statement does.
    pub at: usize,
    pub name: &'t str,
    pub qualified: String,
    pub relative: bool,
    /// The import written back canonically, binding just this name.
    pub line: String,
}

/// The bindings of an `import` or `from ... import` statement (a star binds none).
pub fn import_bindings<'t>(
    source: &'t str,
    node: Node<'t>,
    cursor: &mut TreeCursor<'t>,
) -> Vec<ImportBinding<'t>> {
    let g = grammar();
    let (k, f) = (&g.kinds, &g.fields);
    let mut out = Vec::new();
    let from_module = node.child_by_field_id(f.module_name);
    let (module, relative) = match from_module {
        Some(module) => (
            dotted(source, module),
            module.kind_id() == k.relative_import,
        ),
        None => (String::new(), false),
    };
    let names: Vec<Node<'t>> = node
        .children_by_field_id(
            std::num::NonZeroU16::new(f.name).expect("field ids are non-zero"),
            cursor,
        )
        .collect();
    for name in names {
        let (target, alias) = if name.kind_id() == k.aliased_import {
            (
                name.child_by_field_id(f.name),
                name.child_by_field_id(f.alias),
            )
        } else {
            (Some(name), None)
        };
        let Some(target) = target else { continue };
        let target_text = dotted(source, target);
        let (bound, qualified, line) = if node.kind_id() == k.import_statement {
            match alias {
                Some(alias) => {
                    let alias = text(source, alias);
                    (
                        alias,
                        target_text.clone(),
                        format!("import {target_text} as {alias}"),
                    )
                }
                None => {
                    let head = target
                        .named_child(0)
                        .map(|n| text(source, n))
                        .unwrap_or_else(|| text(source, target));
                    (head, head.to_owned(), format!("import {target_text}"))
                }
            }
        } else {
            let qualified = if module.ends_with('.') {
                format!("{module}{target_text}")
            } else {
                format!("{module}.{target_text}")
            };
            match alias {
                Some(alias) => {
                    let alias = text(source, alias);
                    (
                        alias,
                        qualified,
                        format!("from {module} import {target_text} as {alias}"),
                    )
                }
                None => (
                    text(source, target),
                    qualified,
                    format!("from {module} import {target_text}"),
                ),
            }
        };
        out.push(ImportBinding {
            at: name.start_byte(),
            name: bound,
            qualified,
            relative,
            line,
        });
    }
    out
}
