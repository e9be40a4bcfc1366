"""API tokens: issued by POST /api/v1/auth/token/, sent as `Authorization:
Token <secret>`, listed and revoked by their owner.

Our own small model (revops.models.ApiToken) rather than DRF's authtoken (one
token per user, stored in clear, never expires) or django-rest-knox (see the
comment in pyproject.toml). A token dies when it expires (API_TOKEN_DAYS), when
its owner revokes it, and with all the owner's others when the password changes
or the account is deactivated. Signing out of the browser leaves tokens alone.
"""

import unicodedata

from django.contrib.auth import authenticate
from django.db.models.signals import post_save, pre_save
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from revops import signin
from revops.models import ApiToken, User

MAX_ID = 2**63 - 1  # the largest id a 64-bit column holds

# --- revoking on a password change or deactivation --------------------------------------------------------


def _note_credential_change(sender, instance, raw=False, update_fields=None, **kwargs):
    instance._revoke_api_tokens = False
    if raw or instance.pk is None:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # e.g. last_login on every sign-in: nothing to compare
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    # Django's check_password() re-hashes a correct password when the hasher's
    # settings change and saves it with `_password` cleared: the same password,
    # so the integrations keep their tokens. Any other new hash is a new password.
    rehash = update_fields is not None and set(update_fields) == {"password"} and instance._password is None
    password_changed = before["password"] != instance.password and not rehash
    deactivated = before["is_active"] and not instance.is_active
    instance._revoke_api_tokens = password_changed or deactivated


def _revoke_after_credential_change(sender, instance, raw=False, **kwargs):
    if getattr(instance, "_revoke_api_tokens", False):
        instance._revoke_api_tokens = False
        ApiToken.objects.filter(user=instance).delete()


def connect_signals():
    pre_save.connect(_note_credential_change, sender=User, dispatch_uid="api-tokens-note")
    post_save.connect(_revoke_after_credential_change, sender=User, dispatch_uid="api-tokens-revoke")


# --- the API ---------------------------------------------------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(label=gettext_lazy("Username"), max_length=150, trim_whitespace=False)
    password = serializers.CharField(
        label=gettext_lazy("Password"),
        max_length=4096,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
    )
    name = serializers.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text=gettext_lazy("What the token is for, e.g. the integration's name."),
    )


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text=gettext_lazy("The secret; shown only in this answer."))
    id = serializers.IntegerField()
    name = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "created_at", "expires_at", "last_used_at"]
        read_only_fields = fields


DETAIL = inline_serializer("Detail", {"detail": serializers.CharField()})
FIELD_ERRORS = OpenApiResponse(
    {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    description=gettext_lazy("Bad input: {field: [messages]}, or non_field_errors for wrong credentials."),
)
TOKEN_ID = OpenApiParameter(
    "id",
    {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID},
    OpenApiParameter.PATH,
    description=gettext_lazy("The token's id, from the list."),
)


class ObtainTokenView(APIView):
    """A new token for a user name and password (the token endpoint's contract:
    same path and body as before, `token` in the answer, now with `expires_at`)."""

    # Credentials are in the body: no session (and so no CSRF), no other token.
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenRequestSerializer,
        responses={
            200: IssuedTokenSerializer,
            400: FIELD_ERRORS,
            429: OpenApiResponse(
                DETAIL,
                description=gettext_lazy(
                    "Too many failed attempts for this user name from this address; see Retry-After."
                ),
            ),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # The DRF request goes to authenticate(): the sign-in lockout (axes)
        # counts this attempt with the login page's, per user name and address.
        user = authenticate(
            request, username=unicodedata.normalize("NFKC", data["username"]), password=data["password"]
        )
        if user is None:
            if getattr(request, "axes_locked_out", False):
                return signin.api_lockout_response(request)
            raise serializers.ValidationError(
                {"non_field_errors": [_("Unable to log in with provided credentials.")]}
            )
        token, secret = ApiToken.issue(user, name=data["name"])
        return Response(
            {"token": secret, "id": token.pk, "name": token.name, "expires_at": token.expires_at},
            status=status.HTTP_200_OK,
        )


class OwnTokensMixin:
    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return ApiToken.objects.none()
        return ApiToken.objects.live().filter(user=self.request.user)


@extend_schema(tags=["auth"])
class TokenListView(OwnTokensMixin, generics.ListAPIView):
    """The caller's live tokens (never their secrets)."""

    @extend_schema(responses={200: ApiTokenSerializer(many=True), 400: DETAIL, 401: DETAIL, 404: DETAIL})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["auth"])
class TokenDetailView(OwnTokensMixin, generics.DestroyAPIView):
    """Revoke one of the caller's tokens; another person's id is not found."""

    def get_object(self):
        if self.kwargs["pk"] > MAX_ID:
            raise exceptions.NotFound()
        return super().get_object()

    # 403: a browser session without its CSRF token (a token caller never sees it).
    @extend_schema(parameters=[TOKEN_ID], responses={204: None, 401: DETAIL, 403: DETAIL, 404: DETAIL})
    def delete(self, request, *args, **kwargs):
        return super().delete(request, *args, **kwargs)
