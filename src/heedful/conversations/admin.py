"""Conversations are read-only here: edits go through services, which write events."""

from django.contrib import admin
from django.http import HttpRequest

from heedful.conversations.models import Conversation, ConversationEvent, Message, Tag


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MessageInline(ReadOnlyMixin, admin.StackedInline):
    model = Message
    extra = 0
    fields = readonly_fields = (
        "created_at",
        "direction",
        "is_note",
        "author_type",
        "sender_identity",
        "body_text",
        "delivery_status",
    )
    ordering = ["created_at", "id"]


class EventInline(ReadOnlyMixin, admin.TabularInline):
    model = ConversationEvent
    extra = 0
    fields = readonly_fields = ("created_at", "type", "actor_type", "actor", "data")
    ordering = ["id"]


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "subject",
        "customer",
        "inbox",
        "status",
        "priority",
        "assignee",
        "last_message_at",
    ]
    list_filter = ["status", "priority", "inbox", "is_spam"]
    search_fields = ["=number", "subject"]
    list_select_related = ["customer", "inbox", "assignee"]
    show_full_result_count = False  # exact counts over a million rows are too slow
    readonly_fields = [f.name for f in Conversation._meta.fields]
    inlines = [MessageInline, EventInline]
    ordering = ["-last_message_at"]


@admin.register(Message)
class MessageAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "pk",
        "conversation",
        "direction",
        "is_note",
        "author_type",
        "delivery_status",
        "created_at",
    ]
    list_filter = ["direction", "is_note", "delivery_status"]
    show_full_result_count = False
    list_select_related = ["conversation"]
    readonly_fields = [f.name for f in Message._meta.fields]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "color"]
    search_fields = ["name"]
