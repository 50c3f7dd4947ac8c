from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("self-service/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("system/users/", views.UserListView.as_view(), name="user_list"),
    path("system/users/new/", views.UserEditView.as_view(), name="user_create"),
    path("system/users/<int:pk>/", views.UserEditView.as_view(), name="user_edit"),
    path("system/departments/", views.DepartmentTreeView.as_view(), name="department_tree"),
    path("system/departments/new/", views.DepartmentEditView.as_view(), name="department_create"),
    path("system/departments/<int:pk>/", views.DepartmentEditView.as_view(), name="department_edit"),
    path("system/positions/", views.PositionListView.as_view(), name="position_list"),
    path("system/positions/new/", views.PositionEditView.as_view(), name="position_create"),
    path("system/positions/<int:pk>/", views.PositionEditView.as_view(), name="position_edit"),
    path("system/roles/", views.RoleListView.as_view(), name="role_list"),
    path("system/roles/new/", views.RoleEditView.as_view(), name="role_create"),
    path("system/roles/<int:pk>/", views.RoleEditView.as_view(), name="role_edit"),
]
