"""Placeholder until the conversation page lands."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def placeholder(request: HttpRequest, **kw: object) -> HttpResponse:
    return HttpResponse("not built yet")


urlpatterns = [path("conversations/<int:pk>/", placeholder, name="conversation")]
