from django.utils import translation


class UserLanguageMiddleware:
    """A signed-in user's saved language wins over the cookie and Accept-Language.

    Runs after LocaleMiddleware (which read the cookie or header) and after
    authentication, so only an explicit choice stored on the user overrides.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)
