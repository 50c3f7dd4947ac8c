"""The demo organisation (issue: foundation) — used by people trying the product and by the browser tests."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Q

from crm.core.datagen import People
from crm.core.demo import demo_parts
from crm.core.menu import menu
from crm.core.models import DictItem, DictType
from crm.core.scope import DataScope

from .models import Department, Position, Role, User
from .services import department_save, user_create

DEPARTMENTS = [  # (name, parent)
    ("总经办", None),
    ("销售部", None),
    ("销售一组", "销售部"),
    ("销售二组", "销售部"),
    ("客服部", None),
    ("市场部", None),
    ("财务部", None),
    ("行政采购部", None),
]
POSITIONS = [
    "系统管理员",
    "总经理",
    "销售总监",
    "销售经理",
    "业务员",
    "客服专员",
    "市场专员",
    "财务专员",
    "仓管",
]

VIEW_ALL = [
    "accounts.view_user",
    "accounts.view_department",
    "accounts.view_position",
    "accounts.view_role",
    "core.view_auditlog",
    "core.view_dicttype",
    "core.view_sensitive",
    "workflow.view_application",
    "workflow.view_chain",
]
LEADER = ["accounts.view_user", "workflow.view_application"]
ROLES: list[tuple[str, str, str, list[str] | None]] = [  # name, scope, description, permissions (None = all)
    ("系统管理员", DataScope.ALL, "系统管理的全部功能", None),
    ("总经理", DataScope.ALL, "查看全公司的数据", VIEW_ALL),
    ("销售总监", DataScope.DEPT_TREE, "销售部及下属各组的数据", LEADER),
    ("销售经理", DataScope.SELF_AND_SUBORDINATES, "本人及组员的数据", LEADER),
    ("业务员", DataScope.SELF, "仅本人的数据", []),
    ("客服专员", DataScope.SELF, "仅本人的数据", []),
    ("市场专员", DataScope.SELF, "仅本人的数据", []),
    ("财务专员", DataScope.SELF, "仅本人的数据", []),
    ("仓管", DataScope.SELF, "仅本人的数据", []),
]
# full name, login name ("" = the full name), department, position, role, manages the department
PEOPLE = [
    ("赵志刚", "", "总经办", "总经理", "总经理", True),
    ("管理员", "", "总经办", "系统管理员", "系统管理员", False),
    ("王建国", "", "销售部", "销售总监", "销售总监", True),
    ("李明", "", "销售一组", "销售经理", "销售经理", True),
    ("张伟", "", "销售一组", "业务员", "业务员", False),
    ("刘洋", "", "销售一组", "业务员", "业务员", False),
    ("周丽", "", "销售二组", "销售经理", "销售经理", True),
    ("杨帆", "", "销售二组", "业务员", "业务员", False),
    ("张伟", "张伟(销售二组)", "销售二组", "业务员", "业务员", False),
    ("陈静", "", "客服部", "客服专员", "客服专员", False),
    ("黄敏", "", "市场部", "市场专员", "市场专员", False),
    ("吴芳", "", "财务部", "财务专员", "财务专员", False),
    ("孙强", "", "行政采购部", "仓管", "仓管", False),
]
DICTIONARIES = {
    ("customer_source", "客户来源"): [
        "转介绍",
        "居间商",
        "促销",
        "搜索引擎",
        "广告",
        "线上注册",
        "线上询价",
        "预约上门",
        "陌拜",
        "电话咨询",
        "活动",
    ],
    ("followup_method", "跟进方式"): ["电话", "到访", "微信", "短信", "邮件", "活动"],
    ("hobby", "兴趣爱好"): [
        "高尔夫",
        "茶道",
        "红酒",
        "雪茄",
        "书画收藏",
        "游艇",
        "马术",
        "旅游",
        "摄影",
        "垂钓",
    ],
    ("customer_level", "客户级别"): ["A(重点客户)", "B(普通客户)", "C(非优先客户)"],
    ("intent_level", "意向等级"): ["高", "中", "低", "未知"],
    ("close_reason", "关闭原因"): ["无意向", "长期联系不上", "已在他处入会", "重复登记", "其他"],
    ("industry", "客户行业"): ["IT", "金融业", "房地产", "商业服务", "运输/物流", "生产", "政府", "文化传媒"],
    ("income_band", "年收入区间"): ["<50万", "50–100万", "100–300万", "300–1000万", ">1000万"],
}


def _permissions(codes: list[str] | None) -> list[Permission]:
    if codes is None:
        codes = sorted({c for node, _ in menu.walk() for c in node.all_permissions})
    q = Q()
    for code in codes:
        app, codename = code.split(".", 1)
        q |= Q(content_type__app_label=app, codename=codename)
    return list(Permission.objects.filter(q)) if codes else []


@transaction.atomic
def load_demo(*, seed: int = 2016) -> dict[str, int]:
    """Create what is missing of the demo organisation; never changes what exists. Returns counts created."""
    created = {"departments": 0, "roles": 0, "users": 0, "dictionaries": 0}
    depts: dict[str, Department] = {}
    for name, parent in DEPARTMENTS:
        existing = Department.objects.filter(name=name, parent=depts.get(parent) if parent else None).first()
        if existing is None:
            existing = department_save(
                actor=None,
                department=Department(),
                data={"name": name, "parent": depts.get(parent) if parent else None, "sort": len(depts)},
            )
            created["departments"] += 1
        depts[name] = existing
    positions = {}
    for i, name in enumerate(POSITIONS):
        positions[name], _ = Position.objects.get_or_create(name=name, defaults={"sort": i})
    roles = {}
    for name, scope, description, perms in ROLES:
        role, was_created = Role.objects.get_or_create(
            name=name, defaults={"data_scope": scope, "description": description}
        )
        if was_created:
            role.permissions.set(_permissions(perms))
            created["roles"] += 1
        roles[name] = role
    people = People(seed)
    for full_name, login, dept, position, role_name, manages in PEOPLE:
        username = login or full_name
        user = User.objects.filter(username=username).first()
        if user is None:
            user, _pw = user_create(
                actor=None,
                full_name=full_name,
                username=username,
                mobile=people.mobile(),
                department=depts[dept],
                position=positions[position],
                roles=[roles[role_name]],
            )
            if role_name == "系统管理员":
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["is_staff", "is_superuser"])
            created["users"] += 1
        if manages and depts[dept].manager_id is None:
            Department.objects.filter(pk=depts[dept].pk).update(manager=user)
    for (code, name), labels in DICTIONARIES.items():
        dict_type, was_created = DictType.objects.get_or_create(code=code, defaults={"name": name})
        if was_created:
            DictItem.objects.bulk_create(
                DictItem(dict_type=dict_type, code=f"{i + 1:02d}", label=label, sort=i + 1)
                for i, label in enumerate(labels)
            )
            created["dictionaries"] += 1
    created.update(demo_parts.load_all())
    return created
