"""积分调整 goes through the approval engine: the demo chain, the form (a member typed by card number within
the applicant's reach), the effect on approval, and a refused effect that leaves the approval undone."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from crm.customers.models import Customer
from crm.loyalty import selectors, services
from crm.loyalty.forms import PointsAdjustmentForm
from crm.loyalty.formtypes import POINTS_ADJUST
from crm.loyalty.models import PointsAdjustment, PointsEntry
from crm.workflow import engine
from crm.workflow.errors import WorkflowError
from crm.workflow.models import Application, Status
from crm.workflow.registry import form_types
from crm.workflow.services import draft_save

from .conftest import make_member

pytestmark = pytest.mark.django_db


def apply(applicant: Any, customer: str, points: int, reason: str = "补录开业前消费") -> Application:
    ft = form_types.get(POINTS_ADJUST)
    assert ft is not None
    form = ft.make_form(applicant, data={"customer": customer, "points": points, "reason": reason})
    assert form.is_valid(), form.errors
    app = draft_save(actor=applicant, form_type=ft, form=form)
    return engine.transition(app, "submit", actor=applicant)


def test_an_approved_adjustment_credits_the_member(member: Customer, people: dict[str, Any]) -> None:
    app = apply(people["张伟"], member.card_no, 800)
    assert app.title == f"积分调整:{member.name} +800"
    assert [s["name"] for s in app.steps] == ["部门负责人审核"]  # 800 points: no general manager
    app = engine.transition(app, "approve", actor=people["李明"], opinion="同意")
    assert app.status == Status.APPROVED
    entry = PointsEntry.objects.get()
    assert (entry.kind, entry.points, entry.source_ref, entry.created_by) == (
        "adjust",
        800,
        f"application:{app.pk}",
        people["李明"],
    )
    assert selectors.balance(member) == 800


def test_a_large_adjustment_also_needs_the_general_manager(member: Customer, people: dict[str, Any]) -> None:
    services.points_gift(customer=member, points=20000, reason="开业")
    app = apply(people["张伟"], member.mobile, -15000, "误赠")
    assert [s["name"] for s in app.steps] == ["部门负责人审核", "总经理审批"]
    app = engine.transition(app, "approve", actor=people["李明"], opinion="同意")
    assert app.status == Status.IN_PROGRESS and selectors.balance(member) == 20000
    app = engine.transition(app, "approve", actor=people["赵志刚"], opinion="同意")
    assert app.status == Status.APPROVED and selectors.balance(member) == 5000


def test_a_deduction_the_balance_no_longer_covers_is_refused_at_approval(
    member: Customer, people: dict[str, Any]
) -> None:
    services.points_gift(customer=member, points=500, reason="开业")
    app = apply(people["张伟"], member.card_no, -400, "误赠")
    services.points_redeem(customer=member, points=200)  # meanwhile the member spent some
    with pytest.raises(WorkflowError, match="不够扣减 400 积分"):
        engine.transition(app, "approve", actor=people["李明"], opinion="同意")
    app.refresh_from_db()
    assert app.status == Status.IN_PROGRESS  # the approval did not happen either
    assert selectors.balance(member) == 300
    assert not PointsEntry.objects.filter(kind="adjust").exists()


def test_the_form_finds_members_only_within_reach(member: Customer, people: dict[str, Any]) -> None:
    yang = people["杨帆"]  # 销售二组: not his customer
    form = PointsAdjustmentForm(data={"customer": member.card_no, "points": 5, "reason": "x"}, user=yang)
    assert not form.is_valid() and "不在您的数据权限范围内" in str(form.errors["customer"])
    zhang = people["张伟"]
    for data, field, message in [
        ({"customer": "", "points": 5, "reason": "x"}, "customer", "必填"),
        ({"customer": member.card_no, "points": 0, "reason": "x"}, "points", "不能为 0"),
        ({"customer": member.card_no, "points": 10**9, "reason": "x"}, "points", "不能超过"),
        ({"customer": member.card_no, "points": 5, "reason": "   "}, "reason", "请填写调整原因。"),
        ({"customer": member.card_no, "points": 5, "reason": ""}, "reason", "请填写调整原因。"),
        ({"customer": member.card_no, "points": "", "reason": "x"}, "points", "请填写调整积分。"),
    ]:
        form = PointsAdjustmentForm(data=data, user=zhang)
        assert not form.is_valid() and field in form.errors, data
        assert message in str(form.errors[field])
    twin = make_member(zhang, name="同号", mobile=member.mobile)
    form = PointsAdjustmentForm(data={"customer": member.mobile, "points": 5, "reason": "x"}, user=zhang)
    assert not form.is_valid() and "对应多位会员" in str(form.errors["customer"])
    form = PointsAdjustmentForm(data={"customer": twin.card_no, "points": 5, "reason": "x"}, user=zhang)
    assert form.is_valid() and form.cleaned_data["customer"] == twin


def test_the_application_page_shows_the_member_by_card_number(
    member: Customer, people: dict[str, Any], client_for: Any
) -> None:
    app = apply(people["张伟"], member.card_no, 50)
    r = client_for("李明").get(reverse("workflow:detail", args=[app.pk]))
    assert r.status_code == 200 and member.card_no in r.content.decode()
    adj = PointsAdjustment.objects.get(application=app)
    assert adj.magnitude == 50
    # 【来源数据】: the applicant picks a customer of his own
    url = reverse("workflow:create", args=[POINTS_ADJUST])
    r = client_for("张伟").get(url, {"source": "customer", "pick": member.pk})
    assert r.status_code == 200 and member.card_no in r.content.decode()


def test_the_demo_grants_and_chain(people: dict[str, Any]) -> None:
    assert people["张伟"].has_perm("loyalty.add_pointsadjustment")
    assert not people["陈静"].has_perm("loyalty.add_pointsadjustment")
    assert people["赵志刚"].has_perm("loyalty.view_consumption")
    from crm.loyalty.demo import load

    assert load() == {}  # once only


def test_the_approver_sees_the_member_his_points_now_and_after(
    member: Customer, people: dict[str, Any], client_for: Any
) -> None:
    services.points_gift(customer=member, points=12_500, reason="开业")
    app = apply(people["张伟"], member.card_no, -15_000, "误赠")
    assert app.title == f"积分调整:{member.name} -15,000"
    page = client_for("李明").get(reverse("workflow:detail", args=[app.pk])).content.decode()
    summary = page.split('data-testid="summary"')[1].split("</dl>")[0]
    assert f"{member.name} {member.card_no}" in summary and "?tab=points" in summary  # his manager reaches him
    assert "普卡" in summary and "12,500" in summary and "不够扣减,还差 2,500" in summary
    # handed to a rep out of 李明's reach since: the member is named, without a link to his page
    Customer.objects.filter(pk=member.pk).update(owner=people["杨帆"], department=people["杨帆"].department)
    page = client_for("李明").get(reverse("workflow:detail", args=[app.pk])).content.decode()
    summary = page.split('data-testid="summary"')[1].split("</dl>")[0]
    assert f"{member.name} {member.card_no}" in summary and "?tab=points" not in summary


def test_a_rejected_application_shows_who_rejected_it_and_why(
    member: Customer, people: dict[str, Any], client_for: Any
) -> None:
    app = apply(people["张伟"], member.card_no, 800)
    engine.transition(app, "reject", actor=people["李明"], opinion="请先补齐消费凭证")
    page = client_for("张伟").get(reverse("workflow:detail", args=[app.pk])).content.decode()
    rejection = page.split('data-testid="rejection"')[1].split("</div>")[0]
    assert "李明 于" in rejection and "拒绝:请先补齐消费凭证" in rejection
    assert "调整后积分" in page and "800" in page
