"""The API docs (Swagger UI at /api/docs/) under the Content-Security-Policy.

drf-spectacular's plain Swagger view puts its init script inline; the split view
serves it from `?script` instead, so `script-src 'self'` holds, and our template
(templates/api/swagger_ui.html) moves the page's inline <style> to a file.
Swagger UI's own stylesheet draws its icons as data: images, so this page alone
may show data: images."""

from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularSwaggerSplitView


@method_decorator(csp_update({"img-src": ["data:"]}), name="dispatch")
class SwaggerView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
