"""The state machine, action by action: each rule's happy path and each refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from crm.accounts.models import Department, Role, User
from crm.core.models import AuditAction, AuditLog
from crm.workflow import engine
from crm.workflow.engine import WorkflowError, allowed_actions, can_edit, mark_opened, transition
from crm.workflow.models import Application, ApproverKind, Chain, ChainStep, EventAction, Status, Task, TaskStatus
from crm.workflow.registry import FormType, form_types
from crm.workflow.testing.models import SampleRequest

from .conftest import make_chain, new_app, role

pytestmark = pytest.mark.django_db


def instance(app: Application) -> SampleRequest:
    return SampleRequest.objects.get(application=app)


def actions(app: Application) -> list[str]:
    return list(app.events.values_list("action", flat=True))


def test_two_steps_to_approval_runs_the_effect_once(org, manager_director_chain) -> None:
    zhang, li, wang = org["张伟"], org["李明"], org["王建国"]
    app = new_app(zhang)
    assert app.status == Status.DRAFT and app.title == "采购茶叶"
    assert allowed_actions(app, zhang) == ["submit", "transfer"]
    app = transition(app, "submit", actor=zhang)
    assert app.status == Status.IN_PROGRESS and app.current_step == 0 and app.step_label == "1/2 第1步"
    assert list(Task.objects.filter(status=TaskStatus.PENDING).values_list("approver__username", flat=True)) == ["李明"]
    assert allowed_actions(app, li) == ["approve", "reject", "return"]
    assert allowed_actions(app, zhang) == ["withdraw"]
    app = transition(app, "approve", actor=li, opinion="同意")
    assert app.current_step == 1
    assert Task.objects.get(status=TaskStatus.PENDING).approver == wang
    app = transition(app, "approve", actor=wang)
    assert app.status == Status.APPROVED and app.finished_at and app.current_step is None
    assert instance(app).effects == 1
    assert actions(app) == ["create", "submit", "approve", "approve", "finish"]
    assert allowed_actions(app, zhang) == allowed_actions(app, wang) == []


def test_refusals_change_nothing(org, manager_director_chain) -> None:
    zhang, li, wang, liu = org["张伟"], org["李明"], org["王建国"], org["刘洋"]
    app = new_app(zhang)
    with pytest.raises(WorkflowError, match="只有申请人"):
        transition(app, "submit", actor=liu)
    with pytest.raises(WorkflowError, match="不能【通过】"):
        transition(app, "approve", actor=li)
    transition(app, "submit", actor=zhang)
    with pytest.raises(WorkflowError, match="不是该申请单当前步骤的审批人"):
        transition(app, "approve", actor=wang)  # not at his step yet
    with pytest.raises(WorkflowError, match="必须填写审批意见"):
        transition(app, "reject", actor=li, opinion="  ")
    with pytest.raises(WorkflowError, match="必须填写审批意见"):
        transition(app, "return", actor=li)
    with pytest.raises(WorkflowError, match="不能【提交】"):
        transition(app, "submit", actor=zhang)
    with pytest.raises(WorkflowError, match="不需要分配"):
        transition(app, "approve", actor=li, assign_to=liu)
    with pytest.raises(WorkflowError, match="未知的操作"):
        transition(app, "explode", actor=li)
    app.refresh_from_db()
    assert app.current_step == 0 and app.status == Status.IN_PROGRESS
    assert actions(app) == ["create", "submit"]


def test_return_then_edit_and_resubmit_restarts_the_chain(org, manager_director_chain) -> None:
    zhang, li, wang = org["张伟"], org["李明"], org["王建国"]
    app = new_app(zhang, amount=100)
    transition(app, "submit", actor=zhang)
    transition(app, "approve", actor=li)
    app = transition(app, "return", actor=wang, opinion="金额写错了")
    assert app.status == Status.DRAFT and app.returned and app.return_opinion == "金额写错了"
    assert can_edit(app, zhang) and not can_edit(app, li)
    # After 退回 only the fields the form type allows may change (amount is locked for this type).
    form_type = form_types.get("test_request")
    from crm.workflow.services import draft_save

    bad = form_type.form_class({"subject": "采购茶叶", "amount": 999}, instance=instance(app))
    assert bad.is_valid()
    with pytest.raises(WorkflowError, match="金额"):
        draft_save(actor=zhang, form_type=form_type, form=bad, application=app)
    good = form_type.form_class({"subject": "采购普洱茶", "amount": 100}, instance=instance(app))
    assert good.is_valid()
    draft_save(actor=zhang, form_type=form_type, form=good, application=app)
    app = transition(app, "submit", actor=zhang)
    assert app.round == 2 and app.current_step == 0 and not app.returned and app.title == "采购普洱茶"
    assert Task.objects.get(round=2, status=TaskStatus.PENDING).approver == li
    transition(app, "approve", actor=li)
    app = transition(app, "approve", actor=wang)
    assert app.status == Status.APPROVED and instance(app).effects == 1


def test_reject_ends_it(org, manager_director_chain) -> None:
    zhang, li = org["张伟"], org["李明"]
    app = new_app(zhang)
    transition(app, "submit", actor=zhang)
    app = transition(app, "reject", actor=li, opinion="预算不足")
    assert app.status == Status.REJECTED and app.finished_at
    assert instance(app).effects == 0
    with pytest.raises(WorkflowError, match="已拒绝"):
        transition(app, "submit", actor=zhang)


def test_withdraw_only_before_an_approver_opens_it(org, manager_director_chain) -> None:
    zhang, li, liu = org["张伟"], org["李明"], org["刘洋"]
    app = new_app(zhang)
    transition(app, "submit", actor=zhang)
    with pytest.raises(WorkflowError, match="只有申请人"):
        transition(app, "withdraw", actor=liu)
    assert not mark_opened(app, liu)  # not his task: nothing happens
    app = transition(app, "withdraw", actor=zhang)
    assert app.status == Status.DRAFT and not app.returned
    assert Task.objects.get().status == TaskStatus.CANCELLED
    app = transition(app, "submit", actor=zhang)
    assert mark_opened(app, li) and not mark_opened(app, li)  # once
    with pytest.raises(WorkflowError, match=r"李明 已于 .* 打开该申请单,不能再撤销"):
        transition(app, "withdraw", actor=zhang)
    assert "withdraw" not in allowed_actions(app, zhang)
    assert EventAction.OPEN in actions(app)
    draft = new_app(zhang)
    assert not mark_opened(draft, li)


def test_assign_chain_director_manager_rep(org) -> None:
    """The seed's lead flow: the director 【分配】s to a manager, the manager to a rep, who gets the record."""
    make_chain(
        {"approver_kind": ApproverKind.ROLE, "role": role("销售总监"), "assign_role": role("销售经理")},
        {"approver_kind": ApproverKind.ASSIGNED, "assign_role": role("业务员"), "approve_label": "分配"},
    )
    chen, wang, li, zhou, zhang = org["陈静"], org["王建国"], org["李明"], org["周丽"], org["张伟"]
    app = new_app(chen)
    transition(app, "submit", actor=chen)
    with pytest.raises(WorkflowError, match="请选择【分配】给谁"):
        transition(app, "approve", actor=wang)
    with pytest.raises(WorkflowError, match="不能分配给「张伟」"):
        transition(app, "approve", actor=wang, assign_to=zhang)
    app = transition(app, "approve", actor=wang, assign_to=li)
    assert Task.objects.get(status=TaskStatus.PENDING).approver == li
    # 李明 may only pick his own reps; 周丽's rep 杨帆 is refused.
    with pytest.raises(WorkflowError, match="杨帆"):
        transition(app, "approve", actor=li, assign_to=org["杨帆"])
    app = transition(app, "approve", actor=li, assign_to=zhang)
    assert app.status == Status.APPROVED and app.assignee == zhang
    assert list(app.events.filter(action=EventAction.ASSIGN).values_list("target__username", flat=True)) == [
        "李明",
        "张伟",
    ]
    assert zhou not in [e.actor for e in app.events.all()]


def test_countersign_waits_for_everyone(org) -> None:
    make_chain({"approver_kind": ApproverKind.ROLE, "role": role("销售经理"), "all_must_approve": True})
    zhang, li, zhou = org["张伟"], org["李明"], org["周丽"]
    app = new_app(zhang)
    transition(app, "submit", actor=zhang)
    app = transition(app, "approve", actor=li)
    assert app.status == Status.IN_PROGRESS
    app = transition(app, "approve", actor=zhou)
    assert app.status == Status.APPROVED and instance(app).effects == 1


def test_one_of_several_suffices_and_the_others_are_closed(org) -> None:
    make_chain({"approver_kind": ApproverKind.ROLE, "role": role("销售经理")})
    zhang, li, zhou = org["张伟"], org["李明"], org["周丽"]
    app = new_app(zhang)
    transition(app, "submit", actor=zhang)
    app = transition(app, "approve", actor=zhou)
    assert app.status == Status.APPROVED
    assert Task.objects.get(approver=li).status == TaskStatus.CANCELLED
    with pytest.raises(WorkflowError, match="已通过"):
        transition(app, "approve", actor=li)


def test_condition_adds_the_general_manager(org) -> None:
    make_chain(
        {"approver_kind": ApproverKind.DEPT_MANAGER},
        {
            "approver_kind": ApproverKind.USER,
            "user": org["赵志刚"],
            "condition_field": "amount",
            "condition_op": "gt",
            "condition_value": "10000",
        },
    )
    zhang, li, zhao = org["张伟"], org["李明"], org["赵志刚"]
    small = transition(new_app(zhang, amount=10000), "submit", actor=zhang)
    big = transition(new_app(zhang, amount=10001), "submit", actor=zhang)
    assert len(small.steps) == 1 and len(big.steps) == 2
    transition(big, "approve", actor=li)
    assert Task.objects.get(application=big, status=TaskStatus.PENDING).approver == zhao


@pytest.mark.parametrize(
    ("op", "value", "holds"),
    [
        ("gt", "99", True),
        ("gte", "100", True),
        ("lt", "100", False),
        ("lte", "100", True),
        ("eq", "100", True),
        ("ne", "100", False),
    ],
)
def test_condition_operators(org, op: str, value: str, holds: bool) -> None:
    from crm.workflow.approvers import condition_holds

    app = new_app(org["张伟"], amount=100)
    assert condition_holds(instance(app), "amount", op, value) is holds


def test_bad_condition_value_is_explained(org) -> None:
    make_chain(
        {
            "approver_kind": ApproverKind.DEPT_MANAGER,
            "condition_field": "amount",
            "condition_op": "gt",
            "condition_value": "很多",
        }
    )
    app = new_app(org["张伟"])
    with pytest.raises(WorkflowError, match="流程条件的值「很多」"):
        transition(app, "submit", actor=org["张伟"])
    app.refresh_from_db()
    assert app.status == Status.DRAFT and app.round == 0


def test_missing_approver_refuses_the_submit(org) -> None:
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER})
    chen = org["陈静"]  # 客服部 has no manager, and nothing above it
    app = new_app(chen)
    with pytest.raises(WorkflowError, match="第 1 步「第1步」找不到审批人"):
        transition(app, "submit", actor=chen)
    app.refresh_from_db()
    assert app.status == Status.DRAFT and app.round == 0 and not Task.objects.exists()


def test_manager_applying_goes_to_the_manager_above(org) -> None:
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER}, {"approver_kind": ApproverKind.DIRECTOR})
    li, wang, zhao = org["李明"], org["王建国"], org["赵志刚"]
    Department.objects.filter(name="总经办").update(manager=zhao)
    Department.objects.filter(name="销售部").update(parent=Department.objects.get(name="总经办"))
    from crm.accounts.services import department_save

    sales = Department.objects.get(name="销售部")
    department_save(actor=None, department=sales, data={"parent": Department.objects.get(name="总经办")})
    app = transition(new_app(li), "submit", actor=li)  # 李明 is his own group's manager
    assert Task.objects.get(application=app).approver == wang
    app = transition(app, "approve", actor=wang)
    assert Task.objects.get(application=app, status=TaskStatus.PENDING).approver == zhao


def test_empty_chain_approves_at_submit(org) -> None:
    make_chain()
    app = transition(new_app(org["张伟"]), "submit", actor=org["张伟"])
    assert app.status == Status.APPROVED and instance(app).effects == 1


def test_deadline_and_overdue(org) -> None:
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER, "deadline_hours": 24})
    app = transition(new_app(org["张伟"]), "submit", actor=org["张伟"])
    task = Task.objects.get(application=app)
    assert task.due_at is not None and not task.overdue
    task.due_at = timezone.now() - timedelta(minutes=1)
    assert task.overdue


def test_editing_a_chain_does_not_disturb_applications_in_flight(org, manager_director_chain) -> None:
    zhang, li, wang = org["张伟"], org["李明"], org["王建国"]
    app = transition(new_app(zhang), "submit", actor=zhang)
    manager_director_chain.steps.filter(order=1).delete()  # the admin drops the director's step
    transition(app, "approve", actor=li)
    app.refresh_from_db()
    assert app.status == Status.IN_PROGRESS
    assert Task.objects.get(application=app, status=TaskStatus.PENDING).approver == wang
    assert len(transition(new_app(zhang), "submit", actor=zhang).steps) == 1


def test_transfer_and_take_back(org) -> None:
    zhang, liu, yang = org["张伟"], org["刘洋"], org["杨帆"]
    app = new_app(zhang)
    with pytest.raises(WorkflowError, match="本部门"):
        transition(app, "transfer", actor=zhang, transfer_to=yang)
    with pytest.raises(WorkflowError, match="在职的同事"):
        transition(app, "transfer", actor=zhang, transfer_to=zhang)
    with pytest.raises(WorkflowError, match="没有流转"):
        transition(app, "take_back", actor=zhang)
    app = transition(app, "transfer", actor=zhang, transfer_to=liu, can_edit=False)
    assert app.handler == liu and not can_edit(app, liu)
    assert Application.objects.for_user(liu).filter(pk=app.pk).exists()
    with pytest.raises(WorkflowError, match="只有申请人或接收人"):
        transition(app, "take_back", actor=yang)
    app = transition(app, "take_back", actor=liu)  # he hands it back
    assert app.handler is None
    app = transition(app, "transfer", actor=zhang, transfer_to=liu, can_edit=True)
    assert can_edit(app, liu)
    assert "take_back" in allowed_actions(app, liu) and "submit" not in allowed_actions(app, liu)


def test_delete_only_never_submitted_drafts(org, manager_director_chain) -> None:
    zhang, liu, admin = org["张伟"], org["刘洋"], org["管理员"]
    draft = new_app(zhang)
    with pytest.raises(WorkflowError, match="只有申请人"):
        engine.delete(draft, actor=liu)
    engine.delete(draft, actor=zhang)
    assert not Application.objects.filter(pk=draft.pk).exists() and not SampleRequest.objects.exists()
    assert AuditLog.objects.filter(action=AuditAction.DELETE, object_id=str(draft.pk)).exists()
    app = transition(new_app(zhang), "submit", actor=zhang)
    transition(app, "withdraw", actor=zhang)
    with pytest.raises(WorkflowError, match="已提交过的申请单不能删除"):
        engine.delete(app, actor=zhang)
    engine.delete(app.pk, actor=admin)  # the administrator may
    assert not Application.objects.filter(pk=app.pk).exists()


def test_unknown_form_type_is_refused(org) -> None:
    app = new_app(org["张伟"])
    Application.objects.filter(pk=app.pk).update(form_type="gone")
    with pytest.raises(WorkflowError, match="「gone」已不存在"):
        transition(app, "submit", actor=org["张伟"])


def test_a_form_type_registers_without_engine_changes() -> None:
    key = "test_request"
    ft = form_types.get(key)
    assert isinstance(ft, FormType) and ft.source("colleague") and ft.source("nope") is None
    with pytest.raises(ValueError, match="registered twice"):
        form_types.register(ft)
    assert ft.may_create(User(is_superuser=True, is_active=True))


def test_scope_of_applications(org, manager_director_chain) -> None:
    zhang, li, liu, wang = org["张伟"], org["李明"], org["刘洋"], org["王建国"]
    app = transition(new_app(zhang), "submit", actor=zhang)
    assert Application.objects.for_user(li).filter(pk=app.pk).exists()  # his rep's, and his task
    assert not Application.objects.for_user(liu).filter(pk=app.pk).exists()
    transition(app, "approve", actor=li)
    assert Application.objects.for_user(wang).filter(pk=app.pk).exists()


def test_step_snapshot_and_labels(org) -> None:
    chain = make_chain({"approver_kind": ApproverKind.ROLE, "role": role("销售经理"), "deadline_hours": 8})
    step = chain.steps.get()
    assert isinstance(step, ChainStep) and str(step) == "第1步" and str(chain) == "test_request"
    assert step.snapshot()["hours"] == 8
    app = new_app(org["张伟"])
    assert app.step is None and app.step_label == "" and str(app) == "采购茶叶"
    task_perm = Permission.objects.get(codename="delete_any_application")
    assert task_perm.content_type.app_label == "workflow"


def test_assign_candidates_without_own_people(org) -> None:
    """An approver who leads none of the role's holders may pick any of them."""
    from crm.workflow.approvers import assign_candidates

    step = {"assign_role": role("销售经理").pk}
    assert set(assign_candidates(org["赵志刚"], step).values_list("username", flat=True)) == {"李明", "周丽"}
    assert set(assign_candidates(org["王建国"], step).values_list("username", flat=True)) == {"李明", "周丽"}
    rep_step = {"assign_role": role("业务员").pk}
    assert set(assign_candidates(org["李明"], rep_step).values_list("username", flat=True)) == {"张伟", "刘洋"}


def test_a_form_type_without_an_effect(org, monkeypatch) -> None:
    import dataclasses

    ft = form_types.get("test_request")
    monkeypatch.setitem(form_types._types, "test_request", dataclasses.replace(ft, effect=None))
    make_chain()
    app = transition(new_app(org["张伟"]), "submit", actor=org["张伟"])
    assert app.status == Status.APPROVED and instance(app).effects == 0


def test_records_read_as_text(org, manager_director_chain) -> None:
    app = transition(new_app(org["张伟"]), "submit", actor=org["张伟"])
    task = Task.objects.get()
    assert str(task) == f"{app.pk}#1.0 {org['李明'].pk}"
    assert str(app.events.first()).startswith("创建 ")


def test_draft_save_refuses_what_may_not_be_edited(org, manager_director_chain) -> None:
    from crm.workflow.services import chain_save, draft_save

    app = transition(new_app(org["张伟"]), "submit", actor=org["张伟"])
    ft = form_types.get("test_request")
    form = ft.form_class({"subject": "改", "amount": 1}, instance=instance(app))
    assert form.is_valid()
    with pytest.raises(WorkflowError, match="现在不能修改"):
        draft_save(actor=org["张伟"], form_type=ft, form=form, application=app)
    # saving a chain with nothing changed writes no audit row
    from crm.workflow.forms import ChainStepFormSet

    chain = manager_director_chain
    data = {
        "steps-TOTAL_FORMS": "2",
        "steps-INITIAL_FORMS": "2",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "20",
    }
    for i, s in enumerate(chain.steps.all()):
        data.update(
            {
                f"steps-{i}-id": s.pk,
                f"steps-{i}-chain": chain.pk,
                f"steps-{i}-order": s.order,
                f"steps-{i}-name": s.name,
                f"steps-{i}-approver_kind": s.approver_kind,
            }
        )
    steps = ChainStepFormSet(data, instance=chain, prefix="steps", form_type=ft)
    assert steps.is_valid(), steps.errors
    n = AuditLog.objects.count()
    chain_save(actor=org["管理员"], form_type=ft, steps=steps)
    assert AuditLog.objects.count() == n


def demo_registration_chain() -> None:
    """The demo's 客户登记 chain (经理复核 【提交】 → 总监审批 【通过】), on the test form type."""
    steps = Chain.objects.get(form_type="customer").steps.all()
    make_chain(*({"name": s.name, "approver_kind": s.approver_kind, "approve_label": s.approve_label} for s in steps))


def pending(app: Application) -> list[tuple[str, str]]:
    return [(t.approver.username, app.steps[t.step]["name"]) for t in app.tasks.filter(status=TaskStatus.PENDING)]


def skips(app: Application) -> list[tuple[str, object, str]]:
    return [(e.step_name, e.actor, e.opinion) for e in app.events.filter(action=EventAction.SKIP)]


SKIP_NOTE = "申请人之上已没有更高一级的负责人,本步跳过。"


def test_rep_manager_and_director_each_get_their_own_application_approved(org) -> None:
    demo_registration_chain()
    zhang, li, wang = org["张伟"], org["李明"], org["王建国"]
    # a rep's: his manager, then the director
    app = transition(new_app(zhang), "submit", actor=zhang)
    assert pending(app) == [("李明", "经理复核")]
    app = transition(app, "approve", actor=li)
    assert pending(app) == [("王建国", "总监审批")]
    app = transition(app, "approve", actor=wang)
    assert app.status == Status.APPROVED and skips(app) == []
    # a manager's: the manager above him; the line ends there, so 总监审批 is skipped with a note that names
    # the top of the line (the applicant himself does have a manager above him)
    app = transition(new_app(li), "submit", actor=li)
    assert pending(app) == [("王建国", "经理复核")] and skips(app) == []
    app = transition(app, "approve", actor=wang, opinion="同意")
    assert app.status == Status.APPROVED and instance(app).effects == 1
    assert skips(app) == [("总监审批", None, "王建国之上已没有更高一级的负责人,本步跳过。")]
    assert actions(app) == ["create", "submit", "approve", "skip", "finish"]
    # the director's own: nobody above him in his line, both steps skipped; not approved by nobody, though: it
    # goes to the 总经理, as a step of its own
    app = transition(new_app(wang), "submit", actor=wang)
    assert skips(app) == [("经理复核", None, SKIP_NOTE), ("总监审批", None, SKIP_NOTE)]
    assert app.status == Status.IN_PROGRESS and pending(app) == [("赵志刚", "总经理审批")]
    assert app.step_label == "3/3 总经理审批" and instance(app).effects == 0
    app = transition(app, "approve", actor=org["赵志刚"])
    assert app.status == Status.APPROVED and instance(app).effects == 1


def test_the_top_of_the_club_s_own_application_needs_nobody_else(org, settings) -> None:
    demo_registration_chain()
    zhao = org["赵志刚"]  # 总经办's manager and the only 总经理
    app = transition(new_app(zhao), "submit", actor=zhao)
    assert app.status == Status.APPROVED and not app.tasks.exists() and len(app.steps) == 2
    # with the setting empty, a director's own is approved at once, as skipped steps leave it
    settings.CRM_TOP_APPROVER_ROLE = ""
    wang = org["王建国"]
    app = transition(new_app(wang), "submit", actor=wang)
    assert app.status == Status.APPROVED and not app.tasks.exists()
    # a role nobody holds any more: the same
    settings.CRM_TOP_APPROVER_ROLE = "董事长"
    app = transition(new_app(wang), "submit", actor=wang)
    assert app.status == Status.APPROVED and not app.tasks.exists()


def test_a_chain_someone_approved_is_not_sent_to_the_top(org) -> None:
    demo_registration_chain()
    li, wang = org["李明"], org["王建国"]
    app = transition(transition(new_app(li), "submit", actor=li), "approve", actor=wang)
    assert app.status == Status.APPROVED and len(app.steps) == 2  # 王建国 approved; 总监审批 skipped, no 总经理


def test_a_vacant_post_above_the_applicant_is_not_skipped(org) -> None:
    demo_registration_chain()
    li, wang = org["李明"], org["王建国"]
    wang.is_active = False
    wang.save()
    app = new_app(li)
    with pytest.raises(WorkflowError, match="第 1 步「经理复核」找不到审批人"):
        transition(app, "submit", actor=li)
    app.refresh_from_db()
    assert app.status == Status.DRAFT and not app.events.filter(action=EventAction.SKIP).exists()


def test_a_step_of_a_role_nobody_holds_is_not_skipped(org) -> None:
    make_chain({"approver_kind": ApproverKind.ROLE, "role": Role.objects.create(name="稽核")})
    wang = org["王建国"]  # the top of his line: still no free pass past a role
    with pytest.raises(WorkflowError, match="第 1 步「第1步」找不到审批人"):
        transition(new_app(wang), "submit", actor=wang)


def test_transfer_needs_a_colleague(org) -> None:
    chen = org["陈静"]  # alone in 客服部
    app = new_app(chen)
    assert allowed_actions(app, chen) == ["submit"]
    with pytest.raises(WorkflowError, match="本部门没有可以接收的同事"):
        transition(app, "transfer", actor=chen, transfer_to=org["张伟"])


def test_a_stale_page_is_refused_by_the_name_of_its_button(org, manager_director_chain) -> None:
    zhang, li, wang = org["张伟"], org["李明"], org["王建国"]
    app = transition(new_app(zhang), "submit", actor=zhang)
    transition(transition(app, "approve", actor=li), "approve", actor=wang)
    with pytest.raises(WorkflowError, match="现在是「已通过」,不能【分配】"):
        transition(app, "approve", actor=wang, label="分配")
