"""``seriesguard evaluate``: score the detectors on the NAB corpus and write the report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from seriesguard.cli import emit_json, fail
from seriesguard.core.errors import DomainError, InvalidInput
from seriesguard.core.nab_scoring import PROBATION_MAX_ROWS
from seriesguard.evaluation.corpus import NabCorpus
from seriesguard.evaluation.report import to_json, to_markdown
from seriesguard.evaluation.runner import Retraining, evaluate
from seriesguard.evaluation.variants import default_variants, parse_variants
from seriesguard.settings import Settings

NAB_RELATIVE = Path("..") / "shared" / "datasets" / "nab"
# The repository root, when running from a checkout (src/seriesguard/cli_evaluate.py).
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MAX_POINTS = int(Settings.model_fields["max_training_points"].default)


def _default_nab() -> Path:
    here = Path.cwd() / NAB_RELATIVE
    return here if here.is_dir() else REPO_ROOT / NAB_RELATIVE


def _progress(algorithm: str, name: str, k: int, total: int) -> None:
    typer.echo(f"[{algorithm}] {k}/{total} {name}", err=True)


def evaluate_command(
    nab: Annotated[
        Path | None,
        typer.Option("--nab", help="NAB corpus folder; default ../shared/datasets/nab."),
    ] = None,
    detectors: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated detectors, each NAME or NAME:key=value:...; default every "
            "registered algorithm and a few variants."
        ),
    ] = None,
    files: Annotated[
        str | None, typer.Option("--files", help="Glob over NAB keys, e.g. 'realTraffic/*'.")
    ] = None,
    out_md: Annotated[
        Path | None, typer.Option("--out-md", help="Write the Markdown report here.")
    ] = None,
    out_json: Annotated[
        Path | None, typer.Option("--out-json", help="Write the JSON figures here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON figures.")] = False,
    max_points: Annotated[
        int,
        typer.Option(
            "--max-training-points",
            envvar="SERIESGUARD_MAX_TRAINING_POINTS",
            min=2,
            help="Most points a training window may hold (the platform's setting).",
        ),
    ] = DEFAULT_MAX_POINTS,
    retrain_every_rows: Annotated[
        int | None,
        typer.Option(help="Refit every N scored rows (as the weekly job); default never."),
    ] = None,
    retrain_window_rows: Annotated[
        int | None,
        typer.Option(help="Rows of trailing history each refit trains on; default the probation."),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No per-file progress on stderr.")] = False,
) -> None:
    """Evaluate detectors on the NAB corpus: per-profile NAB scores and event precision/recall."""
    started = time.perf_counter()
    try:
        variants = parse_variants(detectors.split(",")) if detectors else default_variants()
        retraining = _retraining(retrain_every_rows, retrain_window_rows)
        result = evaluate(
            NabCorpus(nab or _default_nab()),
            variants=variants,
            max_points=max_points,
            pattern=files,
            retraining=retraining,
            progress=None if quiet else _progress,
        )
    except DomainError as exc:
        fail(exc.rule, exc.loc, str(exc))
    for r in result.results:
        typer.echo(f"{r.algorithm}: {r.seconds:.1f} s over {len(result.files)} files", err=True)
    typer.echo(f"total: {time.perf_counter() - started:.1f} s", err=True)
    doc = to_json(result)
    if out_json is not None:
        out_json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if out_md is not None:
        out_md.write_text(to_markdown(result), encoding="utf-8")
    if as_json:
        emit_json(doc)


def _retraining(every: int | None, window: int | None) -> Retraining | None:
    if every is None:
        if window is not None:
            raise InvalidInput(
                "--retrain-window-rows needs --retrain-every-rows",
                rule="retrain_rows",
                loc=("option", "retrain-window-rows"),
            )
        return None
    # The probationary period is at most 750 rows: the default window is the same size.
    return Retraining(every_rows=every, window_rows=window or PROBATION_MAX_ROWS)


def register_evaluate_command(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
