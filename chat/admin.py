from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from chat import services
from chat.models import Membership, Message, Room, User


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


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "private", "last_seq", "last_message_at", "created_at")
    list_filter = ("private",)
    search_fields = ("name",)
    readonly_fields = ("last_seq", "last_message_at", "created_at")
    ordering = ("-last_message_at",)
    inlines = [MembershipInline]


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
