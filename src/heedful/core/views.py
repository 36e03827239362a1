from django.db import connection
from django.http import HttpRequest, JsonResponse

from heedful.core import heartbeat


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and a worker beat recently, else 503 with the reason."""
    checks: dict[str, object] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
        healthy = False
    age = heartbeat.last_beat_age()
    if age is None or age > heartbeat.STALE_AFTER:
        checks["worker"] = "no heartbeat" if age is None else f"last heartbeat {age:.0f}s ago"
        healthy = False
    else:
        checks["worker"] = "ok"
        checks["worker_heartbeat_age_seconds"] = round(age, 1)
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", **checks}, status=200 if healthy else 503
    )
