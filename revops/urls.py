"""revops' own routes, mounted at the top by config/urls.py: signing in and
out, the language switch, the person's API tokens (page and endpoints)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from revops import tokens, views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("account/tokens/", views.api_tokens, name="account-tokens"),
    path("api/v1/auth/token/", tokens.ObtainTokenView.as_view(), name="api-token"),
    path("api/v1/auth/tokens/", tokens.TokenListView.as_view(), name="api-tokens"),
    path("api/v1/auth/tokens/<int:pk>/", tokens.TokenDetailView.as_view(), name="api-token-detail"),
]
