"""``manage.py onestep_worker`` run for real in a subprocess against the test database."""

from __future__ import annotations

import json
import signal
import time

import pytest
from django.db import transaction

from django_onestep.models import Job, StateEntry
from testproject.testapp.models import Run
from testproject.testapp.tasks import count, record, slow
from tests.waiting import wait_until


class Rollback(Exception):
    pass


def test_committed_job_runs_once_rolled_back_never(manage) -> None:
    with pytest.raises(Rollback), transaction.atomic():
        record.enqueue({"label": "rolled-back"})
        raise Rollback
    with transaction.atomic():
        job_id = record.enqueue({"label": "committed"})

    result = manage.run("onestep_worker", "--once", "--tasks", "record")
    assert result.returncode == 0, result.stderr
    again = manage.run("onestep_worker", "--once", "--tasks", "record")
    assert again.returncode == 0, again.stderr

    assert list(Run.objects.values_list("label", flat=True)) == ["committed"]
    assert list(Job.objects.values_list("id", "status")) == [(job_id, "done")]


def test_state_survives_a_worker_restart(manage) -> None:
    count.enqueue({})
    assert manage.run("onestep_worker", "--once", "--tasks", "count").returncode == 0
    count.enqueue({})
    assert manage.run("onestep_worker", "--once", "--tasks", "count").returncode == 0
    assert list(Run.objects.filter(task="count").values_list("label", flat=True)) == ["1", "2"]
    assert StateEntry.objects.get(key="testproject:count:total").value_json == "2"


def test_sigterm_finishes_in_flight_work_and_releases_the_rest(manage) -> None:
    ids = [slow.enqueue({"label": f"s{i}", "sleep_s": 2.0}) for i in range(6)]
    worker = manage.start("onestep_worker", "--tasks", "slow", "--concurrency", "2")
    wait_until(lambda: worker.output().count("slow started") == 2)
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.output()

    finished = list(Run.objects.values_list("label", flat=True))
    assert len(finished) == 2  # the two in flight completed
    statuses = dict(Job.objects.values_list("id", "status"))
    done = [i for i in ids if statuses[i] == "done"]
    assert len(done) == 2
    rest = Job.objects.exclude(id__in=done)
    # the other four were released (claimed-but-unstarted ones given back), not leased
    assert sorted(rest.values_list("status", flat=True)) == ["queued"] * 4
    assert list(rest.filter(lease_owner__isnull=False).values_list("id", flat=True)) == []
    assert "SIGTERM: finishing in-flight work" in worker.output()


def test_second_signal_exits_at_once(manage) -> None:
    slow.enqueue({"label": "long", "sleep_s": 120})
    worker = manage.start("onestep_worker", "--tasks", "slow", "--shutdown-timeout", "100")
    worker.wait_for_output("slow started long")
    worker.signal(signal.SIGTERM)
    worker.wait_for_output("send it again to exit at once")
    started = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 128 + signal.SIGTERM
    assert time.monotonic() - started < 15
    assert Run.objects.count() == 0


def test_max_tasks_stops_gracefully(manage) -> None:
    for i in range(6):
        record.enqueue({"label": f"m{i}"})
    result = manage.run("onestep_worker", "--tasks", "record", "--concurrency", "1", "--max-tasks", "2")
    assert result.returncode == 0, result.stderr
    assert "--max-tasks 2 reached: stopping" in result.stderr
    assert Run.objects.count() == 2
    assert sorted(Job.objects.values_list("status", flat=True)) == ["done"] * 2 + ["queued"] * 4


def test_json_logs(manage) -> None:
    record.enqueue({"label": "j"})
    result = manage.run("onestep_worker", "--once", "--tasks", "record", "--log-format", "json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    started = [line for line in lines if line["message"].endswith("(--once)")]
    assert len(started) == 1
    assert started[0]["logger"] == "django_onestep.worker"
    assert started[0]["level"] == "INFO"
    assert started[0]["app_name"] == "testproject"
    assert started[0]["tasks"] == ["record"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_module:app"], "cannot load 'no_such_module:app': cannot import 'no_such_module'"),
        (["testproject.testapp.tasks:nope"], "ref 'testproject.testapp.tasks:nope': 'nope' not found"),
        (["testproject.testapp.tasks:work_queue"], "is a DatabaseQueue, not a OneStepApp"),
        (
            ["tests.acceptance.import_error_app:app"],
            "cannot load 'tests.acceptance.import_error_app:app': NameError: name 'undefined_queue' is not defined",
        ),
        (["missing.yaml"], "cannot load 'missing.yaml': YAML file 'missing.yaml' does not exist"),
        (["--tasks", "nope"], "--tasks: unknown task 'nope' in app 'testproject'"),
        (["--queues", "nope"], "--queues: no task reads from 'nope'"),
        (["--concurrency", "0"], "--concurrency must be >= 1, got 0"),
    ],
)
def test_bad_target_or_options_exit_2(manage, args: list[str], message: str) -> None:
    result = manage.run("onestep_worker", "--once", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_setting_exits_2_naming_the_key(manage) -> None:
    result = manage.run(
        "onestep_worker", "--once", env={"DJANGO_SETTINGS_MODULE": "tests.acceptance.broken_settings"}
    )
    assert result.returncode == 2
    assert 'ONESTEP["LEASE_S"]: must be > 0, got -1' in result.stderr
    assert "Traceback" not in result.stderr


def test_module_attr_target_runs_that_app(manage) -> None:
    record.enqueue({"label": "t"})
    result = manage.run(
        "onestep_worker",
        "--once",
        "django_onestep.project.project_app:get_project_app",
        "--queues",
        "testapp.work",
    )
    assert result.returncode == 0, result.stderr
    assert list(Run.objects.values_list("label", flat=True)) == ["t"]


def test_healthcheck_port(manage) -> None:
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    worker = manage.start("onestep_worker", "--tasks", "record", "--healthcheck-port", str(port))
    worker.wait_for_output("onestep worker pid")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        body = json.loads(response.read())
        assert response.status == 200
    assert body["status"] == "ok"
    assert body["app"] == "testproject"
    assert body["tasks"] == ["record"]
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0


def test_worker_writes_metrics_and_heartbeat(manage) -> None:
    from django_onestep.models import TaskMetric, WorkerHeartbeat

    for i in range(3):
        record.enqueue({"label": f"t{i}"})
    result = manage.run("onestep_worker", "--once", "--tasks", "record")
    assert result.returncode == 0, result.stderr
    metric = TaskMetric.objects.get(app="testproject", task="record")
    assert (metric.started, metric.succeeded, metric.failed) == (3, 3, 0)
    # a --once run deletes its heartbeat row when it stops; test_worker_heartbeats.py
    # checks the row of a long-running worker
    assert not WorkerHeartbeat.objects.exists()


def test_yaml_target_with_django_resource_types(manage) -> None:
    from django_onestep import DatabaseQueue

    DatabaseQueue("yaml.inbox").send({"label": "y"})
    result = manage.run("onestep_worker", "--once", "tests/acceptance/yaml_app.yaml")
    assert result.returncode == 0, result.stderr
    assert list(Run.objects.values_list("task", "label")) == [("echo", "y:1")]
    assert StateEntry.objects.get(key="yaml-demo:echo:seen").value_json == "1"
    check = manage.run("onestep_check", "--json", "tests/acceptance/yaml_app.yaml")
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["tasks"][0]["source"] == {"name": "yaml.inbox", "type": "DatabaseQueue"}


def _worker_pids(output: str) -> list[int]:
    return [
        int(line.split("onestep worker pid ")[1].split(":")[0])
        for line in output.splitlines()
        if ": app '" in line
    ]


def test_processes_refused_on_sqlite(manage) -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the SQLite refusal")
    result = manage.run("onestep_worker", "--once", "--processes", "2")
    assert result.returncode == 2
    assert "--processes 2 with SQLite database 'default'" in result.stderr


def test_processes_share_the_queue_without_running_a_job_twice(manage) -> None:
    from django.db import connection
    from django.db.models import Count

    if connection.vendor == "sqlite":
        pytest.skip("several processes need a server database")
    for i in range(40):
        record.enqueue({"label": f"p{i}"})
    result = manage.run("onestep_worker", "--once", "--tasks", "record", "--processes", "2")
    assert result.returncode == 0, result.stderr
    assert len(set(_worker_pids(result.stderr))) == 2
    assert Run.objects.count() == 40
    assert not Run.objects.values("label").annotate(n=Count("id")).filter(n__gt=1).exists()


def test_supervisor_restarts_a_dead_child_and_stops_gracefully(manage) -> None:
    import os

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("several processes need a server database")
    pool = manage.start("onestep_worker", "--tasks", "record", "--processes", "2")
    wait_until(lambda: len(_worker_pids(pool.output())) == 2)
    first, _second = _worker_pids(pool.output())
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: len(_worker_pids(pool.output())) == 3)  # a replacement started
    assert f"worker process {first} exited -9: restarting" in pool.output()
    record.enqueue({"label": "after-restart"})
    wait_until(lambda: Run.objects.filter(label="after-restart").exists())
    pool.signal(signal.SIGTERM)
    assert pool.wait(60) == 0, pool.output()
    assert pool.output().count(" stopped") == 2


def test_runtime_failure_exits_1(manage) -> None:
    result = manage.run("onestep_worker", "tests.acceptance.failing_app:app")
    assert result.returncode == 1
    assert "the worker stopped on an error" in result.stderr
    assert "RuntimeError: the source lost its table for good" in result.stderr


def test_tasks_declared_in_settings_run(manage) -> None:
    from django_onestep import DatabaseQueue

    DatabaseQueue("declared.inbox").send({"label": "d"})
    env = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.declarative_settings"}
    result = manage.run("onestep_worker", "--once", "--tasks", "declared_echo", env=env)
    assert result.returncode == 0, result.stderr
    assert list(Run.objects.values_list("task", "label")) == [("declared_echo", "d:1")]


def test_work_past_the_shutdown_timeout_is_cancelled_and_retried(manage) -> None:
    job_id = slow.enqueue({"label": "too-long", "sleep_s": 60})
    worker = manage.start("onestep_worker", "--tasks", "slow", "--shutdown-timeout", "1")
    worker.wait_for_output("slow started too-long")
    started = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.output()
    assert time.monotonic() - started < 30
    assert Run.objects.count() == 0
    job = Job.objects.get(id=job_id)
    assert (job.status, job.lease_owner) == ("queued", None)  # back in the queue, not lost
