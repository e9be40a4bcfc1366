"""POST /api/v1/intake/: leads from other systems, authenticated by a source's
secret key. The answer is sent only after the lead is committed."""

import hashlib
import json
import logging

from django.conf import settings
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from leads.intake import IdempotencyConflict, Submission, channel_of, take_lead
from leads.intake_keys import find_key
from leads.serializers import IntakeResponseSerializer, IntakeSerializer
from revops.inputs import limit_body
from revops.ratelimit import hit, hit_all
from revops.signin import client_ip

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_MAX = 200
# An intake body is a few kB (`extra` alone is capped at 8 kB); anything far
# larger is refused with 413 before it is read.
MAX_BODY_BYTES = 64 * 1024


def client_address(request) -> str:
    # Behind TRUSTED_PROXY_COUNT proxies the address our nearest proxy saw, as
    # sign-in counts it; otherwise a proxy would be one address for every site.
    return client_ip(request) or ""


def too_many(retry_after: int) -> Response:
    response = Response(
        {"detail": _("Too many requests; try again in %(s)s seconds.") % {"s": retry_after}},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(retry_after)
    return response


def submission_from(data: dict, source, *, received_at=None) -> Submission:
    return Submission(
        source=source,
        channel=channel_of(data["channel"]),
        phone=data["phone"],
        email=data["email"],
        name=data["name"].strip(),
        company=data["company"].strip(),
        product=data["product"].strip(),
        comment=data["comment"].strip(),
        landing_page=data["landing_page"],
        utm={
            k: data[k].strip()
            for k in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
        },
        extra=data["extra"],
        consent_text=data["consent_text"],
        marketing_consent=data.get("marketing_consent", False),
        marketing_consent_text=data.get("marketing_consent_text", ""),
        client_ip=data["client_ip"],
        received_at=received_at,
    )


@method_decorator(limit_body(MAX_BODY_BYTES), name="dispatch")
class IntakeView(APIView):
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="intake_create",
        request=IntakeSerializer,
        parameters=[
            OpenApiParameter(
                "X-Intake-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description=_("The secret intake key of a source."),
            ),
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description=_("Any unique string; a retry with the same key returns the first answer."),
            ),
        ],
        responses={
            201: IntakeResponseSerializer,
            200: OpenApiResponse(
                IntakeResponseSerializer, description=_("The request joined the contact's open lead.")
            ),
            400: OpenApiResponse(description=_("{field: [messages]}")),
            401: OpenApiResponse(description=_("No intake key.")),
            403: OpenApiResponse(description=_("Unknown or revoked intake key.")),
            413: OpenApiResponse(description=_("The body is over 64 kB.")),
            429: OpenApiResponse(
                description=_(
                    "Over the key's or the address's limit, or too many wrong keys from the address."
                )
            ),
        },
        tags=["intake"],
    )
    def post(self, request):
        address = client_address(request)
        # Guessing keys must be slow: after too many wrong ones an address gets
        # 429 for every request until the window ends, a right key included
        # (read in the same round trip as the key's and the address's limits).
        limit, window = settings.INTAKE_BAD_KEY_LIMIT_PER_IP, settings.INTAKE_BAD_KEY_WINDOW
        raw_key = request.headers.get("X-Intake-Key", "")
        key = find_key(raw_key) if raw_key else None
        if key is None:
            allowed, retry = hit("intake-bad-key", address, limit, window)
            if not allowed:
                return too_many(retry)
            if not raw_key:
                return Response(
                    {"detail": _("Send the source's key in the X-Intake-Key header.")}, status=401
                )
            logger.info("intake: unknown or revoked key from %s", address)
            return Response({"detail": _("This intake key is unknown or revoked.")}, status=403)
        allowed, retry = hit_all(
            [
                ("intake-key", str(key.pk), key.rate_limit_per_minute),
                ("intake-ip", address, settings.INTAKE_RATE_LIMIT_PER_IP),
            ],
            failures=("intake-bad-key", address, limit, window),
        )
        if not allowed:
            return too_many(retry)

        idempotency_key = request.headers.get("Idempotency-Key", "").strip()
        if len(idempotency_key) > IDEMPOTENCY_KEY_MAX or not idempotency_key.isprintable():
            return Response(
                {"Idempotency-Key": [_("At most %(n)s printable characters.") % {"n": IDEMPOTENCY_KEY_MAX}]},
                status=400,
            )
        serializer = IntakeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Only a request with an Idempotency-Key is ever compared with another.
        body_hash = (
            hashlib.sha256(
                json.dumps(request.data, sort_keys=True, ensure_ascii=False, default=str).encode()
            ).hexdigest()
            if idempotency_key
            else ""
        )
        try:
            outcome = take_lead(
                submission_from(serializer.validated_data, key.source),
                idempotency_key=idempotency_key,
                request_hash=body_hash,
            )
        except IdempotencyConflict:
            return Response(
                {"Idempotency-Key": [_("This key was already used with a different request.")]}, status=400
            )
        key.mark_used(timezone.now())
        response = Response(outcome.body(), status=outcome.status_code)
        if outcome.replayed:
            response["Idempotent-Replayed"] = "true"
        return response
