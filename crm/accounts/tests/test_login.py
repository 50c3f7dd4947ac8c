"""Login by Chinese full name, initial password, policy, lockout, sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.accounts.models import Department, User
from crm.core.models import AuditAction, AuditLog

pytestmark = pytest.mark.django_db

LOGIN = "/CRM/login/"
PASSWORD = "/CRM/self-service/password/"
NEW = "Club-2026-safe"


def login(client: Client, username: str, password: str = "123456"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR="10.0.0.5")


def change_password(client: Client, old: str = "123456", new: str = NEW):
    return client.post(PASSWORD, {"old_password": old, "new_password1": new, "new_password2": new})


def test_initial_password_only_opens_the_change_page(client: Client, demo: object) -> None:
    r = login(client, "张伟")
    assert r.status_code == 302
    for url in ("/CRM/", "/CRM/system/users/", "/CRM/system/audit/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"] == PASSWORD
    # htmx requests are redirected by header, not by a swapped-in page
    r = client.get("/CRM/", HTTP_HX_REQUEST="true")
    assert r["HX-Redirect"] == PASSWORD
    assert client.get(PASSWORD).status_code == 200
    r = change_password(client)
    assert r.status_code == 302
    assert client.get("/CRM/").status_code == 200
    user = User.objects.get(username="张伟")
    assert user.initial_password_set_at is None and user.password_changed_at is not None
    assert AuditLog.objects.filter(action=AuditAction.PASSWORD_CHANGE, actor=user).count() == 1


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("123456", "初始密码"),
        ("abc12", "至少"),
        ("password1", "太常见"),
        ("12345678901", "全是数字"),
    ],
)
def test_password_policy(client: Client, demo: object, new: str, message: str) -> None:
    login(client, "刘洋")
    r = change_password(client, new=new)
    assert r.status_code == 422
    assert message in r.content.decode()
    assert User.objects.get(username="刘洋").initial_password_set_at is not None


def test_wrong_old_password_is_explained(client: Client, demo: object) -> None:
    login(client, "刘洋")
    r = change_password(client, old="000000")
    assert r.status_code == 422
    assert "原密码不正确" in r.content.decode()


def test_wrong_password_is_refused_and_audited(client: Client, demo: object) -> None:
    r = login(client, "李明", "wrong-password")
    assert r.status_code == 401
    assert "姓名或密码不正确" in r.content.decode()
    assert AuditLog.objects.filter(action=AuditAction.LOGIN_FAILED, object_repr="李明").exists()
    assert "_auth_user_id" not in client.session


def test_ambiguous_name_is_explained(client: Client, demo: object) -> None:
    r = login(client, "张伟", "wrong-password")
    body = r.content.decode()
    assert "2 位名叫「张伟」" in body
    assert "「张伟(销售二组)」" in body
    r = login(Client(), "张伟(销售二组)")
    assert r.status_code == 302


def test_lockout_on_username_and_ip_then_unlock(client: Client, demo: object, client_for) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "周丽", "wrong-password")
    r = login(client, "周丽")  # even the right password is refused while locked
    assert r.status_code == 429
    assert "已锁定" in r.content.decode()
    r = client.post(
        LOGIN, {"username": "周丽", "password": "123456", "next": "/CRM/customers/"}, REMOTE_ADDR="10.0.0.5"
    )
    assert 'name="next" value="/CRM/customers/"' in r.content.decode()  # kept for the try after the wait
    # Another person behind the same NAT address is not locked out.
    assert login(Client(), "杨帆").status_code == 302
    # The same person from another computer is not locked out either.
    other_ip = Client().post(LOGIN, {"username": "周丽", "password": "123456"}, REMOTE_ADDR="10.0.0.9")
    assert other_ip.status_code == 302
    admin = client_for("管理员")
    zhou = User.objects.get(username="周丽")
    r = admin.post(reverse("accounts:user_edit", args=[zhou.pk]), {"_action": "unlock"})
    assert r.status_code == 302
    assert "解除" in admin.get(r["Location"]).content.decode()
    assert login(client, "周丽").status_code == 302
    assert AuditLog.objects.filter(action=AuditAction.UNLOCK).count() == 1


def test_lock_expires_after_cool_off(client: Client, demo: object, settings) -> None:
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "周丽", "wrong-password")
    assert login(client, "周丽").status_code == 429
    from axes.models import AccessAttempt

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert login(client, "周丽").status_code == 302


def test_expired_initial_password(client: Client, demo: object, settings) -> None:
    settings.CRM_INITIAL_PASSWORD_DAYS = 7
    User.objects.filter(username="黄敏").update(initial_password_set_at=timezone.now() - timedelta(days=8))
    r = login(client, "黄敏")
    assert r.status_code == 403
    assert "初始密码已过期" in r.content.decode()
    assert "_auth_user_id" not in client.session


def test_deactivated_user_cannot_log_in_and_is_logged_out(client: Client, demo: object, client_for) -> None:
    c = client_for("吴芳")
    assert c.get("/CRM/").status_code == 200
    User.objects.filter(username="吴芳").update(is_active=False)
    r = c.get("/CRM/")
    assert r.status_code == 302 and r["Location"].startswith(LOGIN)
    r = login(client, "吴芳", "Club-2026-test")
    assert r.status_code == 401
    assert "账号已停用" in r.content.decode()


def test_session_rotates_at_login_and_on_password_change(client: Client, demo: object) -> None:
    client.get(LOGIN)
    client.session.save()
    before = client.session.session_key
    login(client, "孙强")
    at_login = client.session.session_key
    assert at_login != before
    other = Client()
    login(other, "孙强")
    change_password(client)
    assert client.session.session_key != at_login
    assert client.get("/CRM/").status_code == 200
    # The other session of the same person ends with the password change.
    r = other.get("/CRM/")
    assert r.status_code == 302 and r["Location"].startswith(LOGIN)


def test_idle_session_times_out(client_for, settings) -> None:
    c = client_for("陈静")
    assert c.get("/CRM/").status_code == 200
    session = c.session
    session["crm_last_activity"] -= settings.CRM_SESSION_IDLE_SECONDS + 1
    session.save()
    r = c.get("/CRM/")
    assert r.status_code == 302 and r["Location"].startswith(LOGIN)


def test_random_initial_password(client_for, settings) -> None:
    settings.CRM_INITIAL_PASSWORD = "random"
    admin = client_for("管理员")
    from crm.accounts.models import Department

    dept = Department.objects.get(name="客服部")
    r = admin.post(reverse("accounts:user_create"), {"full_name": "钱多多", "department": dept.pk, "is_active": "on"})
    assert r.status_code == 302
    user = User.objects.get(full_name="钱多多")
    body = admin.get(r["Location"]).content.decode()
    import re

    password = re.search(r"初始密码 (\d{8})", body).group(1)
    assert user.check_password(password) and password != "123456"


def test_csrf_less_post_is_refused(demo: object) -> None:
    c = Client(enforce_csrf_checks=True)
    r = c.post(LOGIN, {"username": "张伟", "password": "123456"})
    assert r.status_code == 403
    assert "页面已过期" in r.content.decode()


def test_logout_requires_post_and_ends_session(client_for) -> None:
    c = client_for("杨帆")
    assert c.get("/CRM/logout/").status_code == 405
    r = c.post("/CRM/logout/")
    assert r.status_code == 302
    assert c.get("/CRM/").status_code == 302


def test_argon2id_parameters() -> None:
    from argon2 import PasswordHasher as _  # noqa: F401

    from crm.accounts.hashers import TunedArgon2PasswordHasher

    encoded = TunedArgon2PasswordHasher().encode("Club-2026-safe", TunedArgon2PasswordHasher().salt())
    assert encoded.startswith("argon2$argon2id$")
    assert "m=19456,t=2,p=1" in encoded
    assert settings.PASSWORD_HASHERS  # the production list starts with the tuned hasher:
    from config import settings as config_settings

    assert config_settings.PASSWORD_HASHERS[0] == "crm.accounts.hashers.TunedArgon2PasswordHasher"


def test_background_polling_does_not_keep_a_session_alive(client_for, settings) -> None:
    c = client_for("陈静")
    c.get("/CRM/")
    session = c.session
    session["crm_last_activity"] -= settings.CRM_SESSION_IDLE_SECONDS - 5
    session.save()
    stamp = session["crm_last_activity"]
    assert c.get("/CRM/", HTTP_X_CRM_BACKGROUND="1").status_code == 200
    assert c.session["crm_last_activity"] == stamp
    assert c.get("/CRM/").status_code == 200
    assert c.session["crm_last_activity"] > stamp


def test_full_width_spaces_and_brackets_are_read_as_the_stored_login_name(client: Client, demo: object) -> None:
    dept = Department.objects.get(name="市场部")
    user = User(username="王　五", full_name="王　五", department=dept)
    user.full_clean(exclude=["password"])  # Django stores the login name NFKC-normalised: "王 五"
    user.set_password(NEW)
    user.save()
    assert user.username == "王 五"
    assert login(Client(), "王　五", NEW).status_code == 302
    assert login(Client(), "张伟（销售二组）").status_code == 302
    # a wrong password still names the namesakes, whichever way the name was typed
    twin = User(username="王 五(市场部)", full_name="王 五", department=dept)
    twin.set_password(NEW)
    twin.save()
    body = login(client, "王　五", "wrong-password").content.decode()
    assert "2 位名叫「王　五」" in body and "「王 五(市场部)」" in body


def test_new_password_may_not_be_the_current_one(client_for) -> None:
    c = client_for("孙强")
    r = change_password(c, old="Club-2026-test", new="Club-2026-test")
    assert r.status_code == 422 and "新密码不能与原密码相同。" in r.content.decode()
    assert User.objects.get(username="孙强").check_password("Club-2026-test")
    assert change_password(c, old="Club-2026-test").status_code == 302
