"""The OpenAPI schema's error answers, declared once for every operation.

Every error of the API goes through revops.api.exception_handler (or answers in
the same shape by hand), so it is one shape: `{"detail": message}` or
`{field: [messages]}` (a field of a nested object maps to an object of the same
kind). Declaring that per view drifts; this hook adds the codes each kind of
operation can answer, with that shape, so generated clients and schemathesis
see what the API really does."""

from django.utils.translation import gettext_lazy as _

from revops.inputs import ID_SCHEMA

ERROR = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "{detail: message} or {field: [messages]}",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}, {"type": "string"}]
    },
}

DESCRIPTIONS = {
    "400": _("Bad input: {field: [messages]}, or {detail} for a body that is not JSON."),
    "401": _("No credentials, or a token that is unknown, expired or revoked."),
    "403": _("The caller may not do this."),
    "404": _("No such object, not one the caller may see, or a page past the last."),
    "409": _("The object's state forbids this (e.g. the lead is closed)."),
    "413": _("The request body is too large."),
    "415": _("The body's content type is not JSON, form or multipart."),
    "503": _(
        "The database is out of reach for a moment; nothing was written. Retry after Retry-After seconds."
    ),
}
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
}


def error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR] = ERROR_SCHEMA
    ref = {"$ref": f"#/components/schemas/{ERROR}"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for parameter in operation.get("parameters", []):
                # Row ids in paths are 64-bit and positive, like the filters'.
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                    parameter["schema"] = {**ID_SCHEMA}
            codes = _codes(path, method, operation)
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": str(DESCRIPTIONS[code])})
            # Any operation may meet a database restart (revops.middleware answers 503).
            responses.setdefault("503", {"description": str(DESCRIPTIONS["503"]), "headers": RETRY_AFTER})
            for code, response in responses.items():
                if code.startswith("4") or code.startswith("5"):
                    response["content"] = {"application/json": {"schema": ref}}
    return result


def _codes(path: str, method: str, operation: dict) -> list[str]:
    secured = any(requirement for requirement in operation.get("security", []))
    params = operation.get("parameters", [])
    codes = []
    if "requestBody" in operation or any(p["in"] == "query" for p in params):
        codes.append("400")
    if secured:
        codes += ["401", "403"]
    paginated = any(p["name"] == "page" and p["in"] == "query" for p in params)
    if "{" in path or paginated:
        codes.append("404")
    if "{" in path and method in ("post", "patch", "put"):
        codes.append("409")
    if "requestBody" in operation:
        codes += ["413", "415"]
    return codes
