"""Audit rows: written explicitly by services and views, never by signals."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import AuditAction, AuditLog


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return sorted(str(v) for v in value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def form_fields(form: Any) -> list[str]:
    """The fields of a ModelForm that are fields of its model (a form may add its own, like a confirmation)."""
    names = {f.name for f in form._meta.model._meta.get_fields()}
    return [name for name in form.fields if name in names]


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The audited values of ``fields``; many-to-many fields as sorted labels."""
    data: dict[str, Any] = {}
    for name in fields:
        field = instance._meta.get_field(name)
        if field.many_to_many:
            data[name] = _plain(list(getattr(instance, name).all())) if instance.pk else []
        else:
            data[name] = _plain(getattr(instance, name))
    return data


def snapshot_stored(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The audited values as stored in the database (a bound form may already have changed ``instance``)."""
    if instance.pk is None:
        return {}
    stored = type(instance)._default_manager.select_for_update().get(pk=instance.pk)
    return snapshot(stored, fields)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Field by field: ``{field: [old, new]}`` for what changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


@contextmanager
def audited(
    *, actor: Any, obj: models.Model, fields: Iterable[str], request: HttpRequest | None = None
) -> Iterator[dict[str, Any]]:
    """Audit the create or update of ``obj`` done inside the block, field by field.

    The stored values are read before the block and the saved ones after it; a row is written for a create,
    or for an update that changed something. The block may add entries to the yielded dict (e.g. the items
    of a dictionary), which count as changes too."""
    fields = tuple(fields)
    created = obj.pk is None
    before = snapshot_stored(obj, fields)
    extra: dict[str, Any] = {}
    yield extra
    changes = {**diff(before, snapshot(obj, fields)), **extra}
    if created or changes:
        action = AuditAction.CREATE if created else AuditAction.UPDATE
        audit(actor=actor, action=action, obj=obj, changes=changes, request=request)


def audit(
    *,
    actor: Any,
    action: AuditAction | str,
    obj: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    object_repr: str = "",
) -> AuditLog:
    if actor is None and request is not None:
        actor = getattr(request, "auth", None)  # an API client (crm.core.api), named in the row
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditLog.objects.create(
        actor=actor_obj,
        actor_name=(
            getattr(actor_obj, "full_name", "")
            or getattr(actor_obj, "username", "")
            or getattr(actor, "audit_name", "")  # an API client
        )[:64],
        action=action,
        content_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:200],
        changes=changes or {},
        ip=client_ip(request),
    )


# ---------------------------------------------------------------------------------------------------
# Reading a row
# ---------------------------------------------------------------------------------------------------

# What the services write under names of their own (not a field of the audited model).
CHANGE_LABELS = {
    "accounts": gettext_lazy("账户数"),
    "amount": gettext_lazy("金额"),
    "anniversaries": gettext_lazy("纪念日"),
    "applications": gettext_lazy("申请单数"),
    "category": gettext_lazy("消费类别"),
    "down": gettext_lazy("降级"),
    "family": gettext_lazy("家庭成员"),
    "filter": gettext_lazy("查询条件"),
    "followups": gettext_lazy("跟踪记录"),
    "form_type": gettext_lazy("申请单类型"),
    "handover_to": gettext_lazy("待办转交给"),
    "imported": gettext_lazy("导入"),
    "items": gettext_lazy("字典项"),
    "key": gettext_lazy("密钥"),
    "level": gettext_lazy("等级"),
    "masked": gettext_lazy("脱敏"),
    "merged": gettext_lazy("合并掉的记录"),
    "moved": gettext_lazy("转过来的资料"),
    "note": gettext_lazy("说明"),
    "offset": gettext_lazy("冲销"),
    "order_no": gettext_lazy("订单号"),
    "points": gettext_lazy("积分"),
    "properties": gettext_lazy("房产"),
    "reason": gettext_lazy("原因"),
    "refund_of": gettext_lazy("原消费"),
    "removed": gettext_lazy("删除"),
    "round": gettext_lazy("轮次"),
    "rows": gettext_lazy("行数"),
    "skipped": gettext_lazy("未导入"),
    "source": gettext_lazy("来源"),
    "status": gettext_lazy("状态"),
    "steps": gettext_lazy("审批步骤"),
    "up": gettext_lazy("升级"),
    "upgrades": gettext_lazy("升级"),
    "vehicles": gettext_lazy("车辆"),
}


def readable_changes(entry: AuditLog) -> list[tuple[str, str]]:
    """An audit row's changes as a person reads them: each field by its label, coded values (a status, a
    category) by their labels, yes/no for a flag, a change as "old → new"."""
    model = entry.content_type.model_class() if entry.content_type else None
    own = getattr(model, "audit_display", None)  # a model may say how its values read (codes of its own)
    out = []
    for name, value in (entry.changes or {}).items():
        field = _field(model, name)
        label = str(field.verbose_name) if field is not None else str(CHANGE_LABELS.get(name, name))

        def shown(v: Any, name: str = name, field: Any = field) -> str:
            text = own(name, v) if own is not None else None
            return text if text is not None else _shown(field, v)

        if isinstance(value, list) and len(value) == 2:  # [old, new]: how every change is written
            out.append((label, f"{shown(value[0])} → {shown(value[1])}"))
        else:
            out.append((label, shown(value)))
    return out


def _field(model: type[models.Model] | None, name: str) -> Any:
    """The model's own field of that name (not a relation pointing at the model, like a dictionary's items)."""
    if model is None:
        return None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if hasattr(field, "verbose_name") else None


def _shown(field: Any, value: Any) -> str:
    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, dict):
        return "、".join(f"{CHANGE_LABELS.get(k, k)} {_shown(None, v)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(_shown(field, v) for v in value)
    choices = dict(field.flatchoices) if field is not None and getattr(field, "choices", None) else {}
    return str(choices.get(value, value))
