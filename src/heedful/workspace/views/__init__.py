"""Agent workspace views, one module per area; each module owns its `urlpatterns`."""
