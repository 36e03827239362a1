"""The public survey page /s/<token>/ and its opt-out page, for customers without accounts.

A GET never records anything (mail scanners follow links, some run scripts):
the score from an email button is only preselected, and the customer's press
of "Send" posts it. The pages show the question and a thank-you, nothing about
the customer or the conversation.
"""

import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from heedful.core.errors import ServiceError
from heedful.portal.views import client_ip
from heedful.surveys.defaults import scale
from heedful.surveys.forms import AnswerForm
from heedful.surveys.models import SurveyInvitation, SurveyResponse
from heedful.surveys.services import (
    AlreadyAnswered,
    SurveyUnavailable,
    answerable,
    find_invitation,
    opt_out,
    record_answer,
)
from heedful.surveys.wording import wording_for

ONE_CLICK = "List-Unsubscribe=One-Click"


def _rate() -> str:
    return str(getattr(settings, "HEEDFUL_SURVEY_RATE", "30/m"))


def _limited(request: HttpRequest) -> bool:
    return is_ratelimited(
        request,
        group="surveys",
        key=lambda g, r: client_ip(r),
        rate=_rate(),
        method="POST",
        increment=True,
    )


def _private(response: HttpResponse) -> HttpResponse:
    # The token is in the URL: no referrer leaves for another site, no robot indexes it.
    # Not "no-referrer": Chromium then sends `Origin: null` with the page's own form post,
    # which Django's CSRF check rightly refuses (the browser test caught it).
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _gone(request: HttpRequest, status: int) -> HttpResponse:
    return _private(render(request, "surveys/gone.html", status=status))


def _busy(request: HttpRequest) -> HttpResponse:
    return _private(render(request, "surveys/busy.html", status=429))


@never_cache
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST" and _limited(request):
        return _busy(request)
    invitation = find_invitation(token)
    if invitation is None:
        return _gone(request, 404)
    if not answerable(invitation):
        return _gone(request, 410)
    response = SurveyResponse.objects.filter(invitation=invitation).first()
    if response is not None and response.completed:
        return _thanks(request, invitation, already=request.method == "POST")
    if request.method != "POST":
        initial = {
            "score": _chosen(request, invitation.kind, response),
            "comment": response.comment if response else "",
        }
        form = AnswerForm(initial=initial, kind=invitation.kind)
        return _form_page(request, invitation, form, response)
    form = AnswerForm(request.POST, kind=invitation.kind)
    if not form.is_valid():
        return _form_page(request, invitation, form, response, status=400)
    try:
        saved = record_answer(
            invitation_id=invitation.pk,
            score=form.cleaned_data["score"],
            comment=form.cleaned_data["comment"],
            finish=form.cleaned_data["done"],
        )
    except AlreadyAnswered:
        return _thanks(request, invitation, already=True)
    except SurveyUnavailable:
        return _gone(request, 410)
    except ServiceError as exc:
        form.add_error(None, str(exc))
        return _form_page(request, invitation, form, response, status=400)
    if saved.completed:
        return _thanks(request, invitation)
    # Post/redirect/get: a reload does not post again; the page then offers the follow-up.
    return redirect(request.path, permanent=False)


def _chosen(request: HttpRequest, kind: str, response: SurveyResponse | None) -> int | None:
    """The score a button in the email preselects, else the one already given."""
    raw = request.GET.get("score", "")
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses.
    if re.fullmatch(r"[0-9]{1,2}", raw) and int(raw) in scale(kind):
        return int(raw)
    return response.score if response else None


def _form_page(
    request: HttpRequest,
    invitation: SurveyInvitation,
    form: AnswerForm,
    response: SurveyResponse | None,
    status: int = 200,
) -> HttpResponse:
    wording = wording_for(invitation.kind, invitation.language)
    selected = form["score"].value()
    context = {
        "wording": wording,
        "form": form,
        "scores": [(n, str(n) == str(selected)) for n in scale(invitation.kind)],
        "saved": response is not None,
        "token": request.resolver_match.kwargs["token"] if request.resolver_match else "",
        "kind": invitation.kind,
    }
    return _private(render(request, "surveys/survey.html", context, status=status))


def _thanks(
    request: HttpRequest, invitation: SurveyInvitation, *, already: bool = False
) -> HttpResponse:
    wording = wording_for(invitation.kind, invitation.language)
    status = 409 if already else 200
    context = {"wording": wording, "already": already}
    return _private(render(request, "surveys/thanks.html", context, status=status))


# Mail clients send the RFC 8058 one-click POST themselves, with no CSRF token; the
# unguessable link token is the only authority here (no cookie grants anything).
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST" and _limited(request):
        return _busy(request)
    invitation = find_invitation(token)
    if invitation is None:
        return _gone(request, 404)
    if request.method != "POST":
        # A GET only asks: a link scanner must not opt anyone out.
        return _private(render(request, "surveys/unsubscribe.html", {"done": False}))
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    opt_out(customer_id=invitation.customer_id, source="list-unsubscribe" if one_click else "link")
    return _private(render(request, "surveys/unsubscribe.html", {"done": True}))
