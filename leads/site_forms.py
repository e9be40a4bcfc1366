"""The embeddable site form. A site shows it in an iframe (GET) or posts to it
from its own page with fetch(); either way it is identified by a publishable
id bound to the site's origins — never by a secret key. Same validation and
rate limits as the API, plus a honeypot field for bots."""

from csp.utils import build_policy
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from leads.intake import take_lead
from leads.intake_api import MAX_BODY_BYTES, client_address, submission_from
from leads.models import SiteForm
from leads.serializers import IntakeSerializer
from revops.inputs import BadJson, limit_body, loads
from revops.ratelimit import hit

HONEYPOT = "website"  # hidden from people by CSS; bots fill it in


def _origin(request) -> str:
    origin = request.headers.get("Origin", "")
    if not origin and request.headers.get("Referer"):
        from urllib.parse import urlsplit

        parts = urlsplit(request.headers["Referer"])
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.rstrip("/").lower()


def _cors(response, origin: str):
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


def _form_or_404(public_id) -> SiteForm:
    form = SiteForm.objects.select_related("source").filter(public_id=public_id, is_active=True).first()
    if form is None or not form.source.is_active:
        raise Http404
    return form


@xframe_options_exempt
def show(request, public_id):
    """The form as a page, to embed in an iframe on an allowed site."""
    form = _form_or_404(public_id)
    response = render(request, "leads/site_form.html", {"form": form, "honeypot": HONEYPOT})
    # The site-wide policy (settings.CONTENT_SECURITY_POLICY), except that the
    # site's own origins may frame it; the middleware leaves a set header alone.
    ancestors = sorted(form.origins()) or ["'none'"]
    response["Content-Security-Policy"] = build_policy(replace={"frame-ancestors": ancestors})
    return response


@csrf_exempt  # cross-site by design; protected by the origin check and rate limit
@require_http_methods(["POST", "OPTIONS"])
@limit_body(MAX_BODY_BYTES)
def submit(request, public_id):
    # The page's own check: an inactive form or a disabled source takes nothing (404).
    form = _form_or_404(public_id)
    origin = _origin(request)
    same_site = origin == f"{request.scheme}://{request.get_host()}".lower()
    if origin not in form.origins() and not same_site:
        return JsonResponse({"detail": _("This form is not allowed on this site.")}, status=403)
    if request.method == "OPTIONS":
        return _cors(JsonResponse({}), origin)
    allowed, retry = hit("site-form", f"{form.pk}:{client_address(request)}", form.rate_limit_per_minute)
    if not allowed:
        response = JsonResponse({"detail": _("Too many requests; try again in a minute.")}, status=429)
        response["Retry-After"] = str(retry)
        return _cors(response, origin)
    if request.content_type == "application/json":
        try:
            data = loads(request.body or b"{}")
        except BadJson as exc:
            return _cors(JsonResponse({"detail": str(exc)}, status=400), origin)
        if not isinstance(data, dict):
            return _cors(
                JsonResponse({"detail": _("Send the form fields as an object.")}, status=400), origin
            )
    else:
        data = request.POST.dict()
    if data.pop(HONEYPOT, ""):
        # A bot: accept quietly, write nothing (202, never a 201 without a lead).
        return _cors(JsonResponse({"accepted": True}, status=202), origin)
    data = {
        **data,
        "channel": "form",
        "consent_text": form.consent_version,
        "client_ip": client_address(request) or None,
    }
    if data.get("consent") in ("on", "1", "true", "yes"):
        data["consent"] = True
    # The advertising consent is its own, optional box: ticked or not, never required.
    data["marketing_consent"] = data.get("marketing_consent") in ("on", "1", "true", "yes", True)
    data["marketing_consent_text"] = form.marketing_consent_version
    serializer = IntakeSerializer(data=data, strict=False)
    if not serializer.is_valid():
        return _cors(JsonResponse(serializer.errors, status=400), origin)
    outcome = take_lead(submission_from(serializer.validated_data, form.source))
    return _cors(JsonResponse(outcome.body(), status=outcome.status_code), origin)
