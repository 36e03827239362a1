"""Placeholder until the conversation lists land."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def placeholder(request: HttpRequest, **kw: object) -> HttpResponse:
    return HttpResponse("not built yet")


urlpatterns = [
    path("", placeholder, name="home"),
    path("conversations/", placeholder, name="conversations"),
]
