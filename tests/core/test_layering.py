"""The runtime core must work where Django cannot even be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class BlockDjango:
        def find_spec(self, name, path=None, target=None):
            if name == "django" or name.startswith("django."):
                raise ImportError(f"django is blocked in this test (import of {name!r})")
            return None

    sys.meta_path.insert(0, BlockDjango())
    try:
        import django  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the blocker did not work")

    import django_onestep
    import django_onestep.core as core

    modules = sorted(m.name for m in pkgutil.walk_packages(core.__path__, "django_onestep.core."))
    for name in modules:
        importlib.import_module(name)

    runtime = [n for n, mod in django_onestep._EXPORTS.items() if mod.startswith("django_onestep.core.")]
    for name in runtime:
        getattr(django_onestep, name)

    # onestep code may star-import: it gets every runtime name, and no Django
    namespace = {}
    exec("from django_onestep import *", namespace)
    missing = sorted(set(runtime) - set(namespace))
    assert not missing, missing
    # the public names of onestep 1.x, plus three more onestep 1.15 exports
    spec_names = (
        "OneStepApp TaskContext Envelope Source Sink Delivery MemoryQueue IntervalSource "
        "CronSource WebhookSource BearerAuth WebhookResponse HttpSink RetryPolicy NoRetry "
        "MaxAttempts ExponentialBackoff RetryAction RetryDecision FailureInfo FailureKind "
        "TaskEvent TaskEventKind InMemoryMetrics StructuredEventLogger StateStore CursorStore "
        "InMemoryStateStore InMemoryCursorStore ScopedState ConnectorOperationError "
        "ConnectorOperation ConnectorErrorKind load_yaml_app ControlPlaneReporter "
        "ControlPlaneReporterConfig ByFailureKind HttpSinkStatusError load_app_config"
    ).split()
    missing = sorted(set(spec_names) - set(namespace))
    assert not missing, missing

    assert not any(m == "django" or m.startswith("django.") for m in sys.modules)
    print(len(modules), len(runtime))
    """
)


def test_core_and_runtime_names_import_without_django() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    modules, names = map(int, result.stdout.split())
    assert modules >= 40  # every module of every core subpackage
    assert names >= 30


def test_runtime_demo_needs_no_django() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys

        class BlockDjango:
            def find_spec(self, name, path=None, target=None):
                if name == "django" or name.startswith("django."):
                    raise ImportError(name)
                return None

        sys.meta_path.insert(0, BlockDjango())
        from django_onestep import MemoryQueue, OneStepApp

        app = OneStepApp("plain")
        src, out = MemoryQueue("in"), MemoryQueue("out")

        @app.task(source=src, emit=out)
        def double(ctx, item):
            return item * 2

        async def main():
            await src.publish(21)
            await app.serve(until_idle=True)
            print(out.drain_nowait()[0].body)

        asyncio.run(main())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"
