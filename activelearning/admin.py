from django.contrib import admin

from .models import ModelVersion, Round, TrainingJob


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = ["pk", "project", "state", "reason", "phase", "created_at", "finished_at"]
    list_filter = ["state"]


admin.site.register([Round, ModelVersion])
