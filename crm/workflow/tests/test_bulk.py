"""【批量通过】 in 〖待办业务〗: a director approves a page of applications at once, each as on its own page."""

from __future__ import annotations

import dataclasses

import pytest
from django.urls import reverse

from crm.workflow import engine
from crm.workflow.errors import WorkflowError
from crm.workflow.models import Application, ApproverKind, Event, EventAction, Status, Task, TaskStatus
from crm.workflow.registry import form_types
from crm.workflow.testing.models import SampleRequest

from .conftest import make_chain, new_app
from .test_views import assign_chain

pytestmark = pytest.mark.django_db

TODO = "/CRM/workflow/todo/"


def submitted(org, *titles: str, by: str = "张伟") -> dict[str, Application]:
    out = {}
    for title in titles:
        app = new_app(org[by], subject=title)
        out[title] = engine.transition(app, "submit", actor=org[by])
    return out


def task_of(app: Application) -> Task:
    return Task.objects.get(application=app, status=TaskStatus.PENDING)


def bulk(client, *tasks: Task | int, opinion: str = "", action: str = "approve", **query: str):
    pks = [t if isinstance(t, int) else t.pk for t in tasks]
    url = reverse("workflow:todo") + (f"?{'&'.join(f'{k}={v}' for k, v in query.items())}" if query else "")
    return client.post(url, {"_bulk": action, "pk": pks, "opinion": opinion}, HTTP_HX_REQUEST="true")


def test_a_manager_approves_the_ticked_applications_with_one_opinion(client_for, org) -> None:
    assert reverse("workflow:todo") == TODO
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER}, {"approver_kind": ApproverKind.DIRECTOR})
    apps = submitted(org, "甲", "乙", "丙")
    li = client_for("李明")
    page = li.get(TODO).content.decode()
    assert "批量通过" in page and page.count('name="pk"') == 3 and "全选本页" in page

    r = bulk(li, task_of(apps["甲"]), task_of(apps["乙"]), opinion="同意,请总监审批")
    body = r.content.decode()
    assert r.status_code == 200 and r["HX-Trigger"] == "crm:changed"
    assert "已通过 2 张申请单。" in body and "没有批量通过" not in body
    # the list answered again: what is left, still with its tick column
    assert body.count('name="pk"') == 1 and "丙" in body
    for title in ("甲", "乙"):
        app = Application.objects.get(pk=apps[title].pk)
        assert (app.status, app.current_step) == (Status.IN_PROGRESS, 1)
        event = Event.objects.get(application=app, action=EventAction.APPROVE)
        assert (event.actor, event.opinion) == (org["李明"], "同意,请总监审批")
    # and they wait for the director, as if approved one by one
    pending = Task.objects.filter(status=TaskStatus.PENDING)
    assert set(pending.values_list("approver__username", "application__title")) == {
        ("王建国", "甲"),
        ("王建国", "乙"),
        ("李明", "丙"),
    }


def test_rows_handled_since_or_never_in_the_list_are_named_and_left(client_for, org) -> None:
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER})
    apps = submitted(org, "甲", "乙")
    stale = task_of(apps["乙"])
    li = client_for("李明")
    engine.transition(apps["乙"], "approve", actor=org["李明"])  # on its own page, in another tab
    withdrawn = submitted(org, "丙")["丙"]
    gone = task_of(withdrawn)
    engine.transition(withdrawn, "withdraw", actor=org["张伟"])  # nobody had opened it yet
    other = submitted(org, "丁", by="周丽")["丁"]  # 周丽's manager is not 李明: never his, never named to him
    r = bulk(li, task_of(apps["甲"]), stale, gone, task_of(other))
    body = r.content.decode()
    assert "已通过 1 张申请单。" in body
    assert "以下没有批量通过:「乙」:您已经处理过;「丙」:申请人已撤销;1 条已不在列表中(可能已由别人处理)。" in body
    assert "丁" not in body.split("以下没有批量通过")[1].split("</div>")[0]
    assert Application.objects.get(pk=other.pk).status == Status.IN_PROGRESS
    assert Application.objects.get(pk=apps["甲"].pk).status == Status.APPROVED


def test_one_refused_leaves_the_others_done_and_says_why(client_for, org, monkeypatch) -> None:
    def refuse_yi(instance, application, actor) -> None:
        if application.title == "乙":
            raise WorkflowError("余额不足,不能扣减。")
        SampleRequest.objects.filter(pk=instance.pk).update(effects=1)

    ft = form_types.get("test_request")
    monkeypatch.setitem(form_types._types, "test_request", dataclasses.replace(ft, effect=refuse_yi))
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER})
    apps = submitted(org, "甲", "乙", "丙")
    r = bulk(client_for("李明"), *(task_of(a) for a in apps.values()))
    body = r.content.decode()
    assert "已通过 2 张申请单。" in body and "以下没有批量通过:「乙」:余额不足,不能扣减。" in body
    statuses = dict(Application.objects.values_list("title", "status"))
    assert statuses == {"甲": Status.APPROVED, "乙": Status.IN_PROGRESS, "丙": Status.APPROVED}
    assert task_of(apps["乙"]).approver == org["李明"]  # still his, untouched
    assert sorted(SampleRequest.objects.values_list("subject", "effects")) == [("丙", 1), ("乙", 0), ("甲", 1)]


def test_a_step_that_assigns_offers_bulk_assign_to_one_of_the_step_s_people(client_for, org) -> None:
    assign_chain()
    apps = submitted(org, "甲", "乙", "丙", by="陈静")
    wang = client_for("王建国")
    page = wang.get(TODO).content.decode()
    # only 【批量分配】 (every step here assigns), choosing among his managers, as on the application's page
    assert "批量分配" in page and "批量通过" not in page
    choices = page.split('name="assign_to"')[1].split("</select>")[0]
    assert "李明" in choices and "周丽" in choices and "张伟" not in choices
    assert "请选择分配给谁。" in bulk(wang, task_of(apps["甲"]), action="assign").content.decode()
    r = bulk(wang, task_of(apps["甲"]), action="approve")
    assert "「甲」:这一步要选择分配给谁,请用【批量分配】或打开申请单办理。" in r.content.decode()
    r = wang.post(TODO, {"_bulk": "assign", "pk": [task_of(apps["甲"]).pk], "assign_to": org["张伟"].pk})
    assert "「甲」:不能分配给「张伟」:不在本步骤可分配的人员中。" in r.content.decode()  # a rep, not a manager
    assert Application.objects.get(pk=apps["甲"].pk).status == Status.IN_PROGRESS

    tasks = [task_of(apps["甲"]), task_of(apps["乙"])]
    r = wang.post(
        TODO, {"_bulk": "assign", "pk": [t.pk for t in tasks], "assign_to": org["李明"].pk, "opinion": "尽快"}
    )
    assert "已把 2 张申请单分配给李明。" in r.content.decode()
    for title in ("甲", "乙"):
        app = Application.objects.get(pk=apps[title].pk)
        assert (app.status, app.assignee) == (Status.APPROVED, org["李明"])
        event = Event.objects.get(application=app, action=EventAction.ASSIGN)
        assert (event.target, event.opinion) == (org["李明"], "尽快")
    assert Application.objects.get(pk=apps["丙"].pk).status == Status.IN_PROGRESS


def test_bulk_assign_on_a_plain_step_is_refused_by_the_engine(client_for, org) -> None:
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER})
    apps = submitted(org, "甲")
    li = client_for("李明")
    assert "批量分配" not in li.get(TODO).content.decode() and 'name="assign_to"' not in li.get(TODO).content.decode()
    r = li.post(TODO, {"_bulk": "assign", "pk": [task_of(apps["甲"]).pk], "assign_to": org["张伟"].pk})
    assert "「甲」:本步骤不需要分配处理人。" in r.content.decode()
    assert Application.objects.get(pk=apps["甲"].pk).status == Status.IN_PROGRESS


def test_a_refusal_before_anything_is_done_keeps_the_ticks_and_what_was_typed(client_for, org) -> None:
    assign_chain()
    apps = submitted(org, "甲", "乙", by="陈静")
    wang = client_for("王建国")
    ticked = task_of(apps["甲"])
    r = wang.post(TODO, {"_bulk": "assign", "pk": [ticked.pk], "opinion": "请跟进"}, HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert "没有处理:分配给:请选择分配给谁。" in body
    assert f'value="{ticked.pk}" form="' in body and body.count(" checked") == 1  # 甲 still ticked, 乙 not
    assert 'value="请跟进"' in body
    # the person list is still the step's own (his managers), not everyone
    choices = body.split('name="assign_to"')[1].split("</select>")[0]
    assert "李明" in choices and "张伟" not in choices
    # done, the page starts afresh
    r = wang.post(TODO, {"_bulk": "assign", "pk": [ticked.pk], "assign_to": org["李明"].pk, "opinion": "请跟进"})
    assert " checked" not in r.content.decode() and 'value="请跟进"' not in r.content.decode()


def test_the_bulk_button_takes_the_name_the_steps_give_their_approval(client_for, org) -> None:
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER, "approve_label": "提交"})
    apps = submitted(org, "甲")
    page = client_for("李明").get(TODO).content.decode()
    assert ">批量提交</button>" in page and "对勾选的申请单逐张【提交】" in page and "批量通过" not in page
    r = bulk(client_for("李明"), task_of(apps["甲"]))
    assert "已通过 1 张申请单。" in r.content.decode()


def test_nothing_ticked_too_many_a_long_opinion_or_an_unknown_action_change_nothing(client_for, org) -> None:
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER})
    apps = submitted(org, "甲")
    li = client_for("李明")
    assert "请先勾选要批量通过的行。" in bulk(li).content.decode()
    assert "一次最多处理 20 条。" in bulk(li, *range(1, 22)).content.decode()
    r = bulk(li, task_of(apps["甲"]), opinion="很" * 1001)
    assert "没有处理:审批意见:" in r.content.decode()
    assert "这个列表没有这项操作。" in bulk(li, task_of(apps["甲"]), action="delete").content.decode()
    assert "这个列表没有这项操作。" in li.post(reverse("workflow:done"), {"_bulk": "approve"}).content.decode()
    assert Application.objects.get(pk=apps["甲"].pk).status == Status.IN_PROGRESS
    assert not Event.objects.filter(action=EventAction.APPROVE).exists()


def test_the_conditions_of_the_list_are_kept_and_lists_without_bulk_actions_have_no_ticks(client_for, org) -> None:
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER})
    apps = submitted(org, "甲", "乙")
    li = client_for("李明")
    body = bulk(li, task_of(apps["甲"]), title="乙").content.decode()
    assert "已通过 1 张申请单。" in body and 'value="乙"' in body  # the search as it was
    assert 'name="pk"' not in li.get(reverse("workflow:done")).content.decode()
    assert 'name="pk"' not in client_for("张伟").get(TODO).content.decode()  # an empty to-do list: no bar
