//! Find self-contained functions in Python source (`docs/extraction-rules.md`).
//!
//! Per source: decode, parse with tree-sitter, settle module-level names, analyse
//! every top-level `def` in one walk, apply the rules, and write each kept
//! function's standalone source. `driver` runs that over many files in parallel.

pub mod config;
mod decode;
pub mod driver;
mod kinds;
mod module_scope;
mod names;
mod notebook;
pub mod report;
mod rules;
mod signature;
mod skim;
mod standalone;

use std::cell::RefCell;
use std::collections::VecDeque;

use tree_sitter::{Parser, Tree};

pub use config::{ExtractConfig, ExtractError, NameLists, Rules};
pub use decode::{decode_source, normalise_newlines};
pub use report::{
    ExtractedFunction, Param, ParamKind, RejectReason, Rejection, SkipReason, SourceReport,
};
pub use standalone::function_id;

use kinds::grammar;
use module_scope::module_scope;
use names::analyze_function;
use rules::{Assessment, assess, candidate_verdict};

thread_local! {
    static PARSER: RefCell<Parser> = RefCell::new(new_parser());
}

fn new_parser() -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(&kinds::language())
        .expect("the bundled Python grammar matches the tree-sitter runtime");
    parser
}

/// Parse Python source with this thread's parser.
pub fn parse(text: &str) -> Option<Tree> {
    parse_ranges(text, &[])
}

/// Parse only the given ranges of `text` (all of it when `ranges` is empty).
fn parse_ranges(text: &str, ranges: &[tree_sitter::Range]) -> Option<Tree> {
    PARSER.with(|parser| {
        let mut parser = parser.borrow_mut();
        parser.set_included_ranges(ranges).ok()?;
        parser.parse(text, None)
    })
}

/// Extract from raw bytes of one source (a file's content or a row's text).
pub fn extract_bytes(raw: &[u8], config: &ExtractConfig) -> SourceReport {
    if raw.len() > config.max_file_bytes {
        return SourceReport::skipped(raw.len(), SkipReason::TooLarge);
    }
    match decode_source(raw) {
        Ok(text) => extract_text(&text, raw.len(), config),
        Err(reason) => SourceReport::skipped(raw.len(), reason),
    }
}

/// Extract from the raw bytes of a Jupyter notebook: its code cells as one source.
pub fn extract_notebook(raw: &[u8], config: &ExtractConfig) -> SourceReport {
    if raw.len() > config.max_file_bytes {
        return SourceReport::skipped(raw.len(), SkipReason::TooLarge);
    }
    match notebook::notebook_source(raw) {
        Ok(text) => SourceReport {
            bytes: raw.len(),
            ..extract_str(&text, config)
        },
        Err(reason) => SourceReport::skipped(raw.len(), reason),
    }
}

/// Extract from text that is already decoded (a corpus row, a string from Python):
/// size and NUL checks apply, coding cookies do not.
pub fn extract_str(text: &str, config: &ExtractConfig) -> SourceReport {
    if text.len() > config.max_file_bytes {
        return SourceReport::skipped(text.len(), SkipReason::TooLarge);
    }
    if memchr::memchr(0, text.as_bytes()).is_some() {
        return SourceReport::skipped(text.len(), SkipReason::NulBytes);
    }
    extract_text(text, text.len(), config)
}

/// Extract from decoded source text; `bytes` is what the caller counts as its size.
/// Line endings are normalised to `\n` first, as CPython reads source, so everything
/// derived from the text (standalone sources, ids, docstrings, line numbers) has one kind.
pub fn extract_text(text: &str, bytes: usize, config: &ExtractConfig) -> SourceReport {
    extract_normalised(&normalise_newlines(text), bytes, config)
}

fn extract_normalised(text: &str, bytes: usize, config: &ExtractConfig) -> SourceReport {
    if !may_have_top_level_def(text.as_bytes()) {
        // Nothing to extract, so nothing to parse (a third of a typical corpus).
        return SourceReport {
            bytes,
            ..SourceReport::default()
        };
    }
    // Parse with class bodies blanked (see `skim`); on any doubt, parse the original.
    let skimmed = skim::blank_class_bodies(text);
    let mut parsed = skimmed
        .as_ref()
        .and_then(|skimmed| {
            let ranges = skim::included_ranges(&skimmed.text, &skimmed.skippable);
            parse_ranges(&skimmed.text, &ranges).map(|tree| (tree, skimmed.text.as_str()))
        })
        .filter(|(tree, _)| !tree.root_node().has_error());
    if parsed.is_none() {
        parsed = parse(text).map(|tree| (tree, text));
    }
    let Some((tree, text)) = parsed else {
        return SourceReport::skipped(bytes, SkipReason::SyntaxError);
    };
    let root = tree.root_node();
    if root.has_error() || has_python2_statement(text, root) {
        return SourceReport::skipped(bytes, SkipReason::SyntaxError);
    }
    let scope = module_scope(text, root);
    let facts: Vec<_> = scope
        .functions
        .iter()
        .map(|(outer, def)| analyze_function(text, *outer, *def))
        .collect();
    let assessments: Vec<Assessment<'_>> = facts
        .iter()
        .enumerate()
        .map(|(index, fact)| assess(text, fact, &scope, index, config))
        .collect();

    let mut report = SourceReport {
        bytes,
        ..SourceReport::default()
    };
    for (index, fact) in facts.iter().enumerate() {
        let line = fact.def.start_position().row + 1;
        let (_, end) = standalone::end_without_comments(fact.def);
        let n_lines = end.row + 1 - fact.def.start_position().row;
        let reject = |verdict: report::Verdict| Rejection {
            name: fact.name.to_owned(),
            line,
            reason: verdict.reason,
            detail: verdict.detail,
        };
        let own = assessments[index].verdict.as_ref();
        let verdict = match own {
            Some(v) if v.reason < RejectReason::NoParams => Some(v.clone()),
            _ => candidate_verdict(fact, n_lines, config).or_else(|| own.cloned()),
        };
        if let Some(verdict) = verdict {
            report.rejections.push(reject(verdict));
            continue;
        }
        let helpers = reachable_helpers(index, &assessments);
        if let Some(failed) = helpers.iter().find(|&&h| assessments[h].verdict.is_some()) {
            let helper = &facts[*failed];
            let inner = assessments[*failed].verdict.clone().expect("checked above");
            report.rejections.push(reject(report::Verdict {
                reason: inner.reason,
                detail: format!(
                    "helper `{}` (line {}): {}",
                    helper.name,
                    helper.def.start_position().row + 1,
                    inner.detail
                ),
            }));
            continue;
        }
        let needs: Vec<_> = std::iter::once(index)
            .chain(helpers.iter().copied())
            .map(|i| &assessments[i].needs)
            .collect();
        let carried = standalone::Carried::new(&scope, fact.outer, &helpers, &needs);
        let source = standalone::standalone_source(text, &scope, &carried, &needs);
        let longest_literal = || standalone::longest_literal(carried.nodes());
        if let Some(verdict) = rules::bytes_verdict(&source, longest_literal, config) {
            report.rejections.push(reject(verdict));
            continue;
        }
        let (params, returns) = signature::signature(text, fact.def);
        let mut helper_names: Vec<(usize, String)> = helpers
            .iter()
            .map(|&h| (facts[h].def.start_byte(), facts[h].name.to_owned()))
            .collect();
        helper_names.sort();
        report.functions.push(ExtractedFunction {
            function_id: function_id(&source),
            name: fact.name.to_owned(),
            signature: signature::signature_text(fact.name, &params, returns.as_deref()),
            docstring: signature::docstring(text, fact.def),
            params,
            returns,
            source,
            line,
            n_lines,
            helpers: helper_names.into_iter().map(|(_, name)| name).collect(),
        });
    }
    report
}

/// Every function reachable from `start` through helper edges, `start` excluded, in
/// breadth-first order (which fixes which failing helper is reported).
fn reachable_helpers(start: usize, assessments: &[Assessment<'_>]) -> Vec<usize> {
    let mut seen = vec![start];
    let mut queue: VecDeque<usize> = assessments[start].needs.helpers.iter().copied().collect();
    let mut order = Vec::new();
    while let Some(next) = queue.pop_front() {
        if seen.contains(&next) {
            continue;
        }
        seen.push(next);
        order.push(next);
        queue.extend(assessments[next].needs.helpers.iter().copied());
    }
    order
}

/// Whether some line starts with `def` or `async def`: every top-level function does,
/// so a source without one has no candidates. (A match inside a string only costs a parse.)
pub fn may_have_top_level_def(text: &[u8]) -> bool {
    let blank = |b: u8| matches!(b, b' ' | b'\t' | b'\x0c');
    memchr::memmem::find_iter(text, b"def").any(|at| {
        if !matches!(text.get(at + 3), Some(b' ' | b'\t' | b'\x0c' | b'\\')) {
            return false;
        }
        let mut start = at;
        while start > 0 && blank(text[start - 1]) {
            start -= 1;
        }
        if at > start && start >= 5 && &text[start - 5..start] == b"async" {
            start -= 5;
            while start > 0 && text[start - 1] == b'\x0c' {
                start -= 1;
            }
        } else if text[start..at].iter().any(|&b| b != b'\x0c') {
            return false; // indented: a method or a nested def
        }
        start == 0 || matches!(text[start - 1], b'\n' | b'\r')
    })
}

/// tree-sitter's grammar still accepts Python 2 `print x` and `exec code`; Python 3
/// does not. A cheap text test first, the tree walk only when it might be there.
fn has_python2_statement(text: &str, root: tree_sitter::Node<'_>) -> bool {
    let maybe = |keyword: &[u8]| {
        memchr::memmem::find_iter(text.as_bytes(), keyword).any(|at| {
            let next = text.as_bytes().get(at + keyword.len()).copied();
            matches!(next, Some(b' ' | b'\t' | b'"' | b'\''))
        })
    };
    if !maybe(b"print") && !maybe(b"exec") {
        return false;
    }
    let k = &grammar().kinds;
    let mut cursor = root.walk();
    loop {
        let kind = cursor.node().kind_id();
        if kind == k.print_statement || kind == k.exec_statement {
            return true;
        }
        if cursor.goto_first_child() || cursor.goto_next_sibling() {
            continue;
        }
        loop {
            if !cursor.goto_parent() {
                return false;
            }
            if cursor.goto_next_sibling() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests;
