"""``python -m django_onestep run|check [--json] TARGET`` for apps used outside Django.

TARGET is ``package.module:attr`` (an app or a zero-argument factory returning one;
``attr`` defaults to ``app``) or a ``.yaml``/``.yml`` file. ``python -m django_onestep
TARGET`` is short for ``run``. Exit codes: 0 ok, 1 the app failed while running,
2 the target or its configuration is bad (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from django_onestep.core.errors import ConfigurationError

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["load_target", "main"]

PROG = "django-onestep"
_COMMANDS = ("run", "check")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2 too, but prints usage first
        self.print_usage(sys.stderr)
        self.exit(2, f"{PROG}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Run or check a django-onestep app without Django.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve the app until SIGINT/SIGTERM")
    run.add_argument("target", help="package.module:app, a zero-argument factory, or a .yaml file")
    run.add_argument("--log-level", default="INFO", help="root log level (default INFO)")
    run.add_argument("--task-events", action="store_true", help="log every task event (onestep.events)")
    check = commands.add_parser("check", help="describe the app and report problems, then exit")
    check.add_argument("target", help="package.module:app, a zero-argument factory, or a .yaml file")
    check.add_argument("--json", dest="as_json", action="store_true", help="print the report as JSON")
    return parser


def load_target(target: str) -> OneStepApp:
    """Resolve TARGET to an app; raises ConfigurationError with a one-line reason."""
    from django_onestep.core.declarative.loader import is_yaml_target, load_ref, load_yaml_app
    from django_onestep.core.runtime.app import OneStepApp

    if is_yaml_target(target):
        if not os.path.isfile(target):
            raise ConfigurationError(f"YAML file {target!r} does not exist")
        return load_yaml_app(target)
    module_name, colon, attr = target.partition(":")
    if not module_name or (colon and not attr):
        raise ConfigurationError(f"target {target!r} must look like 'package.module:app' or 'file.yaml'")
    try:
        value = load_ref(f"{module_name}:{attr or 'app'}")
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    if callable(value) and not isinstance(value, OneStepApp):
        value = value()
    if not isinstance(value, OneStepApp):
        raise ConfigurationError(
            f"{target!r} is a {type(value).__name__}, not a OneStepApp or a factory of one"
        )
    return value


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _check(app: OneStepApp, *, as_json: bool) -> int:
    from django_onestep.core.declarative.check import build_report, render_report

    report = build_report(app)
    sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n" if as_json else render_report(report))
    return 0 if report["ok"] else 2


#: Logger trees the runtime and the connectors log to.
OWN_LOGGERS = ("onestep", "django_onestep")


def _run(app: OneStepApp, args: argparse.Namespace) -> int:
    level = logging.getLevelName(str(args.log_level).upper())
    if not isinstance(level, int):
        print(f"{PROG}: unknown log level {args.log_level!r}", file=sys.stderr)
        return 2
    # --log-level is about our loggers; other libraries (botocore, pika...) stay at WARNING.
    logging.basicConfig(
        level=max(level, logging.WARNING), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    if args.task_events:
        app.enable_structured_event_logging()
    try:
        app.run()
    except ConfigurationError as exc:
        print(f"{PROG}: {args.target}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        logging.getLogger("onestep").debug("app failed", exc_info=True)
        print(f"{PROG}: {args.target} failed while running: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and not args_list[0].startswith("-") and args_list[0] not in _COMMANDS:
        args_list.insert(0, "run")  # onestep's short form: `django-onestep module:app`
    try:
        args = _parser().parse_args(args_list)
    except SystemExit as exc:
        return int(exc.code or 0)
    # The console script does not put the working directory on sys.path; `python -m` does.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        app = load_target(args.target)
    except (ConfigurationError, ImportError) as exc:
        print(f"{PROG}: cannot load {args.target}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the user's module raised while importing
        print(f"{PROG}: cannot load {args.target}: {_one_line(exc)}", file=sys.stderr)
        return 2
    if args.command == "check":
        return _check(app, as_json=args.as_json)
    return _run(app, args)
