from __future__ import annotations

import dataclasses
from typing import Any, cast

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.accounts.models import User
from crm.core.lists import Column
from crm.core.masking import mask_form
from crm.core.views_base import BulkAction, BulkOutcome, Button, CrmView, ObjectListView, QuickFilter, is_htmx

from . import engine, selectors, services
from .approvers import assign_candidates, transfer_candidates
from .errors import WorkflowError
from .forms import ActionForm, ApplicationFilterForm, BulkApproveForm, ChainStepFormSet, TaskFilterForm
from .models import Application, Chain, EventAction, Status, Task, TaskStatus
from .registry import FormType, form_types


def type_label(key: str) -> str:
    ft = form_types.get(key)
    return str(ft.label) if ft else key


def due_display(task: Task) -> str:
    if task.due_at is None:
        return ""
    from django.utils import timezone

    text = timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M")
    return format_html('<span class="badge text-bg-danger">{}</span> {}', _("已超期"), text) if task.overdue else text


# ---------------------------------------------------------------------------------------------------
# 〖待办业务〗, 已办, 我的申请, 申请单查询
# ---------------------------------------------------------------------------------------------------


class TaskListBase(ObjectListView):
    model = Task
    filter_form_class = TaskFilterForm
    select_related = ("application", "application__applicant")
    detail_url_name = "workflow:detail"

    def detail_url(self, obj: Any) -> str:
        return reverse("workflow:detail", args=[obj.application_id])

    def row_title(self, obj: Any) -> str:
        return obj.application.title


class TodoListView(TaskListBase):
    title = gettext_lazy("待办业务")
    tab_key = "todo"
    default_sort = "-created_at"
    columns = [
        Column("title", gettext_lazy("申请单"), accessor="application.title"),
        Column("form_type", gettext_lazy("类型"), accessor=lambda t: type_label(t.form_type)),
        Column("applicant", gettext_lazy("申请人"), accessor="application.applicant.full_name"),
        Column("step", gettext_lazy("当前步骤"), accessor="application.step_label"),
        Column("created_at", gettext_lazy("到达时间"), sort="created_at"),
        Column("due_at", gettext_lazy("办理期限"), accessor=due_display),
    ]

    bulk_actions = [
        BulkAction("approve", gettext_lazy("批量通过"), confirm=gettext_lazy("对勾选的申请单逐张【通过】?")),
        BulkAction(
            "assign",
            gettext_lazy("批量分配"),
            confirm=gettext_lazy("把勾选的申请单都分配给所选的人?"),
            needs="assign_to",
        ),
    ]
    assigned_to: Any = None

    def get_queryset(self, action: str = "view") -> QuerySet:
        return selectors.todo(self.request.user).select_related(*self.select_related)

    @staticmethod
    def _assigning(task: Task) -> Any:
        """The role the task's step names people from (its 【分配】), or None."""
        return task.application.steps[task.step]["assign_role"]

    def shown_bulk_actions(self, rows: list[Any]) -> list[BulkAction]:
        """【批量通过】 for the page's plain steps, 【批量分配】 for its steps that assign (all of 潜在客户审核's).
        Where every plain step on the page names its approval alike (经理复核's 【提交】), so does the button."""
        kinds = {"assign" if self._assigning(t) else "approve" for t in rows}
        labels = {engine.approval_label(t.application, t.step) for t in rows if not self._assigning(t)}
        shown = []
        for a in self.bulk_actions:
            if a.name == "approve" and len(labels) == 1 and labels != {str(engine.ACTION_LABELS["approve"])}:
                (label,) = labels
                a = dataclasses.replace(
                    a,
                    label=_("批量%(action)s") % {"action": label},
                    confirm=_("对勾选的申请单逐张【%(action)s】?") % {"action": label},
                )
            if a.name in kinds:
                shown.append(a)
        return shown

    def get_bulk_form(self, data: Any = None, rows: list[Any] | None = None) -> BulkApproveForm:
        if rows is None:  # checking what was sent: whether that person may be named at each step is the engine's
            return BulkApproveForm(data, candidates=User.objects.filter(is_active=True))
        roles = {self._assigning(t) for t in rows} - {None}
        if not roles:
            return BulkApproveForm(data)
        user = cast(User, self.request.user)
        ids = {
            pk for role in roles for pk in assign_candidates(user, {"assign_role": role}).values_list("pk", flat=True)
        }
        return BulkApproveForm(data, candidates=User.objects.filter(pk__in=ids).order_by("department__path", "id"))

    def describe_gone(self, pks: list[int]) -> list[tuple[str, str]]:
        """Ticked to-dos of this person's that left the list meanwhile, and why."""
        out = []
        for task in Task.objects.filter(pk__in=pks, approver=self.request.user.pk).select_related("application"):
            app = task.application
            if task.status == TaskStatus.CANCELLED and app.status == Status.DRAFT:
                why = _("申请人已撤销")
            elif task.status != TaskStatus.CANCELLED:
                why = _("您已经处理过")
            else:
                why = _("已由别人处理")
            out.append((app.title, why))
        return out

    def bulk(self, action: str, rows: list[Any], form: Any) -> BulkOutcome:
        self.assigned_to = form.cleaned_data.get("assign_to") if action == "assign" else None
        done, refused = services.approve_many(
            actor=self.request.user, tasks=rows, opinion=form.cleaned_data["opinion"], assign_to=self.assigned_to
        )
        return BulkOutcome(done, refused)

    def bulk_done_message(self, action: BulkAction, done: int) -> str:
        if self.assigned_to is not None:
            return _("已把 %(n)d 张申请单分配给%(name)s。") % {"n": done, "name": self.assigned_to}
        return _("已通过 %(n)d 张申请单。") % {"n": done}

    def quick_filters(self) -> list[QuickFilter]:
        groups = selectors.todo_groups(self.request.user)
        if len(groups) < 2:
            return []
        total = sum(n for _k, _l, n in groups)
        return [QuickFilter(_("全部"), {"form_type": ""}, total)] + [
            QuickFilter(label, {"form_type": key}, n) for key, label, n in groups
        ]


class DoneListView(TaskListBase):
    title = gettext_lazy("已办业务")
    tab_key = "done"
    default_sort = "-acted_at"
    columns = [
        Column("title", gettext_lazy("申请单"), accessor="application.title"),
        Column("form_type", gettext_lazy("类型"), accessor=lambda t: type_label(t.form_type)),
        Column("applicant", gettext_lazy("申请人"), accessor="application.applicant.full_name"),
        Column("outcome", gettext_lazy("我的处理"), accessor="get_status_display"),
        Column("acted_at", gettext_lazy("处理时间"), sort="acted_at"),
        Column("status", gettext_lazy("申请单状态"), accessor="application.get_status_display"),
    ]

    def get_queryset(self, action: str = "view") -> QuerySet:
        return selectors.done(self.request.user).select_related(*self.select_related)


class ApplicationListBase(ObjectListView):
    model = Application
    filter_form_class = ApplicationFilterForm
    default_sort = "-created_at"
    select_related = ("applicant", "handler")
    detail_url_name = "workflow:detail"
    columns = [
        Column("title", gettext_lazy("申请单"), sort="title"),
        Column("form_type", gettext_lazy("类型"), accessor=lambda a: type_label(a.form_type)),
        Column("applicant", gettext_lazy("申请人"), accessor="applicant.full_name"),
        Column("status", gettext_lazy("状态"), accessor=lambda a: status_text(a)),
        Column("step", gettext_lazy("当前步骤"), accessor="step_label"),
        Column("created_at", gettext_lazy("创建时间"), sort="created_at"),
    ]


def status_text(app: Application) -> str:
    text = str(app.get_status_display())
    if app.returned:
        text += _("(已退回)")
    if app.handler_id:
        text += _("(已流转给%(name)s)") % {"name": app.handler.full_name if app.handler else ""}
    return text


class MineListView(ApplicationListBase):
    """〖我的申请〗: what I applied for, and what colleagues handed to me (【流转】)."""

    title = gettext_lazy("我的申请")
    tab_key = "mine"
    personal = True

    def get_queryset(self, action: str = "view") -> QuerySet:
        return selectors.mine(self.request.user).select_related(*self.select_related)

    def get_toolbar(self) -> list[Button]:
        return [
            Button(
                _("新增%(type)s") % {"type": ft.label},
                "workflow:create",
                ft.create_permission,
                "bi-plus-lg",
                args=(ft.key,),
            )
            for ft in form_types.all()
        ]


class ApplicationListView(ApplicationListBase):
    """〖申请单查询〗: every application in the user's data scope."""

    title = gettext_lazy("申请单查询")
    tab_key = "applications"
    permission = "workflow.view_application"
    export_permission = "workflow.view_application"


class TodoCountView(CrmView):
    """The count beside 〖待办业务〗 in the menu."""

    def get(self, request: HttpRequest) -> HttpResponse:
        n = sum(selectors.todo_counts(request.user).values())
        if not n:
            return HttpResponse("")
        return HttpResponse(
            format_html('<span class="badge rounded-pill text-bg-danger" data-testid="todo-count">{}</span>', n)
        )


# ---------------------------------------------------------------------------------------------------
# One application
# ---------------------------------------------------------------------------------------------------

BUTTONS = {
    "submit": ("btn-primary", "bi-send"),
    "approve": ("btn-success", "bi-check-lg"),
    "reject": ("btn-danger", "bi-x-lg"),
    "return": ("btn-warning", "bi-arrow-return-left"),
    "withdraw": ("btn-outline-secondary", "bi-arrow-counterclockwise"),
    "transfer": ("btn-outline-primary", "bi-arrow-left-right"),
    "take_back": ("btn-outline-primary", "bi-box-arrow-in-left"),
}


def _form_type(key: str) -> FormType:
    ft = form_types.get(key)
    if ft is None:
        raise Http404
    return ft


class ApplicationView(CrmView):
    """Create (``form_type``) or open (``pk``) an application: its form, its buttons, its 【流程信息】."""

    title: Any = gettext_lazy("申请单")
    done_label = ""
    assigned: User | None = None

    def get_tab_key(self) -> str:
        pk = self.kwargs.get("pk")
        return f"application-{pk}" if pk else f"application-new-{self.kwargs.get('form_type')}"

    def get_application(self) -> Application | None:
        pk = self.kwargs.get("pk")
        if pk is None:
            return None
        return get_object_or_404(
            Application.objects.for_user(self.request.user).select_related("applicant", "handler"), pk=pk
        )

    def get(self, request: HttpRequest, pk: int | None = None, form_type: str | None = None) -> HttpResponse:
        app = self.get_application()
        ft = _form_type(app.form_type if app else str(form_type))
        if app is None and not ft.may_create(request.user):
            return self.refuse(_("您没有新增「%(type)s」的权限。") % {"type": ft.label})
        if app is not None:
            engine.mark_opened(app, request.user)
        return self.show(ft, app, self.build_form(ft, app, initial=self.prefill(ft)))

    def post(self, request: HttpRequest, pk: int | None = None, form_type: str | None = None) -> HttpResponse:
        app = self.get_application()
        ft = _form_type(app.form_type if app else str(form_type))
        action = request.POST.get("_action", "save")
        if app is None and not ft.may_create(request.user):
            return self.refuse(_("您没有新增「%(type)s」的权限。") % {"type": ft.label})
        try:
            if action in ("save", "submit"):
                form = self.build_form(ft, app, data=request.POST)
                if app is None or engine.can_edit(app, request.user):
                    if not form.is_valid():
                        return self.show(ft, app, form, status=422)
                    app = services.draft_save(actor=request.user, form_type=ft, form=form, application=app)
                if action == "submit":
                    assert app is not None
                    app = engine.transition(app, "submit", actor=request.user)
            elif action == "delete" and app is not None:
                engine.delete(app, actor=request.user, request=request)
                messages.success(request, _("申请单「%(title)s」已删除。") % {"title": app.title})
                return self.after(None)
            elif app is not None:
                act = ActionForm(
                    request.POST,
                    candidates=User.objects.filter(is_active=True),
                    colleagues=User.objects.filter(is_active=True),
                )
                if not act.is_valid():
                    raise WorkflowError(_("请检查填写的审批内容。"))
                kw = {k: v for k, v in act.cleaned_data.items() if v not in (None, "")}
                if action != "transfer":
                    kw.pop("can_edit", None)
                    kw.pop("transfer_to", None)
                # the button's own name, of the step the page showed (it may have moved on since)
                self.done_label = self.action_label(action, app, request.POST.get("_step"))
                app = engine.transition(app, action, actor=request.user, label=self.done_label, **kw)
                self.assigned = kw.get("assign_to") if action == "approve" else None
            else:
                raise Http404
        except WorkflowError as exc:
            messages.error(request, " ".join(exc.messages))
            app = self.get_application() if app is None or app.pk is None else Application.objects.get(pk=app.pk)
            if action in ("save", "submit"):
                return self.show(ft, app, self.build_form(ft, app, data=request.POST), status=409)
            # the approver's opinion and choices stay as typed
            return self.show(ft, app, self.build_form(ft, app), status=409, act_data=request.POST)
        messages.success(request, self.done_message(action, app))
        return self.after(app)

    # -- helpers ------------------------------------------------------------------------------------
    def done_message(self, action: str, app: Application) -> str:
        if action == "save":
            return _("已保存。")
        if app.status == Status.APPROVED and self.assigned is not None:
            return _("「%(title)s」已审批通过。已分配给%(name)s。") % {"title": app.title, "name": self.assigned}
        if app.status == Status.APPROVED:
            return _("「%(title)s」已审批通过。") % {"title": app.title}
        if self.assigned is not None:
            return _("已分配给%(name)s。") % {"name": self.assigned}
        return _("已%(action)s。") % {"action": self.done_label or self.action_label(action, app)}

    def after(self, app: Application | None) -> HttpResponse:
        if app is None:
            if is_htmx(self.request):
                response = HttpResponse(format_html('<div class="crm-detail">{}</div>', _("申请单已删除。")))
                response["HX-Trigger"] = "crm:changed"
                return response
            return redirect("workflow:mine")
        if not is_htmx(self.request):
            return redirect(reverse("workflow:detail", args=[app.pk]))
        self.kwargs["pk"] = app.pk
        app = (
            self.get_application()
            if Application.objects.for_user(self.request.user).filter(pk=app.pk).exists()
            else None
        )
        if app is None:  # handled and now out of reach (e.g. an approver after the last step): say so
            response = HttpResponse(format_html('<div class="crm-detail">{}</div>', _("已处理。")))
        else:
            response = self.show(_form_type(app.form_type), app, self.build_form(_form_type(app.form_type), app))
        response["HX-Trigger"] = "crm:changed"
        return response

    def prefill(self, ft: FormType) -> dict[str, Any]:
        source = ft.source(self.request.GET.get("source", ""))
        pick = self.request.GET.get("pick", "")
        if source is None or not pick.isdigit():
            return {}
        obj = source.queryset(self.request.user).filter(pk=int(pick)).first()
        if obj is None:
            messages.error(self.request, _("所选的来源数据不存在或不在您的数据权限范围内。"))
            return {}
        return source.prefill(obj)

    def build_form(self, ft: FormType, app: Application | None, data: Any = None, initial: Any = None) -> Any:
        instance = ft.instance_for(app) if app else None
        form = ft.make_form(self.request.user, data=data, instance=instance, initial=initial)
        editable = app is None or engine.can_edit(app, self.request.user)
        for name, field in form.fields.items():
            locked = (
                app is not None
                and app.returned
                and ft.editable_after_return is not None
                and (name not in ft.editable_after_return)
            )
            if not editable or locked:
                field.disabled = True
        if app is not None and app.applicant_id != self.request.user.pk:
            mask_form(form, self.request.user)
        return form

    def action_label(self, action: str, app: Application | None, step_index: str | None = None) -> str:
        """The name of ``action``'s button; an approval is named by its step (by default the current one)."""
        if action == "approve" and app is not None:
            shown = int(step_index) if step_index and step_index.isdecimal() and len(step_index) < 5 else None
            return engine.approval_label(app, shown)
        return str(engine.ACTION_LABELS[action])

    def refuse(self, message: str) -> HttpResponse:
        messages.error(self.request, message)
        return self.render_page("workflow/refused.html", {}, status=403)

    def show(
        self, ft: FormType, app: Application | None, form: Any, status: int = 200, act_data: Any = None
    ) -> HttpResponse:
        user = cast(User, self.request.user)
        actions = engine.allowed_actions(app, user) if app else []
        step = app.step if app else None
        candidates = assign_candidates(user, step) if step and step["assign_role"] and "approve" in actions else None
        colleagues = transfer_candidates(app, user) if app and "transfer" in actions else None
        act_form = ActionForm(act_data, candidates=candidates, colleagues=colleagues)
        editable = app is None or engine.can_edit(app, user)
        deletable = (
            app is not None
            and app.status == Status.DRAFT
            and (user.has_perm("workflow.delete_any_application") or (user.pk == app.applicant_id and not app.round))
        )
        summary = ft.summary(form.instance, user) if app is not None and ft.summary is not None else []
        rejection = (
            app.events.filter(action=EventAction.REJECT).order_by("-id").first()
            if app is not None and app.status == Status.REJECTED
            else None
        )
        if app is not None:
            self.title = app.title
        else:
            self.title = _("新增%(type)s") % {"type": ft.label}
        buttons = [(a, self.action_label(a, app), *BUTTONS[a]) for a in actions if a not in ("transfer", "take_back")]
        context = {
            "ft": ft,
            "app": app,
            "form": form,
            "act_form": act_form,
            "editable": editable,
            "can_submit": app is None or "submit" in actions,
            "deletable": deletable,
            "buttons": buttons,
            "needs_assign": candidates is not None,
            "is_approver": "approve" in actions,
            "can_transfer": "transfer" in actions,
            "can_take_back": "take_back" in actions,
            "sources": ft.sources if app is None else (),
            "post_url": reverse("workflow:detail", args=[app.pk]) if app else self.request.path,
            "summary": summary,
            "rejection": rejection,
        }
        return self.render_page("workflow/application.html", context, status=status)


class TimelineView(CrmView):
    """【流程信息】: the whole timeline of an application."""

    title = gettext_lazy("流程信息")

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        app = get_object_or_404(Application.objects.for_user(request.user).select_related("applicant"), pk=pk)
        self.tab_key = f"timeline-{pk}"
        return self.render_page("workflow/timeline.html", {"app": app, "events": selectors.timeline(app)})


class SourcePickView(CrmView):
    """【来源数据】: pick a record to pre-fill a new application with."""

    title = gettext_lazy("来源数据")

    def get(self, request: HttpRequest, form_type: str, source: str) -> HttpResponse:
        ft = _form_type(form_type)
        src = ft.source(source)
        if src is None:
            raise Http404
        q = request.GET.get("q", "").strip()[:50]
        records = src.queryset(request.user)
        rows = [r for r in records[:500] if q in src.describe(r)] if q else list(records[:50])
        self.tab_key = f"application-new-{form_type}"
        return self.render_page(
            "workflow/source_pick.html",
            {"ft": ft, "src": src, "rows": [(r.pk, src.describe(r)) for r in rows[:50]], "q": q},
            partial="picker",
        )


# ---------------------------------------------------------------------------------------------------
# 系统管理 › 流程配置
# ---------------------------------------------------------------------------------------------------


class ChainListView(CrmView):
    title = gettext_lazy("流程配置")
    tab_key = "chains"
    permission = "workflow.view_chain"

    def get(self, request: HttpRequest) -> HttpResponse:
        chains = {c.form_type: c for c in Chain.objects.prefetch_related("steps")}
        rows = [
            {
                "ft": ft,
                "steps": list(chains[ft.key].steps.all()) if ft.key in chains else [],
                "in_flight": services.in_flight(ft),
            }
            for ft in form_types.all()
        ]
        return self.render_page("workflow/chain_list.html", {"rows": rows})


class ChainEditView(CrmView):
    title: Any = gettext_lazy("流程配置")
    permission = "workflow.view_chain"

    def get_tab_key(self) -> str:
        return f"chain-{self.kwargs['form_type']}"

    def get(self, request: HttpRequest, form_type: str) -> HttpResponse:
        ft = _form_type(form_type)
        chain = Chain.objects.filter(form_type=ft.key).first() or Chain(form_type=ft.key)
        return self.show(ft, ChainStepFormSet(instance=chain, prefix="steps", form_type=ft))

    def post(self, request: HttpRequest, form_type: str) -> HttpResponse:
        ft = _form_type(form_type)
        if not request.user.has_perm("workflow.change_chain"):
            messages.error(request, _("您没有修改流程配置的权限。"))
            return self.get(request, form_type)
        chain = Chain.objects.filter(form_type=ft.key).first() or Chain(form_type=ft.key)
        steps = ChainStepFormSet(
            request.POST,
            instance=chain,
            prefix="steps",
            form_type=ft,
            no_steps_confirmed=request.POST.get("confirm_no_steps") == "on",
        )
        if not steps.is_valid():
            return self.show(ft, steps, status=422)
        chain = services.chain_save(actor=request.user, form_type=ft, steps=steps, request=request)
        messages.success(
            request, _("「%(type)s」的审批流程已保存;已提交的申请单仍按提交时的流程审批。") % {"type": ft.label}
        )
        if is_htmx(request):
            return self.show(ft, ChainStepFormSet(instance=chain, prefix="steps", form_type=ft))
        return redirect(reverse("workflow:chain_edit", args=[ft.key]))

    def show(self, ft: FormType, steps: Any, status: int = 200) -> HttpResponse:
        self.title = _("流程配置:%(type)s") % {"type": ft.label}
        return self.render_page(
            "workflow/chain_form.html",
            {"ft": ft, "steps": steps, "can_edit": self.request.user.has_perm("workflow.change_chain")},
            status=status,
        )
