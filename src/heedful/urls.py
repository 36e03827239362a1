from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from heedful.core.views import healthz

admin.site.site_header = "Heedful administration"
admin.site.site_title = "Heedful"

urlpatterns = [
    path("", RedirectView.as_view(url="/contact/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("app/", include("heedful.workspace.urls")),
    path("", include("heedful.portal.urls")),
]
