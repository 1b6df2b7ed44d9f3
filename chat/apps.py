from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        user_logged_out.connect(_stop_pushes_to_this_browser, dispatch_uid="chat.push.logout")


def _stop_pushes_to_this_browser(sender, request, user, **kwargs) -> None:
    from chat.services.push import BROWSER_TOKEN_SESSION_KEY, subscriptions_logged_out

    if user is not None and request is not None:
        token = request.session.get(BROWSER_TOKEN_SESSION_KEY)
        subscriptions_logged_out(person_id=user.pk, browser_token=token)
