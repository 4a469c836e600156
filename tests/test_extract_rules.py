"""Every rule, with a kept and a rejected example, through the Python API."""

from __future__ import annotations

import textwrap

import pytest
from case2code import C2CError, ExtractConfig, extract_source
from conftest import defines_function

BODY = "    x = 1\n    y = 2\n"

# (name, module source, reason or None for kept)
CASES = [
    ("plain", f"def f(a):\n{BODY}    return a\n", None),
    ("async", f"async def f(a):\n{BODY}    return a\n", "async"),
    (
        "lru_cache kept",
        f"import functools\n@functools.lru_cache\ndef f(a):\n{BODY}    return a\n",
        None,
    ),
    (
        "cache via from-import",
        f"from functools import cache\n@cache\ndef f(a):\n{BODY}    return a\n",
        None,
    ),
    ("other decorator", f"@staticmethod\ndef f(a):\n{BODY}    return a\n", "decorator"),
    ("no params", f"def f():\n{BODY}    return 1\n", "no_params"),
    ("only *args counts as a param", f"def f(*args):\n{BODY}    return args\n", None),
    ("generator", f"def f(a):\n{BODY}    yield a\n", "generator"),
    (
        "yield in nested def is fine",
        "def f(a):\n    def g():\n        yield a\n    return list(g())\n",
        None,
    ),
    ("bare return", f"def f(a):\n{BODY}    return\n", "no_return"),
    (
        "return only in nested def",
        f"def f(a):\n    def g():\n        return a\n{BODY}",
        "no_return",
    ),
    ("too short", "def f(a):\n    return a\n", "size"),
    ("too long", "def f(a):\n" + "    a += 1\n" * 200 + "    return a\n", "size"),
    ("global", f"def f(a):\n    global G\n{BODY}    return a\n", "global_statement"),
    ("print", f"def f(a):\n{BODY}    print(a)\n    return a\n", "denied_builtin"),
    ("open", f"def f(a):\n{BODY}    return open(a).read()\n", "denied_builtin"),
    (
        "module shadows builtin",
        f"def open(p):\n    return p\ndef f(a):\n{BODY}    return open(a)\n",
        None,
    ),
    (
        "third-party import",
        f"import numpy\ndef f(a):\n{BODY}    return numpy.sum(a)\n",
        "non_stdlib_import",
    ),
    (
        "relative import",
        f"from . import util\ndef f(a):\n{BODY}    return util.g(a)\n",
        "non_stdlib_import",
    ),
    (
        "local third-party import",
        f"def f(a):\n    import yaml\n{BODY}    return yaml.load(a)\n",
        "non_stdlib_import",
    ),
    ("stdlib import kept", f"import math\ndef f(a):\n{BODY}    return math.sqrt(a)\n", None),
    (
        "local stdlib import kept",
        f"def f(a):\n    import math\n{BODY}    return math.sqrt(a)\n",
        None,
    ),
    (
        "denied module",
        f"import os\ndef f(a):\n{BODY}    return os.path.join(a, 'x')\n",
        "denied_module",
    ),
    (
        "local denied module",
        f"def f(a):\n    import random\n{BODY}    return random.random()\n",
        "denied_module",
    ),
    (
        "clock",
        f"import datetime\ndef f(a):\n{BODY}    return datetime.date.today()\n",
        "denied_module",
    ),
    ("undefined name", f"def f(a):\n{BODY}    return helper(a)\n", "unresolved_name"),
    (
        "class at module level",
        f"class C:\n    pass\ndef f(a):\n{BODY}    return C(a)\n",
        "unresolved_name",
    ),
    (
        "non-literal constant",
        f"TABLE = build()\ndef f(a):\n{BODY}    return TABLE[a]\n",
        "unresolved_name",
    ),
    (
        "literal constant",
        f"TABLE = {{'a': (1, -2.5), 'b': [None, 1+2j]}}\ndef f(a):\n{BODY}    return TABLE[a]\n",
        None,
    ),
    (
        "reassigned constant",
        f"K = 1\nK = 2\ndef f(a):\n{BODY}    return a + K\n",
        "unresolved_name",
    ),
    ("helper", f"def h(v):\n    return v * 2\ndef f(a):\n{BODY}    return h(a)\n", None),
    (
        "bad helper",
        f"def h(v):\n    return open(v)\ndef f(a):\n{BODY}    return h(a)\n",
        "denied_builtin",
    ),
    (
        "recursion",
        "def f(n):\n    if n < 2:\n        return n\n    return f(n - 1) + f(n - 2)\n",
        None,
    ),
    (
        "mutual recursion",
        "def even(n):\n    return n == 0 or odd(n - 1)\n"
        "def odd(n):\n    if n == 0:\n        return False\n    return even(n - 1)\n",
        None,
    ),
]


@pytest.mark.parametrize(("label", "source", "reason"), CASES, ids=[c[0] for c in CASES])
def test_rule(label: str, source: str, reason: str | None) -> None:
    result = extract_source(source)
    target = "odd" if label == "mutual recursion" else "f"
    kept = result.functions.filter(name=target)
    rejected = result.rejected.filter(name=target)
    if reason is None:
        assert kept.height == 1, rejected.to_dicts()
        assert defines_function(kept["source"][0], target)
    else:
        assert kept.height == 0
        assert rejected["reason"].to_list() == [reason], rejected.to_dicts()
        assert rejected["detail"][0]


def test_helpers_imports_and_constants_are_carried_in_file_order() -> None:
    source = textwrap.dedent(
        """\
        import re
        import math
        SCALE = 3
        UNUSED = 4

        def norm(v):
            return math.sqrt(v) * SCALE

        def f(text):
            words = re.findall(r"\\w+", text)
            return [norm(len(w)) for w in words]
        """
    )
    record = next(r for r in extract_source(source).records() if r.name == "f")
    assert record.helpers == ("norm",)
    assert record.source.splitlines()[:3] == ["import re", "import math", "SCALE = 3"]
    assert "UNUSED" not in record.source
    assert defines_function(record.source, "f")


def test_record_fields() -> None:
    source = (
        'def f(a, /, b: int = 2, *rest, c, **kw) -> int:\n    """Add.\n\n    More."""\n'
        "    return a + b\n"
    )
    (record,) = extract_source(source, origin="mod.py").records()
    assert record.signature == "f(a, /, b: int = 2, *rest, c, **kw) -> int"
    assert [(p.name, p.kind) for p in record.params] == [
        ("a", "positional_only"),
        ("b", "positional_or_keyword"),
        ("rest", "var_positional"),
        ("c", "keyword_only"),
        ("kw", "var_keyword"),
    ]
    assert record.params[1].annotation == "int" and record.params[1].default == "2"
    assert record.returns == "int"
    assert record.docstring == "Add.\n\nMore."
    assert (record.origin, record.line, record.n_lines) == ("mod.py", 1, 5)
    assert len(record.function_id) == 16


def test_rules_switch_off_and_bounds_change() -> None:
    source = "def f(a):\n    return a\n"
    assert extract_source(source).summary.kept == 0
    assert extract_source(source, config=ExtractConfig(rules={"size": False})).summary.kept == 1
    assert extract_source(source, config=ExtractConfig(min_lines=1)).summary.kept == 1


def test_lists_are_data_users_can_replace() -> None:
    source = f"import numpy\ndef f(a):\n{BODY}    return numpy.sum(a)\n"
    config = ExtractConfig(lists={"stdlib_modules": ["numpy"]})
    assert extract_source(source, config=config).summary.kept == 1


def test_bad_config_is_explained() -> None:
    with pytest.raises(C2CError, match='unknown rule "sise"'):
        extract_source("x = 1\n", config=ExtractConfig(rules={"sise": False}))
    with pytest.raises(C2CError, match="unknown list"):
        extract_source("x = 1\n", config=ExtractConfig(lists={"deny": []}))
    with pytest.raises(C2CError, match="min_lines"):
        extract_source("x = 1\n", config=ExtractConfig(min_lines=5, max_lines=2))
