from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_delete

        from chat.models import Attachment

        user_logged_out.connect(_stop_pushes_to_this_browser, dispatch_uid="chat.push.logout")
        # Every way a file's row goes (its message deleted, its room or uploader deleted,
        # an unsent upload expiring) takes its stored bytes with it, once committed.
        post_delete.connect(_forget_file_bytes, sender=Attachment, dispatch_uid="chat.files")


def _stop_pushes_to_this_browser(sender, request, user, **kwargs) -> None:
    from chat.services.push import BROWSER_TOKEN_SESSION_KEY, subscriptions_logged_out

    if user is not None and request is not None:
        token = request.session.get(BROWSER_TOKEN_SESSION_KEY)
        subscriptions_logged_out(person_id=user.pk, browser_token=token)


def _forget_file_bytes(sender, instance, **kwargs) -> None:
    from chat.services.files import forget_bytes

    forget_bytes(instance)
