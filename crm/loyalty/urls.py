from django.urls import path

from crm.core.views_import import ImportView

from . import imports, views, views_manage

app_name = "loyalty"

urlpatterns = [
    path("loyalty/consumptions/", views.ConsumptionListView.as_view(), name="consumption_list"),
    path("loyalty/consumptions/<int:pk>/", views.ConsumptionDetailView.as_view(), name="consumption_detail"),
    path("loyalty/points/", views.PointsEntryListView.as_view(), name="entry_list"),
    path("loyalty/consumptions/new/", views_manage.ConsumptionCreateView.as_view(), name="consumption_create"),
    path(
        "loyalty/consumptions/<int:pk>/refund/",
        views_manage.ConsumptionRefundView.as_view(),
        name="consumption_refund",
    ),
    path(
        "loyalty/consumptions/import/",
        ImportView.as_view(kinds=(imports.KIND,)),
        {"kind": imports.KIND},
        name="consumption_import",
    ),
    path("loyalty/rules/", views_manage.RulesView.as_view(), name="rules"),
]
