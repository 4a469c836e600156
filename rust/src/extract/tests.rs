//! Rule-by-rule tests on small hand-written modules.

use super::*;

fn run(source: &str) -> SourceReport {
    extract_text(source, source.len(), &ExtractConfig::default())
}

fn kept(source: &str) -> Vec<ExtractedFunction> {
    run(source).functions
}

fn reason(source: &str, name: &str) -> RejectReason {
    let report = run(source);
    report
        .rejections
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("{name} was not rejected: {report:#?}"))
        .reason
}

#[test]
fn keeps_a_plain_function() {
    let found = kept("def add(a, b):\n    c = a + b\n    return c\n");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "add");
    assert_eq!(
        found[0].source,
        "def add(a, b):\n    c = a + b\n    return c"
    );
    assert_eq!(found[0].n_lines, 3);
    assert_eq!(found[0].signature, "add(a, b)");
}

#[test]
fn rejects_each_rule() {
    let body = "    x = 1\n    y = 2\n";
    assert_eq!(
        reason(&format!("async def f(a):\n{body}    return a\n"), "f"),
        RejectReason::Async
    );
    assert_eq!(
        reason(
            &format!("import foo\n@foo.bar\ndef f(a):\n{body}    return a\n"),
            "f"
        ),
        RejectReason::Decorator
    );
    assert_eq!(
        reason(&format!("def f():\n{body}    return 1\n"), "f"),
        RejectReason::NoParams
    );
    assert_eq!(
        reason(&format!("def f(a):\n{body}    yield a\n"), "f"),
        RejectReason::Generator
    );
    assert_eq!(
        reason(&format!("def f(a):\n{body}    return\n"), "f"),
        RejectReason::NoReturn
    );
    assert_eq!(reason("def f(a):\n    return a\n", "f"), RejectReason::Size);
    assert_eq!(
        reason(
            &format!("def f(a):\n    global g\n{body}    return a\n"),
            "f"
        ),
        RejectReason::GlobalStatement
    );
    assert_eq!(
        reason(
            &format!("def f(a):\n{body}    print(a)\n    return a\n"),
            "f"
        ),
        RejectReason::DeniedBuiltin
    );
    assert_eq!(
        reason(
            &format!("import numpy as np\ndef f(a):\n{body}    return np.sum(a)\n"),
            "f"
        ),
        RejectReason::NonStdlibImport
    );
    assert_eq!(
        reason(
            &format!("import os\ndef f(a):\n{body}    return os.getcwd()\n"),
            "f"
        ),
        RejectReason::DeniedModule
    );
    assert_eq!(
        reason(
            &format!("from datetime import datetime\ndef f(a):\n{body}    return datetime.now()\n"),
            "f"
        ),
        RejectReason::DeniedModule
    );
    assert_eq!(
        reason(&format!("def f(a):\n{body}    return g(a)\n"), "f"),
        RejectReason::UnresolvedName
    );
}

#[test]
fn carries_imports_constants_and_helpers() {
    let source = "\
import math, os
from functools import lru_cache
SCALE = 2.5
NAMES = ('a', 'b')
items = make()

def helper(x):
    return math.sqrt(x) * SCALE

@lru_cache(maxsize=None)
def f(a, b=3):
    '''Doc.'''
    t = helper(a)
    return t + b
";
    let found = kept(source);
    let f = found.iter().find(|f| f.name == "f").expect("f kept");
    assert_eq!(
        f.source,
        "import math\nfrom functools import lru_cache\nSCALE = 2.5\n\
         def helper(x):\n    return math.sqrt(x) * SCALE\n\
         @lru_cache(maxsize=None)\ndef f(a, b=3):\n    '''Doc.'''\n    t = helper(a)\n    return t + b"
    );
    assert_eq!(f.helpers, vec!["helper".to_owned()]);
    assert_eq!(f.docstring.as_deref(), Some("Doc."));
}

#[test]
fn helper_failures_propagate() {
    let source = "\
def helper(x):
    print(x)
    return x

def f(a):
    b = helper(a)
    return b
";
    let report = run(source);
    let rejection = report
        .rejections
        .iter()
        .find(|r| r.name == "f")
        .expect("f rejected");
    assert_eq!(rejection.reason, RejectReason::DeniedBuiltin);
    assert!(
        rejection.detail.contains("helper `helper`"),
        "{}",
        rejection.detail
    );
}

#[test]
fn flattened_scopes_bind_nested_names() {
    let source = "\
def f(xs, key=None):
    def inner(v):
        return v * 2
    out = [inner(x) for x in xs]
    total = sum(o for o in out)
    with memoryview(b'') as m, ctx() as (p, q):
        pass
    return total
";
    // `ctx` is undefined: rejected for that name, nothing else.
    let report = run(source);
    assert_eq!(report.rejections[0].reason, RejectReason::UnresolvedName);
    assert!(report.rejections[0].detail.contains("`ctx`"));
}

#[test]
fn annotations_never_reject_but_make_source_lazy() {
    let source = "\
from typing import List
def f(a: List[Foo], b: int = 1) -> Bar:
    c = a
    return c
";
    let found = kept(source);
    assert_eq!(found.len(), 1);
    assert!(
        found[0]
            .source
            .starts_with("from __future__ import annotations\nfrom typing import List\n")
    );
}

#[test]
fn defaults_are_evaluated_in_module_scope() {
    let source = "def f(a, b=a):\n    c = b\n    return c\n";
    assert_eq!(reason(source, "f"), RejectReason::UnresolvedName);
}

#[test]
fn ambiguous_module_names_do_not_resolve() {
    let source = "\
try:
    import json
except ImportError:
    json = None
def f(a):
    b = json.dumps(a)
    return b
";
    assert_eq!(reason(source, "f"), RejectReason::UnresolvedName);
}

#[test]
fn agreeing_imports_merge() {
    let source = "\
import xml.dom
import xml.sax
def f(a):
    b = xml.sax.escape(a)
    return b
";
    let found = kept(source);
    assert_eq!(
        found[0].source.lines().take(2).collect::<Vec<_>>(),
        ["import xml.dom", "import xml.sax"]
    );
}

#[test]
fn trailing_comments_are_not_part_of_the_definition() {
    let source = "def f(a):\n    b = a\n    return b  # done\n    # trailing\n\n# next\nX = 1\n";
    let found = kept(source);
    assert_eq!(found[0].source, "def f(a):\n    b = a\n    return b");
}

#[test]
fn syntax_errors_and_python2_skip_the_file() {
    assert_eq!(run("def f(:\n").skipped, Some(SkipReason::SyntaxError));
    assert_eq!(
        run("print 'hello'\ndef f(a): pass\n").skipped,
        Some(SkipReason::SyntaxError)
    );
    assert_eq!(run("print('hello')\ndef f(a): pass\n").skipped, None);
}

#[test]
fn only_sources_with_a_line_starting_def_are_parsed() {
    assert!(may_have_top_level_def(b"def f(): pass"));
    assert!(may_have_top_level_def(b"x = 1\r\nasync  def f(): pass"));
    assert!(may_have_top_level_def(b"@dec\ndef\tf(): pass"));
    assert!(may_have_top_level_def(b"\x0cdef f(): pass"));
    assert!(!may_have_top_level_def(
        b"class C:\n    def f(self): pass\n"
    ));
    assert!(!may_have_top_level_def(
        b"undef = 1\ndefault = 2\nx.def_ = 3"
    ));
    // No candidates, so a broken file without a top-level def is not even parsed.
    assert_eq!(run("class C(:\n").skipped, None);
}

#[test]
fn deep_expressions_do_not_overflow_the_stack() {
    let deep = format!(
        "def f(a):\n    b = a\n    return {}\n",
        "a + ".repeat(200_000) + "1"
    );
    // Caps that let it through the source cap and walk it for literals.
    let config = ExtractConfig {
        max_source_bytes: usize::MAX,
        max_literal_bytes: 10,
        ..ExtractConfig::default()
    };
    let report = extract_text(&deep, deep.len(), &config);
    assert_eq!(report.skipped, None);
    assert_eq!(report.functions.len(), 1);
    assert_eq!(
        run(&deep).rejections[0].reason,
        RejectReason::SourceTooLarge
    );
}

#[test]
fn match_patterns_bind_captures_and_read_values() {
    let source = "\
import enum
class Color(enum.Enum):
    RED = 1
def f(p):
    match p:
        case [x, *rest]:
            return x
        case {'k': v, **kw}:
            return v
        case Color.RED:
            return 0
    return None
";
    let report = run(source);
    // Color is a class at module level: the value pattern reads it.
    assert_eq!(report.rejections[0].reason, RejectReason::UnresolvedName);
    assert!(report.rejections[0].detail.contains("Color"));
}

#[test]
fn rules_can_be_switched_off() {
    let mut config = ExtractConfig::default();
    config.rules.set("size", false).unwrap();
    let report = extract_text("def f(a):\n    return a\n", 0, &config);
    assert_eq!(report.functions.len(), 1);
}

#[test]
fn subscripted_annotations_are_read_not_bound() {
    // `List[Text]` in an annotation must not make `Text` a local of the body.
    let source = "\
from typing import List
def f(a: List[Text]) -> List[str]:
    b = Text(a)
    return b
";
    assert_eq!(reason(source, "f"), RejectReason::UnresolvedName);
}

#[test]
fn bare_tuples_and_signed_complex_are_constants() {
    let source = "\
PAIR = 'a', 'b'
Z = -1 - 2j
def f(a):
    b = PAIR[a]
    return b, Z
";
    let found = kept(source);
    assert!(
        found[0]
            .source
            .starts_with("PAIR = 'a', 'b'\nZ = -1 - 2j\n")
    );
}

#[test]
fn import_lines_keep_statement_order() {
    let source = "\
from math import sqrt, fabs
def f(a):
    b = sqrt(a)
    return fabs(b)
";
    assert!(
        kept(source)[0]
            .source
            .starts_with("from math import sqrt\nfrom math import fabs\n")
    );
}

#[test]
fn annotated_constants_make_annotations_lazy() {
    let source = "\
from typing import Final
LIMIT: Final = 3
def f(a):
    b = a
    return min(b, LIMIT)
";
    let found = kept(source);
    assert!(
        found[0]
            .source
            .starts_with("from __future__ import annotations\nLIMIT: Final = 3")
    );
}

#[test]
fn trailing_semicolon_is_not_part_of_the_definition() {
    let found = kept("def f(a):\n    b = a\n    return b;\n");
    assert!(found[0].source.ends_with("return b"));
}

#[test]
fn classes_before_functions_keep_positions() {
    let source = "\
import math
class Shape:
    '''A shape.'''

    def area(self):
        return 0


class Circle(Shape):  # round
    def __init__(self, r):
        self.r = r

def area(r):
    a = math.pi * r * r
    return a
";
    let found = kept(source);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].name.as_str(), found[0].line, found[0].n_lines),
        ("area", 13, 3)
    );
    assert_eq!(
        found[0].source,
        "import math\ndef area(r):\n    a = math.pi * r * r\n    return a"
    );
}

#[test]
fn crlf_and_lone_cr_sources_give_the_lf_standalone_source() {
    let lf = "import math\nK = 2\n\ndef f(a):\n    \"\"\"Doc.\n\n    More.\"\"\"\n    b = math.sqrt(a)\n    return b * K\n";
    let crlf = lf.replace('\n', "\r\n");
    let cr = lf.replace('\n', "\r");
    let expected = kept(lf);
    assert_eq!(expected.len(), 1);
    assert!(!expected[0].source.contains('\r'));
    for variant in [crlf, cr] {
        let found = kept(&variant);
        assert_eq!(found, expected, "{variant:?}");
    }
}

#[test]
fn byte_caps_reject_huge_sources_and_literals() {
    let config = ExtractConfig {
        max_source_bytes: 400,
        max_literal_bytes: 50,
        ..ExtractConfig::default()
    };
    let check = |source: &str| {
        let report = extract_text(source, source.len(), &config);
        report
            .rejections
            .first()
            .map(|r| (r.reason, r.detail.clone()))
    };
    let long_literal = format!(
        "def f(a):\n    b = a\n    return b + '{}'\n",
        "x".repeat(60)
    );
    let (reason, detail) = check(&long_literal).expect("rejected");
    assert_eq!(reason, RejectReason::LiteralTooLarge);
    assert!(
        detail.contains("a literal of 62 bytes, over 50"),
        "{detail}"
    );
    // A carried constant counts, and so does a long number; a docstring does not.
    let constant = format!(
        "T = '{}'\ndef f(a):\n    b = a\n    return b + T\n",
        "y".repeat(60)
    );
    assert_eq!(check(&constant).unwrap().0, RejectReason::LiteralTooLarge);
    let number = format!("def f(a):\n    b = a\n    return b + {}\n", "7".repeat(60));
    assert_eq!(check(&number).unwrap().0, RejectReason::LiteralTooLarge);
    let docstring = format!(
        "def f(a):\n    '''{}'''\n    b = a\n    return b\n",
        "z".repeat(60)
    );
    assert_eq!(check(&docstring), None);
    let big = format!("def f(a):\n{}    return a\n", "    a += 1\n".repeat(40));
    let (reason, detail) = check(&big).expect("rejected");
    assert_eq!(reason, RejectReason::SourceTooLarge);
    assert!(detail.contains("over 400"), "{detail}");
    // Each cap has its rule switch.
    let mut off = config.clone();
    off.rules.set("literal_bytes", false).unwrap();
    off.rules.set("source_bytes", false).unwrap();
    assert!(extract_text(&long_literal, 0, &off).rejections.is_empty());
    assert!(extract_text(&big, 0, &off).rejections.is_empty());
}
