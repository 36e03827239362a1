from django.urls import path

from heedful.portal import views

app_name = "portal"
urlpatterns = [
    path("contact/", views.contact, name="contact"),
    path("contact/thanks/<str:token>/", views.contact_thanks, name="contact-thanks"),
]
