from django.contrib import admin

from surveys.models import Employee, Role, RosterImport, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["path", "depth"]
    search_fields = ["path"]
    raw_id_fields = ["parent"]


@admin.register(Employee)
class EmployeeAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "team", "location", "timezone", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["email", "name", "github_login", "upn"]
    raw_id_fields = ["team", "manager"]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["user", "kind"]
    list_filter = ["kind"]
    filter_horizontal = ["teams"]


@admin.register(RosterImport)
class RosterImportAdmin(admin.ModelAdmin):
    list_display = ["filename", "status", "created", "updated", "deactivated", "created_at"]
    exclude = ["content"]
    readonly_fields = [f.name for f in RosterImport._meta.fields if f.name != "content"]
