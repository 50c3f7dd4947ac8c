from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import QuerySet


class RoleBackend(ModelBackend):
    """Django's model backend with a person's roles standing where Django has groups. Permissions come from
    roles only (there are no per-person grants), and the person is loaded with department and position, which
    every page shows: two queries fewer on each request."""

    def _get_user_permissions(self, user_obj: Any) -> QuerySet[Permission]:
        return Permission.objects.none()

    def _get_group_permissions(self, user_obj: Any) -> QuerySet[Permission]:
        return Permission.objects.filter(crm_roles__users=user_obj)

    def get_user(self, user_id: Any) -> Any:
        from .models import User

        user = User._default_manager.select_related("department", "position").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
