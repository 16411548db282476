from django.contrib import admin

from .models import Annotation, Assignment, Item, LabelClass, Membership, Ontology, Project


class LabelClassInline(admin.TabularInline):
    model = LabelClass
    extra = 0


@admin.register(Ontology)
class OntologyAdmin(admin.ModelAdmin):
    inlines = [LabelClassInline]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "strategy", "batch_size", "retrain_every", "overlap"]
    inlines = [MembershipInline]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["pk", "project", "split", "status", "final_class", "assigned_count"]
    list_filter = ["project", "split", "status"]
    search_fields = ["text", "external_id"]


admin.site.register([Assignment, Annotation])
