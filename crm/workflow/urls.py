from django.urls import path

from . import views

app_name = "workflow"

urlpatterns = [
    path("workflow/todo/", views.TodoListView.as_view(), name="todo"),
    path("workflow/todo/count/", views.TodoCountView.as_view(), name="todo_count"),
    path("workflow/done/", views.DoneListView.as_view(), name="done"),
    path("workflow/mine/", views.MineListView.as_view(), name="mine"),
    path("workflow/applications/", views.ApplicationListView.as_view(), name="applications"),
    path("workflow/new/<slug:form_type>/", views.ApplicationView.as_view(), name="create"),
    path("workflow/new/<slug:form_type>/source/<slug:source>/", views.SourcePickView.as_view(), name="source"),
    path("workflow/<int:pk>/", views.ApplicationView.as_view(), name="detail"),
    path("workflow/<int:pk>/timeline/", views.TimelineView.as_view(), name="timeline"),
    path("system/workflows/", views.ChainListView.as_view(), name="chain_list"),
    path("system/workflows/<slug:form_type>/", views.ChainEditView.as_view(), name="chain_edit"),
]
