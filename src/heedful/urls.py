from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from heedful.core.views import healthz
from heedful.portal import helpcenter

admin.site.site_header = "Heedful administration"
admin.site.site_title = "Heedful"

urlpatterns = [
    # The help center is the front door: answers first, the contact form one click away.
    path("", RedirectView.as_view(url="/help/", permanent=False)),
    path("robots.txt", helpcenter.robots, name="robots"),
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (JSON, error pages).
    path("favicon.ico", RedirectView.as_view(url=static("heedful/favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("app/", include("heedful.workspace.urls")),
    # Mail providers post inbound email here (django-anymail), one URL per inbox.
    path("hooks/email/", include("heedful.inboxes.email.urls")),
    path("s/", include("heedful.surveys.urls")),
    path("help/", include("heedful.portal.help_urls")),
    path("portal/", include("heedful.portal.portal_urls")),
    path("", include("heedful.portal.urls")),
]
