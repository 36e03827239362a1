"""Inbound email webhooks from mail providers (filled in by the webhooks module)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
