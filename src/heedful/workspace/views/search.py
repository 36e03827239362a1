"""/app/search/: one box for conversations, customers and articles.

The view reads the query and filters (bad filter values: 400 with the reasons),
calls `search_everything`, and renders. The query itself is never invalid: any
text is searched as text."""

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from heedful.accounts.models import User
from heedful.conversations.models import Status, Tag
from heedful.inboxes.registry import kinds
from heedful.search.conversations import NO_ASSIGNEE, Filters
from heedful.search.everything import KINDS, search_everything

MAX_QUERY = 2000


class SearchForm(forms.Form):
    q = forms.CharField(required=False, strip=True)
    type = forms.ChoiceField(required=False, choices=[(k, k) for k in KINDS])
    status = forms.ChoiceField(required=False)
    channel = forms.ChoiceField(required=False)
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    assignee = forms.ChoiceField(required=False)
    tag = forms.ChoiceField(required=False)
    spam = forms.BooleanField(required=False, label="Include spam")
    sort = forms.ChoiceField(
        required=False, choices=[("newest", "Newest first"), ("relevance", "Best match")]
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=1000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._choices("status", [("", "Any status"), *Status.choices])
        self._choices("channel", [("", "Any channel"), *kinds().items()])
        agents = User.objects.filter(is_active=True).order_by("name", "email")
        people = [(str(a.pk), a.display_name) for a in agents]
        self._choices("assignee", [("", "Anyone"), (NO_ASSIGNEE, "Unassigned"), *people])
        tags = Tag.objects.order_by("name").values_list("name", flat=True)
        self._choices("tag", [("", "Any tag"), *((name, name) for name in tags)])

    def _choices(self, name: str, choices: list[tuple[str, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def clean_q(self) -> str:
        # Any text is a valid query; NUL cannot reach PostgreSQL, and a query past
        # MAX_QUERY characters is cut rather than refused.
        return str(self.cleaned_data.get("q") or "").replace("\x00", "")[:MAX_QUERY]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            status=data.get("status") or "",
            channel=data.get("channel") or "",
            since=data.get("since"),
            until=data.get("until"),
            assignee=data.get("assignee") or "",
            tag=data.get("tag") or "",
            spam=bool(data.get("spam")),
        )


@login_required
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    # A NUL in the box (pasted binary) is dropped, not refused: any text is a query.
    params["q"] = params.get("q", "").replace("\x00", "")
    form = SearchForm(params)
    context: dict[str, Any] = {"section": "search", "form": form, "query": ""}
    if not form.is_valid():
        context["query"] = str(request.GET.get("q", ""))[:MAX_QUERY].replace("\x00", "")
        return render(request, "workspace/search.html", context, status=400)
    data = form.cleaned_data
    results = search_everything(
        data["q"],
        user=request.user,
        kind=data.get("type") or "all",
        filters=form.filters(),
        sort=data.get("sort") or "newest",
        page=data.get("page") or 1,
    )
    filtered = any(
        data.get(name) for name in ("status", "channel", "since", "until", "assignee", "tag")
    )
    context.update(
        query=data["q"],
        results=results if data["q"].strip() else None,
        kind=results.kind,
        filtered=filtered or data["spam"],
        params=_params(request, drop=("type", "page")),
        page_params=_params(request, drop=("page",)),
    )
    partial = request.headers.get("HX-Request") == "true"
    return render(
        request, "workspace/search.html#results" if partial else "workspace/search.html", context
    )


def _params(request: HttpRequest, *, drop: tuple[str, ...]) -> str:
    """The query string without `drop`, for tab and page links."""
    kept = request.GET.copy()
    for name in drop:
        kept.pop(name, None)
    return kept.urlencode()


urlpatterns = [path("search/", search_page, name="search")]
