from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from chat.models import Message, Room, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "is_staff", "date_joined", "last_login")
    search_fields = ("username", "display_name")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Chat", {"fields": ("display_name",)}))


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "last_seq", "last_message_at", "created_at")
    search_fields = ("name",)
    readonly_fields = ("last_seq", "last_message_at", "created_at")
    ordering = ("-last_message_at",)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("room", "seq", "sender", "short_text", "created_at")
    list_filter = ("room",)
    search_fields = ("room__name", "sender__display_name", "sender__username", "text")
    list_select_related = ("room", "sender")
    raw_id_fields = ("room", "sender")
    ordering = ("-created_at",)
    readonly_fields = ("room", "seq", "client_id", "created_at")

    def has_add_permission(self, request) -> bool:
        # Messages are posted in rooms, where they are numbered and announced.
        return False

    @admin.display(description="text")
    def short_text(self, message: Message) -> str:
        return message.text if len(message.text) <= 80 else message.text[:79] + "…"
