from django.urls import path

from crm.core.views_import import ImportView

from . import views

app_name = "customers"

urlpatterns = [
    path("leads/", views.LeadListView.as_view(), name="lead_list"),
    *(path(f"leads/week/{w}/", v.as_view(), name=f"lead_week_{w}") for w, v in views.LEAD_WEEKS.items()),
    path("leads/entry/", views.LeadEntryListView.as_view(), name="lead_entry"),
    path("leads/review/", views.LeadReviewView.as_view(), name="lead_review"),
    path("leads/review/count/", views.ReviewCountView.as_view(form_type="lead"), name="lead_review_count"),
    path("leads/new/", views.LeadCreateView.as_view(), name="lead_create"),
    path("leads/<int:pk>/", views.LeadDetailView.as_view(), name="lead_detail"),
    path("customers/", views.CustomerListView.as_view(), name="customer_list"),
    *(path(f"customers/week/{w}/", v.as_view(), name=f"customer_week_{w}") for w, v in views.CUSTOMER_WEEKS.items()),
    path("customers/entry/", views.CustomerEntryListView.as_view(), name="customer_entry"),
    path("customers/review/", views.CustomerReviewView.as_view(), name="customer_review"),
    path("customers/review/count/", views.ReviewCountView.as_view(form_type="customer"), name="customer_review_count"),
    path("customers/<int:pk>/", views.CustomerDetailView.as_view(), name="customer_detail"),
    path("customers/<int:pk>/tabs/<slug:key>/", views.CustomerTabView.as_view(), name="customer_tab"),
    path("merge/lead/", views.MergeView.as_view(), {"kind": "lead"}, name="merge_lead"),
    path("merge/customer/", views.MergeView.as_view(), {"kind": "customer"}, name="merge_customer"),
    path("import/<slug:kind>/", ImportView.as_view(kinds=("lead", "customer")), name="import"),
]
