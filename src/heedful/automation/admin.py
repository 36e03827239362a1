from django.contrib import admin

from heedful.automation.models import Macro


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "is_active"]
    list_filter = ["is_active", "team"]
    search_fields = ["name", "body"]
