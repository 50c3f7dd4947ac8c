"""【转交待办】: an administrator gives the approvals waiting for someone who has left to a colleague."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.core.models import AuditLog
from crm.workflow.engine import hand_over_tasks, transition
from crm.workflow.errors import WorkflowError
from crm.workflow.models import ApproverKind, Event, EventAction, Task, TaskStatus

from .conftest import make_chain, new_app, role

pytestmark = pytest.mark.django_db


def pending(user) -> list[str]:
    return sorted(
        Task.objects.filter(approver=user, status=TaskStatus.PENDING).values_list("application__title", flat=True)
    )


def test_the_administrator_hands_a_leaver_s_approvals_to_a_colleague(client_for, manager_director_chain, org) -> None:
    ming, zhou = org["李明"], org["周丽"]
    apps = [new_app(org["张伟"], subject=s) for s in ("甲", "乙")]
    for app in apps:
        transition(app, "submit", actor=org["张伟"])
    client_for("李明").get(reverse("workflow:detail", args=[apps[0].pk]))  # opened by him
    admin = client_for("管理员")
    url = reverse("accounts:user_edit", args=[ming.pk])
    data = {"full_name": ming.full_name, "username": ming.username, "department": ming.department_id}
    page = admin.post(url, data, HTTP_HX_REQUEST="true").content.decode()  # 在用 unticked: deactivated
    assert "请在本页选择接替的同事,【转交待办】" in page
    assert "「李明」有 2 项待办" in page and "转交待办" in page

    r = admin.post(url, {"_action": "hand_over", "hand_over_to": zhou.pk}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert "2 张待审批的申请单已转交给「周丽」。" in r.content.decode()
    assert "项待办" not in r.content.decode()  # nothing left to hand over
    assert pending(ming) == [] and pending(zhou) == ["乙", "甲"]
    assert Task.objects.get(application=apps[0], approver=zhou).opened_at is None  # not yet opened by her
    event = Event.objects.filter(application=apps[0], action=EventAction.HANDOVER).get()
    assert (event.actor.username, event.target, event.opinion) == ("管理员", zhou, "「李明」的待办转交给「周丽」")
    timeline = client_for("张伟").get(reverse("workflow:timeline", args=[apps[0].pk])).content.decode()
    assert "转交 → 周丽" in timeline and "「李明」的待办转交给「周丽」" in timeline
    entry = AuditLog.objects.filter(object_id=str(ming.pk), changes__has_key="handover_to").get()
    assert entry.changes == {"handover_to": "周丽", "applications": 2}

    ming.department.manager = zhou  # she heads his group now
    ming.department.save()
    transition(apps[0], "approve", actor=zhou)  # she approves in his place; the next step is the director's
    assert pending(org["王建国"]) == ["甲"]


def test_handing_over_needs_an_active_colleague(client_for, manager_director_chain, org) -> None:
    ming = org["李明"]
    transition(new_app(org["张伟"]), "submit", actor=org["张伟"])
    admin = client_for("管理员")
    url = reverse("accounts:user_edit", args=[ming.pk])
    r = admin.post(url, {"_action": "hand_over", "hand_over_to": ""}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422 and "请选择接替的同事。" in r.content.decode()
    gone = org["刘洋"]
    gone.is_active = False
    gone.save()
    r = admin.post(url, {"_action": "hand_over", "hand_over_to": gone.pk}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422 and "请选择一位在用的同事接替。" in r.content.decode()
    r = admin.post(url, {"_action": "hand_over", "hand_over_to": ming.pk}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422
    # to the applicant himself: nothing moves, and the page says so as a warning, not as a success
    r = admin.post(url, {"_action": "hand_over", "hand_over_to": org["张伟"].pk}, HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert r.status_code == 200 and "1 张未转交(「张伟」是其申请人" in html
    assert "alert-warning" in html and "alert-success" not in html
    assert pending(ming) == ["采购茶叶"]
    with pytest.raises(WorkflowError):
        hand_over_tasks(actor=org["管理员"], from_user=ming, to_user=gone)


def test_only_who_may_change_users_hands_over(client_for, manager_director_chain, org) -> None:
    ming = org["李明"]
    transition(new_app(org["张伟"]), "submit", actor=org["张伟"])
    r = client_for("王建国").post(
        reverse("accounts:user_edit", args=[ming.pk]), {"_action": "hand_over", "hand_over_to": org["周丽"].pk}
    )
    assert r.status_code in (403, 404)
    assert pending(ming) == ["采购茶叶"]


def test_what_the_colleague_cannot_take_stays(org) -> None:
    """The colleague's own application stays with the leaver; at a 会签 step the colleague already waits at, the
    leaver's part is dropped; at one he has already approved, it stays (one approval does not stand for two)."""
    make_chain({"approver_kind": ApproverKind.ROLE, "role": role("销售经理"), "all_must_approve": True})
    managers = list(role("销售经理").users.filter(is_active=True).order_by("id"))
    leaver, colleague = managers[0], managers[1]
    waiting = new_app(org["张伟"], subject="两人都在等")
    approved = new_app(org["刘洋"], subject="同事已通过")
    own = new_app(org["杨帆"], subject="同事自己的")
    for app in (waiting, approved, own):
        transition(app, "submit", actor=app.applicant)
    transition(approved, "approve", actor=colleague)
    own.applicant = colleague  # as if the colleague had applied himself
    own.save()

    done = hand_over_tasks(actor=org["管理员"], from_user=leaver, to_user=colleague)
    assert [a.title for a in done.moved] == ["两人都在等"]
    assert sorted(a.title for a in done.left) == ["同事已通过", "同事自己的"]
    assert pending(leaver) == ["同事已通过", "同事自己的"]
    assert Task.objects.get(application=waiting, approver=leaver).status == TaskStatus.CANCELLED
    assert pending(colleague) == ["两人都在等", "同事自己的"]  # his task there was never the leaver's

    # again: nothing left that he can take; both named, nothing written
    from crm.workflow.services import hand_over_approvals

    entries = AuditLog.objects.count()
    moved, text = hand_over_approvals(org["管理员"], leaver, colleague)
    assert moved == 0 and text == (
        f"2 张未转交(「{colleague.full_name}」是其申请人,或已在该步骤审批过):同事已通过、同事自己的,"
        "请另选一位同事接替。"
    )
    assert AuditLog.objects.count() == entries


def test_a_handed_over_application_still_reaches_the_director(manager_director_chain, org) -> None:
    """李明 (销售一组's manager) has left and nobody heads his group yet: what waited for him goes to 周丽, and
    after her the director above his group, 王建国, still approves; a new application from the group stops at
    once, saying that its first step has nobody (the post is vacant, not skipped)."""
    ming, zhou, wang = org["李明"], org["周丽"], org["王建国"]
    app = new_app(org["张伟"], subject="孙富贵")
    transition(app, "submit", actor=org["张伟"])
    ming.is_active = False
    ming.save()
    hand_over_tasks(actor=org["管理员"], from_user=ming, to_user=zhou)
    transition(app, "approve", actor=zhou)
    assert pending(wang) == ["孙富贵"]
    with pytest.raises(WorkflowError, match="第 1 步「第1步」找不到审批人"):
        transition(new_app(org["张伟"], subject="赵有钱"), "submit", actor=org["张伟"])


def test_a_namesake_is_named_by_the_login_name(client_for, manager_director_chain, org) -> None:
    """Two 张伟: the message and 流程信息 say which one took the approvals over."""
    from crm.accounts.models import User

    other = User.objects.get(username="张伟(销售二组)")
    app = new_app(org["刘洋"])
    transition(app, "submit", actor=org["刘洋"])
    r = client_for("管理员").post(
        reverse("accounts:user_edit", args=[org["李明"].pk]),
        {"_action": "hand_over", "hand_over_to": other.pk},
        HTTP_HX_REQUEST="true",
    )
    assert "1 张待审批的申请单已转交给「张伟(销售二组)」。" in r.content.decode()
    timeline = client_for("管理员").get(reverse("workflow:timeline", args=[app.pk])).content.decode()
    assert "转交 → 张伟(销售二组)" in timeline


def test_handing_over_reads_the_same_whatever_the_number_of_tasks(manager_director_chain, org) -> None:
    """What the colleague already holds at those steps is read once, not once per task."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def reads(n: int, to: str) -> int:
        for i in range(n):
            transition(new_app(org["张伟"], subject=f"单{to}{i}"), "submit", actor=org["张伟"])
        with CaptureQueriesContext(connection) as ctx:
            hand_over_tasks(actor=org["管理员"], from_user=org["李明"], to_user=org[to])
        return sum(1 for q in ctx.captured_queries if q["sql"].startswith("SELECT"))

    assert reads(1, "周丽") == reads(4, "杨帆")
