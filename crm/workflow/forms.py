from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.accounts.models import Role, User
from crm.core.lists import ListFilterForm

from .models import ApproverKind, ChainStep, Status
from .registry import FormType, form_types


def model_field(model: type[models.Model], name: str) -> models.Field:
    return cast(models.Field, model._meta.get_field(name))


def form_type_choices() -> list[tuple[str, Any]]:
    return [("", _("全部")), *((ft.key, ft.label) for ft in form_types.all())]


class TaskFilterForm(ListFilterForm):
    form_type = forms.ChoiceField(label=_("申请单类型"), required=False, choices=form_type_choices)
    title = forms.CharField(label=_("申请单"), required=False, max_length=50)

    lookups = {"form_type": "form_type", "title": "application__title__contains"}


class BulkApproveForm(forms.Form):
    """What 【批量通过】 and 【批量分配】 carry: one opinion for every application ticked, and for 【批量分配】 the
    one person they all go to (offered only when the page has steps that assign)."""

    assign_to = forms.ModelChoiceField(label=_("分配给"), queryset=User.objects.none(), required=False)
    opinion = forms.CharField(
        label=_("审批意见"),
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": _("如:同意")}),
    )

    def __init__(self, *args: Any, candidates: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if candidates is None:
            del self.fields["assign_to"]
        else:
            self.fields["assign_to"].queryset = candidates  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.data.get("_bulk") == "assign" and not data.get("assign_to") and "assign_to" not in self.errors:
            self.add_error("assign_to", _("请选择分配给谁。"))
        return data


class ApplicationFilterForm(ListFilterForm):
    form_type = forms.ChoiceField(label=_("申请单类型"), required=False, choices=form_type_choices)
    status = forms.ChoiceField(label=_("状态"), required=False, choices=[("", _("全部")), *Status.choices])
    title = forms.CharField(label=_("申请单"), required=False, max_length=50)

    lookups = {"form_type": "form_type", "status": "status", "title": "title__contains"}


class ActionForm(forms.Form):
    """What an action carries besides the button: an opinion, whom to 【分配】 to, whom to 【流转】 to."""

    opinion = forms.CharField(
        label=_("审批意见"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    assign_to = forms.ModelChoiceField(label=_("分配给"), queryset=User.objects.none(), required=False)
    transfer_to = forms.ModelChoiceField(label=_("流转给"), queryset=User.objects.none(), required=False)
    can_edit = forms.BooleanField(label=_("允许对方修改"), required=False)

    def __init__(self, *args: Any, candidates: Any = None, colleagues: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if candidates is not None:
            self.fields["assign_to"].queryset = candidates  # type: ignore[attr-defined]
        if colleagues is not None:
            self.fields["transfer_to"].queryset = colleagues  # type: ignore[attr-defined]


class ChainStepForm(forms.ModelForm):
    class Meta:
        model = ChainStep
        fields = [
            "order",
            "name",
            "approver_kind",
            "role",
            "user",
            "assign_role",
            "condition_field",
            "condition_op",
            "condition_value",
            "all_must_approve",
            "deadline_hours",
            "approve_label",
        ]

    def __init__(self, *args: Any, form_type: FormType, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.form_type = form_type
        model = form_type.model
        self.fields["condition_field"] = forms.ChoiceField(
            label=_("条件字段"),
            required=False,
            choices=[("", "—"), *((f, model_field(model, f).verbose_name) for f in form_type.condition_fields)],
        )
        self.fields["role"].queryset = Role.objects.all()  # type: ignore[attr-defined]
        self.fields["assign_role"].queryset = Role.objects.all()  # type: ignore[attr-defined]
        self.fields["user"].queryset = User.objects.filter(is_active=True).order_by("full_name")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("approver_kind")
        if kind == ApproverKind.ROLE and not data.get("role"):
            self.add_error("role", _("审批人为「角色」时,请选择角色。"))
        if kind == ApproverKind.USER and not data.get("user"):
            self.add_error("user", _("审批人为「指定人员」时,请选择人员。"))
        field, op, value = data.get("condition_field"), data.get("condition_op"), data.get("condition_value")
        if field or op or value:
            if not (field and op and value):
                self.add_error("condition_value", _("条件须同时填写字段、条件和值。"))
            else:
                try:
                    model_field(self.form_type.model, field).to_python(value)
                except forms.ValidationError:
                    self.add_error("condition_value", _("「%(value)s」不是该字段能比较的值。") % {"value": value})
        return data


class BaseChainStepFormSet(forms.BaseInlineFormSet):
    """The steps of one chain. Removing every step makes the form type's applications pass on 【提交】 with no
    approval at all, so it is saved only when ``no_steps_confirmed`` (the administrator ticked 「确认不需要审批」
    after being told); ``asks_no_steps`` then shows that box."""

    def __init__(self, *args: Any, form_type: FormType, no_steps_confirmed: bool = False, **kwargs: Any) -> None:
        self.form_type = form_type
        self.no_steps_confirmed = no_steps_confirmed
        self.asks_no_steps = False
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "form_type": self.form_type}

    def clean(self) -> None:
        super().clean()
        steps = sorted(
            (f.cleaned_data for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")),
            key=lambda d: d.get("order") or 0,
        )
        if not steps and self.initial_form_count() and not self.no_steps_confirmed:
            self.asks_no_steps = True
            raise forms.ValidationError(
                _(
                    "删除全部步骤后,「%(type)s」的申请单一提交即通过,不再经过任何审批。确需如此,请勾选「确认不需要审批」后再保存。"
                )
                % {"type": self.form_type.label}
            )
        for previous, step in zip([None, *steps], steps, strict=False):
            if previous is not None and previous.get("order") == step.get("order"):
                raise forms.ValidationError(
                    _("顺序不能重复:「%(a)s」和「%(b)s」的顺序都是 %(n)s。")
                    % {"a": previous.get("name"), "b": step.get("name"), "n": step.get("order")}
                )
            if step.get("approver_kind") == ApproverKind.ASSIGNED and not (previous and previous.get("assign_role")):
                raise forms.ValidationError(
                    _("「%(name)s」由上一步分配,但上一步没有设置「分配给(角色)」。") % {"name": step.get("name")}
                )


ChainStepFormSet = forms.inlineformset_factory(
    ChainStep.chain.field.related_model,
    ChainStep,
    form=ChainStepForm,
    formset=BaseChainStepFormSet,
    extra=2,
    can_delete=True,
    max_num=20,
    absolute_max=20,
    validate_max=True,
)
