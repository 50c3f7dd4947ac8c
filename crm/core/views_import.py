"""The import page of every registered importer (``crm.core.imports.register``): upload → preview with every row's
problems → 【确认导入】 → report → 【撤销】; the template to download and the rows not imported.

A commit or undo of a batch bigger than ``CRM_IMPORT_BACKGROUND_ROWS`` rows runs as a background task; the page
then shows its progress, asking again every second (htmx) until it is done."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _

from . import imports
from .imports import Importer, ImportFileError, ImportRefused, problems_xlsx, template_xlsx
from .models import ImportBatch, ImportJob, ImportStatus
from .views_base import CrmView


def _importer(request: HttpRequest, kind: str) -> Importer:
    importer = imports.IMPORTERS.get(kind)
    if importer is None:
        raise Http404
    if request.user.is_authenticated and not request.user.has_perm(importer.permission):
        raise PermissionDenied(_("您没有导入%(kind)s的权限。") % {"kind": importer.label})
    return importer


def _attachment(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


class ImportView(CrmView):
    """Routed by each app under its own menu item, with the importer's ``kind`` (one of ``kinds``)."""

    kinds: tuple[str, ...] = ()

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        kind = kwargs.get("kind", "")
        if kind not in self.kinds:
            raise Http404
        self.importer = _importer(request, kind)
        return super().dispatch(request, *args, **kwargs)

    def get_title(self) -> Any:
        return self.importer.title

    def get_tab_key(self) -> str:
        return f"import-{self.importer.key}"

    def batches(self) -> QuerySet[ImportBatch]:
        return ImportBatch.objects.filter(created_by=self.request.user.pk, kind=self.importer.key)

    def recent(self) -> QuerySet[ImportBatch]:
        """The last ten imports, without their uploads and problem rows (the table shows neither)."""
        return self.batches().order_by("-created_at").defer("data", "problems")[:10]

    def find(self, value: str) -> ImportBatch | None:
        return self.batches().filter(pk=int(value)).first() if value.isdigit() and len(value) < 12 else None

    def get(self, request: HttpRequest, kind: str) -> HttpResponse:
        """The page; with ``?batch=N`` that import's result (or its progress), with ``&part=batch`` only that."""
        value = request.GET.get("batch", "")
        if not value:
            return self.show()
        batch = self.find(value)
        if batch is None:
            raise Http404
        if request.GET.get("part") == "batch":
            return self.show_batch(batch, watched=request.GET.get("watch", ""))
        return self.show(batch=batch)

    def post(self, request: HttpRequest, kind: str) -> HttpResponse:
        action = request.POST.get("_action", "")
        try:
            if action == "preview":
                return self.preview()
            batch = self.find(request.POST.get("batch", ""))
            if batch is None:
                messages.error(request, _("找不到这次导入,请重新上传文件。"))
                return self.show(status=404)
            if action == "discard":
                name = imports.discard(actor=request.user, batch=batch)
                messages.success(request, _("已放弃「%(name)s」,什么也没有导入。") % {"name": name})
                response = self.show()
                response["HX-Trigger"] = "crm:changed"
                return response
            if action not in ImportJob.values:
                messages.error(request, _("不认识的操作。"))
                return self.show(status=400)
            if batch.job and not imports.job_stale(batch):
                messages.error(request, _("这次导入正在后台处理,请等它完成。"))
                return self.show(batch=batch, status=409)
            if imports.in_background(batch):
                return self.start(batch, action)
            if batch.job:  # a lost background job of a batch now small enough for the request
                ImportBatch.objects.filter(pk=batch.pk).update(job="")
            if action == ImportJob.COMMIT:
                batch = self.importer.commit(actor=request.user, batch=batch, request=request)
            else:
                n = self.importer.undo(actor=request.user, batch=batch, request=request)
                batch.refresh_from_db()  # shown as it is now: 已撤销, no 【撤销】 any more
            messages.success(request, self.done_message(batch, action, None if action == ImportJob.COMMIT else n))
        except (ImportFileError, ImportRefused) as exc:
            messages.error(request, " ".join(str(m) for m in exc.messages))
            # a refused commit or undo stays on its import, as it is now (an upload refused has none)
            kept = self.find(request.POST.get("batch", "")) if action != "preview" else None
            return self.show(batch=kept, status=422)
        response = self.show(batch=batch)
        response["HX-Trigger"] = "crm:changed"
        return response

    def preview(self) -> HttpResponse:
        upload = self.request.FILES.get("file")
        if upload is None:
            messages.error(self.request, _("请选择要导入的文件。"))
            return self.show(status=422)
        if upload.size and upload.size > settings.CRM_IMPORT_MAX_BYTES:
            raise ImportFileError(
                _("文件太大,一次最多导入 %(limit)d MB;请分成几个文件导入。")
                % {"limit": settings.CRM_IMPORT_MAX_BYTES // 1_000_000}
            )
        batch = self.importer.preview(actor=self.request.user, data=upload.read(), filename=upload.name or "")
        return self.show(batch=batch)

    def start(self, batch: ImportBatch, action: str) -> HttpResponse:
        """Hand a big commit or undo to the background, after the refusals that need no work."""
        if action == ImportJob.COMMIT and batch.status != ImportStatus.PREVIEW:
            raise ImportRefused(_("这次导入已经是「%(s)s」,不能再确认。") % {"s": batch.get_status_display()})
        if action == ImportJob.UNDO and batch.status != ImportStatus.COMMITTED:
            raise ImportRefused(_("这次导入是「%(s)s」,不能撤销。") % {"s": batch.get_status_display()})
        if not imports.enqueue(batch=batch, job=action):
            messages.error(self.request, _("这次导入正在后台处理,请等它完成。"))
            return self.show(batch=batch, status=409)
        return self.show(batch=batch, status=202)

    def done_message(self, batch: ImportBatch, action: str, undone: int | None) -> str:
        if action == ImportJob.COMMIT:
            return _("已导入 %(n)s 条%(kind)s;%(s)s 行未导入。") % {
                "n": f"{batch.imported:,}",
                "kind": self.importer.label,
                "s": f"{batch.skipped:,}",
            }
        return str(self.importer.undone) % {"n": f"{batch.imported if undone is None else undone:,}"}

    def context(self, batch: ImportBatch | None) -> dict[str, Any]:
        importer = self.importer
        watch = ""
        if batch is not None and batch.job:
            watch = f"{self.request.path}?batch={batch.pk}&part=batch&watch={batch.job}"
        return {
            "importer": importer,
            "batch": batch,
            "problems": (batch.problems[:200] if batch and not batch.job else []),
            "progress": imports.progress_of(batch.pk) if batch and batch.job else None,
            "stale": bool(batch and imports.job_stale(batch)),
            "watch_url": watch,
            "problems_url": reverse("core:import_problems", args=[importer.key, batch.pk]) if batch else "",
            "template_url": reverse("core:import_template", args=[importer.key]),
            "name_label": importer.name_label,
            "undo_confirm": importer.undo_confirm,
            "columns": importer.columns,
        }

    def show(self, batch: ImportBatch | None = None, status: int = 200) -> HttpResponse:
        context = {**self.context(batch), "recent": self.recent()}
        return self.render_page("core/import.html", context, status=status)

    def show_batch(self, batch: ImportBatch, watched: str) -> HttpResponse:
        """What the page asks every second while a job runs: its progress; once it is over, its result (with
        the recent imports, swapped in beside it)."""
        finished = bool(watched) and not batch.job
        if finished:
            if batch.job_error:
                messages.error(self.request, batch.job_error)
            elif watched in ImportJob.values:
                messages.success(self.request, self.done_message(batch, watched, None))
        context = {
            **self.context(batch),
            "recent": self.recent(),
            "finished": finished,
            "oob": True,  # the recent imports: swapped in beside the batch
        }
        response = self.render_page("core/import.html", context, partial="batch")
        if finished:
            response["HX-Trigger"] = "crm:changed"
        return response


class ImportTemplateView(CrmView):
    def get(self, request: HttpRequest, kind: str) -> HttpResponse:
        importer = _importer(request, kind)
        title = _("%(kind)s导入模板") % {"kind": importer.label}
        data = template_xlsx(title, importer.columns, [str(n) for n in importer.template_notes])
        return _attachment(data, _("%(kind)s导入模板.xlsx") % {"kind": importer.label})


class ImportProblemsView(CrmView):
    def get(self, request: HttpRequest, kind: str, pk: int) -> HttpResponse:
        importer = _importer(request, kind)
        batches = ImportBatch.objects.defer("data")  # the upload itself is not needed
        batch = get_object_or_404(batches, pk=pk, created_by=request.user.pk, kind=importer.key)
        data = problems_xlsx(_("未导入的行"), batch.problems, importer.columns)
        return _attachment(data, _("未导入的行_%(file)s.xlsx") % {"file": batch.filename.rsplit(".", 1)[0]})
