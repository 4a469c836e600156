"""`c2c`: the command line. Each command is one stage, table in, table out.

Options that several commands share are declared once (the aliases below), and an option that
sets a settings field defaults to that field's default.
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
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
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from typer.core import TyperGroup

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

# `c2c --help` lists the commands in the order a pipeline runs them; others come last.
COMMAND_ORDER = ("run", "extract", "dedup", "inputs", "exec", "assemble", "mix", "eval", "sandbox")


class PipelineOrder(TyperGroup):
    def list_commands(self, ctx: typer.Context) -> list[str]:
        def rank(name: str) -> int:
            return COMMAND_ORDER.index(name) if name in COMMAND_ORDER else len(COMMAND_ORDER)

        return sorted(super().list_commands(ctx), key=rank)


app = typer.Typer(
    cls=PipelineOrder,
    help="Turn real Python code into execution-verified Case2Code training data.",
    no_args_is_help=True,
)
sandbox_app = typer.Typer(
    help="The sandbox's interpreter, compiled once per machine: prepare it, show or clear it.",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")
console = Console(stderr=True)

# Options and arguments of more than one command.
FunctionsTable = Annotated[Path, typer.Argument(help="Functions table (c2c extract or dedup).")]
Workers = Annotated[
    int | None, typer.Option(help="Sandbox worker processes; default one per core.")
]
ShardFunctions = Annotated[
    int, typer.Option(help="Functions per shard; finished shards survive a crash.")
]
Threads = Annotated[int, typer.Option(help="Worker threads; 0 = one per core.")]
Formats = Annotated[str, typer.Option(help="Comma-separated: parquet, jsonl.")]
Model = Annotated[
    str | None, typer.Option(help="Model name (openai, vllm); openai asks the server.")
]
BaseUrl = Annotated[str, typer.Option(help="OpenAI-compatible server (openai generator).")]
Concurrency = Annotated[int, typer.Option(help="Parallel requests (openai).")]
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


def say(label: str, message: str) -> None:
    """One line on stderr: the message as written (no markup, so `[run]` stays), unwrapped."""
    console.print(f"[bold red]{label}:[/] {escape(message)}", highlight=False, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    say("error", message)
    return typer.Exit(code=2)


# Exit status of a command stopped by Ctrl-C, as a shell reports one killed by SIGINT.
INTERRUPTED_EXIT = 130
RESUMES = "rerun the same command to resume: finished stages and shards are kept"
RESTARTS = "nothing was half-written; rerun the same command to start again"

Command = TypeVar("Command", bound=Callable[..., Any])


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
    # A line first: a log or pipe shows no spinner.
    console.print(f"preparing the sandbox: {PREPARING}", highlight=False, soft_wrap=True)
    started = time.monotonic()
    columns = (SpinnerColumn(), "compiling", TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as spinner:
        spinner.add_task("compiling", total=None)
        compiled, _ = prepare()
    seconds = time.monotonic() - started
    done = f"sandbox prepared in {seconds:.0f} s: {escape(str(compiled))} (c2c sandbox info)"
    console.print(done, highlight=False, soft_wrap=True)


def bars(*columns: Any, pad: int = 0, transient: bool = True) -> Progress:
    """Progress bars on stderr: each task's description (padded to `pad` characters), then
    `columns`."""
    description = f"[progress.description]{{task.description{f':<{pad}' if pad else ''}}}"
    return Progress(description, *columns, console=console, transient=transient)


@contextmanager
def functions_progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar counting functions; yields the `progress(done, total)` callback."""
    with bars(BarColumn(), MofNCompleteColumn(), "functions", TimeRemainingColumn()) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def print_summary(title: str, rows: Iterable[tuple[str, str]]) -> None:
    """A summary table: bold labels, right-aligned figures."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def split_formats(formats: str) -> tuple[str, ...]:
    return tuple(f.strip() for f in formats.split(",") if f.strip())


def extract_rows(summary: ExtractSummary) -> Iterator[tuple[str, str]]:
    yield "sources read", f"{summary.sources:,}"
    yield "bytes", f"{summary.bytes / 1e6:,.1f} MB"
    for reason, count in sorted(summary.skipped.items()):
        yield f"  skipped: {reason}", f"{count:,}"
    yield "functions seen", f"{summary.seen:,}"
    yield "kept", f"{summary.kept:,}"
    for reason, count in summary.rejected.most_common():
        yield f"  rejected: {reason}", f"{count:,}"
    yield "time", f"{summary.seconds:.2f} s"
    yield "throughput", f"{summary.mb_per_s:.1f} MB/s, {summary.functions_per_s:,.0f} functions/s"


@command("extract", RESUMES)
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
    text_column: Annotated[
        str, typer.Option(help="Source column of JSONL/Parquet rows.")
    ] = ExtractConfig.text_column,
    threads: Threads = ExtractConfig.threads,
    exclude_dir: Annotated[
        list[str] | None,
        typer.Option("--exclude-dir", help="Skip directories with this name (repeatable)."),
    ] = None,
    min_lines: Annotated[
        int, typer.Option(help="Shortest function kept, in lines.")
    ] = ExtractConfig.min_lines,
    max_lines: Annotated[
        int, typer.Option(help="Longest function kept, in lines.")
    ] = ExtractConfig.max_lines,
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
    config = ExtractConfig(
        rules={name: False for name in off or []},
        min_lines=min_lines,
        max_lines=max_lines,
        text_column=text_column,
        exclude_dirs=tuple(exclude_dir or ()),
        threads=threads,
    )
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with bars(*columns) as bar:
        task = bar.add_task("extracting", total=None)
        # Resumable and in bounded memory: shards of the corpus are written as they finish.
        summary = extract_to_parquet(
            list(paths) if paths else None,
            output,
            config,
            rejected=rejected,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    print_summary("extraction summary", extract_rows(summary))
    console.print(f"wrote {summary.kept:,} functions to {output}")
    if summary_json is not None:
        write_text(json.dumps(summary.as_dict(), indent=2) + "\n", summary_json)


@command("exec", RESUMES)
def exec_command(
    functions: FunctionsTable,
    inputs: Annotated[
        Path, typer.Argument(help="Inputs: rows of (function_id, input) or (function_id, inputs).")
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Parquet file, one row per case.")
    ] = Path("results.parquet"),
    workers: Workers = None,
    fuel: Annotated[int, typer.Option(help="Wasm instructions per case.")] = Limits.fuel_per_case,
    timeout_ms: Annotated[
        int, typer.Option(help="Wall-clock limit per case.")
    ] = Limits.wall_ms_per_case,
    memory_mb: Annotated[
        int, typer.Option(help="Memory cap per instance, MiB.")
    ] = Limits.memory_bytes >> 20,
    stdout_chars: Annotated[
        int, typer.Option(help="Captured stdout per case.")
    ] = Limits.stdout_chars,
    isolation: Annotated[
        str,
        typer.Option(help="Fresh interpreter per 'function' or per 'case'; 'shared' is unsafe."),
    ] = Limits.isolation,
    check_stability: Annotated[
        bool,
        typer.Option(
            help="Rerun returning and raising cases with another hash salt, date, clock, address "
            "layout and case order; cases whose output changes become unstable."
        ),
    ] = Limits.check_stability,
    coverage: Annotated[
        bool,
        typer.Option(
            help="Trace the lines and branch arms of the function's own code each case runs "
            "(columns lines, arms, lines_total, arms_total)."
        ),
    ] = Limits.coverage,
    shard_functions: ShardFunctions = PARTITION_FUNCTIONS,
) -> None:
    """Run every input of every function in the WebAssembly sandbox (resumable)."""
    check_outputs(files=[output], inputs=[functions, inputs])
    limits = Limits(
        fuel_per_case=fuel,
        wall_ms_per_case=timeout_ms,
        memory_bytes=memory_mb << 20,
        stdout_chars=stdout_chars,
        isolation=isolation,  # type: ignore[arg-type]
        check_stability=check_stability,
        coverage=coverage,
    )
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
    rows = [(key, f"{summary.pop(key):,}") for key in ("functions", "cases")]
    orphans = summary.pop("orphan_inputs")
    traced = summary.pop("coverage", None)
    for status, count in sorted(summary.items(), key=lambda kv: -kv[1]):
        rows.append((f"  {status}", f"{count:,}"))
    if orphans:
        rows.append(("inputs of unknown functions (skipped)", f"{orphans:,}"))
    if traced:
        for what, key in (("branch", "mean_branch_coverage"), ("line", "mean_line_coverage")):
            if traced[key] is not None:
                rows.append((f"mean {what} coverage of a function's cases", f"{traced[key]:.1%}"))
    print_summary("execution summary", rows)
    console.print(f"wrote results to {output}")


@command("dedup", RESTARTS)
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
    threshold: Annotated[
        float, typer.Option(help="Jaccard similarity of duplicates.")
    ] = DedupConfig.threshold,
    ngram: Annotated[int, typer.Option(help="Tokens per shingle.")] = DedupConfig.ngram,
    permutations: Annotated[
        int, typer.Option(help="MinHash permutations.")
    ] = DedupConfig.permutations,
    bands: Annotated[int, typer.Option(help="LSH bands.")] = DedupConfig.bands,
    rows: Annotated[int, typer.Option(help="LSH rows per band.")] = DedupConfig.rows,
    verify: Annotated[
        bool, typer.Option(help="Check candidates' exact Jaccard before merging.")
    ] = DedupConfig.verify,
    structural: Annotated[
        bool, typer.Option(help="Rename identifiers to placeholders: renamed copies match.")
    ] = DedupConfig.structural,
    raw_text: Annotated[
        bool,
        typer.Option(help="Compare tokens as written: comments, docstrings and quoting count."),
    ] = DedupConfig.raw_text,
    keep: Annotated[
        str, typer.Option(help="Who represents a cluster: shortest, first or score.")
    ] = DedupConfig.keep,
    score_column: Annotated[
        str | None, typer.Option(help="Column to maximise with --keep score.")
    ] = None,
    threads: Threads = DedupConfig.threads,
) -> None:
    """Remove exact and near-duplicate functions (MinHash LSH), and benchmark leaks."""
    check_outputs(files=(output, all_rows, report), inputs=[functions, *(against or ())])
    # As `c2c run` does: a benchmark's solutions never reach training data unless asked.
    benchmarks = (list(against or DEFAULT_BENCHMARKS)) if decontaminate else []
    config = DedupConfig(
        ngram=ngram,
        permutations=permutations,
        bands=bands,
        rows=rows,
        threshold=threshold,
        verify=verify,
        structural=structural,
        raw_text=raw_text,
        keep=keep,  # type: ignore[arg-type]
        score_column=score_column,
        threads=threads,
    )
    with console.status("deduplicating"):
        result = dedup_parquet(functions, output, config, against=benchmarks, all_rows=all_rows)
    summary = [("functions", f"{result.functions:,}"), ("kept", f"{result.kept:,}")]
    for reason, count in result.removed.items():
        summary.append((f"  removed: {reason}", f"{count:,}"))
    summary.append(("clusters with duplicates", f"{result.clusters:,}"))
    for cluster in result.largest[:5]:
        names = ", ".join(str(n) for n in cluster["names"])
        summary.append((f"  {cluster['size']} x", names[:60]))
    for benchmark, count in result.contaminated_by_benchmark().items():
        tasks = result.benchmarks.get(benchmark, 0)
        plural = "" if tasks == 1 else "s"
        summary.append((f"  contaminated: {benchmark} ({tasks:,} task{plural})", f"{count:,}"))
    print_summary("dedup summary", summary)
    if report is not None:
        write_report(result, report)
    console.print(f"wrote {result.kept:,} functions to {output}")


@command("inputs", RESUMES)
def inputs_command(
    functions: FunctionsTable,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Parquet file, one row per input.")
    ] = Path("inputs.parquet"),
    generator: Annotated[
        str, typer.Option(help="builtin (no model), openai (any compatible server) or vllm.")
    ] = GeneratorConfig.name,
    model: Model = None,
    base_url: BaseUrl = GeneratorConfig.base_url,
    n_inputs: Annotated[
        int, typer.Option(help="Inputs kept per function.")
    ] = InputsConfig.n_inputs,
    min_valid: Annotated[
        int, typer.Option(help="Valid inputs a function should reach (the report's k).")
    ] = InputsConfig.min_valid,
    rounds: Annotated[int, typer.Option(help="Generation rounds.")] = InputsConfig.rounds,
    structured: Annotated[
        bool, typer.Option(help="Send a JSON schema (structured output / guided decoding).")
    ] = LLMSettings.structured,
    template: Annotated[
        list[str] | None,
        typer.Option(help="Prompt template name or .txt file; repeat to mix several."),
    ] = None,
    mutate: Annotated[
        bool | None, typer.Option(help="Mutate valid inputs; default: builtin only.")
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="Cap per LLM answer.")] = LLMSettings.max_tokens,
    temperature: Annotated[
        float, typer.Option(help="LLM sampling temperature.")
    ] = LLMSettings.temperature,
    concurrency: Concurrency = GeneratorConfig.concurrency,
    seed: Annotated[int, typer.Option(help="Same seed, same inputs.")] = InputsConfig.seed,
    workers: Workers = None,
    shard_functions: ShardFunctions = PARTITION_FUNCTIONS,
) -> None:
    """Write call inputs for every function and keep the ones that run (resumable)."""
    check_outputs(files=(output, report_path(output)), inputs=[functions])
    settings = LLMSettings(
        structured=structured,
        templates=tuple(template or ()),
        temperature=temperature,
        max_tokens=max_tokens,
    )
    GeneratorConfig(generator, model, base_url, concurrency, settings)  # its range checks
    config = InputsConfig(
        n_inputs=n_inputs,
        min_valid=min_valid,
        rounds=rounds,
        mutate=mutate,
        seed=seed,
        workers=workers,
    )
    chosen = make_generator(generator, model, base_url, settings, concurrency)
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
    rows = [
        ("functions", f"{figures['functions']:,}"),
        (f"with >= {config.min_valid} valid inputs", f"{figures['share_with_min_valid']:.1%}"),
        ("candidates run", f"{figures['candidates']:,}"),
        ("valid-input rate", f"{figures['valid_rate']:.1%}"),
        ("inputs kept", f"{figures['inputs_kept']:,}"),
        ("distinct outputs per function", f"{figures['mean_distinct_outputs']:.2f}"),
    ]
    if figures["requests"]:
        requests = f"{figures['requests']:,} ({figures['failed_requests']})"
        tokens = f"{figures['tokens_in']:,} / {figures['tokens_out']:,}"
        rows += [("LLM requests (failed)", requests), ("tokens in / out", tokens)]
        rows.append(("truncated answers", f"{figures['truncated_answers']:,}"))
    rows.append(("inputs/s", f"{figures['inputs_per_s']:,.1f}"))
    print_summary("inputs summary", rows)
    console.print(
        f"wrote {figures['inputs_kept']:,} inputs to {output} (report: {output}.report.json)"
    )


@command("assemble", RESTARTS)
def assemble_command(
    functions: FunctionsTable,
    results: Annotated[Path, typer.Argument(help="Results table (c2c exec).")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Dataset directory (data/ shards + README.md).")
    ] = Path("dataset"),
    seed: Annotated[
        int, typer.Option(help="Same seed, same cases and templates.")
    ] = AssembleConfig.seed,
    held_out: Annotated[
        int, typer.Option(help="Held-out cases per function.")
    ] = AssembleConfig.held_out,
    held_out_choice: Annotated[
        str,
        typer.Option(
            help="inferable: held-out cases take only branch arms shown ones took (traced "
            "results); random: the paper's choice."
        ),
    ] = AssembleConfig.held_out_choice,
    min_cases: Annotated[
        int, typer.Option(help="Usable cases a function needs.")
    ] = AssembleConfig.min_cases,
    keep_errors: Annotated[
        bool, typer.Option(help="Keep exceptions as cases (`<class 'X'>: msg`).")
    ] = AssembleConfig.keep_errors,
    parts: Annotated[
        Path | None, typer.Option(help="Directory of extra template parts (docs/templates.md).")
    ] = None,
    formats: Formats = ALL_FORMATS,
) -> None:
    """Choose shown and held-out cases, render samples through the templates, export them."""
    check_outputs(folders=[output], inputs=[functions, results, parts])
    config = AssembleConfig(
        seed=seed,
        held_out=held_out,
        held_out_choice=held_out_choice,
        min_cases=min_cases,
        keep_errors=keep_errors,
        parts_dir=str(parts) if parts else None,
    )
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
    print_summary("assemble summary", [(k.replace("_", " "), f"{v:,}") for k, v in counts])
    console.print(f"wrote {summary.rows:,} samples in {summary.shards} shard(s) to {output}")


@command("mix", RESTARTS)
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
    ratio: Annotated[
        float | None,
        typer.Option(help="Share of case2code rows in the mixture, in (0, 1); all your rows kept."),
    ] = None,
    tokens: Annotated[
        int | None,
        typer.Option(help="Budget of estimated tokens (characters / 4) for the case2code part."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same rows and order.")] = MixConfig.seed,
    repeat: Annotated[
        bool,
        typer.Option(
            help="Repeat case2code rows when too few, instead of sampling other rows down "
            "(--ratio) or leaving the budget unmet (--tokens)."
        ),
    ] = MixConfig.repeat,
    formats: Formats = ALL_FORMATS,
) -> None:
    """Mix the dataset with your own SFT data at a ratio or token budget, seeded and shuffled."""
    config = MixConfig(ratio=ratio, tokens=tokens, seed=seed, repeat=repeat)
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


@contextmanager
def stage_bars() -> Iterator[Callable[[str], AbstractContextManager[Callable[[int, int], None]]]]:
    """One progress bar per pipeline stage; yields the pipeline's progress factory."""
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with bars(*columns, pad=9, transient=False) as progress:

        @contextmanager
        def stage(name: str) -> Iterator[Callable[[int, int], None]]:
            task = progress.add_task(name, total=None)
            seen = [1]  # the last total reported; a cached stage reports none

            def advance(done: int, total: int) -> None:
                seen[0] = total
                progress.update(task, completed=done, total=total)

            yield advance
            progress.update(task, completed=seen[0], total=seen[0])

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

    options = {"out": out, "corpus": corpus or None, "max_functions": max_functions}
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
        table.add_row(
            record["name"],
            record["status"],
            f"{record['seconds']:.1f}",
            f"{record['rows_in']:,}",
            f"{record['rows_out']:,}",
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


@command("eval", RESUMES)
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
    model: Model = None,
    base_url: BaseUrl = GeneratorConfig.base_url,
    n: Annotated[int, typer.Option(help="Answers per task (pass@k for k <= n).")] = 1,
    temperature: Annotated[float, typer.Option(help="Sampling temperature; 0 = greedy.")] = 0.0,
    max_tokens: Annotated[int, typer.Option(help="Longest answer; a longer one fails.")] = 2048,
    concurrency: Concurrency = GeneratorConfig.concurrency,
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
    with bars(BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), pad=10) as bar:
        stages: dict[str, Any] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in stages:
                stages[stage] = bar.add_task(stage, total=total)
            bar.update(stages[stage], completed=done, total=total)

        result = evaluate(
            data,
            predictions,
            generator,
            output=output,
            model=model,
            base_url=base_url,
            n=n,
            temperature=temperature,
            max_tokens=max_tokens,
            concurrency=concurrency,
            workers=workers,
            self_check=self_check,
            progress=advance,
        )
    print_summary(f"c2c eval: {Path(result.summary['data']).name}", eval_rows(result.summary))
    console.print(f"wrote {', '.join(str(p) for p in result.files.values())}")


def eval_rows(summary: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for k, value in summary["pass@k"].items():
        yield f"pass@{k}", f"{value:.1%}"
    yield "mean share of cases passed", f"{summary['mean_case_share']:.1%}"
    yield "tasks / samples", f"{summary['tasks']:,} / {summary['samples']:,}"
    for status, count in summary["statuses"].items():
        if count and status != "correct":
            yield f"  {status}", f"{count:,}"
    if summary["tasks_without_answers"]:
        yield "tasks without an answer (failed)", f"{summary['tasks_without_answers']:,}"
    check = summary.get("self_check")
    if check:
        yield "self-check: reference code", f"{check['reference']['pass@1']:.1%}"
        for cause, ids in check["reference"]["not_reproduced"].items():
            yield f"  not reproduced: {cause}", f"{len(ids):,}"
        yield "self-check: constant baseline", f"{check['baseline']['pass@1']:.1%}"


@command("prepare", RESTARTS, sandbox_app)
def sandbox_prepare_command() -> None:
    """Compile the interpreter for this CPU before the first run (Docker images, cluster nodes)."""
    if is_prepared():
        console.print(
            f"the sandbox is already prepared: {escape(str(compiled_path()))}", soft_wrap=True
        )
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
    console.print(
        f"removed {freed / 1e6:,.1f} MB: {escape(str(cache_dir()))}",
        highlight=False,
        soft_wrap=True,
    )
