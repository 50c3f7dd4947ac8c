from django.urls import path

from . import views

app_name = "loyalty"

urlpatterns = [
    path("loyalty/consumptions/", views.ConsumptionListView.as_view(), name="consumption_list"),
    path("loyalty/consumptions/<int:pk>/", views.ConsumptionDetailView.as_view(), name="consumption_detail"),
    path("loyalty/points/", views.PointsEntryListView.as_view(), name="entry_list"),
]
