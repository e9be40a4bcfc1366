"""Report pages under /reports/ (the JSON is under /api/v1/reports/, see config/urls.py)."""

from django.urls import include, path

from leads import spend_views
from reports import views

urlpatterns = [
    path("", views.report_index, name="reports"),
    # Spend entry and import (r2-spend), before the generic report page; namespace "spend".
    path("spend/", include((spend_views.urlpatterns, "spend"))),
    path("definitions/", views.definition_history, name="definitions"),
    path("<slug:name>/", views.report_page, name="report"),
]
