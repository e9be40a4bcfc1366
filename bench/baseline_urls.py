"""The app's URLs plus POST /bench/baseline/: a plain Django view that parses the
same JSON body as the intake and does one INSERT into a table the benchmark
created (`bench_baseline`). It is the floor that any write endpoint of this
stack (gunicorn + middleware + PostgreSQL round trip + commit) pays."""

import json

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as app_urlpatterns

TABLE_SQL = """
CREATE TABLE IF NOT EXISTS bench_baseline (
    id bigserial PRIMARY KEY,
    phone varchar(20) NOT NULL,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


@csrf_exempt
@require_POST
def baseline(request):
    data = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_baseline (phone, body) VALUES (%s, %s) RETURNING id",
            [data.get("phone", ""), json.dumps(data)],
        )
        (pk,) = cursor.fetchone()
    return JsonResponse({"id": pk}, status=201)


urlpatterns = [path("bench/baseline/", baseline, name="bench-baseline"), *app_urlpatterns]
