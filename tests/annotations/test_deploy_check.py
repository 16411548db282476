"""Production settings: with DEBUG off, LABELER_SECURE=1 and a strong SECRET_KEY, Django's
own deployment checklist (`manage.py check --deploy`) has nothing to say."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def deploy_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("LABELER_", "DJANGO_"))}
    environment.pop("DEBUG", None)
    environment.update(
        DJANGO_SETTINGS_MODULE="labeler.settings", LABELER_VAR_DIR=str(tmp_path), ALLOWED_HOSTS="labeler.example.org",
        SECRET_KEY=secrets.token_urlsafe(64), **env,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=120,
    )


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    result = deploy_check(tmp_path, DEBUG="0", LABELER_SECURE="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_without_labeler_secure_the_checklist_complains(tmp_path):
    """The check above is not vacuous: the same run without LABELER_SECURE warns."""
    result = deploy_check(tmp_path, DEBUG="0")
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS
