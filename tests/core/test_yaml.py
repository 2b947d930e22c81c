"""load_yaml_app: onestep's schema, env interpolation, the resource registry and errors."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest

from django_onestep import (
    CronSource,
    HttpSink,
    IntervalSource,
    MaxAttempts,
    MemoryQueue,
    MissingExtraError,
    WebhookSource,
    load_yaml_app,
)
from django_onestep.core.declarative.registry import known_resource_types, register_resource_type
from tests.core.fixtures import yaml_handlers

FIXTURES = Path(__file__).parent / "fixtures"
HANDLER = "tests.core.fixtures.yaml_handlers:sync_billing"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(textwrap.dedent(text))
    return path


async def test_readme_style_yaml_app_builds_and_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BILLING_REGION", raising=False)
    yaml_handlers.CALLS.clear()
    app = load_yaml_app(FIXTURES / "billing.yaml")
    assert app.name == "billing-sync"
    assert app.shutdown_timeout_s == 5.0  # "${BILLING_SHUTDOWN_S:-5}" became a number
    assert app.config["region_label"] == "cn-label"
    assert app.config["config_path"] == str(FIXTURES / "billing.yaml")
    (task,) = app.tasks
    assert task.name == "sync_billing"
    assert isinstance(task.source, IntervalSource) and task.source.interval_s == 300
    assert [type(s) for s in task.emit] == [MemoryQueue]
    assert task.emit[0].name == "processed"
    assert task.dead_letter[0].name == "failed"
    assert (task.concurrency, task.timeout_s) == (2, 30.0)
    assert isinstance(task.retry, MaxAttempts)
    assert (task.retry.max_attempts, task.retry.delay_s) == (3, 10.0)
    await asyncio.wait_for(app.serve(), timeout=30)
    assert yaml_handlers.CALLS[0] == ("startup", "billing-sync")
    assert yaml_handlers.CALLS[1] == ("sync_billing", None, "cn")
    (emitted,) = await task.emit[0].fetch(10)
    assert emitted.payload["region"] == "cn"


def test_env_values_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_REGION", "us")
    app = load_yaml_app(FIXTURES / "billing.yaml", env={"BILLING_SHUTDOWN_S": "12.5"})
    assert app.shutdown_timeout_s == 12.5
    assert app.config["region_label"] == "us-label"


def test_dotenv_next_to_the_file_is_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("H2_DOTENV_NAME", raising=False)
    (tmp_path / ".env").write_text("# comment\nexport H2_DOTENV_NAME='from-dotenv'\n")
    path = write(tmp_path, "app: {name: '${H2_DOTENV_NAME}'}\n")
    monkeypatch.setattr("os.environ", dict(__import__("os").environ))  # undo the side effect
    assert load_yaml_app(path).name == "from-dotenv"


def test_all_core_resource_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        app: {{name: all-types}}
        resources:
          hook:
            type: webhook
            path: /hooks/x
            port: 0
            methods: [POST, PUT]
            auth: {{type: bearer, token: t0k}}
            response: {{status_code: 200, body: ok}}
          nightly: {{type: cron, expression: "@daily", timezone: Europe/Paris, overlap: skip}}
          out: {{type: http_sink, url: "http://127.0.0.1:9/x", method: PUT, timeout_s: 2}}
        tasks:
          - {{name: ingest, source: hook, emit: out}}
          - {{name: nightly, source: nightly, handler: "{HANDLER}"}}
        """,
    )
    app = load_yaml_app(path)
    ingest, nightly = app.tasks
    assert isinstance(ingest.source, WebhookSource)
    assert (ingest.source.path, ingest.source.methods) == ("/hooks/x", ("POST", "PUT"))
    assert ingest.source.auth is not None and ingest.source.auth.token == "t0k"
    assert ingest.source.response.render()[0] == 200
    assert isinstance(ingest.emit[0], HttpSink) and ingest.emit[0].method == "PUT"
    assert isinstance(nightly.source, CronSource) and nightly.source.overlap == "skip"
    assert nightly.source.timezone_name == "Europe/Paris"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f"app: {{name: a}}\nconnectors: {{q: {{type: memory}}}}\n"
            f"tasks:\n  - {{name: t, source: q, handler: '{HANDLER}'}}\n"
            f"  - {{name: u, source: q, handler: '{HANDLER}'}}\n"
            f"  - {{name: v, source: q, handler: '{HANDLER}', retry: {{type: max_attempts, max_attempts: 0}}}}\n",
            "tasks[2].retry.max_attempts: must be >= 1, got 0",
        ),
        (
            f"app: {{name: a}}\nconnectors: {{q: {{type: memory}}}}\n"
            f"tasks: [{{source: q, handler: '{HANDLER}', retry: {{type: exponential_backoff, jitter: wild}}}}]\n",
            "tasks[0].retry.jitter: must be one of",
        ),
        (
            f"app: {{name: a}}\ntasks: [{{handler: '{HANDLER}', retry: {{type: sometimes}}}}]\n",
            "tasks[0].retry.type: unknown retry type 'sometimes' (known: by_failure_kind, exponential_backoff",
        ),
        (
            "app: {name: a}\nconnectors: {k: {type: kafka}}\n",
            "connectors.k.type: unknown resource type 'kafka' (known: ",
        ),
        ("app: {name: a}\nconnectors: {k: {minutes: 1}}\n", "connectors.k.type: is required"),
        (
            "app: {name: a}\nconnectors: {tick: {type: interval, minutes: 1, colour: red}}\n",
            "connectors.tick: unknown key(s) colour (allowed: days, hours",
        ),
        (
            "app: {name: a}\nconnectors: {tick: {type: interval}}\n",
            "connectors.tick.seconds: the interval must be > 0",
        ),
        (
            "app: {name: a}\nconnectors: {tick: {type: interval, minutes: five}}\n",
            "connectors.tick.minutes: must be a number, got 'five'",
        ),
        (
            "app: {name: a}\nconnectors: {c: {type: cron, expression: '61 * * * *'}}\n",
            "connectors.c.expression: invalid cron expression '61 * * * *': minute value '61' is outside 0-59",
        ),
        (
            "app: {name: a}\nconnectors: {c: {type: cron, expression: '@daily', overlap: later}}\n",
            "connectors.c.overlap: must be one of allow, skip, queue, got 'later'",
        ),
        (
            "app: {name: a}\nconnectors: {h: {type: webhook, path: /x, auth: {type: hmac, token: t}}}\n",
            "connectors.h.auth.type: unsupported webhook auth type 'hmac' (known: bearer)",
        ),
        (
            "app: {name: a}\nconnectors: {h: {type: webhook, path: x}}\n",
            "connectors.h: webhook path must start with '/'; got 'x'",
        ),
        (
            "app: {name: a}\nconnectors: {s: {type: http_sink, url: 'ftp://x'}}\n",
            "connectors.s: HttpSink url must be an http(s) URL; got 'ftp://x'",
        ),
        (
            f"app: {{name: a}}\ntasks: [{{name: t, source: nope, handler: '{HANDLER}'}}]\n",
            "tasks[0].source: unknown resource 'nope' (resources: none defined)",
        ),
        (
            "app: {name: a}\nconnectors: {s: {type: http_sink, url: 'http://x'}}\n"
            f"tasks: [{{name: t, source: s, handler: '{HANDLER}'}}]\n",
            "tasks[0].source: resource 's' (HttpSink) cannot be used as a source",
        ),
        (
            "app: {name: a}\ntasks: [{name: t, handler: 'tests.core.fixtures.yaml_handlers:missing'}]\n",
            "tasks[0].handler: ref 'tests.core.fixtures.yaml_handlers:missing': 'missing' not found",
        ),
        (
            "app: {name: a}\ntasks: [{name: t, handler: 'tests.core.fixtures.yaml_handlers:not_callable'}]\n",
            "tasks[0].handler: ref 'tests.core.fixtures.yaml_handlers:not_callable' is not callable",
        ),
        ("app: {name: a}\ntasks: [{name: t}]\n", "tasks[0]: needs a 'handler'"),
        (
            f"app: {{name: a}}\ntasks: [{{handler: '{HANDLER}', colour: red}}]\n",
            "tasks[0]: unknown key(s) colour",
        ),
        (
            f"app: {{name: a}}\ntasks: [{{handler: '{HANDLER}', concurrency: 0}}]\n",
            "tasks[0].concurrency: must be an integer >= 1, got 0",
        ),
        (
            f"app: {{name: a}}\ntasks: [{{handler: '{HANDLER}', concurrency: 1.5}}]\n",
            "tasks[0].concurrency: must be an integer >= 1, got 1.5",
        ),
        (
            f"app: {{name: a}}\ntasks: [{{handler: '{HANDLER}', timeout_s: .nan}}]\n",
            "tasks[0].timeout_s: must be a number > 0, got nan",
        ),
        (
            f"app: {{name: a}}\ntasks: [{{name: t, handler: '{HANDLER}'}}, {{name: t, handler: '{HANDLER}'}}]\n",
            "tasks[1]: duplicate task name 't' in app 'a'",
        ),
        ("app: {name: a, config: 5}\n", "app.config: must be a mapping, got int"),
        (
            "app: {name: a}\nconnectors: {q: {type: 5}}\n",
            "connectors.q.type: must be a type name, got 5 (known: ",
        ),
        ("app: {name: a}\nconnectors: {q: {maxsize: 5}}\n", "connectors.q.type: is required (known: "),
        (
            f"app: {{name: a}}\ntasks: [{{handler: '{HANDLER}', retry: {{type: 3}}}}]\n",
            "tasks[0].retry.type: must be a retry type name, got 3 (known: ",
        ),
        (
            "app: {name: a, shutdown_timeout_s: 0}\n",
            "app.shutdown_timeout_s: must be a number > 0 or None, got 0",
        ),
        ("app: {shutdown_timeout_s: 3}\n", "app.name: must be a non-empty string, got None"),
        ("app: {name: a, colour: red}\n", "app: unknown key(s) colour"),
        ("app: {name: a}\nworkers: 3\n", "<root>: unknown key(s) workers"),
        ("- just\n- a list\n", "<root>: the YAML file must contain a mapping, got list"),
        ("app: {name: a\n", "is not valid YAML"),
        ("app: {name: a, strict_env: true}\nconfig: {x: '${H2_SURELY_UNSET_VAR}'}\n", "strict_env: missing"),
    ],
)
def test_errors_name_the_path(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        load_yaml_app(write(tmp_path, text))
    assert message in str(info.value)


def test_strict_env_error_names_the_variable_and_where(tmp_path: Path) -> None:
    path = write(tmp_path, "app: {name: a, strict_env: true, config: {x: 'a-${H2_SURELY_UNSET_VAR}'}}\n")
    with pytest.raises(ValueError, match=r"H2_SURELY_UNSET_VAR \(at app.config.x\)"):
        load_yaml_app(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read .*nope\.yaml.*No such file"):
        load_yaml_app(tmp_path / "nope.yaml")


def test_registry_accepts_new_types_with_references(tmp_path: Path) -> None:
    made: list[tuple[str, object]] = []

    def build_widget(ctx, spec):
        made.append((ctx.resource_name(), ctx.reference("queue")))
        return MemoryQueue(ctx.resource_name())

    register_resource_type("h2_widget", build_widget, fields=frozenset({"queue"}))
    assert "h2_widget" in known_resource_types()
    path = write(
        tmp_path,
        f"""
        app: {{name: a}}
        resources:
          w: {{type: h2_widget, queue: q}}
          q: {{type: memory}}
        tasks: [{{name: t, source: w, handler: "{HANDLER}"}}]
        """,
    )
    app = load_yaml_app(path)
    assert made[0][0] == "w" and isinstance(made[0][1], MemoryQueue)
    assert app.tasks[0].source.name == "w"
    cyclic = write(
        tmp_path,
        "app: {name: a}\nresources:\n  a: {type: h2_widget, queue: b}\n  b: {type: h2_widget, queue: a}\n",
    )
    with pytest.raises(ValueError, match=r"resources.b.queue: resource cycle a -> b -> a"):
        load_yaml_app(cyclic)


def test_missing_pyyaml_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'django-onestep\[yaml\]'"):
        load_yaml_app(write(tmp_path, "app: {name: a}\n"))


def test_connector_types_load_lazily_by_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        app: {{name: brokers}}
        connectors:
          rmq: {{type: rabbitmq, url: "amqp://guest:guest@127.0.0.1:5672/%2F"}}
          jobs: {{type: rabbitmq_queue, connector: rmq, queue: jobs}}
        tasks: [{{name: t, source: jobs, handler: "{HANDLER}"}}]
        """,
    )
    app = load_yaml_app(path)
    assert type(app.tasks[0].source).__name__ == "RabbitMQQueue"
    assert {"rabbitmq", "rabbitmq_queue", "sqs", "sqs_queue"} <= set(known_resource_types())


async def test_sync_handler_with_params_still_runs_in_the_thread_pool(tmp_path: Path) -> None:
    # Binding params must not turn a plain function into a coroutine function: the
    # runtime would then call it on the event loop, blocking every other task.
    path = write(
        tmp_path,
        """
        app: {name: params}
        connectors:
          tick: {type: interval, seconds: 60, immediate: true}
        tasks:
          - name: work
            source: tick
            handler:
              ref: tests.core.fixtures.yaml_handlers:blocking_sync
              params: {region: eu}
        """,
    )
    yaml_handlers.CALLS.clear()
    app = load_yaml_app(path)
    await asyncio.wait_for(app.serve(), timeout=30)
    assert yaml_handlers.CALLS == [("blocking_sync", "eu", False)]


def test_handler_missing_a_required_param_is_a_load_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        app: {name: params}
        connectors:
          tick: {type: interval, seconds: 60}
        tasks:
          - name: work
            source: tick
            handler: tests.core.fixtures.yaml_handlers:blocking_sync
        """,
    )
    with pytest.raises(
        ValueError,
        match=r"^tasks\[0\]: task 'work': the handler must accept \(ctx, payload\); "
        r"blocking_sync\(ctx: 'Any', payload: 'Any', region: 'str'\) -> 'dict\[str, Any\]' does not "
        r"\(define it as def blocking_sync\(ctx, payload\)\)$",
    ):
        load_yaml_app(path)


def test_onestep_keyword_strict_is_accepted(tmp_path: Path) -> None:
    # onestep's load_yaml_app(path, strict=True) / load_app_config(config, strict=True):
    # validation is always strict here, so both spellings load the same app.
    from django_onestep import load_app_config

    path = write(tmp_path, f"app: {{name: s}}\ntasks: [{{name: t, handler: '{HANDLER}'}}]\n")
    assert [t.name for t in load_yaml_app(path, strict=True).tasks] == ["t"]
    built = load_app_config(
        {"app": {"name": "s"}, "tasks": [{"name": "t", "handler": HANDLER}]}, strict=False
    )
    assert [t.name for t in built.tasks] == ["t"]
