"""A big import's commit and undo run in the background (``manage.py db_worker``); the page shows their progress
until they are done, then the result. Refusals and failures reach the page as sentences; a job whose worker never
came is not stuck for ever."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from crm.core import imports as framework
from crm.core.models import ImportBatch, ImportJob, ImportStatus
from crm.customers.models import Customer

from .test_imports import HEADER, xlsx

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def background(settings: Any) -> None:
    settings.CRM_IMPORT_BACKGROUND_ROWS = 1


def rows(n: int) -> list[list[Any]]:
    return [[f"客户{i}", f"1391234{i:04d}", "", "转介绍", "刘洋", "是", ""] for i in range(n)]


def previewed(client: Any, n: int = 3) -> tuple[str, ImportBatch]:
    url = reverse("customers:import", args=["customer"])
    data = xlsx([HEADER, *rows(n)])
    r = client.post(url, {"_action": "preview", "file": SimpleUploadedFile("大批客户.xlsx", data)})
    assert r.status_code == 200
    return url, ImportBatch.objects.get(filename="大批客户.xlsx")


def work() -> None:
    """What ``manage.py db_worker`` does, on the test's own connection (the worker drops a connection left inside a
    transaction between tasks, which is the test's)."""
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def poll(client: Any, url: str, batch: ImportBatch, watch: str) -> str:
    r = client.get(url, {"batch": batch.pk, "part": "batch", "watch": watch}, **HX)
    assert r.status_code == 200
    return r.content.decode()


def test_a_big_commit_runs_in_the_background_with_progress(
    background: None, client_for: Any, people: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    li = client_for("李明")
    url, batch = previewed(li)
    with django_capture_on_commit_callbacks(execute=True):
        r = li.post(url, {"_action": "commit", "batch": batch.pk})
    assert r.status_code == 202
    page = r.content.decode()
    assert "正在后台导入" in page and "排队等待后台处理" in page and "确认导入" not in page
    assert 'hx-trigger="every 1s"' in page
    batch.refresh_from_db()
    assert batch.job == ImportJob.COMMIT and batch.status == ImportStatus.PREVIEW
    assert DBTaskResult.objects.count() == 1 and not Customer.objects.filter(name__startswith="客户").exists()

    # a second click while it waits changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        again = li.post(url, {"_action": "commit", "batch": batch.pk})
    assert again.status_code == 409 and "正在后台处理" in again.content.decode()
    assert DBTaskResult.objects.count() == 1

    # what the worker reports is what the page shows
    framework.ProgressReport(batch.pk)("write", 1, 3)
    running = poll(li, url, batch, "commit")
    assert "写入数据 1 / 3" in running and 'value="33"' in running and 'hx-trigger="every 1s"' in running

    work()
    batch.refresh_from_db()
    assert batch.job == "" and batch.job_error == "" and batch.status == ImportStatus.COMMITTED
    assert Customer.objects.filter(name__startswith="客户", import_batch=batch).count() == 3
    assert framework.progress_of(batch.pk) is None
    done = poll(li, url, batch, "commit")
    assert "已导入 3 条客户" in done and "every 1s" not in done and "撤销这次导入" in done
    assert 'hx-swap-oob="outerHTML"' in done  # the recent imports, refreshed beside it

    # and the undo of a big batch goes the same way
    with django_capture_on_commit_callbacks(execute=True):
        r = li.post(url, {"_action": "undo", "batch": batch.pk})
    assert r.status_code == 202 and "正在后台撤销" in r.content.decode()
    work()
    assert "已撤销这次导入,删除了 3 条记录" in poll(li, url, batch, "undo")
    assert not Customer.objects.filter(name__startswith="客户").exists()


def test_small_batches_still_run_in_the_request(client_for: Any, people: dict[str, Any]) -> None:
    li = client_for("李明")
    url, batch = previewed(li)
    r = li.post(url, {"_action": "commit", "batch": batch.pk})
    assert r.status_code == 200 and "已导入 3 条客户" in r.content.decode()
    assert DBTaskResult.objects.count() == 0


def test_a_refusal_in_the_background_reaches_the_page(
    background: None, client_for: Any, people: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    li = client_for("李明")
    url, batch = previewed(li)
    # what needs no work is refused at once, and nothing is queued
    r = li.post(url, {"_action": "undo", "batch": batch.pk})
    assert r.status_code == 422 and "这次导入是「待确认」,不能撤销" in r.content.decode()
    assert DBTaskResult.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert li.post(url, {"_action": "commit", "batch": batch.pk}).status_code == 202
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.UNDONE)  # changed before the worker came
    work()
    page = poll(li, url, batch, "commit")
    assert "这次导入已经是「已撤销」,不能再确认" in page and "alert-danger" in page
    assert not Customer.objects.filter(name__startswith="客户").exists()


def test_a_failure_in_the_background_writes_nothing_and_says_so(
    background: None,
    client_for: Any,
    people: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    li = client_for("李明")
    url, batch = previewed(li)
    with django_capture_on_commit_callbacks(execute=True):
        assert li.post(url, {"_action": "commit", "batch": batch.pk}).status_code == 202

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr("crm.customers.imports._write", broken)
    work()
    batch.refresh_from_db()
    assert batch.job == "" and batch.status == ImportStatus.PREVIEW and "系统出错" in batch.job_error
    assert "没有写入任何数据" in poll(li, url, batch, "commit")
    assert not Customer.objects.filter(name__startswith="客户").exists()
    # it can be tried again
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert li.post(url, {"_action": "commit", "batch": batch.pk}).status_code == 202
    work()
    assert Customer.objects.filter(name__startswith="客户").count() == 3


def test_a_job_no_worker_took_is_not_stuck(
    background: None, client_for: Any, people: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    li = client_for("李明")
    url, batch = previewed(li)
    with django_capture_on_commit_callbacks(execute=True):
        assert li.post(url, {"_action": "commit", "batch": batch.pk}).status_code == 202
    assert "db_worker" not in li.get(url, {"batch": batch.pk}).content.decode()
    ImportBatch.objects.filter(pk=batch.pk).update(job_queued_at=timezone.now() - timedelta(minutes=30))
    page = li.get(url, {"batch": batch.pk}).content.decode()
    assert "db_worker" in page and "确认导入 3 行" in page and "every 1s" not in page
    with django_capture_on_commit_callbacks(execute=True):
        assert li.post(url, {"_action": "commit", "batch": batch.pk}).status_code == 202
    work()  # both queued tasks run: the first does the work, the second finds nothing left to do
    batch.refresh_from_db()
    assert batch.status == ImportStatus.COMMITTED and batch.job == ""
    assert Customer.objects.filter(name__startswith="客户").count() == 3


def test_the_batch_page_is_the_importers_own(client_for: Any, people: dict[str, Any]) -> None:
    li = client_for("李明")
    url, batch = previewed(li)
    assert li.get(url, {"batch": batch.pk}).status_code == 200
    assert li.get(reverse("customers:import", args=["lead"]), {"batch": batch.pk}).status_code == 404
    assert client_for("王建国").get(url, {"batch": batch.pk}).status_code == 404
    assert li.get(url, {"batch": "x"}).status_code == 404
    assert li.get(reverse("customers:import", args=["consumption"])).status_code == 404


def test_a_commit_reports_each_phase_in_order(client_for: Any, people: dict[str, Any]) -> None:
    from crm.customers import imports

    li = client_for("李明")
    _url, batch = previewed(li, n=3)
    seen: list[tuple[str, int, int]] = []
    imports.commit(
        actor=people["李明"], batch=batch, progress=lambda phase, done=0, total=0: seen.append((phase, done, total))
    )
    phases = [phase for phase, _d, _t in seen]
    assert phases == ["read", "check", "write", "save"]
    assert seen[1] == ("check", 0, 3) and seen[2] == ("write", 0, 3)


def test_a_lost_job_of_a_batch_now_small_runs_in_the_request(
    background: None, client_for: Any, people: dict[str, Any], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    li = client_for("李明")
    url, batch = previewed(li)
    with django_capture_on_commit_callbacks(execute=True):
        assert li.post(url, {"_action": "commit", "batch": batch.pk}).status_code == 202
    ImportBatch.objects.filter(pk=batch.pk).update(job_queued_at=timezone.now() - timedelta(minutes=30))
    settings.CRM_IMPORT_BACKGROUND_ROWS = 5_000
    r = li.post(url, {"_action": "commit", "batch": batch.pk})
    assert r.status_code == 200 and "已导入 3 条客户" in r.content.decode() and "every 1s" not in r.content.decode()
    batch.refresh_from_db()
    assert batch.job == "" and batch.status == ImportStatus.COMMITTED


def test_the_result_counts_read_with_thousands_separators(client_for: Any, people: dict[str, Any]) -> None:
    li = client_for("李明")
    url, batch = previewed(li)
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.COMMITTED, imported=123_456, skipped=1_234)
    assert "已导入 123,456 条客户;1,234 行未导入。" in poll(li, url, batch, "commit")


def test_the_entry_lists_lead_to_the_import_for_those_allowed(client_for: Any, people: dict[str, Any]) -> None:
    customers_import = reverse("customers:import", args=["customer"])
    leads_import = reverse("customers:import", args=["lead"])
    li, zhang = client_for("李明"), client_for("张伟")  # a manager imports; a rep does not
    assert customers_import in li.get(reverse("customers:customer_entry")).content.decode()
    assert leads_import in li.get(reverse("customers:lead_entry")).content.decode()
    assert customers_import not in zhang.get(reverse("customers:customer_entry")).content.decode()
    assert leads_import not in zhang.get(reverse("customers:lead_entry")).content.decode()


def test_an_undone_import_and_one_that_imported_nothing_offer_no_undo(client_for: Any, people: dict[str, Any]) -> None:
    li = client_for("李明")
    url, batch = previewed(li)
    assert "(3)" in li.get(url).content.decode()  # a batch not yet confirmed: what it would import, in brackets
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.COMMITTED, imported=0, skipped=3)
    page = li.get(url, {"batch": batch.pk}).content.decode()
    assert "撤销这次导入" not in page and 'value="undo"' not in page
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.UNDONE, imported=3, skipped=0)
    page = li.get(url, {"batch": batch.pk}).content.decode()
    assert "导入的 3 行已撤销" in page and "已导入 3 行" not in page


def test_a_second_run_of_a_job_already_done_is_no_error(client_for: Any, people: dict[str, Any]) -> None:
    li = client_for("李明")
    url, batch = previewed(li)
    assert li.post(url, {"_action": "commit", "batch": batch.pk}).status_code == 200  # done in the request
    ImportBatch.objects.filter(pk=batch.pk).update(job=ImportJob.COMMIT)  # as if resubmitted while a worker ran it
    result = framework.run_job(batch.pk)
    assert result["ran"] and result["error"] == ""
    batch.refresh_from_db()
    assert (batch.job, batch.job_error, batch.status) == ("", "", ImportStatus.COMMITTED)
    assert Customer.objects.filter(name__startswith="客户").count() == 3
