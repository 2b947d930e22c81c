"""An operator replays dead letters in a real browser; a real worker runs the replay."""

from __future__ import annotations

from typing import Any

from django_onestep.models import DeadLetter, Job
from testproject.testapp.models import Run
from tests.browser.conftest import Browser, staff
from tests.django.console_helpers import dead_letter
from tests.waiting import wait_until

LIST = "/admin/django_onestep/deadletter/"


def test_replay_from_the_detail_page_is_run_by_the_worker(browser: Browser, manage: Any) -> None:
    staff("operator", "view_deadletter", "replay_deadletter", "view_job")
    row_id = dead_letter({"label": "replayed-in-browser"}, queue="testapp.work", task="record")
    dead_letter({"label": "another"}, queue="testapp.work", task="record")
    worker = manage.start("onestep_worker", "--tasks", "record")
    browser.login("operator", "pw")
    browser.open(LIST)
    browser.wait_for_text("record")
    browser.screenshot("dead-letters-list")
    browser.css(f'a[href$="/deadletter/{row_id}/change/"]').click()
    browser.wait_for_text("Traceback (most recent call last)")
    browser.screenshot("dead-letter-detail")
    browser.css("button.onestep-replay").click()
    browser.wait_for_text("1 dead letter(s) replayed.")
    assert "Replayed" in browser.text() and "operator" in browser.text()
    assert not browser.all("button.onestep-replay")  # resolved: the button is gone
    browser.css('a[href*="/django_onestep/job/"]').click()  # "replayed as job #N"
    browser.wait_for_text("Done", reload=True)  # the worker ran it
    wait_until(lambda: Run.objects.filter(label="replayed-in-browser").exists(), 10, "the handler's row")
    row = DeadLetter.objects.get(id=row_id)
    assert row.status == "resolved" and Job.objects.get(id=row.replay_job_id).status == "done"
    assert "Traceback" not in worker.output()


def test_edit_and_replay_with_invalid_json_shows_the_form_error(browser: Browser) -> None:
    staff("editor", "view_deadletter", "replay_deadletter")
    row_id = dead_letter({"order": 1})
    browser.login("editor", "pw")
    browser.open(f"{LIST}{row_id}/change/")
    browser.css("a.onestep-edit-replay").click()
    textarea = browser.css("#id_payload")
    textarea.clear()
    textarea.send_keys('{"order": 2,')
    browser.css("input[name=_review]").click()
    browser.wait_for_text("payload: not valid JSON")
    browser.screenshot("dead-letter-edit-replay")
    assert browser.all(".errorlist")
    assert DeadLetter.objects.get(id=row_id).status == "pending"


def test_without_the_permission_no_replay_is_offered_and_a_forged_post_is_refused(browser: Browser) -> None:
    staff("viewer", "view_deadletter")
    row_id = dead_letter()
    browser.login("viewer", "pw")
    browser.open(LIST)
    browser.wait_for_text("charge")
    offered = {o.get_attribute("value") for o in browser.all("select[name=action] option")}
    assert "replay_selected" not in offered and "edit_and_replay" not in offered
    browser.open(f"{LIST}{row_id}/change/")
    assert not browser.all("button.onestep-replay") and not browser.all("a.onestep-edit-replay")
    assert browser.post(f"{LIST}{row_id}/replay/") == 403
    browser.post(LIST, {"action": "replay_selected", "_selected_action": str(row_id)})
    assert DeadLetter.objects.get(id=row_id).status == "pending"
    assert not Job.objects.filter(status="queued").exists()
