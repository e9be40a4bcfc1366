from django.urls import path

from reports import dashboard

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("trend/", dashboard.trend, name="dashboard-trend"),
    path("targets/", dashboard.targets, name="kpi-targets"),
]
