"""The public help center under /help/ (being written)."""

from django.urls import URLPattern

app_name = "help"
urlpatterns: list[URLPattern] = []
