"""`c2c`: the command line. Each command is one stage, table in, table out."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
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

from case2code.atomic import write_text
from case2code.errors import C2CError
from case2code.executors import PARTITION_FUNCTIONS
from case2code.extract import RULES, ExtractConfig, ExtractSummary, extract_to_parquet, stdlib_path
from case2code.mix import MixConfig, mix
from case2code.outputs import check_outputs
from case2code.sandbox import PREPARING, Limits, is_prepared, prepare

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
console = Console(stderr=True)


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


def ready_sandbox() -> None:
    """The first run on a machine compiles the sandbox's interpreter (minutes, once): that is
    its own announced step, with a spinner, before any stage's bar sits still through it."""
    if is_prepared():
        return
    # A line first: a log or pipe shows no spinner.
    console.print(f"preparing the sandbox: {PREPARING}", highlight=False, soft_wrap=True)
    started = time.monotonic()
    with Progress(
        SpinnerColumn(), "compiling", TimeElapsedColumn(), console=console, transient=True
    ) as spinner:
        spinner.add_task("compiling", total=None)
        compiled, _ = prepare()
    seconds = time.monotonic() - started
    done = f"sandbox prepared in {seconds:.0f} s: {escape(str(compiled))} (c2c sandbox info)"
    console.print(done, highlight=False, soft_wrap=True)


# Exit status of a command stopped by Ctrl-C, as a shell reports one killed by SIGINT.
INTERRUPTED_EXIT = 130
RESUMES = "rerun the same command to resume: finished stages and shards are kept"
RESTARTS = "nothing was half-written; rerun the same command to start again"

Command = TypeVar("Command", bound=Callable[..., Any])


def reports_errors(after_interrupt: str) -> Callable[[Command], Command]:
    """A command whose ordinary failures print one line, never a traceback: a C2CError or an
    OSError exits 2, Ctrl-C exits 130 saying `after_interrupt` (what a rerun does)."""

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except C2CError as error:
                raise fail(str(error)) from None
            except OSError as error:  # one not met at a known write: still one line
                where = f"{error.filename}: " if error.filename else ""
                raise fail(f"{where}{error.strerror or error}") from None
            except KeyboardInterrupt:
                say("interrupted", after_interrupt)
                raise typer.Exit(code=INTERRUPTED_EXIT) from None

        return run  # type: ignore[return-value]

    return decorate


@contextmanager
def functions_progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar counting functions; yields the `progress(done, total)` callback."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        "functions",
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def two_column_table(title: str) -> Table:
    """A summary: bold labels, right-aligned figures."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    return table


def summary_table(summary: ExtractSummary) -> Table:
    table = two_column_table("extraction summary")
    table.add_row("sources read", f"{summary.sources:,}")
    table.add_row("bytes", f"{summary.bytes / 1e6:,.1f} MB")
    for reason, count in sorted(summary.skipped.items()):
        table.add_row(f"  skipped: {reason}", f"{count:,}")
    table.add_row("functions seen", f"{summary.seen:,}")
    table.add_row("kept", f"{summary.kept:,}")
    for reason, count in summary.rejected.most_common():
        table.add_row(f"  rejected: {reason}", f"{count:,}")
    table.add_row("time", f"{summary.seconds:.2f} s")
    table.add_row(
        "throughput", f"{summary.mb_per_s:.1f} MB/s, {summary.functions_per_s:,.0f} functions/s"
    )
    return table


@app.command("extract")
@reports_errors(RESUMES)
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
    ] = "content",
    threads: Annotated[int, typer.Option(help="Worker threads; 0 = one per core.")] = 0,
    exclude_dir: Annotated[
        list[str] | None,
        typer.Option("--exclude-dir", help="Skip directories with this name (repeatable)."),
    ] = None,
    min_lines: Annotated[int, typer.Option(help="Shortest function kept, in lines.")] = 3,
    max_lines: Annotated[int, typer.Option(help="Longest function kept, in lines.")] = 200,
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
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("extracting", total=None)
        # Resumable and in bounded memory: shards of the corpus are written as they finish.
        summary = extract_to_parquet(
            list(paths) if paths else None,
            output,
            config,
            rejected=rejected,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(summary_table(summary))
    console.print(f"wrote {summary.kept:,} functions to {output}")
    if summary_json is not None:
        write_text(json.dumps(summary.as_dict(), indent=2) + "\n", summary_json)


@app.command("exec")
@reports_errors(RESUMES)
def exec_command(
    functions: Annotated[Path, typer.Argument(help="Functions table (c2c extract's output).")],
    inputs: Annotated[
        Path, typer.Argument(help="Inputs: rows of (function_id, input) or (function_id, inputs).")
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Parquet file, one row per case.")
    ] = Path("results.parquet"),
    workers: Annotated[
        int | None, typer.Option(help="Worker processes; default one per core.")
    ] = None,
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
    shard_functions: Annotated[
        int, typer.Option(help="Functions per shard; finished shards survive a crash.")
    ] = PARTITION_FUNCTIONS,
) -> None:
    """Run every input of every function in the WebAssembly sandbox (resumable)."""
    from case2code.execute import execute_to_parquet

    check_outputs(files=[output], inputs=[functions, inputs])
    limits = Limits(
        fuel_per_case=fuel,
        wall_ms_per_case=timeout_ms,
        memory_bytes=memory_mb << 20,
        stdout_chars=stdout_chars,
        isolation=isolation,  # type: ignore[arg-type]
        check_stability=check_stability,
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
    table = two_column_table("execution summary")
    for key in ("functions", "cases"):
        table.add_row(key, f"{summary.pop(key):,}")
    orphans = summary.pop("orphan_inputs")
    for status, count in sorted(summary.items(), key=lambda kv: -kv[1]):
        table.add_row(f"  {status}", f"{count:,}")
    if orphans:
        table.add_row("inputs of unknown functions (skipped)", f"{orphans:,}")
    console.print(table)
    console.print(f"wrote results to {output}")


@app.command("dedup")
@reports_errors(RESTARTS)
def dedup_command(
    functions: Annotated[Path, typer.Argument(help="Functions table (c2c extract's output).")],
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
    threshold: Annotated[float, typer.Option(help="Jaccard similarity of duplicates.")] = 0.7,
    ngram: Annotated[int, typer.Option(help="Tokens per shingle.")] = 5,
    permutations: Annotated[int, typer.Option(help="MinHash permutations.")] = 256,
    bands: Annotated[int, typer.Option(help="LSH bands.")] = 42,
    rows: Annotated[int, typer.Option(help="LSH rows per band.")] = 6,
    verify: Annotated[
        bool, typer.Option(help="Check candidates' exact Jaccard before merging.")
    ] = True,
    structural: Annotated[
        bool, typer.Option(help="Rename identifiers to placeholders: renamed copies match.")
    ] = False,
    raw_text: Annotated[
        bool,
        typer.Option(help="Compare tokens as written: comments, docstrings and quoting count."),
    ] = False,
    keep: Annotated[
        str, typer.Option(help="Who represents a cluster: shortest, first or score.")
    ] = "shortest",
    score_column: Annotated[
        str | None, typer.Option(help="Column to maximise with --keep score.")
    ] = None,
    threads: Annotated[int, typer.Option(help="Threads; 0 = one per core.")] = 0,
) -> None:
    """Remove exact and near-duplicate functions (MinHash LSH), and benchmark leaks."""
    from case2code.benchmarks import DEFAULT_BENCHMARKS
    from case2code.dedup import DedupConfig, dedup_parquet
    from case2code.dedup_report import write_report

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
    table = two_column_table("dedup summary")
    table.add_row("functions", f"{result.functions:,}")
    table.add_row("kept", f"{result.kept:,}")
    for reason, count in result.removed.items():
        table.add_row(f"  removed: {reason}", f"{count:,}")
    table.add_row("clusters with duplicates", f"{result.clusters:,}")
    for cluster in result.largest[:5]:
        names = ", ".join(str(n) for n in cluster["names"])
        table.add_row(f"  {cluster['size']} x", names[:60])
    for benchmark, count in result.contaminated_by_benchmark().items():
        tasks = result.benchmarks.get(benchmark, 0)
        plural = "" if tasks == 1 else "s"
        table.add_row(f"  contaminated: {benchmark} ({tasks:,} task{plural})", f"{count:,}")
    console.print(table)
    if report is not None:
        write_report(result, report)
    console.print(f"wrote {result.kept:,} functions to {output}")


@app.command("inputs")
@reports_errors(RESUMES)
def inputs_command(
    functions: Annotated[Path, typer.Argument(help="Functions table (c2c extract or dedup).")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Parquet file, one row per input.")
    ] = Path("inputs.parquet"),
    generator: Annotated[
        str, typer.Option(help="builtin (no model), openai (any compatible server) or vllm.")
    ] = "builtin",
    model: Annotated[
        str | None, typer.Option(help="Model name (openai, vllm); openai asks the server.")
    ] = None,
    base_url: Annotated[
        str, typer.Option(help="OpenAI-compatible server (openai generator).")
    ] = "http://127.0.0.1:8000/v1",
    n_inputs: Annotated[int, typer.Option(help="Inputs kept per function.")] = 10,
    min_valid: Annotated[
        int, typer.Option(help="Valid inputs a function should reach (the report's k).")
    ] = 5,
    rounds: Annotated[int, typer.Option(help="Generation rounds.")] = 4,
    structured: Annotated[
        bool, typer.Option(help="Send a JSON schema (structured output / guided decoding).")
    ] = True,
    template: Annotated[
        list[str] | None,
        typer.Option(help="Prompt template name or .txt file; repeat to mix several."),
    ] = None,
    mutate: Annotated[
        bool | None, typer.Option(help="Mutate valid inputs; default: builtin only.")
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="Cap per LLM answer.")] = 1024,
    temperature: Annotated[float, typer.Option(help="LLM sampling temperature.")] = 0.2,
    concurrency: Annotated[int, typer.Option(help="Parallel requests (openai).")] = 8,
    seed: Annotated[int, typer.Option(help="Same seed, same inputs.")] = 0,
    workers: Annotated[
        int | None, typer.Option(help="Sandbox worker processes; default one per core.")
    ] = None,
    shard_functions: Annotated[
        int, typer.Option(help="Functions per shard; finished shards survive a crash.")
    ] = PARTITION_FUNCTIONS,
) -> None:
    """Write call inputs for every function and keep the ones that run (resumable)."""
    from case2code.inputs import InputsConfig, generate_inputs_to_parquet
    from case2code.inputs.drivers import make_generator
    from case2code.inputs.llm import LLMSettings
    from case2code.inputs.stage import report_path
    from case2code.run_config import GeneratorConfig

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
    table = two_column_table("inputs summary")
    table.add_row("functions", f"{figures['functions']:,}")
    table.add_row(
        f"with >= {config.min_valid} valid inputs",
        f"{figures['share_with_min_valid']:.1%}",
    )
    table.add_row("candidates run", f"{figures['candidates']:,}")
    table.add_row("valid-input rate", f"{figures['valid_rate']:.1%}")
    table.add_row("inputs kept", f"{figures['inputs_kept']:,}")
    table.add_row("distinct outputs per function", f"{figures['mean_distinct_outputs']:.2f}")
    if figures["requests"]:
        table.add_row(
            "LLM requests (failed)", f"{figures['requests']:,} ({figures['failed_requests']})"
        )
        table.add_row("tokens in / out", f"{figures['tokens_in']:,} / {figures['tokens_out']:,}")
        table.add_row("truncated answers", f"{figures['truncated_answers']:,}")
    table.add_row("inputs/s", f"{figures['inputs_per_s']:,.1f}")
    console.print(table)
    console.print(
        f"wrote {figures['inputs_kept']:,} inputs to {output} (report: {output}.report.json)"
    )


@app.command("assemble")
@reports_errors(RESTARTS)
def assemble_command(
    functions: Annotated[Path, typer.Argument(help="Functions table (c2c extract or dedup).")],
    results: Annotated[Path, typer.Argument(help="Results table (c2c exec).")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Dataset directory (data/ shards + README.md).")
    ] = Path("dataset"),
    seed: Annotated[int, typer.Option(help="Same seed, same cases and templates.")] = 0,
    held_out: Annotated[int, typer.Option(help="Held-out cases per function.")] = 2,
    min_cases: Annotated[int, typer.Option(help="Usable cases a function needs.")] = 4,
    keep_errors: Annotated[
        bool, typer.Option(help="Keep exceptions as cases (`<class 'X'>: msg`).")
    ] = True,
    parts: Annotated[
        Path | None, typer.Option(help="Directory of extra template parts (docs/templates.md).")
    ] = None,
    formats: Annotated[
        str, typer.Option(help="Comma-separated: parquet, jsonl.")
    ] = "parquet,jsonl",
) -> None:
    """Choose shown and held-out cases, render samples through the templates, export them."""
    import tempfile

    from case2code.assemble import AssembleConfig, assemble_to_parquet
    from case2code.export import export

    check_outputs(folders=[output], inputs=[functions, results, parts])
    config = AssembleConfig(
        seed=seed,
        held_out=held_out,
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
        summary = export(
            samples,
            output,
            formats=tuple(f.strip() for f in formats.split(",") if f.strip()),
            report=report,
        )
    table = two_column_table("assemble summary")
    for key, value in report.items():
        if isinstance(value, int):
            table.add_row(key.replace("_", " "), f"{value:,}")
    console.print(table)
    console.print(f"wrote {summary.rows:,} samples in {summary.shards} shard(s) to {output}")


@app.command("mix")
@reports_errors(RESTARTS)
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
    formats: Annotated[
        str, typer.Option(help="Comma-separated: parquet, jsonl.")
    ] = "parquet,jsonl",
) -> None:
    """Mix the dataset with your own SFT data at a ratio or token budget, seeded and shuffled."""
    config = MixConfig(ratio=ratio, tokens=tokens, seed=seed, repeat=repeat)
    with console.status("mixing"):
        summary = mix(
            dataset,
            others,
            output,
            config,
            formats=tuple(f.strip() for f in formats.split(",") if f.strip()),
        )
    table = two_column_table("mixture")
    for part in summary.parts:
        table.add_row(
            part.name, f"{part.used:,} of {part.available:,} rows, ~{part.tokens:,} tokens"
        )
    table.add_row("case2code share of rows", f"{summary.ratio:.4f}")
    console.print(table)
    for note in summary.notes:
        say("note", note)
    console.print(f"wrote {summary.rows:,} rows in {summary.shards} shard(s) to {output}")


@contextmanager
def stage_bars() -> Iterator[Callable[[str], AbstractContextManager[Callable[[int, int], None]]]]:
    """One progress bar per pipeline stage; yields the pipeline's progress factory."""
    with Progress(
        "[progress.description]{task.description:<9}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bars:

        @contextmanager
        def stage(name: str) -> Iterator[Callable[[int, int], None]]:
            task = bars.add_task(name, total=None)
            seen = [1]  # the last total reported; a cached stage reports none

            def advance(done: int, total: int) -> None:
                seen[0] = total
                bars.update(task, completed=done, total=total)

            yield advance
            bars.update(task, completed=seen[0], total=seen[0])

        yield stage


@app.command("run")
@reports_errors(RESUMES)
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
    workers: Annotated[
        int | None, typer.Option(help="Sandbox worker processes; default one per core.")
    ] = None,
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
    from case2code.pipeline import Pipeline
    from case2code.run_config import STAGES, load_config

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
    with stage_bars() as bars:
        pipeline.progress = bars
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


@app.command("eval")
@reports_errors(RESUMES)
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
    model: Annotated[
        str | None, typer.Option(help="Model name (vllm; openai asks the server).")
    ] = None,
    base_url: Annotated[
        str, typer.Option(help="OpenAI-compatible server (openai generator).")
    ] = "http://127.0.0.1:8000/v1",
    n: Annotated[int, typer.Option(help="Answers per task (pass@k for k <= n).")] = 1,
    temperature: Annotated[float, typer.Option(help="Sampling temperature; 0 = greedy.")] = 0.0,
    max_tokens: Annotated[int, typer.Option(help="Longest answer; a longer one fails.")] = 2048,
    concurrency: Annotated[int, typer.Option(help="Parallel requests (openai).")] = 8,
    workers: Annotated[
        int | None, typer.Option(help="Sandbox worker processes; default one per core.")
    ] = None,
    self_check: Annotated[
        bool, typer.Option(help="Also grade the reference code and a constant baseline.")
    ] = True,
) -> None:
    """Grade a model's answers to Case2Code tasks in the sandbox: pass@k, statuses, report."""
    from case2code.evaluation import evaluate
    from case2code.evaluation.results import RESULT_FILES

    if (predictions is None) == (generator is None):
        raise fail("give --predictions FILE or --generator openai|vllm")
    check_outputs(files=[output / name for name in RESULT_FILES], inputs=[data, predictions])
    ready_sandbox()
    with Progress(
        "[progress.description]{task.description:<10}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
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
    console.print(eval_summary_table(result.summary))
    console.print(f"wrote {', '.join(str(p) for p in result.files.values())}")


def eval_summary_table(summary: dict[str, Any]) -> Table:
    table = two_column_table(f"c2c eval: {Path(summary['data']).name}")
    for k, value in summary["pass@k"].items():
        table.add_row(f"pass@{k}", f"{value:.1%}")
    table.add_row("mean share of cases passed", f"{summary['mean_case_share']:.1%}")
    table.add_row("tasks / samples", f"{summary['tasks']:,} / {summary['samples']:,}")
    for status, count in summary["statuses"].items():
        if count and status != "correct":
            table.add_row(f"  {status}", f"{count:,}")
    if summary["tasks_without_answers"]:
        table.add_row("tasks without an answer (failed)", f"{summary['tasks_without_answers']:,}")
    check = summary.get("self_check")
    if check:
        table.add_row("self-check: reference code", f"{check['reference']['pass@1']:.1%}")
        for cause, ids in check["reference"]["not_reproduced"].items():
            table.add_row(f"  not reproduced: {cause}", f"{len(ids):,}")
        table.add_row("self-check: constant baseline", f"{check['baseline']['pass@1']:.1%}")
    return table


sandbox_app = typer.Typer(
    help="The sandbox's interpreter, compiled once per machine: prepare it, show or clear it.",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("prepare")
@reports_errors(RESTARTS)
def sandbox_prepare_command() -> None:
    """Compile the interpreter for this CPU before the first run (Docker images, cluster nodes)."""
    from case2code.sandbox import compiled_path

    if is_prepared():
        console.print(
            f"the sandbox is already prepared: {escape(str(compiled_path()))}", soft_wrap=True
        )
        return
    ready_sandbox()


@sandbox_app.command("info")
@reports_errors(RESTARTS)
def sandbox_info_command() -> None:
    """Where the sandbox's cache is, what it holds and whether it is prepared for this CPU."""
    from case2code.sandbox_cache import cache_info

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


@sandbox_app.command("clear")
@reports_errors(RESTARTS)
def sandbox_clear_command() -> None:
    """Remove the sandbox's cache (the next run prepares it again)."""
    from case2code.sandbox import cache_dir
    from case2code.sandbox_cache import clear_cache

    freed = clear_cache()
    console.print(
        f"removed {freed / 1e6:,.1f} MB: {escape(str(cache_dir()))}",
        highlight=False,
        soft_wrap=True,
    )
