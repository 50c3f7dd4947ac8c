"""Masking of personal data in lists and exports for roles without the right to see it."""

from __future__ import annotations

from typing import Any

SENSITIVE_PERMISSION = "core.view_sensitive"


def can_see_sensitive(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(SENSITIVE_PERMISSION))


def mask_mobile(value: str | None) -> str:
    if not value:
        return ""
    value = str(value)
    if len(value) < 7:
        return "*" * len(value)
    return f"{value[:3]}****{value[-4:]}"


def mask_id_number(value: str | None) -> str:
    if not value:
        return ""
    value = str(value)
    if len(value) < 10:
        return "*" * len(value)
    return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:]}"


MASKS = {"mobile": mask_mobile, "id_number": mask_id_number}


def mask(kind: str, value: str | None) -> str:
    return MASKS[kind](value)


def mask_form(form: Any, viewer: Any) -> None:
    """Show the mobile and ID number of a form's read-only (disabled) fields masked, as lists and exports show
    them, to a viewer without the right to see them in full. A disabled field's posted value is ignored, so the
    mask can never be saved."""
    if can_see_sensitive(viewer):
        return
    for name in MASKS:
        field = form.fields.get(name)
        if field is not None and field.disabled:
            form.initial[name] = mask(name, form.get_initial_for_field(field, name))
