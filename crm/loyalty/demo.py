"""The loyalty module's part of the demo: the 积分调整 approval chain (the applicant's department head, and
the general manager as well above 10,000 points either way) and the permissions of the demo roles. Runs once:
a database that already has the chain is left alone.

Consumption by hand (消费录入, 【退款】, 【导入】) is the club's cashiers' work, not the sales reps': a rep does not
enter the sales that raise his own members' levels. The demo gives it a role of its own, 前台收银, reaching every
member (a rep's 仅本人 scope would find none but their own), held by 吴芳 of 财务部 beside her 财务专员 role; and
to 系统管理员."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db.models import Q

from crm.accounts.models import Role, User
from crm.core.demo import demo_parts
from crm.core.scope import DataScope
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
CASHIER = [
    "loyalty.view_consumption",
    "loyalty.add_consumption",
    "loyalty.refund_consumption",
    "loyalty.import_consumption",
    "loyalty.export_consumption",
    "loyalty.view_pointsentry",
    "loyalty.view_pointsaccount",
    "loyalty.view_memberlevel",
]
CASHIER_ROLE = "前台收银"
CASHIER_PEOPLE = ["吴芳"]
GRANTS = {
    "业务员": REP,
    "销售经理": LEADER,
    "销售总监": LEADER,
    "总经理": [*VIEW, "loyalty.export_consumption", "loyalty.export_pointsentry"],
    "系统管理员": [*LEADER, *CASHIER, "loyalty.view_loyaltysettings", "loyalty.change_loyaltysettings"],
    CASHIER_ROLE: CASHIER,
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
    cashier, _created = Role.objects.get_or_create(
        name=CASHIER_ROLE,
        defaults={"data_scope": DataScope.ALL, "description": "会员消费的录入、退款与导入(全部会员)"},
    )
    for user in User.objects.filter(username__in=CASHIER_PEOPLE):
        user.roles.add(cashier)
    for role_name, codes in GRANTS.items():
        _grant(role_name, codes)
    return {"chains": 1}


demo_parts.register(load, order=30)
