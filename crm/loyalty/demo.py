"""The loyalty module's part of the demo: the 积分调整 approval chain (the applicant's department head, and
the general manager as well above 10,000 points either way) and the permissions of the demo roles. Runs once:
a database that already has the chain is left alone."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db.models import Q

from crm.accounts.models import Role
from crm.core.demo import demo_parts
from crm.workflow.models import ApproverKind, Chain, ChainStep, ConditionOp

from .formtypes import POINTS_ADJUST

VIEW = [
    "loyalty.view_consumption",
    "loyalty.view_pointsentry",
    "loyalty.view_pointsaccount",
    "loyalty.view_memberlevel",
]
REP = [*VIEW, "loyalty.add_pointsadjustment"]
LEADER = [*REP, "loyalty.export_consumption", "loyalty.export_pointsentry"]
GRANTS = {
    "业务员": REP,
    "销售经理": LEADER,
    "销售总监": LEADER,
    "总经理": [*VIEW, "loyalty.export_consumption", "loyalty.export_pointsentry"],
    "系统管理员": [*LEADER, "loyalty.view_loyaltysettings", "loyalty.change_loyaltysettings"],
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
    if Chain.objects.filter(form_type=POINTS_ADJUST).exists():
        return {}
    chain = Chain.objects.create(form_type=POINTS_ADJUST)
    ChainStep.objects.create(
        chain=chain, order=1, name="部门负责人审核", approver_kind=ApproverKind.DEPT_MANAGER, approve_label="通过"
    )
    ChainStep.objects.create(
        chain=chain,
        order=2,
        name="总经理审批",
        approver_kind=ApproverKind.ROLE,
        role=Role.objects.filter(name="总经理").first(),
        condition_field="magnitude",
        condition_op=ConditionOp.GT,
        condition_value="10000",
        approve_label="通过",
    )
    for role_name, codes in GRANTS.items():
        _grant(role_name, codes)
    return {"chains": 1}


demo_parts.register(load, order=30)
