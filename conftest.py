"""Fixtures shared by every test module (unit, integration, scope matrix)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings as hypothesis_settings

os.environ.setdefault("CRM_TESTING", "1")

# In CI the property tests draw the same examples every run (a red build must mean a change broke
# something); on a developer's machine they explore new examples each time.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _fast_hashing(settings: pytest.FixtureRequest) -> None:
    # Argon2 is for production; one test checks its parameters. Everything else hashes fast.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture
def demo(db: None) -> dict[str, int]:
    from crm.accounts.demo import load_demo

    return load_demo()


@pytest.fixture
def people(demo: dict[str, int]) -> dict[str, object]:
    """The demo people by login name."""
    from crm.accounts.models import User

    return {u.username: u for u in User.objects.select_related("department")}


@pytest.fixture
def client_for(client: object, people: dict[str, object]):
    """A test client logged in as a demo person whose initial password has been changed."""
    from django.test import Client

    def make(username: str) -> Client:
        from crm.accounts.models import User

        user = User.objects.get(username=username)
        if user.initial_password_set_at is not None:
            user.initial_password_set_at = None
            user.set_password("Club-2026-test")
            user.save()
        c = Client()
        c.force_login(user)
        return c

    return make
