from django.urls import path

from . import views, views_import

app_name = "core"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("system/audit/", views.AuditListView.as_view(), name="audit_list"),
    path("system/audit/<int:pk>/", views.AuditDetailView.as_view(), name="audit_detail"),
    path("system/dictionaries/", views.DictListView.as_view(), name="dict_list"),
    path("system/dictionaries/new/", views.DictEditView.as_view(), name="dict_create"),
    path("system/dictionaries/<int:pk>/", views.DictEditView.as_view(), name="dict_edit"),
    path("system/api-clients/", views.ApiClientListView.as_view(), name="api_client_list"),
    path("system/api-clients/new/", views.ApiClientEditView.as_view(), name="api_client_create"),
    path("system/api-clients/<int:pk>/", views.ApiClientEditView.as_view(), name="api_client_edit"),
    path("imports/<slug:kind>/template/", views_import.ImportTemplateView.as_view(), name="import_template"),
    path("imports/<slug:kind>/<int:pk>/problems/", views_import.ImportProblemsView.as_view(), name="import_problems"),
]
