# The guest half of the sandbox: runs inside CPython-on-WASI, one `turn` per instance.
# `_c2c_driver()` binds everything the driver uses and returns `serve`, the loop over jobs. It
# runs once, in the primed interpreter (prime.rs), so its closures and classes are part of the
# snapshot; every instance's turn calls `serve()`.
#
# It asks the host for a job through the door (`_host.call`), defines the function from its
# standalone source in a fresh namespace, then calls it on each input, reporting every case back
# through the door. Everything it needs is bound before untrusted code runs, so a function that
# patches builtins, `json` or `sys` cannot change how its results are reported.
#
# Frames, guest -> host (JSON text):  {"op":"next"}            -> a job, or "" when there is none
#                                      {"op":"begin","case":i}  -> "" (host resets the budgets)
#                                      {"op":"done","case":i,…} -> ""
#                                      {"op":"probe"}           -> cases to rerun, as "3,0,2"
# A job is a run of `<length>:<text>` fields (lengths in characters): source, name, first case,
# recursion limit, stdout cap, repr cap, probe flag, coverage flag, then the inputs. It is decoded with str
# methods only, which no guest code can patch (a patched `len` once broke a json-decoded job).
#
# Every case starts from the function's freshly defined state: when the namespace holds anything
# a call could change in place (a list, a class, a cache, a mutable default), or a call rebound
# a name, the compiled source is executed again in a new namespace before the next case, so
# module globals and mutable defaults never carry one case's calls into the next.
#
# With the probe flag, after a job's cases the driver asks the host (`{"op":"probe"}`) which
# cases to run again and reruns them perturbed, in the same instance. The probe changes what a
# model cannot see, so that a result that depends on it changes too: `hash()` of str/bytes-
# bearing values is salted, ballast allocated before each case shifts the address layout, and
# every set whose order the hash seed decides (built by `set()`, a display, a comprehension,
# set algebra or a set method, or given as an input) is rebuilt with another table size, which
# reorders it. The host
# switches the instance to another date, clock and random bytes for the probe, and orders its
# cases so that none keeps its place.
#
# With the coverage flag, each case's `done` frame also says which lines and branch arms of the
# function's own code (its functions, lambdas and carried helpers; not module-level code) the
# call ran, through `sys.monitoring` events set on those code objects only. Every event
# disables itself where it fired and `restart_events()` re-arms them before each call, so a
# location costs one callback per case however often it runs.


def _c2c_driver():
    import ast
    import builtins
    import marshal
    import sys

    import opcode

    import _host
    import _warnings

    door = _host.call
    encode_utf8, decode_utf8, find = str.encode, bytes.decode, str.find
    set_limit = sys.setrecursionlimit
    isinstance_, type_, len_, str_, repr_ = isinstance, type, len, str, repr
    int_, float_, bool_, bytes_, complex_ = int, float, bool, bytes, complex
    list_, tuple_, dict_, set_, frozenset_ = list, tuple, dict, set, frozenset
    base_exception, memory_error = BaseException, MemoryError
    type_error, name_error, value_error = TypeError, NameError, ValueError
    object_, none_type, bytearray_ = object, type(None), bytearray
    function_type, module_type = type(_c2c_driver), type(sys)
    real_hash, setattr_ = hash, setattr
    compile_, exec_, callable_, zip_, max_, range_ = compile, exec, callable, zip, max, range
    join = "".join
    ast_parse = ast.parse
    marshal_loads = marshal.loads
    AST = ast
    fix_locations, copy_location = ast.fix_missing_locations, ast.copy_location
    real_stdout, real_stderr = sys.stdout, sys.stderr
    # Warnings print once per place per interpreter: forgetting which were shown before each
    # case makes a case print the same whatever ran before it. This is what
    # `warnings._filters_mutated()` does, from the C module: importing `warnings` from the zip
    # costs ~3.4 ms, most of a fresh instance's start.
    acquire_warnings = getattr(_warnings, "_acquire_lock", None)
    warnings_mutated = getattr(_warnings, "_filters_mutated_lock_held", None)
    release_warnings = getattr(_warnings, "_release_lock", None)

    def forget_warnings():
        if warnings_mutated is None:
            return
        acquire_warnings()
        try:
            warnings_mutated()
        finally:
            release_warnings()

    # JSON string escaping with str.translate only: nothing a guest can patch.
    escapes = {i: "\\u%04x" % i for i in range(32)}
    escapes.update({ord('"'): '\\"', ord("\\"): "\\\\", 0x2028: "\\u2028", 0x2029: "\\u2029"})
    translate = str.translate

    def q(text):
        if text is None:
            return "null"
        return '"' + translate(text, escapes) + '"'

    def send(frame):
        return door(encode_utf8(frame, "utf-8", "backslashreplace"))

    class OutputLimit(BaseException):
        """Raised in the function when it prints past the cap; it cannot hide the overflow."""

    class CappedStdout:
        def __init__(self, cap):
            self.parts, self.size, self.cap, self.overflow = [], 0, cap, False

        def write(self, text):
            if not isinstance_(text, str_):
                raise type_error("write() argument must be str, not " + type_(text).__name__)
            room = self.cap - self.size
            if len_(text) > room:
                self.parts.append(text[: max_(room, 0)])
                self.size = self.cap
                self.overflow = True
                raise OutputLimit()
            self.parts.append(text)
            self.size += len_(text)
            return len_(text)

        def flush(self):
            pass

        def isatty(self):
            return False

        def writable(self):
            return True

        def text(self):
            return join(self.parts)

    class BadInput(Exception):
        pass

    safe_calls = {
        "set": set_,
        "frozenset": frozenset_,
        "tuple": tuple_,
        "list": list_,
        "dict": dict_,
        "float": float_,
        "complex": complex_,
        "bytes": bytes_,
        "int": int_,
        "bool": bool_,
        "str": str_,
    }

    def literal(node):
        """A value from literal syntax only; constructor calls of builtin types on literals."""
        if isinstance_(node, AST.Constant):
            return node.value
        if isinstance_(node, AST.Tuple):
            return tuple_(literal(e) for e in node.elts)
        if isinstance_(node, AST.List):
            return [literal(e) for e in node.elts]
        if isinstance_(node, AST.Set):
            value = {literal(e) for e in node.elts}
            return inflate(value) if perturbing[0] else value
        if isinstance_(node, AST.Dict):
            out = {}
            for k, v in zip_(node.keys, node.values, strict=True):
                if k is None:
                    out.update(literal(v))
                else:
                    out[literal(k)] = literal(v)
            return out
        if isinstance_(node, AST.UnaryOp) and isinstance_(node.op, (AST.USub, AST.UAdd)):
            value = literal(node.operand)
            if type_(value) not in (int_, float_, complex_):
                raise BadInput("unary sign on a non-number")
            return -value if isinstance_(node.op, AST.USub) else value
        if isinstance_(node, AST.BinOp) and isinstance_(node.op, (AST.Add, AST.Sub)):
            left, right = literal(node.left), literal(node.right)
            if type_(left) not in (int_, float_) or type_(right) is not complex_:
                raise BadInput("only complex literals may use + or -")
            return left + right if isinstance_(node.op, AST.Add) else left - right
        if (
            isinstance_(node, AST.Call)
            and isinstance_(node.func, AST.Name)
            and node.func.id in safe_calls
            and not node.keywords
            and len_(node.args) <= 1
        ):
            args = [literal(a) for a in node.args]
            if args and type_(args[0]) not in (
                str_, int_, float_, bool_, tuple_, list_, set_, frozenset_, dict_, bytes_
            ):
                raise BadInput("constructor argument is not a literal")
            value = safe_calls[node.func.id](*args)
            return inflate(value) if perturbing[0] else value
        raise BadInput("not a literal: " + type_(node).__name__)

    def parse_call(text):
        """`(1, [2], key="x")` -> (args, kwargs); literals only, nothing is evaluated."""
        try:
            tree = ast_parse("_" + text, mode="eval")
        except base_exception as e:
            raise BadInput("not a call argument list: " + type_(e).__name__) from None
        call = tree.body
        if not (
            isinstance_(call, AST.Call)
            and isinstance_(call.func, AST.Name)
            and call.func.id == "_"
            and call.func.end_col_offset == 1
        ):
            raise BadInput("not a call argument list")
        args, kwargs = [], {}
        for node in call.args:
            if isinstance_(node, AST.Starred):
                args.extend(literal(node.value))
            else:
                args.append(literal(node))
        for kw in call.keywords:
            if kw.arg is None:
                kwargs.update(literal(kw.value))
            else:
                kwargs[kw.arg] = literal(kw.value)
        return args, kwargs

    def reinflated(value):
        """The value with each set rebuilt by `inflate`, as `literal` builds input sets while
        the driver probes."""
        t = type_(value)
        if t is list_:
            return [reinflated(v) for v in value]
        if t is tuple_:
            return tuple_(reinflated(v) for v in value)
        if t is dict_:
            return {k: reinflated(v) for k, v in value.items()}
        return inflate(value) if t is set_ else value

    def unpacked(raw):
        """(marshalled values, text) of an input the host packed as `\\0<n>:<n chars>text`: its
        values marshalled, one char per byte; else (None, raw). Parsing the text here cost ~0.3M
        instructions for a list of seven ints, half of most cases; unmarshalling costs 6K."""
        if raw[:1] != "\0":
            return None, raw
        colon = find(raw, ":", 1)
        end = colon + 1 + int_(raw[1:colon])
        return raw[colon + 1 : end], raw[end:]

    def parse_input(raw):
        """(args, kwargs) of an input: unmarshalled when the host packed its values, else
        parsed from its text (`parse_call`)."""
        if raw[:1] != "\0":
            return parse_call(raw)
        try:
            args, kwargs = marshal_loads(unpacked(raw)[0].encode("latin-1"))
        except base_exception as e:
            raise BadInput("packed input unreadable: " + type_(e).__name__) from None
        if type_(args) is not list_ or type_(kwargs) is not dict_:
            raise BadInput("packed input is not (list, dict)")
        if perturbing[0]:
            return reinflated(args), reinflated(kwargs)
        return args, kwargs

    def to_json(value, depth):
        """JSON text for plain data (tuples become arrays), or None when not representable."""
        if depth > 100:
            return None
        t = type_(value)
        if value is None:
            return "null"
        if t is bool_:
            return "true" if value else "false"
        if t is int_:
            return repr_(value) if len_(repr_(value)) <= 4300 else None
        if t is float_:
            return repr_(value) if value == value and value not in (1e999, -1e999) else None
        if t is str_:
            return q(value)
        if t is list_ or t is tuple_:
            parts = []
            for item in value:
                part = to_json(item, depth + 1)
                if part is None:
                    return None
                parts.append(part)
            return "[" + ",".join(parts) + "]"
        if t is dict_:
            parts = []
            for k, v in value.items():
                part = to_json(v, depth + 1)
                if type_(k) is not str_ or part is None:
                    return None
                parts.append(q(k) + ":" + part)
            return "{" + ",".join(parts) + "}"
        return None

    def describe(e):
        """The paper's exception text, `<class 'X'>: message`."""
        try:
            message = str_(e)
        except base_exception:
            message = "<unprintable>"
        return str_(type_(e)) + ": " + message

    def report(case, status, value_repr=None, value_json=None, exc=None, stdout="", error=None):
        error_type = None
        if exc is not None:
            error_type, error = type_(exc).__name__, describe(exc)
        send(
            '{"op":"done","case":%d,"status":%s,"repr":%s,"json":%s,"error_type":%s,'
            '"error":%s,"stdout":%s,"coverage":%s}'
            % (
                case,
                q(status),
                q(value_repr),
                q(value_json),
                q(error_type),
                q(error),
                q(stdout),
                covered[0],
            )
        )

    # --- fresh state per case ----------------------------------------------------------------

    seed_free_types = (int_, float_, bool_, complex_, none_type)
    immutable_types = (*seed_free_types, str_, bytes_)

    def made_of(value, leaf_types, depth=0):
        """Whether `value` is of one of `leaf_types`, or a tuple or frozenset of such values."""
        t = type_(value)
        if t in leaf_types:
            return True
        if (t is tuple_ or t is frozenset_) and depth < 20:
            for item in value:
                if not made_of(item, leaf_types, depth + 1):
                    return False
            return True
        return False

    def immutable(value):
        return made_of(value, immutable_types)

    def snapshot(namespace):
        """The identities a call could change without mutating anything, or None when the
        namespace holds something a call could change in place."""
        snap = []
        for key, value in namespace.items():
            t = type_(value)
            if t is module_type or key == INFLATE:
                snap.append((key, value, None))
            elif t is function_type:
                kw = value.__kwdefaults__
                kw_items = tuple_(kw.items()) if kw else ()
                if (
                    value.__closure__ is not None
                    or value.__dict__
                    or not immutable(value.__defaults__)
                    or not immutable(kw_items)
                ):
                    return None
                snap.append((key, value, (value.__defaults__, kw_items)))
            elif immutable(value):
                snap.append((key, value, None))
            else:
                return None
        return snap

    def unchanged(namespace, snap):
        """Whether no call rebound a name, a default or a function attribute since `snap`."""
        if len_(namespace) != len_(snap):
            return False
        for (key, value), (old_key, old_value, extra) in zip_(namespace.items(), snap):
            if key != old_key or value is not old_value:
                return False
            if extra is not None:
                kw = value.__kwdefaults__
                kw_items = tuple_(kw.items()) if kw else ()
                old_defaults, old_kw = extra
                if value.__defaults__ is not old_defaults or value.__dict__:
                    return False
                if len_(kw_items) != len_(old_kw):
                    return False
                for (k1, v1), (k2, v2) in zip_(kw_items, old_kw):
                    if k1 != k2 or v1 is not v2:
                        return False
        return True

    # --- stability: what a model cannot infer -------------------------------------------------

    def seed_free(value):
        """Whether hashing `value` involves no str/bytes hashing (so no hash seed) and no address."""
        return made_of(value, seed_free_types)

    def seeded(value, depth=0):
        """Whether `hash(value)` hashes str or bytes, which the hash seed decides."""
        t = type_(value)
        if t is str_ or t is bytes_:
            return True
        if (t is tuple_ or t is frozenset_) and depth < 20:
            for item in value:
                if seeded(item, depth + 1):
                    return True
        return False

    # 2**61 - 1 is prime, so moving a hash by it changes `h % n` for every n below it, the
    # low bits (`h & mask`), `h // k` and the digits: no use of the value matches by chance.
    hash_shift = (1 << 61) - 1

    def salted_hash(value):
        """`hash` as another seed would give it for str/bytes-bearing values (probe only)."""
        h = real_hash(value)
        if not seeded(value):
            return h
        return h - hash_shift if h > 0 else h + hash_shift

    def hash_ordered(value, budget):
        """Whether a returned value shows a set whose order the hash seed decides; `budget` is
        a one-item list counting the containers still to look into."""
        t = type_(value)
        if t is set_ or t is frozenset_:
            if len_(value) > 1:
                for item in value:
                    if not seed_free(item):
                        return True
            return False
        if t is list_ or t is tuple_:
            items = value
        elif t is dict_:
            items = [*value.keys(), *value.values()]
        else:
            return False
        budget[0] -= 1
        if budget[0] < 0:
            return False
        for item in items:
            if hash_ordered(item, budget):
                return True
        return False

    # Placeholders that grow a set's hash table; made on first use (most instances never probe).
    sentinels = []
    discard = set_.discard
    # Placeholders per attempt: tables of 16, 32, ... 16,384 slots (CPython grows a set's table
    # to four times its size, so these counts were measured, one per power of two).
    table_fills = (3, 5, 17, 19, 75, 77, 305, 312, 1227, 1229, 4913)

    class Slot:
        """A placeholder with a chosen hash: it takes a chosen slot of a set's table."""

        __slots__ = ("h",)

        def __init__(self, h):
            self.h = h

        def __hash__(self):
            return self.h

    def rebuilt(value, fill, blocked=()):
        """`value` in a table grown by `fill` placeholders, with `blocked` hashes' slots taken
        while its elements go in; every placeholder removed again (a table never shrinks)."""
        while len_(sentinels) < fill:
            sentinels.append(object_())
        extra = [*sentinels[:fill], *[Slot(h) for h in blocked]]
        bigger = set_(extra)
        bigger.update(value)
        for placeholder in extra:
            discard(bigger, placeholder)
        return bigger

    def reordered(bigger, order):
        for a, b in zip_(bigger, order):
            if a is not b:
                return True
        return False

    def inflate(value):
        """The same set in another hash table, so that its iteration order changes if the hash
        seed decides it; any other value unchanged."""
        if type_(value) is not set_ or len_(value) < 2:
            return value
        for item in value:
            if not seed_free(item):
                break
        else:
            return value
        order = list_(value)
        for fill in table_fills:
            bigger = rebuilt(value, fill)
            if reordered(bigger, order):
                return bigger
        # Every table size kept the order: the hashes agree in each bit that decides it. Then
        # an element is pushed out of its slot: its home slot and the next ones it would probe
        # are taken, so it lands where the table's probe sequence jumps.
        for fill, mask in ((19, 127), (77, 511), (312, 2047), (1229, 8191)):
            for item in order[:4]:
                home = real_hash(item)
                blocked = [(home & ~mask) | ((home + i) & mask) for i in range_(10)]
                bigger = rebuilt(value, fill, blocked)
                if reordered(bigger, order):
                    return bigger
        return bigger

    INFLATE = "__c2c_inflate__"
    set_methods = {"union", "intersection", "difference", "symmetric_difference", "copy"}
    set_ops = (AST.BitOr, AST.BitAnd, AST.Sub, AST.BitXor)

    class Inflater(AST.NodeTransformer):
        def wrap(self, node):
            name = AST.Name(id=INFLATE, ctx=AST.Load())
            return copy_location(AST.Call(func=name, args=[node], keywords=[]), node)

        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if (isinstance_(f, AST.Name) and f.id == "set") or (
                isinstance_(f, AST.Attribute) and f.attr in set_methods
            ):
                return self.wrap(node)
            return node

        def visit_Set(self, node):
            self.generic_visit(node)
            return self.wrap(node)

        def visit_SetComp(self, node):
            self.generic_visit(node)
            return self.wrap(node)

        def visit_BinOp(self, node):
            self.generic_visit(node)
            return self.wrap(node) if isinstance_(node.op, set_ops) else node

    def compile_instrumented(source):
        tree = fix_locations(Inflater().visit(ast_parse(source)))
        return compile_(tree, "<function>", "exec")

    def ballast():
        """Blocks of every small-object size class (and a few large ones), alive during a
        probed case: freed blocks are reused last-in first-out, so without them what the case
        allocates could land where the first run's objects were and show the same addresses."""
        return (
            [object_() for _ in range_(8)],
            [bytearray_(n) for n in range_(0, 512, 16)],
            [bytearray_(n) for n in (1000, 5000, 70000)],
        )

    def fields(text):
        out, at = [], 0
        while at < len_(text):
            colon = find(text, ":", at)
            end = colon + 1 + int_(text[at:colon])
            out.append(text[colon + 1 : end])
            at = end
        return out

    # Set while the driver probes a job: input sets are rebuilt like the function's own.
    perturbing = [False]
    # Whether the function's own code can make a set whose order the hash seed decides, read
    # from its compiled code objects (no second parse: instrumenting costs ~3.5M instructions,
    # more than most functions' cases): a set display or comprehension (BUILD_SET, SET_ADD,
    # SET_UPDATE), a folded constant set (`x in {"a", "b"}`), or a call of `set`, `frozenset` or
    # a set method by name; set operators (&, |, -, ^) count where a set can reach them: on dict
    # views, or when an input holds a set (its copy too). Other code runs its probe on the first
    # compilation.
    code_type = type_(ballast.__code__)
    opmap = opcode.opmap
    set_building = tuple_(
        bytes_([opmap[n]]) for n in ("BUILD_SET", "SET_ADD", "SET_UPDATE") if n in opmap
    )
    binary_op = opmap.get("BINARY_OP", -1)
    nb_ops = getattr(opcode, "_nb_ops", None)
    set_operator_args = (
        None  # unknown numbering: every binary operator counts
        if nb_ops is None
        else frozenset_(i for i, op in enumerate(nb_ops) if op[1].rstrip("=") in ("&", "|", "-", "^"))
    )
    set_names = frozenset_(("set", "frozenset", "union", "intersection", "difference",
                            "symmetric_difference"))  # fmt: skip
    view_names = frozenset_(("keys", "items"))

    def code_objects(code):
        out, stack = [], [code]
        while stack:
            current = stack.pop()
            out.append(current)
            for const in current.co_consts:
                if type_(const) is code_type:
                    stack.append(const)
        return out

    def set_operators(codes):
        for c in codes:
            raw = c.co_code
            for i in range_(0, len_(raw), 2):
                if raw[i] == binary_op:
                    if set_operator_args is None or raw[i + 1] in set_operator_args:
                        return True
        return False

    def needs_inflating(code, texts):
        codes = code_objects(code)
        names = set_()
        for c in codes:
            names.update(c.co_names)
            ops = c.co_code[::2]
            for op in set_building:
                if op in ops:
                    return True
            for const in c.co_consts:
                if type_(const) is frozenset_ and len_(const) > 1:
                    return True
        if not names.isdisjoint(set_names):
            return True
        input_sets = False
        for text in texts:
            if "{" in text or "set(" in text:
                input_sets = True
        if input_sets and "copy" in names:
            return True
        return (input_sets or not names.isdisjoint(view_names)) and set_operators(codes)

    # --- coverage -----------------------------------------------------------------------------

    monitoring = sys.monitoring
    coverage_tool = monitoring.COVERAGE_ID
    coverage_events = (
        monitoring.events.LINE | monitoring.events.BRANCH_LEFT | monitoring.events.BRANCH_RIGHT
    )
    disable, restart_events = monitoring.DISABLE, monitoring.restart_events
    set_local_events, id_, sorted_ = monitoring.set_local_events, id, sorted
    not_lines = frozenset_(opmap[n] for n in ("CACHE", "RESUME") if n in opmap)
    resume_op = opmap["RESUME"]
    # While a call runs: (lines hit, arms hit, arm index by (id(code), from, to)); else None.
    tracing = [None]
    # The `coverage` field of the next `done` frame: JSON text, "null" when not traced.
    covered = ["null"]

    def on_line(code, line):
        hits = tracing[0]
        if hits is not None:
            hits[0].add(line)
        return disable

    def on_branch(code, at, to):
        hits = tracing[0]
        if hits is not None:
            arm = hits[2].get((id_(code), at, to))
            if arm is not None:
                hits[1].add(arm)
        return disable

    try:
        monitoring.use_tool_id(coverage_tool, "case2code")
        monitoring.register_callback(coverage_tool, monitoring.events.LINE, on_line)
        monitoring.register_callback(coverage_tool, monitoring.events.BRANCH_LEFT, on_branch)
        monitoring.register_callback(coverage_tool, monitoring.events.BRANCH_RIGHT, on_branch)
    except value_error:  # the tool id is taken: coverage stays unreported
        coverage_tool = None

    def code_lines(code):
        """Lines with an instruction a LINE event can fire for: after the RESUME that starts
        the code (what precedes it, cells and generator set-up, runs on the `def` line)."""
        raw, lines, started = code.co_code, set_(), False
        for start, end, line in code.co_lines():
            for at in range_(start, end, 2):
                op = raw[at]
                if op == resume_op:
                    started = True
                if started and line is not None and op not in not_lines:
                    lines.add(line)
        return lines

    def instrument(code):
        """Arms events on the function's own code objects; returns (lines with code, arm
        index), or None when coverage cannot be traced."""
        if coverage_tool is None:
            return None
        lines, arms = set_(), {}
        for c in code_objects(code)[1:]:  # [0] is the module's own code
            # CO_OPTIMIZED: functions, not class bodies; `__annotate__` (3.14+) evaluates
            # annotations on request, never in a call of the function itself.
            if not c.co_flags & 1 or c.co_name == "__annotate__":
                continue
            lines |= code_lines(c)
            for at, left, right in c.co_branches():
                arms[(id_(c), at, left)] = len_(arms)
                arms[(id_(c), at, right)] = len_(arms)
            set_local_events(coverage_tool, c, coverage_events)
        return lines, arms

    def start_tracing(traced):
        if traced is not None:
            restart_events()
            tracing[0] = (set_(), set_(), traced[1])

    def stop_tracing(traced):
        hits, tracing[0] = tracing[0], None
        if traced is None or hits is None:
            covered[0] = "null"
            return
        lines, arms = traced
        covered[0] = '{"lines":[%s],"arms":[%s],"lines_total":%d,"arms_total":%d}' % (
            ",".join(str_(n) for n in sorted_(hits[0] & lines)),
            ",".join(str_(n) for n in sorted_(hits[1])),
            len_(lines),
            len_(arms),
        )

    def run_cases(cases, inputs, name, code, define_error, limits, current, snap, traced):
        """Runs and reports `cases`, each from the function's freshly defined state; the
        probe's reruns (`traced` is the string "probe") are perturbed, traced ones (an
        `instrument` result) report their coverage."""
        recursion, stdout_cap, repr_cap, fresh_namespace = limits
        perturb = traced == "probe"
        if perturb:
            traced = None
        fresh = current is not None
        for case in cases:
            send('{"op":"begin","case":%d}' % case)
            covered[0] = "null"
            if define_error is not None:
                report(case, "error", exc=define_error)
                continue
            held = ballast() if perturb else None
            try:
                args, kwargs = parse_input(inputs[case])
            except base_exception as e:
                report(case, "invalid_input", error=describe(e) if type_(e) is not BadInput else str_(e))
                continue
            try:
                fresh = fresh or (snap is not None and unchanged(current, snap))
            except base_exception:
                fresh = False
            forget_warnings()
            out = CappedStdout(stdout_cap)
            sys.stdout = sys.stderr = out
            status, value, exc = "ok", None, None
            try:
                set_limit(recursion)
                if perturb:
                    setattr_(builtins, "hash", salted_hash)
                if not fresh:
                    current = fresh_namespace()
                    exec_(code, current)
                    snap = snapshot(current)
                fresh = False
                function = current.get(name)
                if not callable_(function):
                    raise name_error("the source does not define a callable " + repr_(name))
                start_tracing(traced)
                value = function(*args, **kwargs)
            except base_exception as e:
                status, exc = "error", e
            finally:
                stop_tracing(traced)
                set_limit(recursion)
                setattr_(builtins, "hash", real_hash)
                sys.stdout, sys.stderr = real_stdout, real_stderr
            held = None
            if out.overflow:
                report(case, "output_limit", stdout=out.text())
                continue
            if isinstance_(exc, memory_error):
                report(case, "memory", exc=exc, stdout=out.text())
                continue
            if exc is not None:
                report(case, "error", exc=exc, stdout=out.text())
                continue
            try:
                value_repr = repr_(value)
                if type_(value_repr) is not str_:
                    raise type_error("__repr__ returned non-string")
            except base_exception as e:
                if type_(e) is value_error and "integer string conversion" in describe(e):
                    # An int past CPython's 4,300-digit str limit: too long to show anyway.
                    report(case, "output_limit", error=describe(e), stdout=out.text())
                else:
                    # The call returned; only showing its value failed. Never the function's error.
                    report(case, "repr_error", exc=e, stdout=out.text())
                continue
            if len_(value_repr) > repr_cap:
                report(case, "output_limit", value_repr=value_repr[:repr_cap], stdout=out.text())
                continue
            if hash_ordered(value, [1000]):
                report(
                    case,
                    "unstable",
                    value_repr,
                    error="the value shows a set whose order comes from the hash seed",
                    stdout=out.text(),
                )
                continue
            report(case, "ok", value_repr, to_json(value, 0), stdout=out.text())

    def run_job(job):
        source, name, first, recursion, stdout_cap, repr_cap, probe, coverage, *inputs = fields(job)
        first, recursion = int_(first), int_(recursion)
        stdout_cap, repr_cap, probe = int_(stdout_cap), int_(repr_cap), probe == "1"

        def fresh_namespace():
            namespace = {"__name__": "__main__", "__builtins__": builtins}
            if perturbing[0]:
                namespace[INFLATE] = inflate
            return namespace

        limits = (recursion, stdout_cap, repr_cap, fresh_namespace)
        send('{"op":"begin","case":-1}')
        define_error = code = current = snap = None
        try:
            set_limit(recursion)
            code = compile_(source, "<function>", "exec")
            # Run once here so imports (which may be heavy) are paid under the definition budget.
            current = fresh_namespace()
            exec_(code, current)
            snap = snapshot(current)
        except base_exception as e:
            define_error = e
        traced = None
        if coverage == "1" and define_error is None:
            try:
                traced = instrument(code)
            except base_exception:
                traced = None
        cases = range_(first, len_(inputs))
        run_cases(cases, inputs, name, code, define_error, limits, current, snap, traced)
        if not probe:
            return
        # The stability probe: the cases that returned or raised, again, in an order where none
        # keeps its place, perturbed (the host switches this instance's clocks and random bytes).
        answer = decode_utf8(door(b'{"op":"probe"}'), "utf-8")
        order = [int_(c) for c in answer.split(",")] if answer else []
        perturbing[0] = True
        try:
            texts = [unpacked(inputs[c])[1] for c in order]
            if define_error is None and needs_inflating(code, texts):
                try:
                    code = compile_instrumented(source)
                except base_exception as e:
                    define_error = e
            run_cases(order, inputs, name, code, define_error, limits, None, None, "probe")
        finally:
            perturbing[0] = False

    def serve():
        while True:
            job = decode_utf8(door(b'{"op":"next"}'), "utf-8")
            if not job:
                return
            run_job(job)

    return serve
