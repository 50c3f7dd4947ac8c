from typing import Any

from django import forms
from django.db.models import F

from crm.accounts.models import User
from crm.workflow.registry import FormType, Source, form_types

from .models import SampleRequest


class SampleRequestForm(forms.ModelForm):
    class Meta:
        model = SampleRequest
        fields = ["subject", "amount", "note"]


def effect(instance: SampleRequest, application: Any, actor: Any) -> None:
    SampleRequest.objects.filter(pk=instance.pk).update(effects=F("effects") + 1)


form_types.register(
    FormType(
        key="test_request",
        label="测试申请",
        model=SampleRequest,
        form_class=SampleRequestForm,
        effect=effect,
        sources=(
            Source(
                key="colleague",
                label="同事",
                queryset=lambda user: User.objects.for_user(user).filter(is_active=True),
                prefill=lambda u: {"subject": f"为{u.full_name}申请", "note": u.username},
                describe=lambda u: f"{u.full_name}({u.department})",
            ),
        ),
        editable_after_return=("subject", "note"),
        condition_fields=("amount",),
    )
)
