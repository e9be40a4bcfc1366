"""Where to send the browser back to after a POST: the page's own `next`, only
when it stays on this site."""

from urllib.parse import urlsplit

from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, fallback: str, field: str = "next") -> str:
    """`request.POST[field]` when it is a URL of this site, else `fallback` (a URL
    or a URL name). Django's check refuses other hosts in every spelling browsers
    accept (`//evil.example`, `/\\evil.example`, `https://evil.example`), schemes
    such as `javascript:`, and plain http from an https page."""
    url = request.POST.get(field, "")
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) and (url.startswith("/") or urlsplit(url).scheme in ("http", "https")):
        # A path or a full URL only: redirect() would look a bare word up as a view name.
        return url
    return resolve_url(fallback)
