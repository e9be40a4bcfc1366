from django.urls import path

from leads import card_views, import_views, nurture_views, views

app_name = "leads"
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("new/", views.lead_new, name="new"),
    path("new/nurture-check/", nurture_views.lead_new_check, name="new-nurture-check"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("updates/", views.updates, name="updates"),
    path("<int:pk>/merge/", views.lead_merge, name="merge"),
    path("<int:pk>/do/<slug:name>/", card_views.act, name="act"),
    *import_views.urlpatterns,
]
