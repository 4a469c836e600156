"""`c2c`: the command line. Each command is one stage, table in, table out.

An option that sets a settings field is made from the field (its type and default) and one help
text in `SETTING_HELP`; the command gets the settings built (`@settings`). Other options that
several commands share are declared once (the aliases below). `c2c --help` lists the commands in
the order they are defined here: the order a pipeline runs them.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import tempfile
import time
import typing
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from case2code.assemble import AssembleConfig, assemble_to_parquet
from case2code.atomic import write_text
from case2code.benchmarks import DEFAULT_BENCHMARKS
from case2code.dedup import DedupConfig, dedup_parquet
from case2code.dedup_report import write_report
from case2code.errors import C2CError
from case2code.evaluation import evaluate
from case2code.evaluation.results import RESULT_FILES
from case2code.execute import execute_to_parquet
from case2code.executors import PARTITION_FUNCTIONS
from case2code.export import FORMATS, export
from case2code.extract import RULES, ExtractConfig, ExtractSummary, extract_to_parquet, stdlib_path
from case2code.inputs import InputsConfig, generate_inputs_to_parquet
from case2code.inputs.drivers import make_generator
from case2code.inputs.llm import LLMSettings
from case2code.inputs.stage import report_path
from case2code.mix import MixConfig, mix
from case2code.outputs import check_outputs
from case2code.run_config import STAGES, GeneratorConfig, load_config
from case2code.sandbox import PREPARING, Limits, cache_dir, compiled_path, is_prepared, prepare
from case2code.sandbox_cache import cache_info, clear_cache

app = typer.Typer(
    help="Turn real Python code into execution-verified Case2Code training data.",
    no_args_is_help=True,
)
sandbox_app = typer.Typer(
    help="The sandbox's interpreter, compiled once per machine: prepare it, show or clear it.",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")
console = Console(stderr=True)

THREADS = "Worker threads; 0 = one per core."
WORKERS = "Sandbox worker processes; default one per core."
# The help of each option that sets a settings field, by class and field, in the order `--help`
# lists them.
SETTING_HELP: dict[type, dict[str, str]] = {
    ExtractConfig: {
        "text_column": "Source column of JSONL/Parquet rows.",
        "threads": THREADS,
        "min_lines": "Shortest function kept, in lines.",
        "max_lines": "Longest function kept, in lines.",
    },
    DedupConfig: {
        "threshold": "Jaccard similarity of duplicates.",
        "ngram": "Tokens per shingle.",
        "permutations": "MinHash permutations.",
        "bands": "LSH bands.",
        "rows": "LSH rows per band.",
        "verify": "Check candidates' exact Jaccard before merging.",
        "structural": "Rename identifiers to placeholders: renamed copies match.",
        "raw_text": "Compare tokens as written: comments, docstrings and quoting count.",
        "keep": "Who represents a cluster: shortest, first or score.",
        "score_column": "Column to maximise with --keep score.",
        "threads": THREADS,
    },
    GeneratorConfig: {
        "name": "builtin (no model), openai (any compatible server) or vllm.",
        "model": "Model name (openai, vllm); openai asks the server.",
        "base_url": "OpenAI-compatible server (openai generator).",
        "concurrency": "Parallel requests (openai).",
    },
    InputsConfig: {
        "n_inputs": "Inputs kept per function.",
        "min_valid": "Valid inputs a function should reach (the report's k).",
        "rounds": "Generation rounds.",
        "mutate": "Mutate valid inputs; default: builtin only.",
        "seed": "Same seed, same inputs.",
        "workers": WORKERS,
    },
    LLMSettings: {
        "structured": "Send a JSON schema (structured output / guided decoding).",
        "max_tokens": "Cap per LLM answer.",
        "temperature": "LLM sampling temperature.",
    },
    Limits: {
        "fuel_per_case": "Wasm instructions per case.",
        "wall_ms_per_case": "Wall-clock limit per case.",
        "stdout_chars": "Captured stdout per case.",
        "isolation": "Fresh interpreter per 'function' or per 'case'; 'shared' is unsafe.",
        "check_stability": "Rerun returning and raising cases with another hash salt, date, "
        "clock, address layout and case order; cases whose output changes become unstable.",
        "coverage": "Trace the lines and branch arms of the function's own code each case runs "
        "(columns lines, arms, lines_total, arms_total).",
    },
    AssembleConfig: {
        "seed": "Same seed, same cases and templates.",
        "held_out": "Held-out cases per function.",
        "held_out_choice": "inferable: held-out cases take only branch arms shown ones took "
        "(traced results); random: the paper's choice.",
        "min_cases": "Usable cases a function needs.",
        "keep_errors": "Keep exceptions as cases (`<class 'X'>: msg`).",
    },
    MixConfig: {
        "ratio": "Share of case2code rows in the mixture, in (0, 1); all your rows kept.",
        "tokens": "Budget of estimated tokens (characters / 4) for the case2code part.",
        "seed": "Same seed, same rows and order.",
        "repeat": "Repeat case2code rows when too few, instead of sampling other rows down "
        "(--ratio) or leaving the budget unmet (--tokens).",
    },
}
# Options named otherwise than their field: the names users know.
FLAGS = {
    (GeneratorConfig, "name"): "--generator",
    (Limits, "fuel_per_case"): "--fuel",
    (Limits, "wall_ms_per_case"): "--timeout-ms",
}

Command = TypeVar("Command", bound=Callable[..., Any])


def setting_option(cls: type, name: str) -> inspect.Parameter:
    """The option of field `name`: its type (a Literal as text, which the class checks), default
    and help."""
    hint = typing.get_type_hints(cls)[name]
    kind = str if typing.get_origin(hint) is typing.Literal else hint
    flags = [FLAGS[cls, name]] if (cls, name) in FLAGS else []
    option = typer.Option(*flags, help=SETTING_HELP[cls][name])
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=getattr(cls, name),
        annotation=Annotated[kind, option],
    )


def settings(cls: type, *names: str, into: str = "config") -> Callable[[Command], Command]:
    """The command's keyword-only parameter `into` becomes the options of `names` (default: every
    field in SETTING_HELP[cls]), and the command gets `cls` built from their values."""
    names = names or tuple(SETTING_HELP[cls])

    def decorate(function: Command) -> Command:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            return function(*args, **kwargs, **{into: cls(**values)})

        signature = inspect.signature(function, eval_str=True)
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            is_settings = parameter.name == into
            parameters += [setting_option(cls, n) for n in names] if is_settings else [parameter]
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run  # type: ignore[return-value]

    return decorate


# Options and arguments of more than one command that set no settings field.
FunctionsTable = Annotated[Path, typer.Argument(help="Functions table (c2c extract or dedup).")]
Workers = Annotated[int | None, typer.Option(help=WORKERS)]
ShardFunctions = Annotated[
    int, typer.Option(help="Functions per shard; finished shards survive a crash.")
]
Formats = Annotated[str, typer.Option(help="Comma-separated: parquet, jsonl.")]
ALL_FORMATS = ",".join(FORMATS)


def print_version(asked: bool) -> None:
    if asked:
        print(f"c2c (case2code) {metadata.version('case2code')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """case2code command line."""


def tell(message: str) -> None:
    """One line on stderr as written: no markup or highlighting, unwrapped."""
    console.print(escape(message), highlight=False, soft_wrap=True)


def say(label: str, message: str) -> None:
    """One labelled line on stderr; the message as written (so `[run]` stays)."""
    console.print(f"[bold red]{label}:[/] {escape(message)}", highlight=False, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    say("error", message)
    return typer.Exit(code=2)


# Exit status of a command stopped by Ctrl-C, as a shell reports one killed by SIGINT.
INTERRUPTED_EXIT = 130
RESUMES = "rerun the same command to resume: finished stages and shards are kept"
RESTARTS = "nothing was half-written; rerun the same command to start again"


def command(
    name: str, after_interrupt: str, group: typer.Typer = app
) -> Callable[[Command], Command]:
    """A command of `group` whose ordinary failures print one line, never a traceback: a
    C2CError or an OSError exits 2, Ctrl-C exits 130 saying `after_interrupt` (what a rerun
    does)."""

    def decorate(function: Command) -> Command:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except C2CError as error:
                raise fail(str(error)) from None
            except OSError as error:  # one not met at a known write: still one line
                where = f"{error.filename}: " if error.filename else ""
                raise fail(f"{where}{error.strerror or error}") from None
            except KeyboardInterrupt:
                say("interrupted", after_interrupt)
                raise typer.Exit(code=INTERRUPTED_EXIT) from None

        group.command(name)(run)
        return run  # type: ignore[return-value]

    return decorate


def ready_sandbox() -> None:
    """The first run on a machine compiles the sandbox's interpreter (minutes, once): that is
    its own announced step, with a spinner, before any stage's bar sits still through it."""
    if is_prepared():
        return
    tell(f"preparing the sandbox: {PREPARING}")  # a line first: a log or pipe shows no spinner
    started = time.monotonic()
    with Progress(
        SpinnerColumn(), "compiling", TimeElapsedColumn(), console=console, transient=True
    ) as spinner:
        spinner.add_task("compiling", total=None)
        compiled, _ = prepare()
    seconds = time.monotonic() - started
    tell(f"sandbox prepared in {seconds:.0f} s: {compiled} (c2c sandbox info)")


@contextmanager
def named_bars(
    *columns: Any, pad: int = 0, transient: bool = True
) -> Iterator[Callable[[str, int, int], None]]:
    """Progress bars on stderr, one per name reported to the yielded `advance(name, done,
    total)`: its name (padded to `pad` characters), then `columns`."""
    description = f"[progress.description]{{task.description{f':<{pad}' if pad else ''}}}"
    with Progress(description, *columns, console=console, transient=transient) as progress:
        tasks: dict[str, TaskID] = {}

        def advance(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total)

        yield advance


@contextmanager
def functions_progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar counting functions; yields the `progress(done, total)` callback."""
    with named_bars(BarColumn(), MofNCompleteColumn(), "functions", TimeRemainingColumn()) as bar:
        bar(description, 0, None)
        yield functools.partial(bar, description)


Row = tuple[str, str | int]  # a summary row: label, figure


def print_summary(title: str, rows: Iterable[Row]) -> None:
    """A summary table: bold labels, right-aligned figures (counts with thousands separators)."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, figure in rows:
        table.add_row(label, f"{figure:,}" if isinstance(figure, int) else figure)
    console.print(table)


def split_formats(formats: str) -> tuple[str, ...]:
    return tuple(f.strip() for f in formats.split(",") if f.strip())


@contextmanager
def stage_bars() -> Iterator[Callable[[str], AbstractContextManager[Callable[[int, int], None]]]]:
    """One progress bar per pipeline stage; yields the pipeline's progress factory."""
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with named_bars(*columns, pad=9, transient=False) as advance:

        @contextmanager
        def stage(name: str) -> Iterator[Callable[[int, int], None]]:
            advance(name, 0, None)
            seen = [1]  # the last total reported; a cached stage reports none

            def report(done: int, total: int) -> None:
                seen[0] = total
                advance(name, done, total)

            yield report
            advance(name, seen[0], seen[0])

        yield stage


@command("run", RESUMES)
def run_command(
    config_file: Annotated[
        Path | None,
        typer.Argument(help="TOML settings (docs/run.toml lists every key); default: defaults."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="Run folder (default: c2c-run).")
    ] = None,
    corpus: Annotated[
        list[Path] | None,
        typer.Option("--corpus", help="Corpus path (repeatable). Default: the standard library."),
    ] = None,
    max_functions: Annotated[
        int | None, typer.Option(help="Keep a seeded sample of this many functions after dedup.")
    ] = None,
    generator: Annotated[
        str | None, typer.Option(help="Input generator: builtin, openai or vllm.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model for openai / vllm.")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server.")] = None,
    workers: Workers = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Stop after this stage (extract, dedup, inputs, execute, assemble, export); "
            "run.json and the report come with a full run."
        ),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(help="Where the steps run: local (this machine) or ray (a Ray cluster)."),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster to join (auto, ray://host:10001); default: start one."),
    ] = None,
) -> None:
    """The whole pipeline: extract, dedup, inputs, execute, assemble, export; resumable.
    One run per folder: a second run on a folder in use is refused."""
    from case2code.pipeline import Pipeline  # with its executors: only for a run

    options = {"out": out, "corpus": corpus, "max_functions": max_functions}
    options |= {"generator": generator, "model": model, "base_url": base_url}
    options |= {"executor": executor, "ray_address": ray_address}
    config = load_config(config_file, options | {"workers": workers, "until": until})
    pipeline = Pipeline(config, notice=lambda message: say("note", message))
    # The sandbox runs on this machine unless a remote Ray cluster's nodes run the steps (each
    # prepares its own: `c2c sandbox prepare` there); inputs is the first stage that needs it.
    sandbox_here = config.executor == "local" or config.ray_address is None
    if sandbox_here and STAGES.index(config.until) >= STAGES.index("inputs"):
        ready_sandbox()
    with stage_bars() as progress:
        pipeline.progress = progress
        summary = pipeline.run()
    table = Table(title=f"c2c run: {config.out}", title_justify="left")
    for column in ("stage", "status", "seconds", "in", "out"):
        table.add_column(column, justify="left" if column in ("stage", "status") else "right")
    for record in summary["stages"]:
        seconds, rows_in, rows_out = record["seconds"], record["rows_in"], record["rows_out"]
        table.add_row(
            record["name"], record["status"], f"{seconds:.1f}", f"{rows_in:,}", f"{rows_out:,}"
        )
    console.print(table)
    if "until" in summary:
        console.print(
            f"stopped after {summary['until']} (until = {summary['until']}); run.json and "
            "the report are written by a full run: rerun without until to finish it"
        )
        return
    console.print(
        f"dataset: {summary['dataset']['rows']:,} samples in {summary['dataset']['path']}; "
        f"eval split: {summary['eval_split']['functions']:,} functions in "
        f"{summary['eval_split']['path']}; report: {config.out / 'report.html'}"
    )


def extract_rows(summary: ExtractSummary) -> Iterator[Row]:
    yield "sources read", summary.sources
    yield "bytes", f"{summary.bytes / 1e6:,.1f} MB"
    for reason, count in sorted(summary.skipped.items()):
        yield f"  skipped: {reason}", count
    yield "functions seen", summary.seen
    yield "kept", summary.kept
    for reason, count in summary.rejected.most_common():
        yield f"  rejected: {reason}", count
    yield "time", f"{summary.seconds:.2f} s"
    yield "throughput", f"{summary.mb_per_s:.1f} MB/s, {summary.functions_per_s:,.0f} functions/s"


@command("extract", RESUMES)
@settings(ExtractConfig)
def extract_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Directories, .py files, JSONL or Parquet files. Default: the standard library."
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Parquet file of kept functions.")
    ] = Path("functions.parquet"),
    rejected: Annotated[
        Path | None,
        typer.Option("--rejected", help="Also write rejected functions, with reasons, here."),
    ] = None,
    *,
    config: ExtractConfig,
    exclude_dir: Annotated[
        list[str] | None,
        typer.Option("--exclude-dir", help="Skip directories with this name (repeatable)."),
    ] = None,
    off: Annotated[
        list[str] | None,
        typer.Option("--off", help=f"Switch a rule off (repeatable): {', '.join(RULES)}."),
    ] = None,
    summary_json: Annotated[
        Path | None, typer.Option("--summary-json", help="Write the summary as JSON here.")
    ] = None,
) -> None:
    """Extract self-contained functions (docs/extraction-rules.md) into a Parquet table."""
    check_outputs(files=(output, rejected, summary_json), inputs=paths or ())
    if not paths:
        console.print(f"no paths given: extracting from the standard library at {stdlib_path()}")
    rules = {name: False for name in off or []}
    config = dataclasses.replace(config, rules=rules, exclude_dirs=tuple(exclude_dir or ()))
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with named_bars(*columns) as bar:
        bar("extracting", 0, None)
        # Resumable and in bounded memory: shards of the corpus are written as they finish.
        summary = extract_to_parquet(
            list(paths) if paths else None,
            output,
            config,
            rejected=rejected,
            progress=functools.partial(bar, "extracting"),
        )
    print_summary("extraction summary", extract_rows(summary))
    console.print(f"wrote {summary.kept:,} functions to {output}")
    if summary_json is not None:
        write_text(json.dumps(summary.as_dict(), indent=2) + "\n", summary_json)


@command("dedup", RESTARTS)
@settings(DedupConfig)
def dedup_command(
    functions: FunctionsTable,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Parquet file of the kept functions.")
    ] = Path("unique.parquet"),
    all_rows: Annotated[
        Path | None,
        typer.Option("--all", help="Also write every function with its cluster and reason here."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the dedup report as JSON here.")
    ] = None,
    against: Annotated[
        list[str] | None,
        typer.Option(
            "--against",
            metavar="BENCHMARK",
            help="Drop near-duplicates of this benchmark's solutions: humaneval, or a "
            "JSONL/JSON/Parquet file (HumanEval, MBPP, Case2Code or code/source column). "
            "Repeatable. Default: the pipeline's (humaneval).",
        ),
    ] = None,
    decontaminate: Annotated[
        bool,
        typer.Option(help="Check the benchmarks (--against, else the default ones)."),
    ] = True,
    *,
    config: DedupConfig,
) -> None:
    """Remove exact and near-duplicate functions (MinHash LSH), and benchmark leaks."""
    check_outputs(files=(output, all_rows, report), inputs=[functions, *(against or ())])
    # As `c2c run` does: a benchmark's solutions never reach training data unless asked.
    benchmarks = (list(against or DEFAULT_BENCHMARKS)) if decontaminate else []
    with console.status("deduplicating"):
        result = dedup_parquet(functions, output, config, against=benchmarks, all_rows=all_rows)
    summary: list[Row] = [("functions", result.functions), ("kept", result.kept)]
    for reason, count in result.removed.items():
        summary.append((f"  removed: {reason}", count))
    summary.append(("clusters with duplicates", result.clusters))
    for cluster in result.largest[:5]:
        names = ", ".join(str(n) for n in cluster["names"])
        summary.append((f"  {cluster['size']} x", names[:60]))
    for benchmark, count in result.contaminated_by_benchmark().items():
        tasks = result.benchmarks.get(benchmark, 0)
        plural = "" if tasks == 1 else "s"
        summary.append((f"  contaminated: {benchmark} ({tasks:,} task{plural})", count))
    print_summary("dedup summary", summary)
    if report is not None:
        write_report(result, report)
    console.print(f"wrote {result.kept:,} functions to {output}")


@command("inputs", RESUMES)
@settings(GeneratorConfig, into="generator")
@settings(InputsConfig)
@settings(LLMSettings, into="llm")
def inputs_command(
    functions: FunctionsTable,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Parquet file, one row per input.")
    ] = Path("inputs.parquet"),
    *,
    generator: GeneratorConfig,
    config: InputsConfig,
    llm: LLMSettings,
    template: Annotated[
        list[str] | None,
        typer.Option(help="Prompt template name or .txt file; repeat to mix several."),
    ] = None,
    shard_functions: ShardFunctions = PARTITION_FUNCTIONS,
) -> None:
    """Write call inputs for every function and keep the ones that run (resumable)."""
    check_outputs(files=(output, report_path(output)), inputs=[functions])
    llm = dataclasses.replace(llm, templates=tuple(template or ()))
    generator = dataclasses.replace(generator, llm=llm)  # which checks the LLM settings
    chosen = make_generator(
        generator.name, generator.model, generator.base_url, llm, generator.concurrency
    )
    ready_sandbox()
    with functions_progress(f"inputs ({chosen.name})") as advance:
        result = generate_inputs_to_parquet(
            functions,
            output,
            chosen,
            config,
            shard_functions=shard_functions,
            progress=advance,
        )
    figures = result.report()
    rows: list[Row] = [
        ("functions", figures["functions"]),
        (f"with >= {config.min_valid} valid inputs", f"{figures['share_with_min_valid']:.1%}"),
        ("candidates run", figures["candidates"]),
        ("valid-input rate", f"{figures['valid_rate']:.1%}"),
        ("inputs kept", figures["inputs_kept"]),
        ("distinct outputs per function", f"{figures['mean_distinct_outputs']:.2f}"),
    ]
    if figures["requests"]:
        requests = f"{figures['requests']:,} ({figures['failed_requests']})"
        tokens = f"{figures['tokens_in']:,} / {figures['tokens_out']:,}"
        rows += [("LLM requests (failed)", requests), ("tokens in / out", tokens)]
        rows.append(("truncated answers", figures["truncated_answers"]))
    rows.append(("inputs/s", f"{figures['inputs_per_s']:,.1f}"))
    print_summary("inputs summary", rows)
    console.print(
        f"wrote {figures['inputs_kept']:,} inputs to {output} (report: {output}.report.json)"
    )


@command("exec", RESUMES)
@settings(Limits, into="limits")
def exec_command(
    functions: FunctionsTable,
    inputs: Annotated[
        Path, typer.Argument(help="Inputs: rows of (function_id, input) or (function_id, inputs).")
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Parquet file, one row per case.")
    ] = Path("results.parquet"),
    workers: Workers = None,
    *,
    limits: Limits,
    memory_mb: Annotated[
        int, typer.Option(help="Memory cap per instance, MiB.")
    ] = Limits.memory_bytes >> 20,
    shard_functions: ShardFunctions = PARTITION_FUNCTIONS,
) -> None:
    """Run every input of every function in the WebAssembly sandbox (resumable)."""
    check_outputs(files=[output], inputs=[functions, inputs])
    limits = dataclasses.replace(limits, memory_bytes=memory_mb << 20)
    ready_sandbox()
    with functions_progress("executing") as advance:
        summary = execute_to_parquet(
            functions,
            inputs,
            output,
            limits,
            workers,
            shard_functions=shard_functions,
            progress=advance,
        )
    rows: list[Row] = [(key, summary.pop(key)) for key in ("functions", "cases")]
    orphans = summary.pop("orphan_inputs")
    traced = summary.pop("coverage", None)
    for status, count in sorted(summary.items(), key=lambda kv: -kv[1]):
        rows.append((f"  {status}", count))
    if orphans:
        rows.append(("inputs of unknown functions (skipped)", orphans))
    if traced:
        for what, key in (("branch", "mean_branch_coverage"), ("line", "mean_line_coverage")):
            if traced[key] is not None:
                rows.append((f"mean {what} coverage of a function's cases", f"{traced[key]:.1%}"))
    print_summary("execution summary", rows)
    console.print(f"wrote results to {output}")


@command("assemble", RESTARTS)
@settings(AssembleConfig)
def assemble_command(
    functions: FunctionsTable,
    results: Annotated[Path, typer.Argument(help="Results table (c2c exec).")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Dataset directory (data/ shards + README.md).")
    ] = Path("dataset"),
    *,
    config: AssembleConfig,
    parts: Annotated[
        Path | None, typer.Option(help="Directory of extra template parts (docs/templates.md).")
    ] = None,
    formats: Formats = ALL_FORMATS,
) -> None:
    """Choose shown and held-out cases, render samples through the templates, export them."""
    check_outputs(folders=[output], inputs=[functions, results, parts])
    config = dataclasses.replace(config, parts_dir=str(parts) if parts else None)
    output.parent.mkdir(parents=True, exist_ok=True)
    # The samples go through a table beside the output (bounded memory), removed after.
    with (
        console.status("assembling"),
        tempfile.TemporaryDirectory(prefix=".c2c-assemble-", dir=output.parent) as scratch,
    ):
        samples = Path(scratch) / "samples.parquet"
        report = assemble_to_parquet(functions, results, samples, config)
        summary = export(samples, output, formats=split_formats(formats), report=report)
    counts = [(key, value) for key, value in report.items() if isinstance(value, int)]
    choices = report.get("held_out_choice") or {}
    counts += [(f"held-out choice: {k}", v) for k, v in choices.items()]
    print_summary("assemble summary", [(k.replace("_", " "), v) for k, v in counts])
    console.print(f"wrote {summary.rows:,} samples in {summary.shards} shard(s) to {output}")


@command("mix", RESTARTS)
@settings(MixConfig)
def mix_command(
    dataset: Annotated[
        Path, typer.Argument(help="Case2Code dataset folder (c2c assemble -o, or c2c run folder).")
    ],
    others: Annotated[
        list[Path],
        typer.Argument(
            help="Your chat data: JSONL or Parquet files, or folders of them, with `messages` "
            "or `prompt`/`completion`."
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Mixture folder (data/ shards + README.md).")
    ] = Path("mixture"),
    *,
    config: MixConfig,
    formats: Formats = ALL_FORMATS,
) -> None:
    """Mix the dataset with your own SFT data at a ratio or token budget, seeded and shuffled."""
    with console.status("mixing"):
        summary = mix(dataset, others, output, config, formats=split_formats(formats))
    rows = [
        (part.name, f"{part.used:,} of {part.available:,} rows, ~{part.tokens:,} tokens")
        for part in summary.parts
    ]
    print_summary("mixture", [*rows, ("case2code share of rows", f"{summary.ratio:.4f}")])
    for note in summary.notes:
        say("note", note)
    console.print(f"wrote {summary.rows:,} rows in {summary.shards} shard(s) to {output}")


@command("eval", RESUMES)
@settings(GeneratorConfig, "model", "base_url", "concurrency", into="server")
def eval_command(
    data: Annotated[
        Path,
        typer.Argument(
            help="Tasks: c2c run's eval/case2code-eval.jsonl or the paper's benchmark file."
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Folder: results.json, tasks.jsonl, samples.jsonl, report.md."
        ),
    ] = Path("c2c-eval"),
    predictions: Annotated[
        Path | None,
        typer.Option(help='Answers made elsewhere: JSONL of {"id", "completion", "sample"?}.'),
    ] = None,
    generator: Annotated[
        str | None,
        typer.Option(help="Ask a model instead: openai (any compatible server) or vllm."),
    ] = None,
    *,
    server: GeneratorConfig,
    n: Annotated[int, typer.Option(help="Answers per task (pass@k for k <= n).")] = 1,
    temperature: Annotated[float, typer.Option(help="Sampling temperature; 0 = greedy.")] = 0.0,
    max_tokens: Annotated[int, typer.Option(help="Longest answer; a longer one fails.")] = 2048,
    workers: Workers = None,
    self_check: Annotated[
        bool, typer.Option(help="Also grade the reference code and a constant baseline.")
    ] = True,
) -> None:
    """Grade a model's answers to Case2Code tasks in the sandbox: pass@k, statuses, report."""
    if (predictions is None) == (generator is None):
        raise fail("give --predictions FILE or --generator openai|vllm")
    check_outputs(files=[output / name for name in RESULT_FILES], inputs=[data, predictions])
    ready_sandbox()
    with named_bars(BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), pad=10) as advance:
        result = evaluate(
            data,
            predictions,
            generator,
            output=output,
            model=server.model,
            base_url=server.base_url,
            n=n,
            temperature=temperature,
            max_tokens=max_tokens,
            concurrency=server.concurrency,
            workers=workers,
            self_check=self_check,
            progress=advance,
        )
    print_summary(f"c2c eval: {Path(result.summary['data']).name}", eval_rows(result.summary))
    console.print(f"wrote {', '.join(str(p) for p in result.files.values())}")


def eval_rows(summary: dict[str, Any]) -> Iterator[Row]:
    for k, value in summary["pass@k"].items():
        yield f"pass@{k}", f"{value:.1%}"
    yield "mean share of cases passed", f"{summary['mean_case_share']:.1%}"
    yield "tasks / samples", f"{summary['tasks']:,} / {summary['samples']:,}"
    for status, count in summary["statuses"].items():
        if count and status != "correct":
            yield f"  {status}", count
    if summary["tasks_without_answers"]:
        yield "tasks without an answer (failed)", summary["tasks_without_answers"]
    check = summary.get("self_check")
    if check:
        yield "self-check: reference code", f"{check['reference']['pass@1']:.1%}"
        for cause, ids in check["reference"]["not_reproduced"].items():
            yield f"  not reproduced: {cause}", len(ids)
        yield "self-check: constant baseline", f"{check['baseline']['pass@1']:.1%}"


@command("prepare", RESTARTS, sandbox_app)
def sandbox_prepare_command() -> None:
    """Compile the interpreter for this CPU before the first run (Docker images, cluster nodes)."""
    if is_prepared():
        tell(f"the sandbox is already prepared: {compiled_path()}")
        return
    ready_sandbox()


@command("info", RESTARTS, sandbox_app)
def sandbox_info_command() -> None:
    """Where the sandbox's cache is, what it holds and whether it is prepared for this CPU."""
    info = cache_info()
    # Plain lines on stdout, one entry a line: for reading and for scripts alike.
    print(f"sandbox cache: {info.folder}")
    for entry in info.entries:
        mark = "  (in use)" if entry.in_use else ""
        name = entry.path.name if entry.path.parent == info.folder else entry.path
        print(f"  {name}  {entry.kind}  {entry.bytes / 1e6:,.1f} MB{mark}")
    print(f"total: {info.bytes / 1e6:,.1f} MB")
    print("versions: " + ", ".join(f"{name} {version}" for name, version in info.versions.items()))
    prepared = "yes" if info.prepared else "no: the next run compiles it (c2c sandbox prepare)"
    print(f"prepared for this CPU and these versions: {prepared}")


@command("clear", RESTARTS, sandbox_app)
def sandbox_clear_command() -> None:
    """Remove the sandbox's cache (the next run prepares it again)."""
    freed = clear_cache()
    tell(f"removed {freed / 1e6:,.1f} MB: {cache_dir()}")
