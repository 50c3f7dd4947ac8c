from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class NotInitialPasswordValidator:
    """The new password may not be the initial one (123456 or whatever the club configured)."""

    def validate(self, password: str, user: Any = None) -> None:
        initial = settings.CRM_INITIAL_PASSWORD
        if initial != "random" and password == initial:
            raise ValidationError(_("新密码不能与初始密码相同。"), code="password_is_initial")

    def get_help_text(self) -> str:
        return _("新密码不能是初始密码。")
