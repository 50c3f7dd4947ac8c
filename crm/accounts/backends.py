from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import QuerySet


class RoleBackend(ModelBackend):
    """Django's model backend, with a user's roles standing where Django has groups."""

    def _get_group_permissions(self, user_obj: Any) -> QuerySet[Permission]:
        return Permission.objects.filter(crm_roles__users=user_obj)
