from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils import timezone

from chat import services
from chat.models import (
    AccessToken,
    Attachment,
    Membership,
    Message,
    PushSubscription,
    Room,
    User,
    name_key,
)
from chat.services.push import push_service_host


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "is_staff", "date_joined", "last_login")
    search_fields = ("username", "display_name")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Chat", {"fields": ("display_name",)}))

    def has_delete_permission(self, request, obj=None) -> bool:
        # Removing a person would remove their messages and leave holes in rooms' logs;
        # deactivate them instead (is_active).
        return False


class MembershipInline(admin.TabularInline):
    """Who is in the room and their role: staff make owners and moderators here, and
    remove members from private rooms."""

    model = Membership
    extra = 0
    fields = ("person", "role", "last_read_seq", "joined_at")
    readonly_fields = ("last_read_seq", "joined_at")
    raw_id_fields = ("person",)


class RoomForm(forms.ModelForm):
    class Meta:
        model = Room
        fields = ("name", "private")

    def clean(self):
        cleaned = super().clean() or {}
        room = self.instance
        name, private = cleaned.get("name", room.name), cleaned.get("private", room.private)
        if room.direct and (name != room.name or private != room.private):
            raise forms.ValidationError("A direct conversation keeps no name and stays private.")
        if not private and Room.objects.filter(key=name_key(name)).exclude(pk=room.pk).exists():
            raise forms.ValidationError(
                "A public room already has that name: rename this one, or keep it private."
            )
        return cleaned


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    form = RoomForm
    list_display = ("__str__", "private", "direct", "last_seq", "last_message_at", "created_at")
    list_filter = ("private", "direct")
    search_fields = ("name",)
    readonly_fields = ("direct", "last_seq", "last_message_at", "created_at")
    ordering = ("-last_message_at",)
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # A rename or a change of privacy is an event of the room's log, numbered and
        # announced (and a room made private closes outsiders' sockets): the owners' way.
        try:
            if "name" in form.changed_data:
                services.room_rename(person=request.user, room_id=obj.pk, name=obj.name)
            if "private" in form.changed_data:
                services.room_privacy_set(person=request.user, room_id=obj.pk, private=obj.private)
        except services.Refused as refusal:
            self.message_user(request, refusal.detail, level=messages.ERROR)

    def save_formset(self, request, form, formset, change) -> None:
        super().save_formset(request, form, formset, change)
        for membership in formset.deleted_objects:
            services.membership_ended(room_id=membership.room_id, person_id=membership.person_id)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("room", "seq", "sender", "short_text", "created_at", "deleted_at")
    list_filter = ("room",)
    search_fields = ("room__name", "sender__display_name", "sender__username", "text")
    list_select_related = ("room", "sender")
    ordering = ("-created_at",)
    # Every change to a message is an event of its room's log, numbered and announced:
    # here messages are read, and deleted only through the same service as in the room.
    readonly_fields = (
        "room",
        "seq",
        "version",
        "sender",
        "text",
        "reply_to",
        "client_id",
        "created_at",
        "edited_at",
        "deleted_at",
    )
    actions = ["delete_for_everyone"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a row removed outside the log would leave a hole in its numbers

    @admin.action(description="Delete for everyone (a “message deleted” line stays)")
    def delete_for_everyone(self, request, queryset) -> None:
        deleted = 0
        for message in queryset.filter(deleted_at__isnull=True):
            services.message_delete(
                room_id=message.room_id, deleter=request.user, message_seq=message.seq
            )
            deleted += 1
        self.message_user(request, f"{deleted} message(s) deleted for everyone.")

    @admin.display(description="text")
    def short_text(self, message: Message) -> str:
        return message.text if len(message.text) <= 80 else message.text[:79] + "…"


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """The browsers that receive Web Push: to see who has them, and to stop one (delete)."""

    list_display = ("person", "push_service", "created_at")
    search_fields = ("person__username", "person__display_name")
    readonly_fields = ("person", "endpoint", "created_at")
    exclude = ("p256dh", "auth", "browser_hash")

    @admin.display(description="push service")
    def push_service(self, subscription: PushSubscription) -> str:
        return push_service_host(subscription.endpoint)

    def has_add_permission(self, request) -> bool:
        return False  # only a browser can subscribe itself

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    """Uploaded files, to see who shares what and how much. A file goes with its message
    (delete the message for everyone), or by itself while unsent (`manage.py files_prune`)."""

    list_display = ("name", "content_type", "size", "uploader", "room", "message", "created_at")
    list_filter = ("content_type",)
    search_fields = ("name", "uploader__username", "room__name")
    list_select_related = ("uploader", "room", "message")
    ordering = ("-created_at",)
    readonly_fields = [field.name for field in Attachment._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # through its message, so that the room's log says so


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    """People's API tokens (their secrets are nowhere to be seen): staff revoke one here."""

    list_display = ("name", "person", "prefix", "created_at", "last_used_at", "revoked_at")
    search_fields = ("name", "person__username", "prefix")
    list_select_related = ("person",)
    readonly_fields = ("person", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    exclude = ("digest",)
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # made by their person (the account page) or `manage.py api_token`

    @admin.action(description="Revoke (nothing can use it any more)")
    def revoke(self, request, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} token(s) revoked.")
