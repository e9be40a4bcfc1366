"""The browsable API (an API URL opened in a browser) under the Content-Security-Policy.

DRF's templates carry style="" attributes (float: right, margins) in some twenty
places, and an inline <style> of Pygments' colours when Pygments is installed
(it highlights code in Markdown descriptions; ours have none, so it is left
out). These pages alone may apply inline style *attributes* (`style-src-attr`);
<style> elements, scripts and everything else keep the site-wide policy, and an
attribute cannot carry a selector, so this opens no way to read the page through
CSS. (Its own module: DRF imports renderers while its views load, and
revops/api_docs.py imports those views.)"""

from rest_framework import renderers

STYLE_ATTRIBUTES = {"style-src-attr": ["'unsafe-inline'"]}


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            # What django-csp's @csp_update does to a view's response; the renderer is
            # chosen per request, so it is set here rather than on every API view.
            response._csp_update = {**(getattr(response, "_csp_update", None) or {}), **STYLE_ATTRIBUTES}
        return super().render(data, accepted_media_type, renderer_context)

    def get_context(self, data, accepted_media_type, renderer_context):
        context = super().get_context(data, accepted_media_type, renderer_context)
        context["code_style"] = None  # base.html would put it in an inline <style>
        return context
