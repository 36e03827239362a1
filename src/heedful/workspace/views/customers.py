"""Placeholder until the customer pages land."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def placeholder(request: HttpRequest, **kw: object) -> HttpResponse:
    return HttpResponse("not built yet")


urlpatterns = [
    path("customers/", placeholder, name="customers"),
    path("customers/<int:pk>/", placeholder, name="customer"),
]
