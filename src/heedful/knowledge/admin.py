"""Categories and sections are configured here; articles are written in the workspace
editor (/app/knowledge/), whose saves write revisions and refresh the search index, so
the admin only lists them and links there."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import slugify

from heedful.knowledge.models import Article, Category, Section


class SlugFromNameForm(forms.ModelForm):
    """The slug may be left empty (the admin's script fills it as you type; without
    the script, or cleared by hand, it comes from the name on save)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or slugify(
            self.cleaned_data.get("name", ""), allow_unicode=True
        )
        if not slug:
            raise forms.ValidationError("Give it a name or a slug with letters or digits.")
        return str(slug)[:140]


class CategoryForm(SlugFromNameForm):
    class Meta:
        model = Category
        fields = ["name", "slug", "description", "position"]


class SectionForm(SlugFromNameForm):
    class Meta:
        model = Section
        fields = ["category", "name", "slug", "description", "position"]


class SectionInline(admin.TabularInline):
    model = Section
    form = SectionForm
    extra = 1
    fields = ["name", "slug", "description", "position"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryForm
    list_display = ["name", "slug", "position", "description"]
    list_editable = ["position"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [SectionInline]


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    form = SectionForm
    list_display = ["name", "category", "slug", "position"]
    list_filter = ["category"]
    list_editable = ["position"]
    search_fields = ["name", "slug", "category__name"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["category"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """Read-only: every edit goes through the workspace editor's services."""

    list_display = ["__str__", "title", "status", "visibility", "section", "updated_at", "edit"]
    list_filter = ["status", "visibility", "section__category"]
    search_fields = ["translations__title"]
    list_select_related = ["section__category"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Article]:
        return super().get_queryset(request).prefetch_related("translations")

    @admin.display(description="Title")
    def title(self, article: Article) -> str:
        titles = {t.language: t.title for t in article.translations.all()}
        return titles.get(article.default_language) or next(iter(titles.values()), "—")

    @admin.display(description="")
    def edit(self, article: Article) -> str:
        url = reverse("workspace:knowledge_edit", args=[article.pk])
        return format_html('<a href="{}">Edit in the workspace</a>', url)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
