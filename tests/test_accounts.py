"""Accounts: sign up, keep a guest's name and messages, log in (failures limited), log out,
the account page, change and reset the password."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from chat import services
from chat.models import Message, Room, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a new and longer secret"


def sign_up(client: Client, name: str, password: str = PASSWORD, **extra):
    return client.post(
        reverse("accounts:sign_up"),
        {"name": name, "password1": password, "password2": password, **extra},
    )


def log_in(client: Client, name: str, password: str = PASSWORD, **extra):
    return client.post(reverse("accounts:login"), {"username": name, "password": password}, **extra)


def logged_in_as(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def test_signing_up_makes_an_account_and_logs_it_in(client):
    response = sign_up(client, "Ana Lima", email="ana@example.com")
    assert response.status_code == 302
    ana = User.objects.get()
    assert ana.name == "Ana Lima" and ana.email == "ana@example.com"
    assert ana.has_usable_password() and ana.check_password(PASSWORD)
    assert logged_in_as(client) == ana


def test_a_guest_who_signs_up_keeps_their_name_and_every_message(client):
    client.post(reverse("chat:index"), {"name": "Bo", "room": "Lobby"})
    guest = User.objects.get()
    room = Room.objects.get()
    services.message_post(room_id=room.pk, sender=guest, text="said as a guest", client_id="c1")
    assert 'value="Bo"' in client.get(reverse("accounts:sign_up")).content.decode()

    sign_up(client, "Bo")

    account = User.objects.get()
    assert account.pk == guest.pk and account.has_usable_password()
    assert Message.objects.get().sender == account
    assert logged_in_as(client) == account
    other_browser = Client()
    log_in(other_browser, "bo")
    assert logged_in_as(other_browser) == account


def test_a_guest_may_keep_their_messages_under_a_free_new_name(client):
    client.post(reverse("chat:index"), {"name": "Bo", "room": "Lobby"})
    sign_up(client, "Bohdan")
    assert User.objects.get().name == "Bohdan"


def test_signing_up_with_a_name_someone_holds_is_refused_and_changes_nothing(
    client, account_factory
):
    account_factory("Ana")
    response = sign_up(client, "ANA")
    assert response.status_code == 200
    assert "is already taken by someone else" in response.content.decode()
    assert User.objects.count() == 1 and logged_in_as(client) is None


@pytest.mark.parametrize(
    ("password", "again", "error"),
    [
        ("short", "short", "too short"),
        ("password123", "password123", "too common"),
        ("83749201746", "83749201746", "entirely numeric"),
        (PASSWORD, "something else", "The two passwords differ"),
    ],
)
def test_a_weak_or_mistyped_password_is_refused_with_a_reason(client, password, again, error):
    response = client.post(
        reverse("accounts:sign_up"), {"name": "Ana", "password1": password, "password2": again}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not User.objects.exists()


def test_an_account_logs_in_by_its_name_in_any_case_and_out(client, account_factory):
    ana = account_factory("Ana")
    assert log_in(client, "ANA").status_code == 302
    assert logged_in_as(client) == ana
    response = client.post(reverse("accounts:logout"), follow=True)
    assert "You are logged out on this browser." in response.content.decode()
    assert logged_in_as(client) is None


@pytest.mark.parametrize("name", ["Ana", "Nobody"])
def test_a_wrong_password_or_unknown_name_gets_the_same_clear_answer(client, account_factory, name):
    account_factory("Ana")
    response = log_in(client, name, "not the password")
    assert response.status_code == 200
    assert "That name and password do not match an account." in response.content.decode()
    assert logged_in_as(client) is None


def test_a_guest_name_cannot_be_logged_into(client, user_factory):
    user_factory("Guest")
    log_in(client, "Guest", "")
    log_in(client, "Guest", "anything")
    assert logged_in_as(client) is None


def test_log_in_attempts_are_limited_per_account_and_the_owner_is_told_how_long(
    client, account_factory, settings
):
    settings.CHAT_LOGIN_ATTEMPTS_PER_ACCOUNT = 3
    account_factory("Ana")
    for _ in range(3):
        assert log_in(client, "Ana", "guess").status_code == 200
    refused = log_in(Client(), "ana", PASSWORD)  # even the right password, from elsewhere
    assert refused.status_code == 429
    assert re.search(
        r"Too many log-in attempts\. Please try again in [1-5] minutes?\.", refused.content.decode()
    )
    assert int(refused["Retry-After"]) <= settings.CHAT_LOGIN_WINDOW_SECONDS


def test_log_in_attempts_are_limited_per_address_across_accounts(client, account_factory, settings):
    settings.CHAT_LOGIN_ATTEMPTS_PER_ADDRESS = 3
    account_factory("Ana")
    for name in ["A1", "A2", "A3"]:
        log_in(client, name, "guess")
    assert log_in(client, "Ana").status_code == 429
    assert log_in(Client(REMOTE_ADDR="10.0.0.9"), "Ana").status_code == 302


def test_every_attempt_counts_before_its_password_is_checked(account_factory, settings):
    """So guesses sent in parallel cannot slip past the count."""
    settings.CHAT_LOGIN_ATTEMPTS_PER_ACCOUNT = 2
    account_factory("Ana")
    assert log_in(Client(), "Ana").status_code == 302
    assert log_in(Client(), "Ana", "guess").status_code == 200
    assert log_in(Client(), "Ana").status_code == 429


def test_log_in_returns_to_the_page_asked_for_but_never_to_another_site(client, account_factory):
    account_factory("Ana")
    response = client.post(
        reverse("accounts:login"), {"username": "Ana", "password": PASSWORD, "next": "/r/1/"}
    )
    assert response.url == "/r/1/"
    response = Client().post(
        reverse("accounts:login"),
        {"username": "Ana", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response.url == reverse("chat:index")


def test_the_account_page_changes_the_display_name_and_email(client, account_factory):
    ana = account_factory("Ana")
    client.force_login(ana)
    page = client.get(reverse("accounts:account")).content.decode()
    assert 'value="Ana"' in page
    response = client.post(
        reverse("accounts:account"), {"form": "details", "name": "Ána B", "email": "a@b.org"}
    )
    assert response.status_code == 302
    ana.refresh_from_db()
    assert (ana.name, ana.username, ana.email) == ("Ána B", "ána b", "a@b.org")


def test_the_account_page_refuses_a_name_someone_else_holds(client, account_factory):
    ana, _ = account_factory("Ana"), account_factory("Bo")
    client.force_login(ana)
    response = client.post(reverse("accounts:account"), {"form": "details", "name": "bo"})
    assert "is already taken by someone else" in response.content.decode()
    ana.refresh_from_db()
    assert ana.name == "Ana"


def test_changing_the_password_keeps_this_browser_and_ends_the_others(client, account_factory):
    ana = account_factory("Ana")
    other = Client()
    log_in(other, "Ana")
    log_in(client, "Ana")
    response = client.post(
        reverse("accounts:account"),
        {
            "form": "password",
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert client.get(reverse("accounts:account")).status_code == 200
    assert other.get(reverse("accounts:account")).status_code == 302  # to log in
    ana.refresh_from_db()
    assert ana.check_password(NEW_PASSWORD)


def test_a_wrong_old_password_changes_nothing(client, account_factory):
    ana = account_factory("Ana")
    client.force_login(ana)
    response = client.post(
        reverse("accounts:account"),
        {
            "form": "password",
            "old_password": "wrong",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    ana.refresh_from_db()
    assert ana.check_password(PASSWORD)


def test_a_guests_account_page_is_keeping_their_name(client, user_factory):
    client.force_login(user_factory("Guest"))
    assert client.get(reverse("accounts:account")).url == reverse("accounts:sign_up")


def test_the_account_page_asks_the_logged_out_to_log_in(client):
    response = client.get(reverse("accounts:account"))
    assert response.url.startswith(reverse("accounts:login"))


def reset_link(email: mail.EmailMessage) -> str:
    match = re.search(r"https?://[^/]+(/account/password/reset/[^\s]+)", email.body)
    assert match, email.body
    return match.group(1)


def test_a_password_is_reset_by_a_link_sent_by_email_that_works_once(client, account_factory):
    ana = account_factory("Ana", email="ana@example.com")
    response = client.post(reverse("accounts:password_reset"), {"email": "ana@example.com"})
    assert response.url == reverse("accounts:password_reset_done")
    (email,) = mail.outbox
    assert email.to == ["ana@example.com"] and '"Ana"' in email.body
    link = reset_link(email)

    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.url == reverse("accounts:password_reset_complete")
    ana.refresh_from_db()
    assert ana.check_password(NEW_PASSWORD)

    used_again = Client().get(link, follow=True).content.decode()
    assert "This link does not work" in used_again


def test_a_reset_link_expires(client, account_factory, settings):
    account_factory("Ana", email="ana@example.com")
    client.post(reverse("accounts:password_reset"), {"email": "ana@example.com"})
    link = reset_link(mail.outbox[0])
    settings.PASSWORD_RESET_TIMEOUT = -1  # as if its time had passed
    assert "This link does not work" in client.get(link, follow=True).content.decode()


def test_a_reset_for_an_unknown_email_says_the_same_and_sends_nothing(client, user_factory):
    guest = user_factory("Guest")
    guest.email = "guest@example.com"
    guest.save()
    for email in ["nobody@example.com", "guest@example.com"]:
        response = client.post(reverse("accounts:password_reset"), {"email": email})
        assert response.url == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_the_front_page_offers_log_in_and_sign_up_and_names_a_guest(client, user_factory):
    page = client.get("/").content.decode()
    assert ">Log in</a>" in page and ">Sign up</a>" in page
    client.force_login(user_factory("Guest"))
    page = client.get("/").content.decode()
    assert "Guest (guest)" in page and ">Keep your name</a>" in page
