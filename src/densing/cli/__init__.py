"""The ``densing`` command line: a thin layer over the library.

Each command group lives in its own module and registers itself on ``app``.
Input errors (:class:`densing.errors.DensingInputError`) become one line on
stderr and exit code 2.
"""

from __future__ import annotations

import sys

import typer

from densing.cli import core, eval
from densing.errors import DensingError, DensingInputError

app = typer.Typer(
    name="densing",
    help="Capability density of language models and the densing law, with intervals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

core.register(app)
eval.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv, standalone_mode=False)
    except DensingInputError as exc:
        print(f"densing: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except DensingError as exc:
        print(f"densing: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
