"""Sign-in, sign-out and password reset for agents, on Django's auth views.

These pages are for people who are not signed in yet (PUBLIC_NAMES); every other
workspace page needs an agent.

Sign-in attempts are throttled per client address and per (address + email) in a
short window (HEEDFUL_LOGIN_RATE, HEEDFUL_LOGIN_IP_RATE): a guesser is slowed down,
the real agent waits at most one window and is never locked out for good.
"""

import unicodedata
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse_lazy
from django_ratelimit.core import is_ratelimited

from heedful.portal.views import client_ip

SIGN_IN_THROTTLED = (
    "Too many sign-in attempts in a short time. Please wait a minute, then try again."
)
RESET_THROTTLED = (
    "Too many reset requests from here. Please wait a while, then try again; "
    "check your inbox for the email we already sent."
)


class SignInForm(AuthenticationForm):
    """Email and password; the email is matched case-insensitively, as it is stored."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password don't match an active account. "
        "Check them and try again.",
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        field = self.fields["username"]
        field.label = "Email"
        field.widget = forms.EmailInput(
            attrs={"autofocus": True, "autocomplete": "username", "maxlength": 254}
        )
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"
        if self.data.get("username") or self.initial.get("username"):
            # Back after a failed try: the email is filled in, the password is what to fix.
            field.widget.attrs.pop("autofocus", None)
            self.fields["password"].widget.attrs["autofocus"] = True

    def clean_username(self) -> str:
        return sign_in_email(str(self.cleaned_data.get("username") or ""))


def sign_in_email(raw: str) -> str:
    """The address as sign-in compares it: NFKC, as Django's username field applies it,
    so a full-width spelling of an address shares the real one's throttle window."""
    return unicodedata.normalize("NFKC", raw).strip().lower()


def _sign_in_throttled(request: HttpRequest) -> bool:
    """Count this attempt against both windows; True when either is exhausted."""
    address = client_ip(request)
    email = sign_in_email(request.POST.get("username", ""))[:254]
    by_address = is_ratelimited(
        request,
        group="workspace.sign-in.address",
        key=lambda group, req: address,
        rate=settings.HEEDFUL_LOGIN_IP_RATE,
        method="POST",
        increment=True,
    )
    by_account = is_ratelimited(
        request,
        group="workspace.sign-in.account",
        key=lambda group, req: f"{address} {email}",
        rate=settings.HEEDFUL_LOGIN_RATE,
        method="POST",
        increment=True,
    )
    return by_address or by_account


class SignInView(auth_views.LoginView):
    template_name = "workspace/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _sign_in_throttled(request):
            # Refused before the password is checked: a throttled guess learns nothing.
            form = SignInForm(request, initial={"username": request.POST.get("username", "")})
            context = self.get_context_data(form=form, throttled=SIGN_IN_THROTTLED)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)


class SignOutView(auth_views.LogoutView):
    """Signing out is a POST; a GET asks for confirmation (or goes to sign-in)."""

    http_method_names = ["get", "post", "options"]
    next_page = "workspace:login"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect("workspace:login")
        return render(request, "workspace/logout.html")


class ResetRequestView(auth_views.PasswordResetView):
    template_name = "workspace/password_reset_form.html"
    email_template_name = "workspace/password_reset_email.txt"
    subject_template_name = "workspace/password_reset_subject.txt"
    success_url = reverse_lazy("workspace:password_reset_done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if is_ratelimited(
            request,
            group="workspace.password-reset",
            key=lambda group, req: client_ip(req),
            rate=settings.HEEDFUL_PASSWORD_RESET_RATE,
            method="POST",
            increment=True,
        ):
            form = PasswordResetForm(initial={"email": request.POST.get("email", "")})
            context = self.get_context_data(form=form, throttled=RESET_THROTTLED)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        # The link is built from the configured address, never from the request's
        # Host header, so a forged host cannot redirect a reset link.
        self.extra_email_context = {"base_url": settings.BASE_URL, "expires_in": _expires_in()}
        return super().form_valid(form)


class ResetSentView(auth_views.PasswordResetDoneView):
    template_name = "workspace/password_reset_done.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "expires_in": _expires_in()}


def _expires_in() -> str:
    """How long a reset link lives, in words ("3 days", "12 hours")."""
    hours = max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)
    if hours % 24 == 0:
        days = hours // 24
        return f"{days} day" if days == 1 else f"{days} days"
    return f"{hours} hour" if hours == 1 else f"{hours} hours"


class ResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "workspace/password_reset_confirm.html"
    success_url = reverse_lazy("workspace:password_reset_complete")


class ResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "workspace/password_reset_complete.html"


# The only workspace pages an anonymous visitor may open (tests/test_access.py
# checks every other one redirects to sign-in).
PUBLIC_NAMES = frozenset(
    {
        "login",
        "logout",
        "password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
    }
)

urlpatterns = [
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", SignOutView.as_view(), name="logout"),
    path("password-reset/", ResetRequestView.as_view(), name="password_reset"),
    path("password-reset/sent/", ResetSentView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", ResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", ResetCompleteView.as_view(), name="password_reset_complete"),
]
