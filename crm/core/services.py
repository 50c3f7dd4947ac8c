"""Writes of the core app: dictionaries, API clients."""

from __future__ import annotations

from typing import Any

from django.db import router, transaction
from django.db.models.deletion import Collector, ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from .audit import audit, audited
from .models import ApiClient, AuditAction, DictItem, DictType

DICT_FIELDS = ("code", "name", "description")


class DictItemInUse(ValueError):
    """A dictionary item ticked for deletion that records still use: nothing is saved."""


@transaction.atomic
def dict_type_save(*, actor: Any, form: Any, items: Any, request: Any = None) -> DictType:
    """Save a dictionary and its items (a bound ModelForm and inline formset, both valid). An item records
    still use is not deleted (``DictItemInUse``, nothing saved): it can be switched off instead."""
    before_items = _item_labels(form.instance) if form.instance.pk else []
    with audited(actor=actor, obj=form.instance, fields=DICT_FIELDS, request=request) as changes:
        dict_type = form.save()
        items.instance = dict_type
        try:
            items.save()
        except ProtectedError:
            used = [f.instance.label for f in items.deleted_forms if _in_use(f.instance)]
            raise DictItemInUse(
                _("「%(items)s」已有记录在用,不能删除;如不再使用,请取消它的「启用」。") % {"items": "、".join(used)}
            ) from None
        after_items = _item_labels(dict_type)
        if after_items != before_items:
            changes["items"] = [before_items, after_items]
    return dict_type


def _in_use(item: DictItem) -> bool:
    try:
        Collector(using=router.db_for_write(DictItem)).collect([item])
    except ProtectedError:
        return True
    return False


def _item_labels(dict_type: DictType) -> list[str]:
    disabled = _("(停用)")
    return [f"{i.code}:{i.label}{'' if i.is_active else disabled}" for i in dict_type.items.order_by("sort", "id")]


# ---------------------------------------------------------------------------------------------------
# API clients (系统管理 › 接口客户端)
# ---------------------------------------------------------------------------------------------------

API_CLIENT_FIELDS = ("name", "operations", "is_active", "note")


class ApiClientRefused(ValueError):
    pass


def _check_operations(operations: list[str]) -> list[str]:
    from .api import OPERATIONS

    unknown = [op for op in operations if op not in OPERATIONS]
    if unknown:
        raise ApiClientRefused(_("未知的接口操作:%(ops)s。") % {"ops": "、".join(unknown)})
    return sorted(set(operations))


@transaction.atomic
def api_client_create(
    *, actor: Any, name: str, operations: list[str], note: str = "", request: Any = None
) -> tuple[ApiClient, str]:
    """A new client and its key. The key is returned once, here, and never stored."""
    from .api import new_key

    name = " ".join((name or "").split())
    if not name:
        raise ApiClientRefused(_("请填写接口客户端的名称。"))
    if ApiClient.objects.filter(name=name).exists():
        raise ApiClientRefused(_("已有名为「%(name)s」的接口客户端。") % {"name": name})
    key, prefix, digest = new_key()
    client = ApiClient(
        name=name[:100],
        operations=_check_operations(operations),
        note=(note or "")[:200],
        key_prefix=prefix,
        key_hash=digest,
        key_created_at=timezone.now(),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    with audited(actor=actor, obj=client, fields=API_CLIENT_FIELDS, request=request):
        client.save()
    return client, key


@transaction.atomic
def api_client_save(*, actor: Any, form: Any, request: Any = None) -> ApiClient:
    """Save a client's name, operations, enabled flag and note (a bound, valid ModelForm)."""
    _check_operations(form.cleaned_data.get("operations") or [])
    with audited(actor=actor, obj=form.instance, fields=API_CLIENT_FIELDS, request=request):
        client: ApiClient = form.save()
    return client


@transaction.atomic
def api_client_new_key(*, actor: Any, client: ApiClient, request: Any = None) -> str:
    """Replace a client's key: the old one stops working at once. Returns the new key, shown once."""
    from .api import new_key

    key, prefix, digest = new_key()
    ApiClient.objects.filter(pk=client.pk).update(key_prefix=prefix, key_hash=digest, key_created_at=timezone.now())
    client.refresh_from_db()
    audit(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=client,
        changes={"key": [_("旧密钥"), _("新密钥")]},
        request=request,
    )
    return key
