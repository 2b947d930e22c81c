"""What ``manage.py onestep_worker`` prints per task, read from the real worker's stderr.

``record`` succeeds; ``always_fails`` (``MaxAttempts(2)``) is retried once, then
dead-lettered: one retry WARNING, one terminal ERROR, and for the success a counted
line (the default) or one line of its own (``LOG_SUCCESSES = True``).
"""

from __future__ import annotations

import json
from typing import Any

from testproject.testapp.tasks import always_fails, record

WORKER = ("onestep_worker", "--once", "--tasks", "record,always_fails")
EACH_SUCCESS = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.each_success_settings"}


def _json_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def _outcomes(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "decision" in line]


def test_json_lines_carry_the_documented_fields(manage) -> None:
    ok_id = record.enqueue({"label": "ok"})
    failing_id = always_fails.enqueue({"label": "x"})
    result = manage.run(*WORKER, "--log-format", "json", env=EACH_SUCCESS)
    assert result.returncode == 0, result.stderr
    by_decision = {line["decision"]: line for line in _outcomes(_json_lines(result.stderr))}
    assert sorted(by_decision) == ["ack", "dead_letter", "retry"]

    success = by_decision["ack"]
    assert success["level"] == "INFO"
    assert success["logger"] == "onestep.testproject.record"
    assert success["message"].startswith(f"task record succeeded: job {ok_id}, attempt 1/1, ")
    assert "exception" not in success
    assert isinstance(success["duration_s"], float) and success["duration_s"] >= 0
    expected_success = {
        "event_kind": "succeeded",
        "app_name": "testproject",
        "task_name": "record",
        "source_name": "testapp.work",
        "delivery_id": ok_id,
        "attempts": 0,
        "attempt": 1,
        "max_attempts": 1,
        "retry_delay_s": None,
        "failure_kind": None,
        "failure_exception_type": None,
        "failure_message": None,
    }
    assert {key: success[key] for key in expected_success} == expected_success

    retry = by_decision["retry"]
    assert retry["level"] == "WARNING"
    assert "exception" not in retry  # no traceback for an expected retry
    assert retry["message"].startswith(
        f"task always_fails failed (RuntimeError: boom x), retry now: job {failing_id}, attempt 1/2, "
    )
    expected_retry = {
        "event_kind": "retried",
        "app_name": "testproject",
        "task_name": "always_fails",
        "source_name": "testapp.failing",
        "delivery_id": failing_id,
        "attempts": 0,
        "attempt": 1,
        "max_attempts": 2,
        "failure_kind": "error",
        "failure_exception_type": "RuntimeError",
        "failure_message": "boom x",
    }
    assert {key: retry[key] for key in expected_retry} == expected_retry
    assert isinstance(retry["duration_s"], float)

    terminal = by_decision["dead_letter"]
    assert terminal["level"] == "ERROR"
    assert terminal["message"].startswith(
        f"task always_fails failed (RuntimeError: boom x), dead-lettered: job {failing_id}, attempt 2/2, "
    )
    assert (terminal["event_kind"], terminal["attempts"], terminal["delivery_id"]) == (
        "failed",
        1,
        failing_id,
    )
    assert terminal["exception"].startswith("Traceback (most recent call last):")
    assert terminal["exception"].endswith("RuntimeError: boom x")


def test_text_lines_at_info_show_one_traceback_for_the_terminal_failure(manage) -> None:
    ok_id = record.enqueue({"label": "ok"})
    failing_id = always_fails.enqueue({"label": "x"})
    result = manage.run(*WORKER, "--log-level", "INFO", env=EACH_SUCCESS)
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert f"INFO onestep.testproject.record: task record succeeded: job {ok_id}, attempt 1/1, " in err
    assert (
        "WARNING onestep.testproject.always_fails: task always_fails failed (RuntimeError: boom x), "
        f"retry now: job {failing_id}, attempt 1/2, "
    ) in err
    assert (
        "ERROR onestep.testproject.always_fails: task always_fails failed (RuntimeError: boom x), "
        f"dead-lettered: job {failing_id}, attempt 2/2, "
    ) in err
    assert err.count("Traceback (most recent call last):") == 1
    # the traceback follows the ERROR line, not the WARNING
    assert err.index("Traceback") > err.index("dead-lettered: job")
    assert "failure traceback" not in err


def test_debug_level_adds_the_retry_traceback(manage) -> None:
    failing_id = always_fails.enqueue({"label": "x"})
    result = manage.run(*WORKER, "--log-level", "DEBUG", "--log-format", "json")
    assert result.returncode == 0, result.stderr
    lines = _json_lines(result.stderr)
    [debug] = [line for line in lines if line["message"].startswith("task always_fails failure traceback")]
    assert debug["level"] == "DEBUG"
    assert debug["message"] == f"task always_fails failure traceback: job {failing_id}, attempt 1/2"
    assert debug["exception"].endswith("RuntimeError: boom x")
    assert (debug["task_name"], debug["delivery_id"], debug["attempt"]) == ("always_fails", failing_id, 1)
    assert "decision" not in debug  # one outcome record per run, even at DEBUG
    [retry] = [line for line in _outcomes(lines) if line["decision"] == "retry"]
    assert retry["level"] == "WARNING"
    assert "exception" not in retry


def test_log_successes_false_drops_only_the_success_lines(manage) -> None:
    record.enqueue({"label": "ok"})
    always_fails.enqueue({"label": "x"})
    result = manage.run(
        *WORKER,
        "--log-format",
        "json",
        env={"DJANGO_SETTINGS_MODULE": "tests.acceptance.quiet_successes_settings"},
    )
    assert result.returncode == 0, result.stderr
    lines = _json_lines(result.stderr)
    assert sorted(line["decision"] for line in _outcomes(lines)) == ["dead_letter", "retry"]
    assert any(line["message"].startswith("onestep worker pid") for line in lines)  # other INFO lines stay


def test_by_default_successes_are_counted_not_logged_one_by_one(manage) -> None:
    for label in ("a", "b", "c"):
        record.enqueue({"label": label})
    always_fails.enqueue({"label": "x"})
    result = manage.run(*WORKER, "--log-format", "json")
    assert result.returncode == 0, result.stderr
    lines = _json_lines(result.stderr)
    assert sorted(line["decision"] for line in _outcomes(lines)) == ["dead_letter", "retry"]
    [summary] = [line for line in lines if line.get("event_kind") == "succeeded_summary"]
    assert summary["level"] == "INFO"
    assert summary["logger"] == "onestep.testproject.record"
    assert summary["message"].startswith("task record: 3 succeeded in the last ")
    assert (summary["task_name"], summary["succeeded_count"]) == ("record", 3)
    assert 0 <= summary["duration_avg_s"] <= summary["duration_max_s"]
