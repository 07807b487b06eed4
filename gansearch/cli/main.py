"""`gansearch` commands. Heavy imports (torch) happen inside the commands that need them, so
`gansearch --help` and `gansearch validate` stay fast; every user mistake ends as one line and exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from gansearch.errors import ConfigErrors, GansearchError, TrackingUnavailable

app = typer.Typer(add_completion=True, no_args_is_help=True, help="Find GAN hyperparameters that converge.")


def _version(value: bool) -> None:
    if value:
        from gansearch import __version__

        typer.echo(f"gansearch {__version__}")
        raise typer.Exit()


LOG_LEVELS = ("debug", "info", "warning", "error")


def _log_level(value: str | None) -> str | None:
    """The driver's log level for gansearch and the libraries it drives (trials log to their own files);
    unset, each library keeps its own."""
    import logging

    if value is None:
        return None
    if value not in LOG_LEVELS:
        raise typer.BadParameter(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    level = getattr(logging, value.upper())
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for name in ("gansearch", "ray", "optuna", "mlflow"):
        logging.getLogger(name).setLevel(level)
    return value


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit"),
          log_level: Optional[str] = typer.Option(None, "--log-level", callback=_log_level,
                                                  help="debug, info, warning or error: what the driver logs "
                                                       "(gansearch, Ray, Optuna, MLflow; default: each its own)")) -> None:
    """Find GAN hyperparameters that converge."""


# One example per command, shown at the end of its --help.
EXAMPLES = {
    "init": "Example: gansearch init ring8 --out spaces",
    "validate": "Example: gansearch validate search_spaces/digits.yaml --set train.steps=200",
    "train": "Example: gansearch train search_spaces/digits.yaml --out runs/digits --steps 500",
    "run": "Example: gansearch run search_spaces/digits.yaml --out studies/digits --num-trials 8",
    "ui": "Example: gansearch ui studies/digits",
    "report": "Example: gansearch report studies/digits --evaluator fanova",
    "export": "Example: gansearch export studies/digits --top-k 3 --to exports/digits",
    "sample": "Example: gansearch sample exports/digits -n 64 -o grid.png",
}

SpaceArg = typer.Argument(..., help="A space file, e.g. search_spaces/digits.yaml", show_default=False)
SetOpt = typer.Option(None, "--set", help="Override a field: train.steps=100, or a hyperparameter: lr_d=1e-3")


def _load(space: Path, overrides: list[str]):  # -> SpaceFile
    from gansearch.config import load

    return load(space, overrides)


@app.command(epilog=EXAMPLES["init"])
def init(
    name: str = typer.Argument("digits", help="Which shipped example (--list shows them)"),
    out: Path = typer.Option(Path("."), "--out", help="Folder to write NAME.yaml into"),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing NAME.yaml"),
    list_: bool = typer.Option(False, "--list", help="List the shipped examples and exit"),
) -> None:
    """Write one of the example space files that ship with gansearch, to edit and run."""
    from gansearch.config import examples

    if list_:
        typer.echo("\n".join(examples.names()))
        return
    path = examples.write(name, out, force)
    typer.echo(f"wrote {path}: gansearch validate {path}, then gansearch run {path} --out studies/{name}")


@app.command(epilog=EXAMPLES["validate"])
def validate(space: Path = SpaceArg, set_: Optional[list[str]] = SetOpt) -> None:
    """Check a space file (schema, names, `when`, data present) and print the resolved config."""
    import yaml

    from gansearch.config import fixed_params
    from gansearch.data.locate import check_feature_net, locate

    cfg = _load(space, set_ or [])
    if cfg.task == "gan":  # a style space's images are checked by validation itself
        locate(cfg.data)
        check_feature_net(cfg)  # distances need labels or Inception weights
    body = cfg.model_dump(mode="json", exclude={"space"})
    body["space"] = {k: (v.model_dump(exclude_none=True) if hasattr(v, "model_dump") else v) for k, v in cfg.space.items()}
    body["resolved_params"] = fixed_params(cfg.space)
    typer.echo(yaml.safe_dump(body, sort_keys=False).rstrip())
    typer.echo(f"ok: {space} is valid", err=True)


@app.command(epilog=EXAMPLES["train"])
def train(
    space: Path = SpaceArg,
    out: Path = typer.Option(..., "--out", help="Run folder; run again with the same folder to resume"),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override train.steps"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override train.seed"),
    set_: Optional[list[str]] = SetOpt,
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar"),
) -> None:
    """Train ONE GAN with the space file's fixed values (distributions take their default)."""
    overrides = list(set_ or [])
    if steps is not None:
        overrides.append(f"train.steps={steps}")
    if seed is not None:
        overrides.append(f"train.seed={seed}")
    cfg = _load(space, overrides)
    from gansearch.data.locate import check_feature_net, locate

    if cfg.task == "gan":
        locate(cfg.data)
        check_feature_net(cfg)  # distances need labels or Inception weights
    from gansearch.cli.progress import run_with_progress

    summary = run_with_progress(cfg, out, quiet=quiet)
    final = summary.get("final", {})
    status = summary["status"]
    line = f"{status}: {summary['steps']} steps"
    metric = summary.get("metric")
    if metric and final.get(metric) is not None:
        scored = f"{final['eval.num_samples']} samples, " if final.get("eval.num_samples") is not None else "measured by "
        line += (f", {metric} {final[metric]:.4g} (best {summary['best_value']:.4g} at step {summary['best_step']};"
                 f" {scored}{final.get('eval.feature_net')})")
    if final.get("eval.feature_net_warning"):
        typer.echo(f"warning: {final['eval.feature_net_warning']}", err=True)
    if status == "diverged":
        line += f"; {summary['diverged_what']} not finite at step {summary['diverged_step']}"
    typer.echo(line)
    typer.echo(f"metrics: {out / 'metrics.json'}  (per evaluation: {out / 'metrics.jsonl'})")
    if final.get("grid"):
        typer.echo(f"samples: {out / final['grid']}")
    if status == "diverged":
        raise typer.Exit(1)


@app.command(epilog=EXAMPLES["run"])
def run(
    space: Path = SpaceArg,
    out: Optional[Path] = typer.Option(None, "--out", help="Study folder (default: studies/<space name>)"),
    num_trials: Optional[int] = typer.Option(None, "--num-trials", help="Override search.num_trials"),
    address: Optional[str] = typer.Option(
        None, "--address", envvar="RAY_ADDRESS", show_envvar=True,
        help="Join a running Ray cluster (host:port). Without it (and without RAY_ADDRESS, which `ray job "
             "submit` sets) the study starts a fresh local Ray"),
    tracking_uri: Optional[str] = typer.Option(
        None, "--tracking-uri", envvar="MLFLOW_TRACKING_URI", show_envvar=True,
        help="MLflow store (default: sqlite in the study folder; an MLflow server is required with --address)"),
    experiment: Optional[str] = typer.Option(
        None, "--experiment", help="MLflow experiment, also the Optuna study's name (default: "
                                   "gansearch:<folder name>, unique per study folder)"),
    storage: Optional[str] = typer.Option(
        None, "--storage", help="Optuna storage: a database URL RDBStorage takes, e.g. postgresql://host/db "
                                "(default: the journal file optuna.journal in the study folder)"),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted study in --out"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only check the space file, data, --address, "
                                 "--tracking-uri and --storage, and print each trial's resources and how many run at once"),
    set_: Optional[list[str]] = SetOpt,
) -> None:
    """Search hyperparameters: Ray Tune schedules, Optuna samples, MLflow records every trial.

    Each trial trains on what Ray granted it: search.resources_per_trial.gpu is auto (one GPU per trial where the cluster has GPUs, else none), 0, 1, or a fraction (0.25 packs four trials on one card)."""
    cfg = _load(space, list(set_ or []))
    study_dir = out or Path("studies") / (cfg.name or space.stem)
    if dry_run:
        from gansearch.search.study import run_study

        checked = run_study(cfg, space, study_dir, num_trials=num_trials, address=address, tracking_uri=tracking_uri,
                            resume=resume, dry_run=True, experiment=experiment, storage=storage, echo=typer.echo)
        for line in checked["resources"]:
            typer.echo(line)
        typer.echo(f"ok: {space} would run {checked['num_trials']} trials into {checked['study_dir']} "
                   f"(tracking {checked['tracking_uri']}, Optuna {checked['storage']}, Ray {checked['address'] or 'local'})")
        return
    from gansearch import api
    from gansearch.search.summary import print_report

    study = api.run(space, study_dir, num_trials=num_trials, overrides=list(set_ or []), resume=resume,
                    address=address, tracking_uri=tracking_uri, experiment=experiment, storage=storage,
                    echo=typer.echo)
    assert study.summary is not None
    print_report(study.summary, study_dir.resolve(), echo=typer.echo)


@app.command(epilog=EXAMPLES["ui"])
def ui(
    study_dir: Path = typer.Argument(..., help="A study folder made by `gansearch run`", show_default=False),
    port: Optional[int] = typer.Option(None, "--port", help="Port on 127.0.0.1 (default: a free one)"),
) -> None:
    """Start the MLflow UI on 127.0.0.1 for a study's store (Ctrl-C stops it)."""
    from gansearch.tracking.ui import serve_study

    serve_study(study_dir, port, echo=typer.echo)


@app.command(epilog=EXAMPLES["report"])
def report(
    study_dir: Path = typer.Argument(..., help="A study folder made by `gansearch run` (finished or not)", show_default=False),
    html: Optional[Path] = typer.Option(None, "--html", help="Output HTML (default: STUDY_DIR/report/report.html)"),
    evaluator: str = typer.Option("ped_anova", "--evaluator", help="Importance evaluator: ped_anova or fanova"),
    top_k: int = typer.Option(4, "--top-k", help="Trials whose curves and grids are shown"),
) -> None:
    """Write the study's report: importance, budget curve, convergence by strategy, top-k grids."""
    from gansearch.search.report import write_report

    paths = write_report(study_dir, html, evaluator=evaluator, top_k=top_k)
    typer.echo(f"report: {paths['html']}")
    typer.echo(f"data:   {paths['json']}")


@app.command(epilog=EXAMPLES["export"])
def export(
    study_dir: Path = typer.Argument(..., help="A study folder made by `gansearch run`", show_default=False),
    top_k: int = typer.Option(3, "--top-k", help="How many of the best trials to export"),
    to: Path = typer.Option(..., "--to", help="A new (or empty) folder for the export"),
    register: Optional[str] = typer.Option(None, "--register", help="Also register the best in the MLflow Model Registry under this name"),
) -> None:
    """Hand over the best generators: safetensors weights, config, metrics, grid and model card per trial."""
    from gansearch.search.export_study import export_study

    result = export_study(study_dir, top_k, to, register=register, echo=typer.echo)
    typer.echo(f"manifest: {result['manifest']}")
    if result.get("task", "gan") == "gan":
        typer.echo(f"render:   gansearch sample {to} -n 64 -o grid.png")
    else:  # style transfer: each trial folder holds its image
        typer.echo(f"images:   {to}/*/image.png")


@app.command(epilog=EXAMPLES["sample"])
def sample(
    export_dir: Path = typer.Argument(..., help="An export folder (rank 1) or one trial folder in it", show_default=False),
    n: int = typer.Option(64, "-n", help="How many samples"),
    out: str = typer.Option(..., "-o", "--out", help="Output: a PNG grid, a folder DIR/ of PNG files, or a FILE.npz"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Latent seed (default: the trial's own, reproducing its grid)"),
    fmt: str = typer.Option("auto", "--format", help="grid, png (one file per sample), npz (raw arrays), or auto (from -o)"),
) -> None:
    """Render samples from an exported generator (its sha256 is checked against the manifest first)."""
    from gansearch.export.sample import sample_export

    result = sample_export(export_dir, n, out, seed, fmt)
    typer.echo(f"{result['path']}: {n} samples of {result['trial_key']} ({result['format']}), seed {result['seed']}")


def main(argv: list[str] | None = None) -> None:
    try:
        # Outside standalone mode, typer RETURNS the code of a `typer.Exit` (and turns Ctrl-C into 130)
        # instead of exiting: a diverged run and an interrupt would otherwise both exit 0.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool) and code:
            if code == 130:
                typer.echo("interrupted", err=True)
            sys.exit(code)
    except ConfigErrors as e:
        for err in e.errors:
            typer.echo(str(err), err=True)
        sys.exit(2)
    except TrackingUnavailable as e:
        typer.echo(str(e).replace("\n", " "), err=True)
        sys.exit(3)
    except GansearchError as e:
        typer.echo(str(e).replace("\n", " "), err=True)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:
        line = _usage_error(e, argv if argv is not None else sys.argv[1:])
        if line is None:
            raise
        if line:
            typer.echo(line, err=True)
        sys.exit(0 if not line else 2)


def _usage_error(e: Exception, argv: list[str]) -> str | None:
    """One line for a command-line mistake (unknown option, missing argument, bad value), whichever click
    raised it: typer 0.29 raises its own vendored click's exceptions, which are not `click.ClickException`.
    "" when the exception was a request for help that click already printed; None when it is no usage error."""
    kinds = []
    try:
        import click

        kinds.append(click.ClickException)
    except ImportError:  # pragma: no cover
        pass
    try:
        from typer._click.exceptions import ClickException as VendoredClickException

        kinds.append(VendoredClickException)
    except ImportError:  # pragma: no cover - an older typer uses click itself
        pass
    if not kinds or not isinstance(e, tuple(kinds)):
        return None
    if type(e).__name__ == "NoArgsIsHelpError":  # `gansearch` or a command with no arguments
        typer.echo(e.format_message())
        return ""
    message = " ".join(e.format_message().split())
    command = next((a for a in argv if not a.startswith("-")), None)
    hint = f"gansearch {command} --help" if command in {c.name or c.callback.__name__ for c in app.registered_commands} \
        else "gansearch --help"
    return f"{message} (see {hint})"


if __name__ == "__main__":
    main()
