from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from crm.core.forms import saved
from crm.core.lists import Column
from crm.core.masking import can_see_sensitive, mask_form
from crm.core.views_base import Button, CrmView, ObjectListView, QuickFilter
from crm.workflow import selectors as workflow_selectors
from crm.workflow.models import Application
from crm.workflow.views import TodoListView, status_text

from . import selectors, services
from .forms import (
    HIDDEN_LEADS,
    AnniversaryFormSet,
    AssignForm,
    CloseForm,
    CustomerBasicForm,
    CustomerFilterForm,
    FamilyFormSet,
    FollowUpForm,
    HandOverForm,
    HobbyForm,
    LeadFilterForm,
    LeadForm,
    LeadTrackingFilterForm,
    PropertyFormSet,
    ReviewFilterForm,
    VehicleFormSet,
)
from .formtypes import CUSTOMER, LEAD
from .models import Customer, CustomerQuerySet, CustomerStatus, FollowUp, Lead, LeadStatus
from .services import CustomerError
from .tabs import profile_tabs

WEEK_TITLES = {
    "new": gettext_lazy("本周新增客户"),
    "due": gettext_lazy("本周待跟踪客户"),
    "done": gettext_lazy("本周已跟客户"),
}


def next_display(obj: Lead | Customer) -> str:
    """The next follow-up date, marked when it is overdue."""
    if obj.next_followup_on is None:
        return ""
    text = obj.next_followup_on.strftime("%Y-%m-%d")
    if obj.next_followup_on < timezone.localdate() and obj.status in (LeadStatus.FOLLOWING, CustomerStatus.FORMAL):
        return format_html('<span class="badge text-bg-danger">{}</span> {}', _("已逾期"), text)
    return text


def _lead_status(lead: Lead) -> str:
    if lead.status == LeadStatus.DRAFT and lead.application is not None:
        return status_text(lead.application)  # 草稿(已退回) as 〖我的申请〗 says it
    return str(lead.get_status_display())


def owner_shown(obj: Any) -> str:
    """The owner by login name: the full name, told apart where two people share it (张伟(销售二组))."""
    return str(obj.owner) if obj.owner_id else ""


PARTY_COLUMNS = [
    Column("name", gettext_lazy("姓名"), sort="name_pinyin"),  # 李四 before 王五 before 张三
    Column("gender", gettext_lazy("性别"), accessor="get_gender_display"),
    Column("mobile", gettext_lazy("手机号"), mask="mobile"),
    Column("source", gettext_lazy("客户来源"), accessor="source.label"),
]


# ---------------------------------------------------------------------------------------------------
# Lists
# ---------------------------------------------------------------------------------------------------


# 【导入】 on the tracking lists and on the entry lists (where the role editor groups the import permissions)
IMPORT_LEADS = Button(
    gettext_lazy("导入"),
    "customers:import",
    "customers.import_lead",
    "bi-upload",
    tab_title=gettext_lazy("导入潜在客户"),
    args=("lead",),
)
IMPORT_CUSTOMERS = Button(
    gettext_lazy("导入"),
    "customers:import",
    "customers.import_customer",
    "bi-upload",
    tab_title=gettext_lazy("导入客户"),
    args=("customer",),
)


class HandedOverToMe:
    """〖潜在客户跟踪〗 / 〖客户跟踪〗 for a leader: a quick filter of the records handed over to him, waiting for
    his 【分配】 (shown while there are any; not on the weekly lists)."""

    handed_over: ClassVar[str]
    week: ClassVar[str]
    request: HttpRequest
    get_queryset: Callable[..., QuerySet]  # the list's own

    def quick_filters(self) -> list[QuickFilter]:
        me = self.request.user.pk
        if self.week:
            return []
        waiting = self.get_queryset().filter(status=self.handed_over, owner=me).count()
        if not waiting:
            return []
        return [
            QuickFilter(_("全部"), {"status": "", "owner": ""}),
            QuickFilter(_("移交给我、待重新分配"), {"status": self.handed_over, "owner": str(me)}, waiting),
        ]


class LeadListView(HandedOverToMe, ObjectListView):
    """〖潜在客户跟踪〗 and its weekly sub-lists: the leads in the user's data scope."""

    model = Lead
    title = gettext_lazy("潜在客户跟踪")
    tab_key = "lead_tracking"
    permission = "customers.view_lead"
    export_permission = "customers.export_lead"
    filter_form_class = LeadTrackingFilterForm
    handed_over = LeadStatus.HANDED_OVER
    default_sort = "-created_at"
    detail_url_name = "customers:lead_detail"
    select_related = ("owner", "source", "intent")
    toolbar = [
        IMPORT_LEADS,
    ]
    week: ClassVar[str] = ""
    columns = [
        *PARTY_COLUMNS,
        Column("intent", gettext_lazy("意向等级"), accessor="intent.label"),
        Column("status", gettext_lazy("状态"), accessor="get_status_display"),
        Column("owner", pgettext_lazy("record owner", "负责人"), accessor=owner_shown),
        Column("last_followup_at", gettext_lazy("最近跟踪")),
        Column("next_followup_on", gettext_lazy("下次跟踪"), accessor=next_display),
        Column("created_at", gettext_lazy("登记时间"), sort="created_at"),
    ]

    def get_queryset(self, action: str = "view") -> QuerySet:
        qs = super().get_queryset(action).exclude(status__in=HIDDEN_LEADS)
        if self.week:
            qs = selectors.week_filter(selectors.active_leads(qs), self.week)
        return qs


class CustomerListView(HandedOverToMe, ObjectListView):
    """〖客户跟踪〗 and its weekly sub-lists: the formal customers in the user's data scope."""

    model = Customer
    title = gettext_lazy("客户跟踪")
    tab_key = "customer_tracking"
    permission = "customers.view_customer"
    export_permission = "customers.export_customer"
    filter_form_class = CustomerFilterForm
    handed_over = CustomerStatus.HANDED_OVER
    default_sort = "-created_at"
    detail_url_name = "customers:customer_detail"
    select_related = ("owner", "source", "level")
    toolbar = [
        IMPORT_CUSTOMERS,
    ]
    week: ClassVar[str] = ""
    columns = [
        *PARTY_COLUMNS,
        Column("card_no", gettext_lazy("会员卡号")),
        Column("level", gettext_lazy("客户级别"), accessor="level.label"),
        Column("status", gettext_lazy("状态"), accessor="get_status_display"),
        Column("owner", pgettext_lazy("record owner", "负责人"), accessor=owner_shown),
        Column("last_followup_at", gettext_lazy("最近跟踪")),
        Column("next_followup_on", gettext_lazy("下次跟踪"), accessor=next_display),
        Column("created_at", gettext_lazy("登记时间"), sort="created_at"),
    ]

    def get_queryset(self, action: str = "view") -> QuerySet:
        qs: QuerySet = cast(CustomerQuerySet, super().get_queryset(action)).formal()
        if self.week:
            qs = selectors.week_filter(qs, self.week)
        return qs


def _weekly(base: type[ObjectListView], week: str, prefix: str) -> type[ObjectListView]:
    attrs = {
        "week": week,
        "title": WEEK_TITLES[week],
        "tab_key": f"{prefix}_week_{week}",
        "default_sort": "next_followup_on" if week == "due" else "-created_at",
    }
    return type(f"{base.__name__}{week.title()}", (base,), attrs)


LEAD_WEEKS = {w: _weekly(LeadListView, w, "lead") for w in selectors.WEEK_VIEWS}
CUSTOMER_WEEKS = {w: _weekly(CustomerListView, w, "customer") for w in selectors.WEEK_VIEWS}


class StillReachable:
    """An entry list's rows the user may still open (what they registered may have been handed on since): read
    once per page, in one query."""

    request: HttpRequest
    reachable: set[int]

    def prepare_page(self, rows: list[Any]) -> None:
        user = self.request.user
        others = [obj.pk for obj in rows if obj.owner_id != user.pk]
        model: Any = getattr(self, "model")  # noqa: B009 - the list's own model (a ClassVar of the list)
        scoped = model.objects.for_user(user).filter(pk__in=others).values_list("pk", flat=True) if others else []
        self.reachable = {obj.pk for obj in rows if obj.owner_id == user.pk} | set(scoped)


class LeadEntryListView(StillReachable, ObjectListView):
    """〖潜在客户录入〗: the leads I registered — submitted for assignment, or my own."""

    model = Lead
    title = gettext_lazy("潜在客户录入")
    tab_key = "lead_entry"
    personal = True
    default_sort = "-created_at"
    filter_form_class = LeadFilterForm
    select_related = ("owner", "source", "application__handler")
    columns = [
        *PARTY_COLUMNS,
        Column("status", gettext_lazy("状态"), accessor=_lead_status),
        Column("owner", pgettext_lazy("record owner", "负责人"), accessor=owner_shown),
        Column("created_at", gettext_lazy("登记时间"), sort="created_at"),
    ]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        user = request.user
        if user.is_authenticated and not (
            user.has_perm("customers.add_lead") or user.has_perm("customers.register_own_lead")
        ):
            raise PermissionDenied(_("您没有使用「%(title)s」的权限。") % {"title": self.title})
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self, action: str = "view") -> QuerySet:
        mine = Lead.objects.filter(registered_by=self.request.user.pk).exclude(status=LeadStatus.MERGED)
        return mine.select_related(*self.select_related)

    def detail_url(self, obj: Any) -> str | None:
        # A lead submitted for assignment is the registrar's through its application (and its 流程信息).
        if obj.application_id:
            return reverse("workflow:detail", args=[obj.application_id])
        return reverse("customers:lead_detail", args=[obj.pk]) if obj.pk in self.reachable else None

    def get_toolbar(self) -> list[Button]:
        user = self.request.user
        both = user.has_perm("customers.add_lead") and user.has_perm("customers.register_own_lead")
        buttons = []
        if user.has_perm("customers.add_lead"):
            label = _("新增(提交分配)") if both else _("新增")
            buttons.append(Button(label, "workflow:create", icon="bi-plus-lg", args=(LEAD,)))
        if user.has_perm("customers.register_own_lead"):
            label = _("新增(本人跟进)") if both else _("新增")
            buttons.append(Button(label, "customers:lead_create", icon="bi-plus-lg"))
        buttons.append(IMPORT_LEADS)
        return buttons


class CustomerEntryListView(StillReachable, ObjectListView):
    """〖客户登记〗: the customer registrations I made, in review and approved."""

    model = Customer
    title = gettext_lazy("客户登记")
    tab_key = "customer_entry"
    personal = True
    permission = "customers.add_customer"
    default_sort = "-created_at"
    filter_form_class = CustomerFilterForm
    select_related = ("owner", "source", "application__handler")
    toolbar = [Button(gettext_lazy("新增"), "workflow:create", icon="bi-plus-lg", args=(CUSTOMER,)), IMPORT_CUSTOMERS]
    columns = [
        *PARTY_COLUMNS,
        Column("status", gettext_lazy("状态"), accessor=lambda c: _customer_status(c)),
        Column("card_no", gettext_lazy("会员卡号")),
        Column("created_at", gettext_lazy("登记时间"), sort="created_at"),
    ]

    def get_queryset(self, action: str = "view") -> QuerySet:
        mine = Customer.objects.filter(registered_by=self.request.user.pk).exclude(status=CustomerStatus.MERGED)
        return mine.select_related(*self.select_related)

    def detail_url(self, obj: Any) -> str | None:
        if obj.status != CustomerStatus.REGISTERING and obj.pk in self.reachable:
            return reverse("customers:customer_detail", args=[obj.pk])
        # in review, or since handed to someone out of my reach: its registration (流程信息) is still mine to read
        return reverse("workflow:detail", args=[obj.application_id]) if obj.application_id else None


def _customer_status(c: Customer) -> str:
    if c.status == CustomerStatus.REGISTERING and c.application is not None:
        return status_text(c.application)
    return str(c.get_status_display())


class ReviewListView(TodoListView):
    """〖潜在客户审核〗 / 〖客户资料审核〗: the to-do of one form type."""

    form_type: ClassVar[str] = ""
    filter_form_class = ReviewFilterForm

    def get_queryset(self, action: str = "view") -> QuerySet:
        return super().get_queryset(action).filter(form_type=self.form_type)

    def quick_filters(self) -> list[Any]:
        return []


class LeadReviewView(ReviewListView):
    title = gettext_lazy("潜在客户审核")
    tab_key = "lead_review"
    form_type = LEAD


class CustomerReviewView(ReviewListView):
    title = gettext_lazy("客户资料审核")
    tab_key = "customer_review"
    form_type = CUSTOMER


class ReviewCountView(CrmView):
    form_type: ClassVar[str] = ""

    def get(self, request: HttpRequest) -> HttpResponse:
        n = workflow_selectors.todo_counts(request.user).get(self.form_type, 0)
        if not n:
            return HttpResponse("")
        return HttpResponse(format_html('<span class="badge rounded-pill text-bg-danger">{}</span>', n))


# ---------------------------------------------------------------------------------------------------
# One lead, one customer
# ---------------------------------------------------------------------------------------------------


class PartyDetailView(CrmView):
    """The page of a lead or customer: its tabs, each with its own form, and the ownership buttons."""

    model: ClassVar[type[Lead] | type[Customer]]
    url_name: ClassVar[str]
    template = "customers/detail.html"
    active_tab: str = "basic"

    def get_tab_key(self) -> str:
        return reverse(self.url_name, args=[self.kwargs["pk"]])

    def get_object(self, action: str = "view") -> Any:
        qs = self.model.objects.for_user(self.request.user, action).select_related("owner", "source", "registered_by")
        return get_object_or_404(qs, pk=self.kwargs["pk"])

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.show(self.get_object())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object()
        action = request.POST.get("_action", "")
        handler = getattr(self, f"do_{action}", None)
        if handler is None:
            messages.error(request, _("不认识的操作。"))
            return self.show(obj, status=400)
        try:
            result = handler(obj)
        except CustomerError as exc:
            messages.error(request, " ".join(exc.messages))
            return self.show(self.refetch(obj) or obj, status=409)
        if isinstance(result, HttpResponse):
            return result
        fresh = self.refetch(obj)
        if fresh is None:  # handed over, or assigned away: out of the user's reach now
            response = self.render_page("customers/gone.html", {"obj": obj})
        else:
            response = self.show(fresh, tab=request.POST.get("_tab", ""))
        response["HX-Trigger"] = "crm:changed"
        return response

    def refetch(self, obj: Any) -> Any:
        """The record as it is now, or ``None`` when it is no longer in the user's data scope."""
        self.kwargs["pk"] = obj.pk
        try:
            return self.get_object()
        except Http404:
            return None

    def invalid(self, obj: Any, tab: str, *, say: str = "", **forms: Any) -> HttpResponse:
        """A form refused: its messages beside its fields, and one sentence on top (``say``, or 修改后再保存)."""
        messages.error(self.request, say or _("请按提示修改后再保存。"))
        return self.show(obj, tab=tab, status=422, **forms)

    # -- shared actions ----------------------------------------------------------------------------
    def do_followup(self, obj: Any) -> Any:
        form = FollowUpForm(self.request.POST, prefix="fu", for_lead=isinstance(obj, Lead))
        if not form.is_valid():
            return self.invalid(obj, "followups", followup_form=form)
        services.followup_add(actor=self.request.user, obj=obj, form=form)
        messages.success(self.request, _("跟踪记录已保存。"))
        return None

    def do_handover(self, obj: Any) -> Any:
        form = HandOverForm(self.request.POST, prefix="ho")
        reason = form.cleaned_data["reason"] if form.is_valid() else ""
        obj = services.hand_over(actor=self.request.user, obj=obj, reason=reason, request=self.request)
        messages.success(
            self.request,
            _("「%(name)s」已移交给%(who)s,等待重新分配。") % {"name": obj.name, "who": obj.owner},
        )
        return None

    def do_assign(self, obj: Any) -> Any:
        form = AssignForm(self.request.POST, prefix="as", people=selectors.assignable_people(self.request.user))
        if not form.is_valid():  # an action, not a save: its own refusal on top
            return self.invalid(obj, "", say=" ".join(map(str, form.errors.get("to", []))), assign_form=form)
        obj = services.reassign(
            actor=self.request.user,
            obj=obj,
            to=form.cleaned_data["to"],
            reason=form.cleaned_data["reason"],
            request=self.request,
        )
        messages.success(self.request, _("「%(name)s」已分配给%(who)s。") % {"name": obj.name, "who": obj.owner})
        return None

    # -- rendering ------------------------------------------------------------------------------------
    def context(self, obj: Any, forms: dict[str, Any]) -> dict[str, Any]:
        user = self.request.user
        is_owner = obj.owner_id == user.pk
        following = obj.status in (LeadStatus.FOLLOWING, CustomerStatus.FORMAL)
        may_assign = services.may_assign(user, obj)
        handovers = list(obj.handovers.select_related("actor", "from_user", "to_user"))
        followups = obj.followups.select_related("method", "author", *(("intent",) if isinstance(obj, Lead) else ()))
        return {
            "obj": obj,
            "is_owner": is_owner,
            "unmasked": can_see_sensitive(user),
            "can_follow": is_owner and obj.status in (LeadStatus.FOLLOWING, CustomerStatus.FORMAL),
            "can_hand_over": is_owner and following,
            "can_assign": may_assign,
            "followups": followups[:200],
            # a customer converted from a lead: what was learnt while it was a lead goes on being read here
            "lead_followups": (
                FollowUp.objects.filter(lead_id=obj.lead_id).select_related("method", "author", "intent")[:200]
                if isinstance(obj, Customer) and obj.lead_id
                else ()
            ),
            "handovers": handovers,
            "imported_to": selectors.imported_to(obj, handovers) if obj.import_batch_id else None,
            "followup_form": forms.get("followup_form") or FollowUpForm(prefix="fu", for_lead=isinstance(obj, Lead)),
            "handover_form": HandOverForm(prefix="ho"),
            "assign_form": forms.get("assign_form")
            or (AssignForm(prefix="as", people=selectors.assignable_people(user)) if may_assign else None),
            "post_url": reverse(self.url_name, args=[obj.pk]),
            "dom_id": f"{obj._meta.model_name}-{obj.pk}",
            # The approval history of the record's application: whoever may see the record may read it.
            "app_events": (
                workflow_selectors.timeline(Application(pk=obj.application_id)) if obj.application_id else ()
            ),
        }

    def show(self, obj: Any, tab: str = "", status: int = 200, **forms: Any) -> HttpResponse:
        self.title = obj.name
        self.active_tab = tab or self.request.GET.get("tab", "") or "basic"
        context = self.context(obj, forms)
        if self.active_tab not in {key for key, _label in context["tabs"]}:
            self.active_tab = "basic"  # a tab this person may not open, or one that does not exist
        context["active_tab"] = self.active_tab
        return self.render_page(self.template, context, status=status)


class LeadCreateView(CrmView):
    """A lead the rep found personally (【新增】 in 〖潜在客户录入〗 for a rep): the rep's at once."""

    title = gettext_lazy("新增潜在客户")
    tab_key = "lead-new"
    permission = "customers.register_own_lead"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.show(LeadForm(user=request.user))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = LeadForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.show(form, status=422)
        lead = services.lead_register_own(actor=request.user, form=form)
        messages.success(request, _("潜在客户「%(name)s」已登记,由您跟进。") % {"name": lead.name})
        view = LeadDetailView()
        view.setup(request, pk=lead.pk)
        response = view.show(lead)
        response["HX-Trigger"] = "crm:changed"
        return response

    def show(self, form: LeadForm, status: int = 200) -> HttpResponse:
        return self.render_page(
            "customers/lead_create.html", {"form": form, "duplicates": form.duplicates}, status=status
        )


class LeadDetailView(PartyDetailView):
    model = Lead
    url_name = "customers:lead_detail"
    permission = "customers.view_lead"

    def get_object(self, action: str = "view") -> Any:
        qs = Lead.objects.for_user(self.request.user, action).exclude(status=LeadStatus.DRAFT)
        return get_object_or_404(qs.select_related("owner", "source", "intent", "customer"), pk=self.kwargs["pk"])

    def do_save(self, obj: Lead) -> Any:
        form = LeadForm(self.request.POST, instance=obj, user=self.request.user, prefix="basic")
        if not form.is_valid():
            return self.invalid(obj, "basic", basic_form=form)
        services.party_update(actor=self.request.user, obj=obj, form=form, request=self.request)
        messages.success(self.request, saved(_("已保存。"), form))
        return None

    def do_close(self, obj: Lead) -> Any:
        form = CloseForm(self.request.POST, prefix="cl")
        if not form.is_valid():
            return self.invalid(obj, "", say=" ".join(map(str, form.errors.get("reason", []))), close_form=form)
        services.lead_close(
            actor=self.request.user, lead=obj, reason=form.cleaned_data["reason"], note=form.cleaned_data["note"]
        )
        messages.success(self.request, _("「%(name)s」已关闭。") % {"name": obj.name})
        return None

    def context(self, obj: Any, forms: dict[str, Any]) -> dict[str, Any]:
        context = super().context(obj, forms)
        editable = context["is_owner"] and obj.status == LeadStatus.FOLLOWING
        basic = forms.get("basic_form") or LeadForm(instance=obj, user=self.request.user, prefix="basic")
        if not editable:
            for field in basic.fields.values():
                field.disabled = True
        if not context["is_owner"]:
            mask_form(basic, self.request.user)
        # While a registration from it is open, the lead waits for it: no second 【转客户】, no closing, no 【移交】.
        registration = selectors.open_registration(obj) if editable else None
        free = editable and registration is None
        convert_url = None
        if free and self.request.user.has_perm("customers.add_customer"):
            convert_url = (
                reverse("workflow:create", args=[CUSTOMER]) + "?" + urlencode({"source": "lead", "pick": obj.pk})
            )
        context.update(
            {
                "kind": "lead",
                "basic_form": basic,
                "basic_editable": editable,
                "close_form": forms.get("close_form") or (CloseForm(prefix="cl") if free else None),
                "can_hand_over": context["can_hand_over"] and registration is None,
                "registration": registration,
                "convert_url": convert_url,
                "application_id": obj.application_id,
                "tabs": [("basic", _("基本信息")), ("followups", _("跟踪记录")), ("history", _("流程信息"))],
            }
        )
        return context


class CustomerDetailView(PartyDetailView):
    model = Customer
    url_name = "customers:customer_detail"
    permission = "customers.view_customer"

    PARTS: ClassVar[dict[str, tuple[Any, str, Any]]] = {
        "properties": (PropertyFormSet, "properties", gettext_lazy("房产信息")),
        "vehicles": (VehicleFormSet, "vehicles", gettext_lazy("车辆信息")),
        "family": (FamilyFormSet, "family", gettext_lazy("家庭成员")),
        "anniversaries": (AnniversaryFormSet, "anniversaries", gettext_lazy("纪念日")),
    }

    def get_object(self, action: str = "view") -> Any:
        qs = Customer.objects.for_user(self.request.user, action).exclude(status=CustomerStatus.MERGED)
        return get_object_or_404(qs.select_related("owner", "source", "level", "lead"), pk=self.kwargs["pk"])

    def do_save(self, obj: Customer) -> Any:
        form = CustomerBasicForm(self.request.POST, instance=obj, user=self.request.user, prefix="basic")
        if not form.is_valid():
            return self.invalid(obj, "basic", basic_form=form)
        services.party_update(actor=self.request.user, obj=obj, form=form, request=self.request)
        messages.success(self.request, saved(_("已保存。"), form))
        return None

    def do_hobbies(self, obj: Customer) -> Any:
        form = HobbyForm(self.request.POST, instance=obj, prefix="hobby")
        if not form.is_valid():
            return self.invalid(obj, "hobbies", hobby_form=form)
        services.party_update(actor=self.request.user, obj=obj, form=form, request=self.request)
        messages.success(self.request, saved(_("兴趣爱好已保存。"), form))
        return None

    def do_parts(self, obj: Customer) -> Any:
        part = self.request.POST.get("_part", "")
        if part not in self.PARTS:
            raise CustomerError(_("不认识的操作。"))
        formset_class, prefix, label = self.PARTS[part]
        formset = formset_class(self.request.POST, instance=obj, prefix=prefix)
        if not formset.is_valid():
            return self.invalid(obj, self._tab_of(part), **{f"{part}_formset": formset})
        services.profile_parts_save(
            actor=self.request.user, customer=obj, formset=formset, label=str(label), request=self.request
        )
        messages.success(self.request, _("%(part)s已保存。") % {"part": label})
        return None

    @staticmethod
    def _tab_of(part: str) -> str:
        return "family" if part in ("family", "anniversaries") else part

    def context(self, obj: Any, forms: dict[str, Any]) -> dict[str, Any]:
        context = super().context(obj, forms)
        added = profile_tabs.for_user(self.request.user)  # tabs of later apps (积分, 消费记录)
        editable = context["is_owner"] and obj.status in (CustomerStatus.FORMAL, CustomerStatus.REGISTERING)
        basic = forms.get("basic_form") or CustomerBasicForm(instance=obj, user=self.request.user, prefix="basic")
        hobby = forms.get("hobby_form") or HobbyForm(instance=obj, prefix="hobby")
        # The registration's own data is edited on the application while it is in review.
        basic_editable = editable and obj.status == CustomerStatus.FORMAL
        for form, ok in ((basic, basic_editable), (hobby, editable)):
            if not ok:
                for field in form.fields.values():
                    field.disabled = True
        if not context["is_owner"]:  # the owner works with the numbers (calls, corrects them)
            mask_form(basic, self.request.user)
        parts: dict[str, dict[str, Any]] = {}
        for part, (formset_class, prefix, label) in self.PARTS.items():
            formset = forms.get(f"{part}_formset") or formset_class(instance=obj, prefix=prefix)
            if not editable:
                formset.extra = 0
                for f in formset.forms:
                    for field in f.fields.values():
                        field.disabled = True
            parts[part] = {"formset": formset, "label": label, "key": part}
            context[f"{part}_formset"] = formset  # top level, so that its ids are namespaced to this tab
        context.update(
            {
                "part_tabs": [
                    ("properties", [parts["properties"]]),
                    ("vehicles", [parts["vehicles"]]),
                    ("family", [parts["family"], parts["anniversaries"]]),
                ],
                "kind": "customer",
                "basic_form": basic,
                "basic_editable": basic_editable,
                "hobby_form": hobby,
                "parts_editable": editable,
                "application_id": obj.application_id,
                "tabs": [
                    ("basic", _("基本信息")),
                    ("hobbies", _("兴趣爱好")),
                    ("properties", _("房产")),
                    ("vehicles", _("车辆")),
                    ("family", _("家庭与纪念日")),
                    *((t.key, t.label) for t in added),
                    ("followups", _("跟踪记录")),
                    ("history", _("流程信息")),
                ],
                "added_tabs": [
                    {
                        "key": t.key,
                        "url": reverse("customers:customer_tab", args=[obj.pk, t.key]),
                        # the tab being opened is drawn at once; the others when first shown
                        "html": t.render(self.request, obj) if t.key == self.active_tab else None,
                    }
                    for t in added
                ],
            }
        )
        return context


class CustomerTabView(CustomerDetailView):
    """One tab another app adds to the customer's page (``tabs.profile_tabs``), drawn when it is first shown and
    again for its own requests (a next page). The customer is read exactly as its page reads it: out of the
    viewer's data scope it is 404."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, pk: int, key: str = "") -> HttpResponse:
        tab = profile_tabs.get(key)
        if tab is None:
            raise Http404
        obj = self.get_object()
        if not tab.allowed(request.user):
            raise PermissionDenied(_("您没有查看「%(tab)s」的权限。") % {"tab": tab.label})
        return HttpResponse(tab.render(request, obj))


# ---------------------------------------------------------------------------------------------------
# 【导入】
# ---------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------
# 【合并】 duplicates
# ---------------------------------------------------------------------------------------------------

MERGE_KINDS: dict[str, tuple[type[Lead] | type[Customer], Any]] = {
    "lead": (Lead, gettext_lazy("潜在客户")),
    "customer": (Customer, gettext_lazy("客户")),
}


class MergeView(CrmView):
    """Find two records of one person (the duplicates are listed), compare them, and combine them."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("kind") not in MERGE_KINDS:
            raise Http404
        self.kind = kwargs["kind"]
        self.model, self.label = MERGE_KINDS[self.kind]
        if request.user.is_authenticated and not request.user.has_perm(f"customers.merge_{self.kind}"):
            raise PermissionDenied(_("您没有合并重复记录的权限。"))
        return super().dispatch(request, *args, **kwargs)

    def get_title(self) -> Any:
        return _("合并重复%(kind)s") % {"kind": self.label}

    def get_tab_key(self) -> str:
        return f"merge-{self.kind}"

    def get(self, request: HttpRequest, kind: str) -> HttpResponse:
        keep = selectors.find_record(self.model, request.GET.get("keep", ""))
        drop = selectors.find_record(self.model, request.GET.get("drop", ""))
        return self.show(keep, drop)

    def post(self, request: HttpRequest, kind: str) -> HttpResponse:
        typed = {k: request.POST.get(k, "").strip()[:30] for k in ("keep", "drop")}
        keep = selectors.find_record(self.model, typed["keep"])
        drop = selectors.find_record(self.model, typed["drop"])
        if keep is None or drop is None:
            labels = {"keep": _("保留的记录"), "drop": _("合并掉的记录")}
            wrong = [
                _("「%(box)s」找不到「%(v)s」") % {"box": labels[k], "v": typed[k]}
                if typed[k]
                else _("「%(box)s」没有填写") % {"box": labels[k]}
                for k, found in (("keep", keep), ("drop", drop))
                if found is None
            ]
            messages.error(
                request,
                ";".join(wrong)
                + _("。请用记录编号(如 #12)、会员卡号、手机号或身份证号指明;同一号码有多条记录时请用编号。"),
            )
            return self.show(keep, drop, status=422, typed=typed)
        if keep.pk == drop.pk:
            messages.error(request, _("两栏是同一条记录(#%(id)s),请选择两条不同的记录。") % {"id": keep.pk})
            return self.show(keep, None, status=422, typed=typed)
        if request.POST.get("_action") != "merge":
            return self.show(keep, drop)
        try:
            keep = services.merge(actor=request.user, keep=keep, drop=drop, request=request)
        except CustomerError as exc:
            messages.error(request, " ".join(exc.messages))
            return self.show(keep, drop, status=409)
        messages.success(
            request,
            _("已将 #%(drop_id)s「%(drop)s」合并到 #%(keep_id)s「%(keep)s」。")
            % {"drop_id": drop.pk, "drop": drop.name, "keep_id": keep.pk, "keep": keep.name},
        )
        response = self.show(None, None)
        response["HX-Trigger"] = "crm:changed"
        return response

    def show(self, keep: Any, drop: Any, status: int = 200, typed: dict[str, str] | None = None) -> HttpResponse:
        card = ["card_no"] if self.kind == "customer" else []  # not filled in: the kept one keeps its own card
        fields = ["name", *card, *services.MERGE_FILL[self.kind], "owner", "status", "created_at"]
        rows = []
        if keep is not None and drop is not None:
            for name in fields:
                f = cast(models.Field, self.model._meta.get_field(name))
                rows.append((f.verbose_name, _shown(keep, f, self.request), _shown(drop, f, self.request)))
        context = {
            "kind": self.kind,
            "label": self.label,
            "keep": keep,
            "drop": drop,
            "typed": typed or {},
            "rows": rows,
            "groups": selectors.duplicate_groups(self.model),
            "unmasked": can_see_sensitive(self.request.user),
        }
        return self.render_page("customers/merge.html", context, status=status)


def _shown(obj: Any, f: Any, request: HttpRequest) -> str:
    from crm.core.lists import display
    from crm.core.masking import mask

    value = getattr(obj, f"get_{f.name}_display")() if f.choices else getattr(obj, f.name)
    if f.name in ("mobile", "id_number") and not can_see_sensitive(request.user):
        return mask(f.name, value)
    return display(value)
