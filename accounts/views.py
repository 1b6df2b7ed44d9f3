"""Sign up, log in and out, the account page, password change and reset (Django's views
with the site's templates)."""

from __future__ import annotations

import math

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import AccountForm, LoginForm, SignUpForm
from chat.models import AccessToken, User
from chat.services import NameTaken, NotFound, tokens
from chat.services.push import BROWSER_TOKEN_SESSION_KEY, subscriptions_end_elsewhere

NEW_TOKEN_SESSION_KEY = "accounts:new_token"


def _next_url(request: HttpRequest, default: str) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return default


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_authenticated and not services.is_guest(user):
        return redirect("accounts:account")
    guest = user if services.is_guest(user) else None
    if request.method == "POST":
        form = SignUpForm(request.POST)
        if form.is_valid():
            try:
                account = services.account_sign_up(
                    name=form.cleaned_data["name"],
                    password=form.cleaned_data["password1"],
                    email=form.cleaned_data["email"],
                    current_user=user,
                )
            except NameTaken:
                form.add_error(
                    "name",
                    f"“{form.cleaned_data['name']}” is already taken by someone else. "
                    "Please choose another name.",
                )
            else:
                login(request, account, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(
                    request,
                    "Your account is ready: your name and messages are yours to keep."
                    if guest
                    else "Your account is ready.",
                )
                return redirect(_next_url(request, "/"))
    else:
        form = SignUpForm(initial={"name": guest.name} if guest else None)
    return render(
        request,
        "accounts/sign_up.html",
        {"form": form, "guest": guest, "next": _next_url(request, "")},
    )


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.wait_ms is not None:
            response.status_code = 429
            response["Retry-After"] = str(math.ceil(form.wait_ms / 1000))
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You are logged out on this browser.")
        return response


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # logged in
    if services.is_guest(user):
        # A guest's page is signing up: it keeps the name and every message.
        return redirect("accounts:sign_up")
    details = AccountForm(initial={"name": user.name, "email": user.email})
    password = PasswordChangeForm(user)
    if request.method == "POST" and request.POST.get("form") == "details":
        details = AccountForm(request.POST)
        if details.is_valid():
            try:
                services.account_rename(user=user, **details.cleaned_data)
            except NameTaken:
                details.add_error(
                    "name",
                    f"“{details.cleaned_data['name']}” is already taken by someone else.",
                )
            else:
                messages.success(request, "Your details are saved.")
                return redirect("accounts:account")
    elif request.method == "POST" and request.POST.get("form") == "password":
        password = PasswordChangeForm(user, request.POST)
        if password.is_valid():
            password.save()
            # This browser stays logged in; every other session of the account ends.
            update_session_auth_hash(request, password.user)
            subscriptions_end_elsewhere(
                person_id=user.pk, browser_token=request.session.get(BROWSER_TOKEN_SESSION_KEY)
            )
            messages.success(request, "Your password is changed.")
            return redirect("accounts:account")
    # A new token's secret is shown once, on the page the creation redirects to: it waits
    # in the session only until then (a reload neither shows it again nor makes another).
    new_token = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    if request.method == "POST" and request.POST.get("form") == "token_create":
        try:
            token, secret = tokens.token_create(person=user, name=request.POST.get("name", "")[:80])
        except tokens.TooManyTokens as refusal:
            messages.error(request, str(refusal))
        else:
            request.session[NEW_TOKEN_SESSION_KEY] = {"name": token.name, "secret": secret}
        return redirect("accounts:account")
    elif request.method == "POST" and request.POST.get("form") == "token_revoke":
        try:
            tokens.token_revoke(person=user, token_id=int(request.POST.get("token", "0")))
        except (ValueError, NotFound):
            messages.error(request, "No such token.")
        else:
            messages.success(request, "The token is revoked: nothing can use it any more.")
        return redirect("accounts:account")
    # The page opens on the name, not on the password form below it.
    password.fields["old_password"].widget.attrs.pop("autofocus", None)
    return render(
        request,
        "accounts/account.html",
        {
            "details": details,
            "password": password,
            "tokens": AccessToken.objects.filter(person=user, revoked_at__isnull=True).order_by(
                "-created_at"
            ),
            "new_token": new_token,
        },
    )


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        # Every session of the account ends with a reset: so does every browser's push.
        subscriptions_end_elsewhere(person_id=form.user.pk, browser_token=None)
        return super().form_valid(form)


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
