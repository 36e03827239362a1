from django.contrib import admin

from heedful.customers.models import BlockedSender, Customer, Identity, Organization


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ["kind", "address", "verified", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["__str__", "organization", "preferred_channel", "created_at"]
    search_fields = ["name", "identities__address"]
    list_select_related = ["organization"]
    inlines = [IdentityInline]
    readonly_fields = ["merged_into", "created_at", "updated_at"]
    raw_id_fields = ["organization"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "share_requests"]
    list_filter = ["share_requests"]
    search_fields = ["name", "domain"]


@admin.register(BlockedSender)
class BlockedSenderAdmin(admin.ModelAdmin):
    list_display = ["kind", "address", "reason", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["address"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        # The address was normalized by BlockedSender.clean() during validation.
        obj.created_by = obj.created_by or request.user
        super().save_model(request, obj, form, change)
