"""The public help center under /help/."""

from django.urls import path

from heedful.portal import helpcenter as views

app_name = "help"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("suggest/", views.suggest, name="suggest"),
    path("privacy/", views.privacy, name="privacy"),
    path("categories/<str:slug>/", views.category, name="category"),
    path("categories/<str:category_slug>/<str:section_slug>/", views.section, name="section"),
    path("articles/<int:pk>/", views.article_by_id, name="article-by-id"),
    path("articles/<int:pk>/vote/", views.vote, name="vote"),
    path("articles/<int:pk>-<str:slug>/", views.article, name="article"),
    path("files/<int:pk>/<path:filename>", views.attachment, name="attachment"),
    path("theme/logo", views.logo, name="logo"),
    path("sitemap.xml", views.sitemap, name="sitemap"),
    path("robots.txt", views.robots, name="robots"),
]
