//! The rules of `docs/extraction-rules.md` §4 applied to analysed functions, and
//! what each function needs carried into its standalone source.

use rustc_hash::FxHashSet;

use super::config::ExtractConfig;
use super::kinds::grammar;
use super::module_scope::{ModuleName, ModuleScope};
use super::names::{FunctionFacts, Region, dotted, text};
use super::report::{RejectReason, Verdict};

const N_REASONS: usize = 13;

/// The first explanation found for each failed rule, indexed by `RejectReason as usize`.
#[derive(Default)]
struct Failures([Option<String>; N_REASONS]);

impl Failures {
    fn fail(&mut self, reason: RejectReason, detail: impl FnOnce() -> String) {
        let slot = &mut self.0[reason as usize];
        if slot.is_none() {
            *slot = Some(detail());
        }
    }

    /// The first failure, in rule order, among the rules switched on.
    fn first(&self, config: &ExtractConfig) -> Option<Verdict> {
        ALL_REASONS.iter().find_map(|&reason| {
            let detail = self.0[reason as usize].as_ref()?;
            rule_enabled(config, reason).then(|| Verdict {
                reason,
                detail: detail.clone(),
            })
        })
    }
}

const ALL_REASONS: [RejectReason; N_REASONS] = [
    RejectReason::Async,
    RejectReason::Decorator,
    RejectReason::NoParams,
    RejectReason::Generator,
    RejectReason::NoReturn,
    RejectReason::Size,
    RejectReason::GlobalStatement,
    RejectReason::DeniedBuiltin,
    RejectReason::NonStdlibImport,
    RejectReason::DeniedModule,
    RejectReason::UnresolvedName,
    RejectReason::SourceTooLarge,
    RejectReason::LiteralTooLarge,
];

fn rule_enabled(config: &ExtractConfig, reason: RejectReason) -> bool {
    let rules = &config.rules;
    match reason {
        RejectReason::Async => rules.not_async,
        RejectReason::Decorator => rules.allowed_decorators,
        RejectReason::NoParams => rules.has_params,
        RejectReason::Generator => rules.not_generator,
        RejectReason::NoReturn => rules.has_return,
        RejectReason::Size => rules.size,
        RejectReason::GlobalStatement => rules.no_global,
        RejectReason::DeniedBuiltin => rules.no_denied_builtins,
        RejectReason::NonStdlibImport => rules.stdlib_imports_only,
        RejectReason::DeniedModule => rules.no_denied_modules,
        RejectReason::UnresolvedName => rules.resolvable_names,
        RejectReason::SourceTooLarge => rules.source_bytes,
        RejectReason::LiteralTooLarge => rules.literal_bytes,
    }
}

/// What a function needs from module scope.
#[derive(Default, Debug)]
pub struct Needs<'t> {
    pub imports: FxHashSet<&'t str>,
    pub constants: FxHashSet<&'t str>,
    /// Indexes of helper functions in `ModuleScope::functions`.
    pub helpers: Vec<usize>,
    /// Some annotation names something the standalone source will not define.
    pub lazy_annotations: bool,
}

/// One function's own verdict (rules 1, 2 and 7–11) and its needs.
pub struct Assessment<'t> {
    pub verdict: Option<Verdict>,
    pub needs: Needs<'t>,
}

fn top_module(qualified: &str) -> &str {
    qualified.split('.').next().unwrap_or(qualified)
}

/// Whether an import of `qualified` may be carried: stdlib, absolute, not denied.
fn import_allowed(config: &ExtractConfig, qualified: &str, relative: bool) -> bool {
    let top = top_module(qualified);
    !relative
        && config.lists.stdlib_modules.contains(top)
        && !config.lists.denied_modules.contains(top)
}

fn check_import(failures: &mut Failures, config: &ExtractConfig, qualified: &str, relative: bool) {
    let top = top_module(qualified);
    if relative || !config.lists.stdlib_modules.contains(top) {
        failures.fail(RejectReason::NonStdlibImport, || {
            format!("imports `{qualified}`, not in the standard library")
        });
    } else if config.lists.denied_modules.contains(top) {
        failures.fail(RejectReason::DeniedModule, || {
            format!("uses module `{top}`")
        });
    }
}

fn check_attribute(
    failures: &mut Failures,
    config: &ExtractConfig,
    qualified: &str,
    chain: &[&str],
) {
    if chain.is_empty() && !config.lists.is_denied_attribute(qualified) {
        return;
    }
    let full = std::iter::once(qualified)
        .chain(chain.iter().copied())
        .collect::<Vec<_>>()
        .join(".");
    if config.lists.is_denied_attribute(&full) {
        failures.fail(RejectReason::DeniedModule, || format!("uses `{full}`"));
    }
}

pub fn assess<'t>(
    source: &'t str,
    facts: &FunctionFacts<'t>,
    scope: &ModuleScope<'t>,
    self_index: usize,
    config: &ExtractConfig,
) -> Assessment<'t> {
    let lists = &config.lists;
    let mut failures = Failures::default();
    let mut needs = Needs::default();

    if facts.is_async {
        failures.fail(RejectReason::Async, || "async def".into());
    }
    for decorator in &facts.decorators {
        if !decorator_allowed(source, *decorator, scope, config) {
            failures.fail(RejectReason::Decorator, || {
                format!("decorator `@{}`", text(source, *decorator))
            });
        }
    }
    if facts.has_global {
        failures.fail(RejectReason::GlobalStatement, || {
            "`global` statement".into()
        });
    }
    for import in &facts.imports {
        check_import(&mut failures, config, &import.qualified, import.relative);
    }

    for reference in &facts.references {
        let name = reference.name;
        let local = facts.is_local(name);
        match reference.region {
            Region::Annotation => {
                if local {
                    continue;
                }
                match scope.names.get(name) {
                    Some(ModuleName::Import {
                        qualified,
                        relative,
                        ..
                    }) if import_allowed(config, qualified, *relative) => {
                        needs.imports.insert(name);
                    }
                    None if lists.builtins.contains(name) => {}
                    _ => needs.lazy_annotations = true,
                }
                continue;
            }
            Region::Body if local => {
                if let Some(import) = facts.local_import(name) {
                    check_attribute(&mut failures, config, &import.qualified, &reference.chain);
                }
                continue;
            }
            Region::Body | Region::ModuleEval => {}
        }
        match scope.names.get(name) {
            Some(ModuleName::Import {
                qualified,
                relative,
                ..
            }) => {
                check_import(&mut failures, config, qualified, *relative);
                check_attribute(&mut failures, config, qualified, &reference.chain);
                needs.imports.insert(name);
            }
            Some(ModuleName::Constant(statement)) => {
                needs.constants.insert(name);
                // `X: Final = 3`: nothing carries `Final`, so annotations must stay lazy.
                let annotated = statement
                    .named_child(0)
                    .is_some_and(|a| a.child_by_field_id(grammar().fields.type_).is_some());
                needs.lazy_annotations |= annotated;
            }
            Some(ModuleName::Function(index)) => {
                if *index != self_index && !needs.helpers.contains(index) {
                    needs.helpers.push(*index);
                }
            }
            Some(ModuleName::Other) => failures.fail(RejectReason::UnresolvedName, || {
                format!(
                    "`{name}` is not a literal constant, stdlib import or function at module level"
                )
            }),
            None if lists.builtins.contains(name) => {
                if lists.denied_builtins.contains(name) {
                    failures.fail(RejectReason::DeniedBuiltin, || format!("uses `{name}`"));
                }
            }
            None => failures.fail(RejectReason::UnresolvedName, || {
                format!("`{name}` is not defined")
            }),
        }
    }
    Assessment {
        verdict: failures.first(config),
        needs,
    }
}

/// Rules 3–6, which only the candidate itself must pass.
pub fn candidate_verdict(
    facts: &FunctionFacts<'_>,
    n_lines: usize,
    config: &ExtractConfig,
) -> Option<Verdict> {
    let mut failures = Failures::default();
    if facts.n_params == 0 {
        failures.fail(RejectReason::NoParams, || "takes no parameters".into());
    }
    if facts.has_yield {
        failures.fail(RejectReason::Generator, || "contains `yield`".into());
    }
    if !facts.has_return_value {
        failures.fail(RejectReason::NoReturn, || "never returns a value".into());
    }
    if n_lines < config.min_lines || n_lines > config.max_lines {
        failures.fail(RejectReason::Size, || {
            format!(
                "{n_lines} lines, outside {}..={}",
                config.min_lines, config.max_lines
            )
        });
    }
    failures.first(config)
}

/// Rules 12–13, on the candidate's standalone source: its size in bytes, then its longest
/// literal. `longest_literal` is only called when the source could hold one over the cap.
pub fn bytes_verdict(
    source: &str,
    longest_literal: impl FnOnce() -> usize,
    config: &ExtractConfig,
) -> Option<Verdict> {
    if config.rules.source_bytes && source.len() > config.max_source_bytes {
        return Some(Verdict {
            reason: RejectReason::SourceTooLarge,
            detail: format!(
                "standalone source of {} bytes, over {}",
                source.len(),
                config.max_source_bytes
            ),
        });
    }
    if config.rules.literal_bytes && source.len() > config.max_literal_bytes {
        let longest = longest_literal();
        if longest > config.max_literal_bytes {
            return Some(Verdict {
                reason: RejectReason::LiteralTooLarge,
                detail: format!(
                    "a literal of {longest} bytes, over {}",
                    config.max_literal_bytes
                ),
            });
        }
    }
    None
}

/// `@functools.lru_cache(...)` and friends: a dotted name, its head a module import,
/// the full name in the allow-list.
fn decorator_allowed(
    source: &str,
    decorator: tree_sitter::Node<'_>,
    scope: &ModuleScope<'_>,
    config: &ExtractConfig,
) -> bool {
    let (k, f) = (&grammar().kinds, &grammar().fields);
    let callee = if decorator.kind_id() == k.call {
        match decorator.child_by_field_id(f.function_) {
            Some(callee) => callee,
            None => return false,
        }
    } else {
        decorator
    };
    let path = dotted(source, callee);
    let valid = callee.kind_id() == k.identifier
        || (callee.kind_id() == k.attribute
            && path.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|c| c == '_' || c.is_alphanumeric())
            }));
    if !valid {
        return false;
    }
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path.as_str(), None),
    };
    let Some(ModuleName::Import { qualified, .. }) = scope.names.get(head) else {
        return false;
    };
    let full = match rest {
        Some(rest) => format!("{qualified}.{rest}"),
        None => qualified.clone(),
    };
    config.lists.allowed_decorators.contains(&full)
}
