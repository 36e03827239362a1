"""The customer portal under /portal/: sign-in by emailed link or code, "My requests",
each request's thread with a reply form, a new request, and attachment downloads."""

from django.urls import path

from heedful.portal import account

app_name = "customer_portal"
urlpatterns = [
    path("", account.request_list, name="requests"),
    path("sign-in/", account.sign_in, name="sign-in"),
    path("sign-in/check/", account.sign_in_check, name="sign-in-check"),
    path("sign-in/<str:token>/", account.sign_in_link, name="sign-in-link"),
    path("sign-out/", account.sign_out, name="sign-out"),
    path("requests/new/", account.new_request, name="new-request"),
    path("requests/<int:number>/", account.request_detail, name="request"),
    path("attachments/<int:pk>/", account.attachment, name="attachment"),
]
