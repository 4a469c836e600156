"""`c2c`: the command line. Each command is one stage, table in, table out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from case2code.atomic import write_parquet
from case2code.errors import C2CError
from case2code.extract import RULES, ExtractConfig, ExtractSummary, extract, stdlib_path

app = typer.Typer(
    help="Turn real Python code into execution-verified Case2Code training data.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


@app.callback()
def main() -> None:
    """case2code command line."""


def fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code=2)


def summary_table(summary: ExtractSummary) -> Table:
    table = Table(title="extraction summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
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
    try:
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
            result = extract(
                list(paths) if paths else None,
                config,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        write_parquet(result.functions, output)
        if rejected is not None:
            write_parquet(result.rejected, rejected)
    except C2CError as error:
        raise fail(str(error)) from None
    console.print(summary_table(result.summary))
    console.print(f"wrote {result.summary.kept:,} functions to {output}")
    if summary_json is not None:
        summary_json.write_text(json.dumps(result.summary.as_dict(), indent=2) + "\n")
