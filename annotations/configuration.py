"""A project's whole configuration as one YAML file: settings, ontology, sampling,
training, stopping and review, so a labeling pipeline can be versioned and set up again
in another project or installation. Import checks everything first and writes all or
nothing, through the same validation as the API."""
import yaml
from django.contrib.auth.models import User
from django.db import transaction

from . import safe_yaml
from .errors import InvalidInput
from .models import Membership, Project
from .ontology import export_ontology, import_ontology

FORMAT = "labeler-project"
VERSION = 1
SETTINGS = ("kind", "overlap", "batch_size", "retrain_every", "retrain_trigger", "retrain_interval_minutes",
            "eval_fraction", "strategy", "learner")
SECTIONS = ("sampling", "stopping", "training", "review")
MAX_BYTES = 1024 * 1024


def export_configuration(project: Project) -> str:
    data = {
        "format": FORMAT, "version": VERSION, "name": project.name, "description": project.description,
        "settings": {name: getattr(project, name) for name in SETTINGS},
        **{section: getattr(project, section) for section in SECTIONS},
        "ontology": export_ontology(project.ontology),
    }
    return safe_yaml.dump(data, sort_keys=False, allow_unicode=True)


def parse(text: str | bytes) -> dict:
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise InvalidInput("A configuration file is at most 1 MB.")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("The configuration file must be UTF-8 text.") from None
    try:
        data = safe_yaml.load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"The file is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidInput(f"This is not a project configuration (its `format` must be {FORMAT!r}).")
    if data.get("version") != VERSION:
        raise InvalidInput(f"This file has version {data.get('version')!r}; this installation reads {VERSION}.")
    unknown = sorted(set(data) - {"format", "version", "name", "description", "settings", "ontology", *SECTIONS})
    if unknown:
        raise InvalidInput(f"Unknown sections {', '.join(unknown)}.")
    return data


def _changes(data: dict) -> dict:
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise InvalidInput("`settings` must be a mapping.")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise InvalidInput(f"Unknown settings {', '.join(unknown)}; use {', '.join(SETTINGS)}.")
    changes = dict(settings)
    for section in SECTIONS:
        if section in data:
            changes[section] = data[section]
    if data.get("description") is not None:
        changes["description"] = data["description"]
    return changes


def _apply(project: Project, changes: dict) -> Project:
    from rest_framework import serializers as drf

    from .serializers import ProjectSerializer

    serializer = ProjectSerializer(project, data=changes, partial=True)
    try:
        serializer.is_valid(raise_exception=True)
    except drf.ValidationError as exc:
        field, messages = next(iter(exc.detail.items()))
        message = messages[0] if isinstance(messages, list) else messages
        raise InvalidInput(f"{field}: {message}") from None
    return serializer.save()


def import_configuration(project: Project, actor: User, text: str | bytes) -> dict:
    """Apply a configuration file to an existing project: ontology first (classes are
    upserted by key), then settings and sections validated against it."""
    data = parse(text)
    changes = _changes(data)
    with transaction.atomic():
        report = import_ontology(project.ontology, actor, data["ontology"]) if "ontology" in data else {}
        project.refresh_from_db()
        _apply(project, changes)
    return {"ontology": report, "applied": sorted(changes)}


def create_from_configuration(actor: User, text: str | bytes, name: str | None = None) -> Project:
    """A new project set up from a configuration file, its creator as admin."""
    from .api import create_ontology

    data = parse(text)
    changes = _changes(data)
    title = (name or data.get("name") or "Imported project").strip()[:200]
    with transaction.atomic():
        ontology = create_ontology(title, [])
        project = Project.objects.create(name=title, ontology=ontology, created_by=actor)
        Membership.objects.create(project=project, user=actor, role=Membership.Role.ADMIN)
        if "ontology" in data:
            import_ontology(ontology, actor, data["ontology"])
        _apply(project, changes)
    project.refresh_from_db()
    return project

