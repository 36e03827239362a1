from django.urls import path

from heedful.workspace import views

app_name = "workspace"
urlpatterns = [
    path("attachments/<int:pk>/", views.download_attachment, name="attachment"),
]
