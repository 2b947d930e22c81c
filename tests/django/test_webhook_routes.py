"""Routing of Django-served webhooks: URLs, the path-clash check, onestep_check, the worker side."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_onestep import DatabaseQueue, OneStepApp, WebhookSource
from django_onestep.project import project_app
from django_onestep.webhooks.inbox import attach_inboxes, dedupe_key
from django_onestep.webhooks.route_checks import webhook_route_errors
from django_onestep.webhooks.urlpatterns import webhook_urlpatterns
from django_onestep.worker.options import WorkerOptions, select_tasks
from django_onestep.worker.report import build_django_report, render_django_report
from tests.django import webhook_urls


def test_paths_are_relative_to_the_include_with_an_optional_trailing_slash() -> None:
    patterns = webhook_urlpatterns(webhook_urls.app)
    assert [p.name for p in patterns] == [
        "webhook/hooks/github",
        "webhook/hooks/stripe",
        "webhook/hooks/bearer",
        "webhook/hooks/open",
        "webhook/hooks/failing",
    ]
    github = patterns[0]
    assert github.resolve("hooks/github") and github.resolve("hooks/github/")
    assert github.resolve("/hooks/github") is None and github.resolve("hooks/github/x") is None


def test_django_onestep_urls_serves_the_project_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project_app, "_app", webhook_urls.app)
    assert [p.name for p in webhook_urlpatterns()][:1] == ["webhook/hooks/github"]


def two_hooks(path_b: str, methods_b: tuple[str, ...] = ("POST",)) -> OneStepApp:
    app = OneStepApp("clash")
    app.task(name="a", source=WebhookSource(path="/same"))(lambda ctx, event: None)
    app.task(name="b", source=WebhookSource(path=path_b, methods=methods_b))(lambda ctx, event: None)
    return app


def test_two_sources_on_one_path_and_method_are_error_e009() -> None:
    [error] = webhook_route_errors(two_hooks("/same/"))
    assert error.id == "django_onestep.E009"
    assert error.msg == "webhook POST /same is served by task 'a' and task 'b'"
    assert webhook_route_errors(two_hooks("/same", ("PUT",))) == []
    assert webhook_route_errors(two_hooks("/other")) == []


def test_manage_py_check_reports_the_clash_of_the_project_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.checks import run_checks

    monkeypatch.setattr(project_app, "_app", two_hooks("/same"))
    assert [m.id for m in run_checks() if m.id == "django_onestep.E009"] == ["django_onestep.E009"]


def test_a_raw_parser_and_a_too_long_inbox_name_are_error_e010() -> None:
    app = OneStepApp("e010")
    app.task(name="raw", source=WebhookSource(path="/raw", parser="raw"))(lambda ctx, event: None)
    app.task(name="x" * 95, source=WebhookSource(path="/long"))(lambda ctx, event: None)
    errors = webhook_route_errors(app)
    assert [e.id for e in errors] == ["django_onestep.E010", "django_onestep.E010"]
    assert "parser='raw'" in errors[0].msg and "longer than 100 characters" in errors[1].msg


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.django.webhook_urls")
def test_onestep_check_lists_each_webhook_with_its_full_url() -> None:
    report = build_django_report("tests.django.webhook_urls:app")
    urls = {task["name"]: task["webhook"]["url"] for task in report["tasks"]}
    assert urls["github"] == "/onestep/hooks/github"
    assert urls["open_hook"] == "/onestep/hooks/open"
    assert "webhook=POST /onestep/hooks/github" in render_django_report(report)
    warnings = [(p["task"], p["message"]) for p in report["problems"] if p["level"] == "warning"]
    assert (
        "open_hook",
        "webhook /onestep/hooks/open accepts unauthenticated requests: pass auth=",
    ) in warnings
    assert not [task for task, _ in warnings if task == "github"]


@pytest.mark.django_db
def test_onestep_check_warns_when_no_url_routes_to_a_webhook() -> None:
    report = build_django_report("tests.django.webhook_urls:app")  # testproject.urls lacks the include
    assert report["tasks"][0]["webhook"]["url"] is None
    messages = [p["message"] for p in report["problems"] if p["task"] == "github"]
    assert any("has no URL: add path('onestep/', include('django_onestep.urls'))" in m for m in messages)
    assert "webhook=POST (no URL)" in render_django_report(report)


@pytest.mark.django_db
def test_the_worker_reads_each_webhook_task_from_its_own_inbox_in_any_process() -> None:
    app = two_hooks("/same", ("PUT",))
    app.task(name="queue", source=DatabaseQueue("plain"))(lambda ctx, payload: None)
    assert select_tasks(app, WorkerOptions(skip_local_sources=True)) == ["queue"]  # listeners
    assert attach_inboxes(app) == ["a", "b"]
    inboxes = [spec.source.inbox for spec in app.tasks[:2]]
    assert [(type(q).__name__, q.name) for q in inboxes] == [
        ("WebhookInbox", "webhook:a"),
        ("WebhookInbox", "webhook:b"),
    ]
    assert select_tasks(app, WorkerOptions(skip_local_sources=True)) == ["a", "b", "queue"]


def test_a_long_delivery_id_is_hashed_to_fit_the_dedupe_column() -> None:
    assert dedupe_key("d-1") == "d-1"
    assert dedupe_key(None) is None
    long_key = dedupe_key("x" * 201)
    assert long_key is not None and long_key.startswith("sha256:") and len(long_key) <= 200
