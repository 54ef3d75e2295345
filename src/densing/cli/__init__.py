"""The ``densing`` command line: a thin layer over the library.

Each command group lives in its own module and registers itself on ``app``.
Input errors (:class:`densing.errors.DensingInputError`) become one line on
stderr and exit code 2.
"""

from __future__ import annotations

import sys

import typer

from densing.cli import catalog, core, density, eval, frame, law, run, trend
from densing.errors import DensingError, DensingInputError

app = typer.Typer(
    name="densing",
    help="Capability density of language models and the densing law, with intervals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

core.register(app)
trend.register(app)
catalog.register(app)
frame.register(app)
density.register(app)
run.register(app)
law.register(app)
eval.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point.

    Typer vendors its own copy of click, so usage errors are recognised by
    duck typing (``show()`` and ``exit_code``) rather than by click's classes.
    """
    try:
        rc = app(args=argv, standalone_mode=False)
    except DensingInputError as exc:
        print(f"densing: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except DensingError as exc:
        print(f"densing: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        if code:
            sys.exit(code)
        return
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # click usage errors
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(rc, int) and rc:
        sys.exit(rc)
