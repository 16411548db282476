from django.apps import AppConfig


class ActiveLearningConfig(AppConfig):
    name = "activelearning"
    verbose_name = "Active learning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Huey tasks in every process (web and worker alike).
        from . import tasks  # noqa: F401
