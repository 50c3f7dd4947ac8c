"""The customer module's part of the demo: approval chains for leads and customer registrations, and the
permissions of the demo roles. Runs once: a database that already has the lead chain is left alone."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db.models import Q

from crm.accounts.models import Role
from crm.core.demo import demo_parts
from crm.workflow.models import ApproverKind, Chain, ChainStep

from .formtypes import CUSTOMER, LEAD

REP = [
    "customers.view_lead",
    "customers.change_lead",
    "customers.register_own_lead",
    "customers.view_customer",
    "customers.change_customer",
    "customers.add_customer",
]
LEADER = [
    *REP,
    "customers.review_lead",
    "customers.review_customer",
    "customers.export_lead",
    "customers.export_customer",
    "customers.import_lead",
    "customers.import_customer",
]
GRANTS = {
    "客服专员": ["customers.add_lead"],
    "业务员": REP,
    "销售经理": LEADER,
    "销售总监": LEADER,
    "总经理": ["customers.view_lead", "customers.view_customer", "customers.export_lead", "customers.export_customer"],
    "系统管理员": [*LEADER, "customers.add_lead", "customers.merge_lead", "customers.merge_customer"],
}


def _grant(role_name: str, codes: list[str]) -> None:
    role = Role.objects.filter(name=role_name).first()
    if role is None:
        return
    q = Q()
    for code in codes:
        app, codename = code.split(".", 1)
        q |= Q(content_type__app_label=app, codename=codename)
    role.permissions.add(*Permission.objects.filter(q))


def load() -> dict[str, int]:
    if Chain.objects.filter(form_type=LEAD).exists():
        return {}
    roles = {r.name: r for r in Role.objects.filter(name__in=["销售总监", "销售经理", "业务员"])}
    lead = Chain.objects.create(form_type=LEAD)
    ChainStep.objects.create(
        chain=lead,
        order=1,
        name="总监分配",
        approver_kind=ApproverKind.ROLE,
        role=roles.get("销售总监"),
        assign_role=roles.get("销售经理"),
        approve_label="分配",
    )
    ChainStep.objects.create(
        chain=lead,
        order=2,
        name="经理分配",
        approver_kind=ApproverKind.ASSIGNED,
        assign_role=roles.get("业务员"),
        approve_label="分配",
    )
    customer, _created = Chain.objects.get_or_create(form_type=CUSTOMER)
    if not customer.steps.exists():
        ChainStep.objects.create(
            chain=customer, order=1, name="经理复核", approver_kind=ApproverKind.DEPT_MANAGER, approve_label="提交"
        )
        ChainStep.objects.create(
            chain=customer, order=2, name="总监审批", approver_kind=ApproverKind.DIRECTOR, approve_label="通过"
        )
    for role_name, codes in GRANTS.items():
        _grant(role_name, codes)
    return {"chains": 2}


demo_parts.register(load, order=20)
