"""The administration pages in the app's own shell: users, departments, positions, roles, dictionaries."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from crm.accounts.forms import permission_label
from crm.accounts.models import Department, Position, Role, User
from crm.accounts.selectors import grant_for_user
from crm.core.models import AuditAction, AuditLog, DictType
from crm.core.scope import DataScope

pytestmark = pytest.mark.django_db


def test_create_user_gets_initial_password_and_distinct_login(client_for) -> None:
    admin = client_for("管理员")
    dept = Department.objects.get(name="销售二组")
    rep = Role.objects.get(name="业务员")
    data = {"full_name": "李明", "department": dept.pk, "roles": [rep.pk], "mobile": "13912345678", "is_active": "on"}
    r = admin.post(reverse("accounts:user_create"), data)
    assert r.status_code == 422 and "已有同名用户:李明(销售一组" in r.content.decode()  # a second 李明: asked first
    r = admin.post(reverse("accounts:user_create"), {**data, "confirm_namesake": "李明"})
    assert r.status_code == 302
    user = User.objects.get(username="李明(销售二组)")
    assert user.full_name == "李明" and user.check_password("123456") and user.has_initial_password
    assert list(user.roles.all()) == [rep]
    body = admin.get(r["Location"]).content.decode()
    assert "初始密码 123456" in body
    entry = AuditLog.objects.get(action=AuditAction.CREATE, object_id=str(user.pk))
    assert entry.actor.username == "管理员" and entry.changes["full_name"] == [None, "李明"]


def test_user_form_errors_are_next_to_the_field(client_for) -> None:
    admin = client_for("管理员")
    r = admin.post(reverse("accounts:user_create"), {"full_name": "", "mobile": "12345", "username": "张伟"})
    assert r.status_code == 422
    form = r.context["form"]
    assert "full_name" in form.errors and "mobile" in form.errors and "department" in form.errors
    assert "手机号应为 11 位数字" in r.content.decode()
    r = admin.post(
        reverse("accounts:user_create"),
        {"full_name": "张伟", "username": "张伟", "department": Department.objects.first().pk},
    )
    assert r.status_code == 422
    assert "登录名" in r.content.decode() and "已被使用" in r.content.decode()
    assert User.objects.filter(full_name="张伟").count() == 2


def test_edit_deactivate_and_reset_password(client_for) -> None:
    admin = client_for("管理员")
    yang = User.objects.get(username="杨帆")
    url = reverse("accounts:user_edit", args=[yang.pk])
    data = {"full_name": "杨帆", "username": "杨帆", "department": yang.department_id, "mobile": "13800001111"}
    r = admin.post(url, data)  # is_active unticked: deactivate
    assert r.status_code == 302
    yang.refresh_from_db()
    assert not yang.is_active and yang.mobile == "13800001111"
    change = AuditLog.objects.filter(action=AuditAction.UPDATE, object_id=str(yang.pk)).latest("id").changes
    assert change["is_active"] == [True, False]
    yang.initial_password_set_at = None
    yang.set_password("Club-2026-abc")
    yang.save()
    r = admin.post(url, {"_action": "reset_password"})
    yang.refresh_from_db()
    assert yang.check_password("123456") and yang.has_initial_password
    assert AuditLog.objects.filter(action=AuditAction.PASSWORD_RESET, object_id=str(yang.pk)).exists()


def test_rep_cannot_open_administration(client_for) -> None:
    rep = client_for("张伟")
    for name in (
        "accounts:user_list",
        "accounts:role_list",
        "accounts:department_tree",
        "core:audit_list",
        "core:dict_list",
        "accounts:user_create",
    ):
        r = rep.get(reverse(name))
        assert r.status_code == 403, name
        assert "权限" in r.content.decode()


def test_viewer_without_change_permission_cannot_save(client_for) -> None:
    boss = client_for("赵志刚")  # 总经理: may view people, not change them
    yang = User.objects.get(username="杨帆")
    r = boss.post(reverse("accounts:user_edit", args=[yang.pk]), {"full_name": "X", "username": "杨帆"})
    assert r.status_code == 403
    assert User.objects.get(pk=yang.pk).full_name == "杨帆"
    assert "没有修改用户的权限" in r.content.decode()


def test_department_tree_and_moving_a_subtree(client_for) -> None:
    admin = client_for("管理员")
    r = admin.get(reverse("accounts:department_tree"))
    assert r.status_code == 200 and "销售一组" in r.content.decode()
    sales = Department.objects.get(name="销售部")
    r = admin.post(reverse("accounts:department_create"), {"name": "大客户部", "sort": 1})
    assert r.status_code == 302
    big = Department.objects.get(name="大客户部")
    r = admin.post(
        reverse("accounts:department_edit", args=[sales.pk]), {"name": "销售部", "parent": big.pk, "sort": 0}
    )
    assert r.status_code == 302
    group = Department.objects.get(name="销售一组")
    assert group.path == f"/{big.pk}/{sales.pk}/{group.pk}/"
    # The director's reach follows the tree.
    wang = User.objects.get(username="王建国")
    assert group.pk in grant_for_user(wang).department_ids
    # A department cannot move under its own subtree.
    r = admin.post(reverse("accounts:department_edit", args=[big.pk]), {"name": "大客户部", "parent": group.pk})
    assert r.status_code == 422
    assert Department.objects.get(pk=big.pk).parent_id is None


def test_department_name_unique_under_parent(client_for) -> None:
    admin = client_for("管理员")
    sales = Department.objects.get(name="销售部")
    r = admin.post(reverse("accounts:department_create"), {"name": "销售一组", "parent": sales.pk})
    assert r.status_code == 422
    assert Department.objects.filter(name="销售一组").count() == 1


def test_role_permissions_grouped_by_menu_and_scope(client_for) -> None:
    admin = client_for("管理员")
    r = admin.get(reverse("accounts:role_create"))
    body = r.content.decode()
    for label in ("用户管理", "审计日志", "数据字典", "角色管理", "查看用户", "重置密码", "查看完整手机号与身份证号"):
        assert label in body
    assert "Can view" not in body
    perm = Permission.objects.get(codename="view_auditlog")
    r = admin.post(
        reverse("accounts:role_create"),
        {"name": "稽核", "data_scope": DataScope.DEPT, "permissions": [perm.pk]},
    )
    assert r.status_code == 302
    role = Role.objects.get(name="稽核")
    assert list(role.permissions.all()) == [perm] and role.data_scope == DataScope.DEPT
    wu = User.objects.get(username="吴芳")
    wu.roles.add(role)
    assert client_for("吴芳").get(reverse("core:audit_list")).status_code == 200


def test_positions(client_for) -> None:
    admin = client_for("管理员")
    r = admin.post(reverse("accounts:position_create"), {"name": "前台", "sort": 20})
    assert r.status_code == 302
    assert Position.objects.filter(name="前台").exists()
    assert "前台" in admin.get(reverse("accounts:position_list")).content.decode()


def test_dictionary_items_edit(client_for) -> None:
    admin = client_for("管理员")
    source = DictType.objects.get(code="customer_source")
    items = list(source.items.all())
    data = {
        "code": source.code,
        "name": source.name,
        "description": "",
        "items-TOTAL_FORMS": str(len(items) + 1),
        "items-INITIAL_FORMS": str(len(items)),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for i, item in enumerate(items):
        data.update(
            {
                f"items-{i}-id": item.pk,
                f"items-{i}-code": item.code,
                f"items-{i}-label": item.label,
                f"items-{i}-sort": item.sort,
                f"items-{i}-is_active": "on",
            }
        )
    n = len(items)
    data.update(
        {f"items-{n}-code": "99", f"items-{n}-label": "老客户推荐", f"items-{n}-sort": 99, f"items-{n}-is_active": "on"}
    )
    r = admin.post(reverse("core:dict_edit", args=[source.pk]), data)
    assert r.status_code == 302
    assert source.items.filter(label="老客户推荐").exists()
    # a duplicate label is refused next to the row, nothing written
    data[f"items-{n}-label"] = items[0].label
    data[f"items-{n}-code"] = "98"
    r = admin.post(reverse("core:dict_edit", args=[source.pk]), data)
    assert r.status_code == 422
    assert not source.items.filter(code="98").exists()


def test_dictionary_selector(demo: object) -> None:
    from crm.core.selectors import dict_choices

    assert ("01", "电话") in dict_choices("followup_method")


def test_department_delete_only_when_empty(client_for) -> None:
    admin = client_for("管理员")
    group = Department.objects.get(name="销售一组")
    r = admin.post(reverse("accounts:department_edit", args=[group.pk]), {"_action": "delete"})
    assert r.status_code == 422
    assert "还有人员" in r.content.decode()
    sales = Department.objects.get(name="销售部")
    r = admin.post(reverse("accounts:department_edit", args=[sales.pk]), {"_action": "delete"})
    assert "还有下级部门" in r.content.decode()
    admin.post(reverse("accounts:department_create"), {"name": "临时组", "parent": sales.pk, "sort": 0})
    temp = Department.objects.get(name="临时组")
    r = admin.post(reverse("accounts:department_edit", args=[temp.pk]), {"_action": "delete"})
    assert r.status_code == 302
    assert not Department.objects.filter(name="临时组").exists()
    assert AuditLog.objects.filter(action=AuditAction.DELETE, object_repr="临时组").exists()
    # from a tab (htmx): the tab shows the tree again and open lists refresh
    admin.post(reverse("accounts:department_create"), {"name": "临时二组", "parent": sales.pk, "sort": 0})
    temp = Department.objects.get(name="临时二组")
    r = admin.post(reverse("accounts:department_edit", args=[temp.pk]), {"_action": "delete"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and r["HX-Trigger"] == "crm:changed"
    assert "部门「临时二组」已删除" in r.content.decode() and "销售一组" in r.content.decode()
    # without the permission nothing is deleted
    Department.objects.create(name="另一组", parent=sales, path="/")
    other = Department.objects.get(name="另一组")
    r = client_for("赵志刚").post(reverse("accounts:department_edit", args=[other.pk]), {"_action": "delete"})
    assert r.status_code == 403 and Department.objects.filter(pk=other.pk).exists()


def test_permissions_come_from_roles_only(people: dict[str, User]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.accounts.backends import RoleBackend

    zhang = people["张伟"]
    zhang.user_permissions.add(Permission.objects.get(codename="view_auditlog"))
    fresh = RoleBackend().get_user(zhang.pk)
    assert not fresh.has_perm("core.view_auditlog")
    with CaptureQueriesContext(connection) as ctx:
        fresh = RoleBackend().get_user(zhang.pk)
        assert fresh.department.name == "销售一组" and fresh.position.name == "业务员"
        fresh.has_perm("accounts.view_user")
    assert len(ctx.captured_queries) == 2  # the person (with department and position), the roles' permissions
    fresh.is_active = False
    fresh.save()
    assert RoleBackend().get_user(zhang.pk) is None


def _ticked(response) -> list[int]:
    """The boxes a browser would post back: those the page shows ticked."""
    return [perm.pk for _g, boxes, _f in response.context["form"].permission_groups() for perm, _l, on in boxes if on]


def _role_data(role: Role, permissions: list[int]) -> dict[str, object]:
    return {
        "name": role.name,
        "data_scope": role.data_scope,
        "description": role.description,
        "permissions": permissions,
    }


def _codes(role: Role) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.select_related("content_type")}


def test_role_page_offers_every_permission_a_role_holds(client_for) -> None:
    admin = client_for("管理员")
    rep = Role.objects.get(name="业务员")
    before = _codes(rep)
    assert {"loyalty.add_pointsadjustment", "loyalty.view_memberlevel"} <= before
    url = reverse("accounts:role_edit", args=[rep.pk])
    r = admin.get(url)
    offered = {p.pk for g in r.context["form"].groups for p in g.permissions}
    for role in Role.objects.all():  # every demo role's every permission has a box
        assert set(role.permissions.values_list("pk", flat=True)) <= offered, role.name
    groups = {g.label: g for g in r.context["form"].groups}
    assert [permission_label(p) for p in groups["我的申请"].permissions] == ["新增积分调整"]
    assert groups["我的申请"].path == "业务审批"
    assert "查看会员等级" in [permission_label(p) for p in groups["其他权限"].permissions]
    body = r.content.decode()
    assert "新增积分调整" in body and "查看会员等级" in body
    # 【保存】 without a change keeps the role as it was
    r = admin.post(url, _role_data(rep, _ticked(r)))
    assert r.status_code == 302 and _codes(rep) == before
    # unticked, the permission goes; ticked again, it comes back
    adjust = Permission.objects.get(codename="add_pointsadjustment")
    kept = [pk for pk in _ticked(admin.get(url)) if pk != adjust.pk]
    admin.post(url, _role_data(rep, kept))
    assert _codes(rep) == before - {"loyalty.add_pointsadjustment"}
    assert "新增积分调整" not in client_for("张伟").get(reverse("workflow:mine")).content.decode()
    admin.post(url, _role_data(rep, [*kept, adjust.pk]))
    assert _codes(rep) == before
    assert "新增积分调整" in client_for("张伟").get(reverse("workflow:mine")).content.decode()


def test_saving_a_role_keeps_what_the_page_does_not_offer(client_for, monkeypatch) -> None:
    from crm.accounts import forms

    shown = forms.grouped_permissions
    monkeypatch.setattr(forms, "grouped_permissions", lambda: [g for g in shown() if g.label != "其他权限"])
    rep = Role.objects.get(name="业务员")
    r = client_for("管理员").post(reverse("accounts:role_edit", args=[rep.pk]), _role_data(rep, []))
    assert r.status_code == 302
    assert _codes(rep) == {"loyalty.view_memberlevel"}  # not on the page: kept; every offered one: unticked


def test_a_permission_several_menu_nodes_need_has_one_box(client_for) -> None:
    admin = client_for("管理员")
    rep = Role.objects.get(name="业务员")
    url = reverse("accounts:role_edit", args=[rep.pk])
    r = admin.get(url)
    view_lead = Permission.objects.get(codename="view_lead")
    body = r.content.decode()
    assert body.count(f'name="permissions" value="{view_lead.pk}"') == 1
    assert body.count("查看潜在客户(在「潜在客户跟踪」中勾选)") == 3  # 本周新增/待跟踪/已跟客户
    groups = {(g.path, g.label): g for g in r.context["form"].groups}
    weekly = groups[("客户管理 › 潜在客户管理 › 潜在客户跟踪", "本周新增客户")]
    assert weekly.permissions == [] and weekly.follows == [(view_lead, "潜在客户跟踪")]
    r = admin.post(url, _role_data(rep, [pk for pk in _ticked(r) if pk != view_lead.pk]))
    assert r.status_code == 302
    assert "customers.view_lead" not in _codes(rep) and "customers.view_customer" in _codes(rep)


@pytest.mark.parametrize(
    ("create", "edit", "data", "model"),
    [
        ("accounts:user_create", "accounts:user_edit", {"full_name": "孔一", "is_active": "on"}, User),
        ("accounts:department_create", "accounts:department_edit", {"name": "临时部门", "sort": 0}, Department),
        ("accounts:position_create", "accounts:position_edit", {"name": "临时岗位", "sort": 0}, Position),
    ],
)
def test_a_record_created_in_its_tab_becomes_that_records_page(client_for, create, edit, data, model) -> None:
    admin = client_for("管理员")
    if model is User:
        data = {**data, "department": Department.objects.get(name="市场部").pk}
    r = admin.post(reverse(create), data, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    saved = model.objects.latest("pk")
    url = reverse(edit, args=[saved.pk])
    body = r.content.decode()
    # the form now posts to the record, and the tab takes the record's address and title
    assert f'hx-post="{url}"' in body and reverse(create) not in body
    assert f'data-crm-url="{url}"' in body and f'data-crm-title="{saved}"' in body
    count = model.objects.count()
    if model is User:
        data = {**data, "username": saved.username, "mobile": "13912345678"}
    r = admin.post(url, data, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and model.objects.count() == count
    if model is User:
        saved.refresh_from_db()
        assert saved.mobile == "13912345678"


def test_reset_password_and_delete_department_ask_first(client_for) -> None:
    admin = client_for("管理员")
    yang = User.objects.get(username="杨帆")
    body = admin.get(reverse("accounts:user_edit", args=[yang.pk])).content.decode()
    assert 'value="reset_password" data-confirm="重置后「杨帆」的密码将改为初始密码' in body
    empty = Department.objects.create(name="临时组", parent=Department.objects.get(name="销售部"))
    body = admin.get(reverse("accounts:department_edit", args=[empty.pk])).content.decode()
    assert 'value="delete" data-confirm="删除「临时组」?删除后不能恢复。"' in body


def test_two_top_level_departments_may_not_share_a_name(client_for) -> None:
    admin = client_for("管理员")
    top = Department.objects.filter(parent=None).first()
    assert top is not None
    r = admin.post(reverse("accounts:department_create"), {"name": top.name, "sort": 0})
    assert r.status_code == 422
    assert f"已有名为「{top.name}」的顶级部门,请换一个名称。" in r.content.decode()
    assert r.context["form"]["name"].value() == top.name
    assert Department.objects.filter(name=top.name).count() == 1
    # saving the department itself is no clash
    r = admin.post(reverse("accounts:department_edit", args=[top.pk]), {"name": top.name, "sort": 1})
    assert r.status_code == 302


def test_role_changes_are_audited_by_the_labels_of_the_role_page(client_for) -> None:
    admin = client_for("管理员")
    rep = Role.objects.get(name="业务员")
    url = reverse("accounts:role_edit", args=[rep.pk])
    adjust = Permission.objects.get(codename="add_pointsadjustment")
    view_user = Permission.objects.get(codename="view_user", content_type__app_label="accounts")
    ticked = [pk for pk in _ticked(admin.get(url)) if pk != adjust.pk]
    admin.post(url, _role_data(rep, [*ticked, view_user.pk]))
    entry = AuditLog.objects.filter(action=AuditAction.UPDATE, object_id=str(rep.pk)).latest("id")
    assert entry.changes == {"permissions": [["新增积分调整"], ["查看用户"]]}  # what was taken away, what was given


def test_a_user_page_read_only_masks_the_mobile_as_the_list_does(client_for, people) -> None:
    User.objects.filter(username="张伟").update(mobile="17363492030")
    page = client_for("李明").get(reverse("accounts:user_edit", args=[people["张伟"].pk])).content.decode()
    assert "173****2030" in page and "17363492030" not in page
    assert (
        "17363492030"
        in client_for("管理员").get(reverse("accounts:user_edit", args=[people["张伟"].pk])).content.decode()
    )
