"""The root URLconf: every app's pages and API under one roof. Each app's own
routes stay in the app (revops.urls, leads.urls, reports.urls); what is
mounted at the top level from several apps, and the API router, is here."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from config import views
from leads import board_views, nurture_views, site_forms, track_views
from leads import views as leads_views
from leads.api import LeadViewSet
from leads.dispute_api import DisputeViewSet
from leads.feedback_api import FeedbackViewSet
from leads.intake_api import IntakeView
from reports import board_export
from reports.api import ReportView
from revops.api_docs import SwaggerView
from sla import views as sla_views
from sla.api import BreachViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("leads", LeadViewSet, basename="lead")
router.register("sla/breaches", BreachViewSet, basename="breach")
router.register("disputes", DisputeViewSet, basename="dispute")
router.register("feedback", FeedbackViewSet, basename="feedback")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Signing in and out, the language, API tokens (pages and endpoints).
    path("", include("revops.urls")),
    path("queue/", leads_views.queue, name="queue"),
    path("queue/work/", leads_views.work_next, name="work"),
    path("team/", board_views.team_board, name="team"),
    path("team/presence/<int:user_id>/", board_views.team_presence, name="team-presence"),
    path("team/handover/<int:user_id>/", board_views.hand_over, name="team-handover"),
    path("team/reassign/", board_views.reassign, name="team-reassign"),
    path("team/breaches/acknowledge/", board_views.acknowledge_breaches, name="team-acknowledge"),
    path("team/breaches.csv", board_export.breaches_csv, name="team-breaches-csv"),
    path("leads/", include("leads.urls")),
    path("nurture/", nurture_views.nurture_page, name="nurture"),
    path("feedback/", include("leads.feedback_views")),
    # Nurture tracks and their tasks (/nurture/tracks/, /nurture/tasks/) and the public
    # unsubscribe link of track emails (/unsubscribe/<token>/); namespace "tracks".
    path("", include((track_views.urlpatterns, "tracks"))),
    path("reports/", include("reports.urls")),
    path("disputes/", include("leads.dispute_urls")),
    path("dashboard/", include("reports.dashboard_urls")),
    path("sla/breaches/", sla_views.breach_list, name="breaches"),
    path("sla/breaches/<int:pk>/<slug:verb>/", sla_views.breach_act, name="breach-act"),
    path("notifications/", sla_views.notification_list, name="notifications"),
    path("notifications/badge/", sla_views.badge, name="notifications-badge"),
    path("notifications/read/", sla_views.mark_read, name="notifications-read"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/intake/", IntakeView.as_view(), name="api-intake"),
    path("api/v1/reports/<slug:name>/", ReportView.as_view(), name="api-report"),
    path("forms/<slug:public_id>/", site_forms.show, name="site-form"),
    path("forms/<slug:public_id>/submit/", site_forms.submit, name="site-form-submit"),
    path("api/v1/", include(router.urls)),
]

handler404 = "revops.views.not_found"
handler403 = "revops.views.forbidden"
handler500 = "revops.views.server_error"
