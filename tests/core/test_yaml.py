"""load_yaml_app: onestep's schema, env interpolation, the resource registry and errors."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path
from typing import Any

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
from django_onestep.core.declarative.env import expand_env
from django_onestep.core.declarative.registry import (
    build_resources,
    known_resource_types,
    register_resource_type,
)
from django_onestep.core.errors import ConfigurationError
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
          nightly: {{type: cron, expression: "@daily", timezone: Europe/Paris, overlap: skip, misfire: catch_up, max_catch_up: 3}}
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
    assert (nightly.source.misfire, nightly.source.max_catch_up) == ("catch_up", 3)
    assert nightly.source.timezone_name == "Europe/Paris"


def test_webhook_hmac_auths_and_delivery_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import hmac

    monkeypatch.setenv("H9_GITHUB_SECRET", "1234")  # digits: still a string secret
    path = write(
        tmp_path,
        f"""
        app: {{name: signed}}
        resources:
          gh: {{type: webhook, path: /gh, delivery_id: X-GitHub-Delivery,
                auth: {{type: github, secret: "${{H9_GITHUB_SECRET}}"}}}}
          st: {{type: webhook, path: /st, auth: {{type: stripe, secret: [new, old], tolerance_s: 60}}}}
          sh: {{type: webhook, path: /sh, auth: {{type: hmac, secret: k, header: X-Shopify-Hmac-Sha256,
                encoding: base64}}}}
        tasks:
          - {{name: gh, source: gh, handler: "{HANDLER}"}}
          - {{name: st, source: st, handler: "{HANDLER}"}}
          - {{name: sh, source: sh, handler: "{HANDLER}"}}
        """,
    )
    gh, st, sh = (spec.source for spec in load_yaml_app(path).tasks)
    assert gh.delivery_id == "x-github-delivery" and st.delivery_id is None
    signature = "sha256=" + hmac.new(b"1234", b"{}", hashlib.sha256).hexdigest()
    gh.auth.verify({"x-hub-signature-256": signature}, b"{}")
    assert (type(st.auth).__name__, st.auth.tolerance_s) == ("StripeAuth", 60.0)
    assert (sh.auth.header, sh.auth.encoding) == ("x-shopify-hmac-sha256", "base64")


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
            "app: {name: a}\nconnectors: {h: {type: webhook, path: /x, auth: {type: basic, token: t}}}\n",
            "connectors.h.auth.type: unsupported webhook auth type 'basic' (known: bearer, github, hmac, stripe)",
        ),
        (
            "app: {name: a}\nconnectors: {c: {type: cron, expression: '@daily', misfire: never}}\n",
            "connectors.c.misfire: must be one of skip, run_once, catch_up, got 'never'",
        ),
        (
            "app: {name: a}\nconnectors: {h: {type: webhook, path: /x, auth: {type: hmac, token: t}}}\n",
            "connectors.h.auth: unknown key(s) token (allowed: type, secret, header, algorithm, prefix, encoding)",
        ),
        (
            "app: {name: a}\nconnectors: {h: {type: webhook, path: /x, auth: {type: github, secret: ''}}}\n",
            "connectors.h.auth.secret: must be a non-empty string or a list of them",
        ),
        (
            "app: {name: a}\nconnectors: {h: {type: webhook, path: /x, auth: {type: hmac, secret: s}}}\n",
            "connectors.h.auth.header: must name the header carrying the signature",
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
            "tasks[0].concurrency: must be >= 1, got 0",
        ),
        (
            f"app: {{name: a}}\ntasks: [{{handler: '{HANDLER}', concurrency: 1.5}}]\n",
            "tasks[0].concurrency: must be an integer, got 1.5",
        ),
        (
            f"app: {{name: a}}\ntasks: [{{handler: '{HANDLER}', timeout_s: .nan}}]\n",
            "tasks[0].timeout_s: must be a finite number, got nan",
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
            "app.shutdown_timeout_s: must be > 0, got 0",
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


# Values of digits and words that JSON would decode: onestep turns them into numbers
# and booleans even where the field is a name, a token or a routing key.
STRINGY_ENV = {
    "H7_APP": "2024",
    "H7_QUEUE": "123",
    "H7_TASK": "42",
    "H7_SINK": "7",
    "H7_TOKEN": "123456",
    "H7_EXCHANGE": "true",
    "H7_KEY": "1.5",
}


def test_env_value_in_a_string_field_stays_the_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        app: {name: "${H7_APP}"}
        resources:
          inbox: {type: memory, name: "${H7_QUEUE}"}
          "7": {type: memory}
          hook: {type: webhook, path: /h, port: 0, auth: {type: bearer, token: "${H7_TOKEN}"}}
          rmq: {type: rabbitmq, url: "amqp://localhost/"}
          jobs: {type: rabbitmq_queue, connector: rmq, queue: "${H7_QUEUE}", exchange: "${H7_EXCHANGE}",
                 routing_key: "${H7_KEY}"}
          aws: {type: sqs, region_name: us-east-1}
          fifo: {type: sqs_queue, connector: aws, url: "https://sqs.us-east-1.amazonaws.com/1/j.fifo",
                 message_group_id: "${H7_TASK}"}
        tasks:
          - {name: "${H7_TASK}", source: inbox, emit: "${H7_SINK}", dead_letter: ["${H7_SINK}"]}
          - {name: hooked, source: hook, emit: jobs}
        """,
    )
    app = load_yaml_app(path, env=STRINGY_ENV)
    forward, hooked = app.tasks
    assert app.name == "2024"
    assert (forward.name, forward.source.name, forward.emit[0].name, forward.dead_letter[0].name) == (
        "42",
        "123",
        "7",
        "7",
    )
    assert hooked.source.auth is not None and hooked.source.auth.token == "123456"  # not the int 123456
    jobs = hooked.emit[0]
    assert (jobs.name, jobs.topology.exchange, jobs.topology.routing_key) == ("123", "true", "1.5")
    import yaml  # the sqs queue feeds no task: build the resources alone

    fifo = build_resources(expand_env(yaml.safe_load(path.read_text()), STRINGY_ENV))["fifo"]
    assert fifo.message_group_id == "42"


def test_env_value_in_a_numeric_field_is_still_a_number(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        app: {{name: nums, shutdown_timeout_s: "${{H7_STOP}}", config: {{port: "${{H7_PORT}}", pw: "${{H7_PW}}"}}}}
        resources:
          tick: {{type: interval, minutes: "${{H7_MIN}}", immediate: "${{H7_ON}}"}}
          out: {{type: memory, maxsize: "${{H7_MAX}}"}}
          rmq: {{type: rabbitmq, url: "amqp://localhost/"}}
          jobs: {{type: rabbitmq_queue, connector: rmq, prefetch: "${{H7_PREFETCH}}", bind: "${{H7_ON}}"}}
        tasks:
          - name: t
            source: tick
            emit: out
            handler: "{HANDLER}"
            concurrency: "${{H7_CONC}}"
            timeout_s: "${{H7_TIMEOUT}}"
            retry: {{type: max_attempts, max_attempts: "${{H7_ATTEMPTS}}", delay_s: "${{H7_DELAY}}"}}
          - {{name: u, source: jobs, handler: "{HANDLER}"}}
        """,
    )
    env = {
        "H7_STOP": "4.5",
        "H7_PORT": "5432",
        "H7_PW": '"123"',  # a JSON string: how a free-form value keeps digits as text
        "H7_MIN": "2",
        "H7_ON": "true",
        "H7_MAX": "10",
        "H7_PREFETCH": "7",
        "H7_CONC": "3",
        "H7_TIMEOUT": "2.5",
        "H7_ATTEMPTS": "4",
        "H7_DELAY": "0.5",
    }
    app = load_yaml_app(path, env=env)
    ticked, consumed = app.tasks
    assert app.shutdown_timeout_s == 4.5
    assert (app.config["port"], app.config["pw"]) == (5432, "123")  # free-form: decoded as in onestep
    assert (ticked.source.interval_s, ticked.source.immediate, ticked.emit[0]._maxsize) == (120, True, 10)
    assert (ticked.concurrency, ticked.timeout_s) == (3, 2.5)
    assert (ticked.retry.max_attempts, ticked.retry.delay_s) == (4, 0.5)
    assert (consumed.source.prefetch, consumed.source.topology.bind) == (7, True)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            "tasks: [{name: t, source: q, emit: q, concurrency: '${H7_BAD}'}]",
            "tasks[0].concurrency: must be an integer, got 'four'",
        ),
        (
            "tasks: [{name: t, source: q, emit: q, timeout_s: '${H7_BAD}'}]",
            "tasks[0].timeout_s: must be a number or None, got 'four'",
        ),
        (
            "resources: {m: {type: memory, maxsize: '${H7_BAD}'}}",
            "resources.m.maxsize: must be an integer, got 'four'",
        ),
        (
            "resources: {w: {type: webhook, path: /h, port: '${H7_BAD}'}}",
            "resources.w.port: must be an integer, got 'four'",
        ),
        (
            "resources: {r: {type: rabbitmq, url: 'amqp://localhost/'}, "
            "j: {type: rabbitmq_queue, connector: r, prefetch: '${H7_BAD}'}}",
            "resources.j: prefetch: must be an integer, got 'four'",
        ),
    ],
)
def test_non_numeric_env_value_in_a_numeric_field_names_the_path(
    tmp_path: Path, field: str, message: str
) -> None:
    path = write(tmp_path, f"app: {{name: a}}\nconnectors: {{q: {{type: memory}}}}\n{field}\n")
    with pytest.raises(ValueError) as info:
        load_yaml_app(path, env={"H7_BAD": "four"})
    assert str(info.value) == message


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


# -- retry: every form a task's retry takes (the same builder serves the Django settings)


def describe(policy: Any) -> Any:
    """A policy as comparable data: its class and options, sub-policies included."""
    if isinstance(policy, dict):
        return {key: describe(value) for key, value in policy.items()}
    if callable(getattr(policy, "on_error", None)):
        return (type(policy).__name__, {key: describe(value) for key, value in vars(policy).items()})
    return policy


NO_RETRY = ("NoRetry", {})
MAX_3 = ("MaxAttempts", {"max_attempts": 3, "delay_s": None})
BACKOFF = {"max_attempts": 5, "min_delay_s": 1.0, "max_delay_s": 300.0, "multiplier": 2.0, "jitter": "none"}


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        ("null", NO_RETRY),  # no policy: the task keeps the runtime's default
        ("none", NO_RETRY),
        ("no_retry", NO_RETRY),
        ("{type: No-Retry}", NO_RETRY),
        ("max_attempts", MAX_3),
        (
            "{type: max_attempts, max_attempts: 4, delay_s: 2}",
            ("MaxAttempts", {"max_attempts": 4, "delay_s": 2.0}),
        ),
        ("{type: exponential_backoff, max_attempts: 5, max_delay_s: 300}", ("ExponentialBackoff", BACKOFF)),
        (
            # null leaves a kind out, as onestep does
            "{type: by_failure_kind, timeout: {type: max_attempts, max_attempts: 5}, default: no_retry, error: null}",
            (
                "ByFailureKind",
                {
                    "_policies": {
                        "timeout": ("MaxAttempts", {"max_attempts": 5, "delay_s": None}),
                        "default": NO_RETRY,
                    }
                },
            ),
        ),
        (
            "{type: by_failure_kind, error: {type: by_failure_kind, default: max_attempts}}",
            ("ByFailureKind", {"_policies": {"error": ("ByFailureKind", {"_policies": {"default": MAX_3}})}}),
        ),
    ],
)
def test_every_retry_form_builds_its_policy(tmp_path: Path, retry: str, expected: Any) -> None:
    path = write(tmp_path, f"app: {{name: a}}\ntasks: [{{handler: '{HANDLER}', retry: {retry}}}]\n")
    (task,) = load_yaml_app(path).tasks
    assert describe(task.retry) == expected


KNOWN_TYPES = "(known: by_failure_kind, exponential_backoff, max_attempts, no_retry, none)"


@pytest.mark.parametrize(
    ("retry", "message"),
    [
        ("5", "tasks[0].retry: must be a retry type name, a mapping with 'type' or a RetryPolicy, got 5"),
        ("{max_attempts: 3}", f"tasks[0].retry.type: is required {KNOWN_TYPES}"),
        ("forever", f"tasks[0].retry.type: unknown retry type 'forever' {KNOWN_TYPES}"),
        ("{type: none, delay_s: 1}", "tasks[0].retry.delay_s: type 'none' takes no options"),
        (
            "{type: no_retry, max_attempts: 2}",
            "tasks[0].retry.max_attempts: type 'no_retry' takes no options",
        ),
        (
            "{type: max_attempts, attempts: 3}",
            "tasks[0].retry.attempts: unknown option for type 'max_attempts' (known: max_attempts, delay_s)",
        ),
        ("{type: max_attempts, delay_s: -1}", "tasks[0].retry.delay_s: must be >= 0, got -1"),
        (
            "{type: max_attempts, max_attempts: 2.5}",
            "tasks[0].retry.max_attempts: must be an integer, got 2.5",
        ),
        (
            "{type: exponential_backoff, min_delay_s: 5, max_delay_s: 1}",
            "tasks[0].retry.max_delay_s: must be >= min_delay_s (5.0), got 1",
        ),
        (
            "{type: by_failure_kind, error: {type: max_attempts, max_attempts: 0}}",
            "tasks[0].retry.error.max_attempts: must be >= 1, got 0",
        ),
        (
            "{type: by_failure_kind, timeout: {type: exponential_backoff, jitter: wild}}",
            "tasks[0].retry.timeout.jitter: must be one of ['none', 'full', 'equal'], got 'wild'",
        ),
        (
            "{type: by_failure_kind, timeout: forever}",
            f"tasks[0].retry.timeout.type: unknown retry type 'forever' {KNOWN_TYPES}",
        ),
        (
            "{type: by_failure_kind, oops: none}",
            "tasks[0].retry.oops: unknown option for type 'by_failure_kind' (known: default, error, timeout, cancelled)",
        ),
        (
            "{type: by_failure_kind, error: null}",
            "tasks[0].retry: by_failure_kind needs a policy for one of default, error, timeout, cancelled",
        ),
    ],
)
def test_retry_errors_name_the_path(tmp_path: Path, retry: str, message: str) -> None:
    path = write(tmp_path, f"app: {{name: a}}\ntasks: [{{handler: '{HANDLER}', retry: {retry}}}]\n")
    with pytest.raises(ConfigurationError) as info:
        load_yaml_app(path)
    assert str(info.value) == message
