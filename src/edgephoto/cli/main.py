"""The `edgephoto` command. The only place that prints or exits: it maps EdgePhotoError to a
one-line message and the error's exit code (tracebacks only with --debug)."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from edgephoto.cli.output import json_stdout_only
from edgephoto.errors import EdgePhotoError
from edgephoto.version import __version__

# One module per subcommand; each defines `command` (a click.Command). Add a line to add one.
SUBCOMMANDS = (
    "edgephoto.cli.zoo",
    "edgephoto.cli.convert",
    "edgephoto.cli.run",
    "edgephoto.cli.doctor",
    "edgephoto.cli.quantize",
    "edgephoto.cli.bench",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgephoto")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Convert, quantize, run and benchmark on-device photo AI models."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


for _module in SUBCOMMANDS:
    cli.add_command(importlib.import_module(_module).command)


def main(argv: list[str] | None = None) -> Any:
    args = argv if argv is not None else sys.argv[1:]
    debug = "--debug" in args
    try:
        if "--json" in args:
            with json_stdout_only():
                return cli.main(args=argv, prog_name="edgephoto", standalone_mode=False)
        return cli.main(args=argv, prog_name="edgephoto", standalone_mode=False)
    except EdgePhotoError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
