from django.urls import path

from heedful.surveys import views

app_name = "surveys"
urlpatterns = [
    path("<str:token>/", views.survey, name="survey"),
    path("<str:token>/unsubscribe/", views.unsubscribe, name="unsubscribe"),
]
