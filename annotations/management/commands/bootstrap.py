"""Everything a fresh machine needs before the first start: var/, a secret key,
the database schema, and the demo project and logins."""
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

from annotations.demo import DEMO_USERS, create_demo_project, hash_demo_passwords


class Command(BaseCommand):
    help = "Create var/, the secret key, migrate, and create the demo project and users."

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="Skip the demo project and users.")

    def handle(self, *args, no_demo: bool = False, **options):
        var = settings.VAR_DIR
        var.mkdir(parents=True, exist_ok=True)
        (var / "media").mkdir(exist_ok=True)
        key_file = var / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        if settings.SECRET_KEY.startswith("unset-"):
            # Settings were read before the key existed (labeler/settings.py): a process that
            # goes on to serve (`serve --bootstrap`) signs its sessions with the stored key.
            settings.SECRET_KEY = key_file.read_text().strip()
        password_hashes = None
        if not no_demo and get_user_model()._meta.db_table not in connection.introspection.table_names():
            # A fresh database: every demo login is new. Hash their passwords while migrate runs.
            password_hashes = hash_demo_passwords()
        call_command("migrate", interactive=False, verbosity=0)
        if no_demo:
            return
        created = create_demo_project(password_hashes=password_hashes)
        if created:
            project, origin = created
            self.stdout.write(f"Demo project {project.name!r} created from {origin}.")
            from activelearning.services import request_round

            request_round(project.pk, reason="import")
        self.stdout.write("Logins (username / password):")
        for username, password, _, role in DEMO_USERS:
            self.stdout.write(f"  {username:<11} / {password:<22} ({role})")
