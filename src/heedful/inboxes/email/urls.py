"""Inbound email webhooks from mail providers: one URL per inbox and provider."""

from django.urls import path

from heedful.inboxes.email import webhooks

urlpatterns = [
    path("<int:inbox_id>/<str:provider>/", webhooks.inbound, name="email-webhook"),
    # Mailgun posts the raw message (body-mime) only to a URL that ends in "mime".
    path("<int:inbox_id>/<str:provider>/mime", webhooks.inbound, name="email-webhook-mime"),
]
