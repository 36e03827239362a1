from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from heedful.core.views import healthz

admin.site.site_header = "Heedful administration"
admin.site.site_title = "Heedful"

urlpatterns = [
    path("", RedirectView.as_view(url="/contact/", permanent=False)),
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
