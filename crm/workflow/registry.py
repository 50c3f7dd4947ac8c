"""Form types register themselves with the engine; adding one touches no engine code.

A form type names its model (which holds the form's own fields and a one-to-one ``application``), the
ModelForm people fill in, what approval does (its *effect*, run in the approving transaction), where
【来源数据】 may pre-fill it from, which fields stay editable after 【退回】, and which fields a chain step's
condition may test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.db import models


@dataclass(frozen=True)
class Source:
    """A kind of record an applicant may pick to pre-fill a form (【来源数据】)."""

    key: str
    label: Any
    queryset: Callable[[Any], models.QuerySet]  # the records this user may pick (through the data scope)
    prefill: Callable[[Any], dict[str, Any]]  # initial form values from the picked record
    describe: Callable[[Any], str] = str


@dataclass(frozen=True)
class FormType:
    key: str
    label: Any
    model: type[models.Model]
    form_class: type[forms.ModelForm]
    effect: Callable[[Any, Any, Any], None] | None = None  # (instance, application, actor)
    sources: tuple[Source, ...] = ()
    editable_after_return: tuple[str, ...] | None = None  # None: every field
    condition_fields: tuple[str, ...] = ()
    approve_label: Any = ""  # the seed names it by module: 【提交】 in lead review, 【通过】 elsewhere
    create_permission: str | None = None
    title: Callable[[Any], str] = str
    extra: dict[str, Any] = field(default_factory=dict)
    # (instance, user) -> [(label, text, link)]: what an approver weighs a submitted application against, shown
    # above its form (积分调整: the member, his level, his points now and after)
    summary: Callable[[Any, Any], list[tuple[Any, str, str]]] | None = None

    def instance_for(self, application: Any) -> Any:
        return self.model._default_manager.get(application=application)

    def make_form(self, user: Any, **kwargs: Any) -> forms.ModelForm:
        """The form for ``user``; a form class with ``takes_user = True`` is given the user (to check duplicates
        within the user's reach, to mask what the user may not see, to record who registered it)."""
        if getattr(self.form_class, "takes_user", False):
            kwargs["user"] = user
        return self.form_class(**kwargs)

    def source(self, key: str) -> Source | None:
        return next((s for s in self.sources if s.key == key), None)

    def may_create(self, user: Any) -> bool:
        return self.create_permission is None or user.has_perm(self.create_permission)


class FormTypeRegistry:
    def __init__(self) -> None:
        self._types: dict[str, FormType] = {}

    def register(self, form_type: FormType) -> FormType:
        if form_type.key in self._types:
            raise ValueError(f"form type {form_type.key!r} registered twice")
        self._types[form_type.key] = form_type
        return form_type

    def get(self, key: str) -> FormType | None:
        return self._types.get(key)

    def all(self) -> list[FormType]:
        return list(self._types.values())


form_types = FormTypeRegistry()


class FormModel(models.Model):
    """Base of a form type's model: the form's own fields plus its one application."""

    application = models.OneToOneField("workflow.Application", on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True
