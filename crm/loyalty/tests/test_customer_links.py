"""What the customer module does to records the loyalty module holds of its customers."""

from __future__ import annotations

from typing import Any

import pytest

from crm.core.models import ImportStatus
from crm.customers import imports
from crm.customers.models import Customer
from crm.customers.tests.test_imports import xlsx
from crm.loyalty import services
from crm.loyalty.models import Consumption

pytestmark = pytest.mark.django_db


def test_an_import_whose_customer_has_consumption_is_not_undone(people: dict[str, Any]) -> None:
    director = people["王建国"]
    data = xlsx([["姓名", "手机号", "负责人"], ["卫一", "13800000031", "刘洋"], ["卫二", "13800000032", "刘洋"]])
    kind = imports.KINDS["customer"]
    batch = imports.commit(
        actor=director, batch=imports.preview(actor=director, kind=kind, data=data, filename="c.xlsx")
    )
    customer = Customer.objects.get(name="卫一")
    services.consumption_record(customer=customer, amount="100.00", category="dining", source="manual")
    with pytest.raises(imports.ImportRefused, match="已有消费、积分"):
        imports.undo(actor=director, batch=batch)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.COMMITTED
    assert Customer.objects.filter(import_batch=batch).count() == 2
    assert Consumption.objects.count() == 1


def test_a_customer_with_points_is_kept_in_a_merge_never_merged_away(people: dict[str, Any]) -> None:
    from crm.customers.services import CustomerError, merge

    from .conftest import make_member

    admin = people["管理员"]
    rich = make_member(people["张伟"], name="蒋一", mobile="13800000041")
    twin = make_member(people["张伟"], name="蒋一", mobile="13800000041")
    services.consumption_record(customer=rich, amount="100.00", category="dining", source="manual")
    with pytest.raises(CustomerError, match="不能作为被合并的一方"):
        merge(actor=admin, keep=twin, drop=rich)
    rich.refresh_from_db()
    assert rich.merged_into_id is None
    merge(actor=admin, keep=rich, drop=twin)  # the other way round is fine
    twin.refresh_from_db()
    assert twin.merged_into_id == rich.pk
    other = make_member(people["张伟"], name="蒋二", mobile="13800000042")
    services.consumption_record(customer=other, amount="50.00", category="dining", source="manual")
    with pytest.raises(CustomerError, match="都有消费或积分记录"):
        merge(actor=admin, keep=rich, drop=other)


def test_the_front_desk_is_not_sent_to_customer_pages_it_cannot_open(
    people: dict[str, Any], client_for: Any, member: Customer
) -> None:
    """前台收银 sees every member's consumption and points, but not the customer module's pages: the lists and the
    consumption page show the member's name without a link there, and a 积分流水 row opens its consumption."""
    from django.urls import reverse

    sale = services.consumption_record(customer=member, amount="100.00", category="dining", source="manual")
    profile = reverse("customers:customer_detail", args=[member.pk])
    consumption_page = reverse("loyalty:consumption_detail", args=[sale.pk])
    wu, zhang = client_for("吴芳"), client_for("张伟")
    assert not people["吴芳"].has_perm("customers.view_customer")
    for url in (reverse("loyalty:consumption_list"), reverse("loyalty:entry_list"), consumption_page):
        page = wu.get(url).content.decode()
        assert member.name in page and profile not in page, url
        assert profile in zhang.get(url).content.decode(), url  # the owner may open the profile
    assert consumption_page in wu.get(reverse("loyalty:entry_list")).content.decode()
    # and were it opened anyway, the refusal says so in a sentence
    refused = wu.get(profile)
    assert refused.status_code == 403 and "您没有查看这一页的权限" in refused.content.decode()
    assert "「」" not in refused.content.decode()
