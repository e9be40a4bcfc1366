"""/disputes/: marketing's disputes of rejections and the heads' decisions (issue #15)."""

from django.urls import path

from leads import dispute_views

app_name = "disputes"
urlpatterns = [
    path("", dispute_views.dispute_list, name="list"),
    path("lead/<int:pk>/", dispute_views.dispute_open, name="open"),
    path("<int:pk>/decide/", dispute_views.dispute_decide, name="decide"),
]
