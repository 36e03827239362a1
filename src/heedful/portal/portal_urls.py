"""The customer portal under /portal/ (being written)."""

from django.urls import URLPattern

app_name = "customer_portal"
urlpatterns: list[URLPattern] = []
