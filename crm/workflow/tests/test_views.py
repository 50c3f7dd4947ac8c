"""The workflow pages: a person's way through them, and every refusal as a sentence."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.workflow.models import Application, ApproverKind, Chain, Status, Task, TaskStatus
from crm.workflow.testing.models import SampleRequest

from .conftest import make_chain, new_app, role

pytestmark = pytest.mark.django_db


def post(client, app_or_url, action: str, **data):
    url = app_or_url if isinstance(app_or_url, str) else reverse("workflow:detail", args=[app_or_url.pk])
    return client.post(url, {"_action": action, **data})


def test_apply_approve_in_two_steps(client_for, manager_director_chain) -> None:
    zhang, li, wang = client_for("张伟"), client_for("李明"), client_for("王建国")
    create = reverse("workflow:create", args=["test_request"])
    page = zhang.get(create).content.decode()
    assert "新增测试申请" in page and "来源数据" in page
    r = zhang.post(create, {"_action": "save", "subject": "", "amount": "x"})
    assert r.status_code == 422 and "这个字段是必填项" in r.content.decode()
    assert not Application.objects.exists()
    r = zhang.post(create, {"_action": "submit", "subject": "购买红酒", "amount": 3000})
    assert r.status_code == 302
    app = Application.objects.get()
    assert app.status == Status.IN_PROGRESS and app.title == "购买红酒"
    assert li.get(reverse("workflow:todo_count")).content.decode().count(">1<") == 1
    assert zhang.get(reverse("workflow:todo_count")).content == b""
    todo = li.get(reverse("workflow:todo")).content.decode()
    assert "购买红酒" in todo and "1/2 第1步" in todo
    # opening it marks it opened: the applicant can no longer withdraw
    li.get(reverse("workflow:detail", args=[app.pk]))
    r = post(zhang, app, "withdraw")
    assert (
        r.status_code == 409
        and "打开该申请单,不能再撤销"
        in zhang.get(r.url if r.status_code == 302 else reverse("workflow:detail", args=[app.pk])).content.decode()
        + r.content.decode()
    )
    r = post(li, app, "return")
    assert r.status_code == 409 and "必须填写审批意见" in r.content.decode()
    r = post(li, app, "approve", opinion="同意")
    assert r.status_code == 302
    r = post(wang, app, "approve")
    app.refresh_from_db()
    assert app.status == Status.APPROVED and SampleRequest.objects.get().effects == 1
    timeline = zhang.get(reverse("workflow:timeline", args=[app.pk])).content.decode()
    for word in ("创建", "提交", "打开", "通过", "同意", "审批通过", "李明", "王建国"):
        assert word in timeline
    done = li.get(reverse("workflow:done")).content.decode()
    assert "购买红酒" in done
    mine = zhang.get(reverse("workflow:mine")).content.decode()
    assert "购买红酒" in mine and "已通过" in mine


def test_htmx_action_rerenders_and_triggers_refresh(client_for, manager_director_chain, org) -> None:
    app = new_app(org["张伟"])
    zhang = client_for("张伟")
    r = zhang.post(
        reverse("workflow:detail", args=[app.pk]),
        {"_action": "submit", "subject": "采购茶叶", "amount": 100},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 200 and r["HX-Trigger"] == "crm:changed"
    body = r.content.decode()
    assert "审批中" in body and "撤销" in body and "<html" not in body


def test_return_edit_resubmit_and_locked_fields(client_for, manager_director_chain, org) -> None:
    app = new_app(org["张伟"], amount=500)
    zhang, li = client_for("张伟"), client_for("李明")
    post(zhang, app, "submit", subject="采购茶叶", amount=100)
    post(li, app, "return", opinion="事由不清楚")
    page = zhang.get(reverse("workflow:detail", args=[app.pk])).content.decode()
    assert "退回意见:事由不清楚" in page and "已退回" in page
    # amount is locked after a return: a forged value is ignored (the field is disabled)
    post(zhang, app, "submit", subject="采购茶叶(补充说明)", amount=99999)
    app.refresh_from_db()
    req = SampleRequest.objects.get()
    assert app.status == Status.IN_PROGRESS and req.subject == "采购茶叶(补充说明)" and req.amount == 100


def test_assign_flow_names_candidates(client_for, org) -> None:
    make_chain(
        {
            "approver_kind": ApproverKind.ROLE,
            "role": role("销售总监"),
            "assign_role": role("销售经理"),
            "approve_label": "分配",
        }
    )
    app = new_app(org["陈静"])
    post(client_for("陈静"), app, "submit", subject="采购茶叶", amount=100)
    wang = client_for("王建国")
    page = wang.get(reverse("workflow:detail", args=[app.pk])).content.decode()
    assert (
        "分配给" in page and "李明" in page and "周丽" in page and ">分配<" in page.replace(" ", "").replace("\n", "")
    )
    r = post(wang, app, "approve")
    assert r.status_code == 409 and "请选择【分配】给谁" in r.content.decode()
    r = post(wang, app, "approve", assign_to=org["李明"].pk)
    app.refresh_from_db()
    assert app.status == Status.APPROVED and app.assignee == org["李明"]


def test_transfer_to_a_colleague(client_for, org) -> None:
    app = new_app(org["张伟"])
    zhang, liu = client_for("张伟"), client_for("刘洋")
    assert liu.get(reverse("workflow:detail", args=[app.pk])).status_code == 404
    r = post(zhang, app, "transfer", transfer_to=org["刘洋"].pk, can_edit="on")
    assert r.status_code == 302
    assert "采购茶叶" in liu.get(reverse("workflow:mine")).content.decode()
    r = post(liu, app, "save", subject="采购茶叶和茶具", amount=100)
    assert r.status_code == 302 and SampleRequest.objects.get().subject == "采购茶叶和茶具"
    r = post(liu, app, "take_back")
    app.refresh_from_db()
    assert app.handler is None
    assert liu.get(reverse("workflow:detail", args=[app.pk])).status_code == 404


def test_out_of_scope_and_forged_posts(client_for, manager_director_chain, org) -> None:
    app = new_app(org["张伟"])
    yang = client_for("杨帆")
    assert yang.get(reverse("workflow:detail", args=[app.pk])).status_code == 404
    assert post(yang, app, "submit").status_code == 404
    assert post(yang, app, "delete").status_code == 404
    zhang = client_for("张伟")
    post(zhang, app, "submit", subject="采购茶叶", amount=100)
    r = post(zhang, app, "approve")  # the applicant is not the approver
    assert r.status_code == 409 and "不是该申请单当前步骤的审批人" in r.content.decode()
    r = post(zhang, app, "delete")
    assert r.status_code == 409 and Application.objects.filter(pk=app.pk).exists()
    assert client_for("李明").get(reverse("workflow:create", args=["nope"])).status_code == 404


def test_delete_a_draft(client_for, org) -> None:
    app = new_app(org["张伟"])
    r = post(client_for("张伟"), app, "delete")
    assert r.status_code == 302 and not Application.objects.exists()


def test_source_data_prefills_within_scope(client_for, org) -> None:
    li = client_for("李明")
    picker = li.get(reverse("workflow:source", args=["test_request", "colleague"])).content.decode()
    assert "刘洋" in picker and "杨帆" not in picker  # only his own people
    assert (
        "刘洋" in li.get(reverse("workflow:source", args=["test_request", "colleague"]), {"q": "刘"}).content.decode()
    )
    page = li.get(
        reverse("workflow:create", args=["test_request"]), {"source": "colleague", "pick": org["刘洋"].pk}
    ).content.decode()
    assert 'value="为刘洋申请"' in page
    page = li.get(
        reverse("workflow:create", args=["test_request"]), {"source": "colleague", "pick": org["杨帆"].pk}
    ).content.decode()
    assert "不在您的数据权限范围内" in page and 'value="为杨帆申请"' not in page
    assert li.get(reverse("workflow:source", args=["test_request", "nope"])).status_code == 404


def test_todo_groups_and_overdue(client_for, org) -> None:
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER, "deadline_hours": 1})
    zhang = client_for("张伟")
    for subject in ("一", "二"):
        post(zhang, new_app(org["张伟"], subject=subject), "submit", subject=subject, amount=100)
    from datetime import timedelta

    from django.utils import timezone

    Task.objects.filter(application__title="一").update(due_at=timezone.now() - timedelta(hours=2))
    page = client_for("李明").get(reverse("workflow:todo")).content.decode()
    assert page.count("已超期") == 1 and "共 2 条" in page


def test_chain_config(client_for, org) -> None:
    admin = client_for("管理员")
    url = reverse("workflow:chain_edit", args=["test_request"])
    assert "测试申请" in admin.get(reverse("workflow:chain_list")).content.decode()
    base = {
        "steps-TOTAL_FORMS": "2",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "20",
    }
    bad = {
        **base,
        "steps-0-order": "1",
        "steps-0-name": "经理审批",
        "steps-0-approver_kind": "role",
        "steps-0-condition_field": "amount",
        "steps-0-condition_op": "gt",
        "steps-0-condition_value": "很多",
    }
    r = admin.post(url, bad)
    body = r.content.decode()
    assert r.status_code == 422 and "请选择角色" in body and "不是该字段能比较的值" in body
    assigned = {**base, "steps-0-order": "1", "steps-0-name": "分配", "steps-0-approver_kind": "assigned"}
    r = admin.post(url, assigned)
    assert r.status_code == 422 and "上一步没有设置" in r.content.decode()
    good = {
        **base,
        "steps-0-order": "1",
        "steps-0-name": "经理审批",
        "steps-0-approver_kind": "dept_manager",
        "steps-1-order": "2",
        "steps-1-name": "总经理审批",
        "steps-1-approver_kind": "user",
        "steps-1-user": org["赵志刚"].pk,
        "steps-1-condition_field": "amount",
        "steps-1-condition_op": "gt",
        "steps-1-condition_value": "10000",
    }
    r = admin.post(url, good)
    assert r.status_code == 302
    assert list(Chain.objects.get(form_type="test_request").steps.values_list("name", flat=True)) == [
        "经理审批",
        "总经理审批",
    ]
    rep = client_for("张伟")
    assert rep.get(reverse("workflow:chain_list")).status_code == 403
    r = client_for("赵志刚").post(url, good)  # may view, not change
    assert (
        Chain.objects.get(form_type="test_request").steps.count() == 2
        and "没有修改流程配置的权限" in r.content.decode()
    )


def test_menu_shows_the_approval_nodes(client_for) -> None:
    body = client_for("张伟").get("/CRM/").content.decode()
    for label in ("待办业务", "已办业务", "我的申请"):
        assert label in body
    assert "申请单查询" not in body and reverse("workflow:todo_count") in body


def test_pending_task_status_for_done_list(client_for, manager_director_chain, org) -> None:
    app = new_app(org["张伟"])
    post(client_for("张伟"), app, "submit", subject="采购茶叶", amount=100)
    post(client_for("李明"), app, "reject", opinion="不需要")
    assert Task.objects.get().status == TaskStatus.REJECTED
    assert "已拒绝" in client_for("李明").get(reverse("workflow:done")).content.decode()


def test_lists_cost_the_same_queries_whatever_the_rows(client_for, manager_director_chain, org) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.workflow import engine

    pages = (
        ("李明", "workflow:todo"),
        ("张伟", "workflow:mine"),
        ("李明", "workflow:applications"),
        ("李明", "workflow:done"),
    )

    def measure() -> dict[str, int]:
        counts = {}
        for who, name in pages:
            c = client_for(who)
            c.get(reverse(name))
            with CaptureQueriesContext(connection) as ctx:
                r = c.get(reverse(name), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results-x")
            assert r.status_code == 200
            counts[name] = len(ctx.captured_queries)
        return counts

    def apply(n: int) -> None:
        for i in range(n):
            app = engine.transition(new_app(org["张伟"], subject=f"申请{i}"), "submit", actor=org["张伟"])
            if i % 2:
                engine.transition(app, "approve", actor=org["李明"])

    apply(3)
    few = measure()
    apply(27)
    assert measure() == few and max(few.values()) <= 12, few


def test_refreshing_the_results_does_not_count_the_groups(client_for, manager_director_chain, org) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.workflow import engine

    engine.transition(new_app(org["张伟"]), "submit", actor=org["张伟"])
    li = client_for("李明")
    li.get(reverse("workflow:todo"))
    with CaptureQueriesContext(connection) as whole:
        li.get(reverse("workflow:todo"), HTTP_HX_REQUEST="true")
    with CaptureQueriesContext(connection) as results:
        li.get(reverse("workflow:todo"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results-x")
    group_by = [q for q in whole.captured_queries if "GROUP BY" in q["sql"]]
    assert len(group_by) == 1
    assert not [q for q in results.captured_queries if "GROUP BY" in q["sql"]]


def test_todo_groups_by_form_type(client_for, manager_director_chain, org, monkeypatch) -> None:
    import dataclasses

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.workflow import engine
    from crm.workflow.registry import form_types

    other = dataclasses.replace(form_types.get("test_request"), key="other_request", label="另一种申请")
    monkeypatch.setitem(form_types._types, "other_request", other)
    for i in range(3):
        engine.transition(new_app(org["张伟"], subject=f"申请{i}"), "submit", actor=org["张伟"])
    Task.objects.filter(application__title="申请0").update(form_type="other_request")
    li = client_for("李明")
    with CaptureQueriesContext(connection) as ctx:
        page = li.get(reverse("workflow:todo")).content.decode()
    assert len([q for q in ctx.captured_queries if "GROUP BY" in q["sql"]]) == 1
    chips = page[page.index("crm-quick-filters") :]
    assert "测试申请" in chips and "另一种申请" in chips and ">3<" in chips and ">2<" in chips and ">1<" in chips
    r = li.get(reverse("workflow:todo"), {"form_type": "other_request"})
    assert [row["title"] for row in r.context["rows"]] == ["申请0"]


def test_home_shows_the_todo_panel(client_for, manager_director_chain, org) -> None:
    from crm.workflow import engine

    assert "home-todo-title" not in client_for("李明").get("/CRM/").content.decode()
    for i in range(7):
        engine.transition(new_app(org["张伟"], subject=f"申请{i}"), "submit", actor=org["张伟"])
    home = client_for("李明").get("/CRM/").content.decode()
    assert "共 7 条待办" in home and "申请6" in home and "申请1" not in home  # the newest five
    assert "home-todo-title" not in client_for("张伟").get("/CRM/").content.decode()


def assign_chain(*, two_steps: bool = False) -> None:
    """The director 【分配】s to one of his managers (who then 【分配】s in the second step, if there is one)."""
    steps = [
        {"approver_kind": ApproverKind.ROLE, "role": role("销售总监"), "assign_role": role("销售经理")},
        {"approver_kind": ApproverKind.ASSIGNED, "assign_role": role("业务员")},
    ]
    make_chain(*({**s, "approve_label": "分配"} for s in steps[: 2 if two_steps else 1]))


def test_a_refused_approval_keeps_the_opinion_and_the_choice(client_for, org, monkeypatch) -> None:
    import dataclasses

    from crm.workflow.errors import WorkflowError
    from crm.workflow.registry import form_types

    def refuse(instance, application, actor) -> None:
        raise WorkflowError("余额不足,不能扣减。")

    ft = form_types.get("test_request")
    monkeypatch.setitem(form_types._types, "test_request", dataclasses.replace(ft, effect=refuse))
    assign_chain()
    app = new_app(org["陈静"])
    post(client_for("陈静"), app, "submit", subject="采购茶叶", amount=100)
    wang = client_for("王建国")
    r = post(wang, app, "approve", opinion="请李明尽快安排", assign_to=org["李明"].pk, _step=0)
    body = r.content.decode()
    assert r.status_code == 409 and "余额不足,不能扣减。" in body
    assert ">\n请李明尽快安排</textarea>" in body
    assert f'<option value="{org["李明"].pk}" selected>' in body
    r = post(wang, app, "reject", opinion="", assign_to=org["周丽"].pk)  # refused for the missing opinion
    assert r.status_code == 409 and f'<option value="{org["周丽"].pk}" selected>' in r.content.decode()
    app.refresh_from_db()
    assert app.status == Status.IN_PROGRESS
    r = post(wang, app, "reject", opinion="不需要", assign_to=org["周丽"].pk)  # the choice means nothing here
    body = wang.get(r.url).content.decode()
    assert "已拒绝。" in body and "已分配" not in body


def test_assign_messages_name_who_has_it_now(client_for, org) -> None:
    assign_chain(two_steps=True)
    app = new_app(org["陈静"])
    post(client_for("陈静"), app, "submit", subject="采购茶叶", amount=100)
    wang, li = client_for("王建国"), client_for("李明")
    r = post(wang, app, "approve", assign_to=org["李明"].pk, _step=0)
    assert "已分配给李明。" in wang.get(r.url).content.decode()
    r = post(li, app, "approve", assign_to=org["张伟"].pk, _step=1)
    assert "「采购茶叶」已审批通过。已分配给张伟。" in li.get(r.url).content.decode()
    # the same page pressed again: refused by the name of the button on it, not 【通过】
    r = post(li, app, "approve", assign_to=org["张伟"].pk, _step=1)
    body = r.content.decode()
    assert r.status_code == 409 and "现在是「已通过」,不能【分配】" in body and "【通过】" not in body


def test_reject_and_delete_ask_first(client_for, manager_director_chain, org) -> None:
    zhang = client_for("张伟")
    app = new_app(org["张伟"])
    page = zhang.get(reverse("workflow:detail", args=[app.pk])).content.decode()
    assert 'value="delete" data-confirm="删除这张草稿?删除后不能恢复。"' in page
    post(zhang, app, "submit", subject="采购茶叶", amount=100)
    page = client_for("李明").get(reverse("workflow:detail", args=[app.pk])).content.decode()
    assert 'value="reject" data-confirm="拒绝后这张申请单即告结束,不能再提交。确定拒绝吗?"' in page
    assert page.count("data-confirm") == 1  # 【通过】 and 【退回】 go at once


def test_no_transfer_without_a_colleague(client_for, org) -> None:
    chen = client_for("陈静")  # alone in 客服部
    page = chen.get(reverse("workflow:detail", args=[new_app(org["陈静"]).pk])).content.decode()
    assert 'value="transfer"' not in page and "流转给" not in page
    page = client_for("张伟").get(reverse("workflow:detail", args=[new_app(org["张伟"]).pk])).content.decode()
    assert 'value="transfer"' in page and "刘洋" in page


def _chain_data(chain: Chain, **changes: dict[str, str]) -> dict[str, object]:
    """The chain page as posted back, with ``changes`` to its steps (by index)."""
    steps = list(chain.steps.all())
    data: dict[str, object] = {
        "steps-TOTAL_FORMS": str(len(steps) + 1),
        "steps-INITIAL_FORMS": str(len(steps)),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "20",
        f"steps-{len(steps)}-order": "0",  # the empty form for a new step, as the page shows it
    }
    for i, s in enumerate(steps):
        fields = {"id": s.pk, "chain": chain.pk, "order": s.order, "name": s.name, "approver_kind": s.approver_kind}
        data.update({f"steps-{i}-{k}": v for k, v in fields.items()})
    for key, step in changes.items():
        data.update({f"steps-{key.lstrip('s')}-{k}": v for k, v in step.items()})
    return data


def test_removing_every_step_needs_a_confirmation(client_for, manager_director_chain) -> None:
    admin = client_for("管理员")
    url = reverse("workflow:chain_edit", args=["test_request"])
    none_left = _chain_data(manager_director_chain, s0={"DELETE": "on"}, s1={"DELETE": "on"})
    r = admin.post(url, none_left)
    body = r.content.decode()
    assert r.status_code == 422 and "删除全部步骤后,「测试申请」的申请单一提交即通过" in body
    assert 'name="confirm_no_steps"' in body and manager_director_chain.steps.count() == 2
    r = admin.post(url, {**none_left, "confirm_no_steps": "on"})
    assert r.status_code == 302 and manager_director_chain.steps.count() == 0


def test_two_steps_may_not_share_an_order(client_for, manager_director_chain, org) -> None:
    admin = client_for("管理员")
    url = reverse("workflow:chain_edit", args=["test_request"])
    extra = {"order": "1", "name": "财务复核", "approver_kind": "user", "user": str(org["赵志刚"].pk)}
    r = admin.post(url, _chain_data(manager_director_chain, s2=extra))
    assert r.status_code == 422
    assert "顺序不能重复:「第2步」和「财务复核」的顺序都是 1。" in r.content.decode()
    assert manager_director_chain.steps.count() == 2
    r = admin.post(url, _chain_data(manager_director_chain, s2={**extra, "order": "2"}))
    assert r.status_code == 302 and manager_director_chain.steps.count() == 3


def test_deactivating_an_approver_says_what_waits_for_him(client_for, manager_director_chain, org) -> None:
    zhang, li = client_for("张伟"), client_for("李明")
    apps = [new_app(org["张伟"], subject=s) for s in ("甲", "乙")]
    for app in apps:
        post(zhang, app, "submit", subject=app.title, amount=100)
    li.get(reverse("workflow:detail", args=[apps[0].pk]))  # opened: withdrawing needs him gone
    admin = client_for("管理员")
    ming = org["李明"]
    data = {"full_name": ming.full_name, "username": ming.username, "department": ming.department_id}
    r = admin.post(reverse("accounts:user_edit", args=[ming.pk]), data, HTTP_HX_REQUEST="true")
    assert "「李明」还有 2 张申请单在等其审批,停用后无人能处理" in r.content.decode()
    # his opened application can now be withdrawn and submitted again
    r = post(zhang, apps[0], "withdraw")
    assert r.status_code == 302 and Application.objects.get(pk=apps[0].pk).status == Status.DRAFT
    # saving him again (already inactive) says nothing more
    r = admin.post(reverse("accounts:user_edit", args=[ming.pk]), data, HTTP_HX_REQUEST="true")
    assert "在等其审批" not in r.content.decode()


def test_a_step_someone_else_can_finish_is_not_left_waiting(org) -> None:
    from crm.workflow.engine import transition
    from crm.workflow.selectors import unfinished_approvals

    make_chain({"approver_kind": ApproverKind.ROLE, "role": role("销售经理")})
    holders = list(role("销售经理").users.filter(is_active=True))
    assert len(holders) >= 2
    transition(new_app(org["张伟"]), "submit", actor=org["张伟"])
    assert unfinished_approvals(holders[0]) is None
