"""The same app mounted at "/" (used when a reverse proxy supplies the /CRM sub-path as SCRIPT_NAME)."""

from .urls import build, handler403, handler404, handler500  # noqa: F401

urlpatterns = build("")
