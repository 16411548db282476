"""The ontology manager's rules: class shapes and attributes checked, rename in one
edit, merge with a preview, delete refused while in use, reorder, fork, export and
import as JSON, and every change in the audit log.

Answers point at classes by id (and exports by key), so a rename is one row; a merge
moves every reference of the merged class onto the kept one, across every project that
shares the ontology, in one transaction.
"""
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max

from .errors import Conflict, InvalidInput
from .models import (
    Annotation,
    Assignment,
    Consensus,
    Item,
    LabelClass,
    Ontology,
    OntologyChange,
    Project,
    Region,
)

SHAPES = ("classification", "box", "polygon", "mask")
ATTRIBUTE_TYPES = ("choice", "checkbox", "number")
CLASS_FIELDS = ("key", "name", "colour", "hotkey", "order", "description", "shapes", "attributes")
FORMAT_VERSION = 1


def snapshot(label: LabelClass) -> dict:
    data = {name: getattr(label, name) for name in CLASS_FIELDS}
    data["parent"] = label.parent.key if label.parent_id else None
    return data


def log(ontology: Ontology, actor: User | None, action: str, key: str = "", before=None, after=None) -> OntologyChange:
    return OntologyChange.objects.create(ontology=ontology, actor=actor, action=action, class_key=key,
                                         before=before, after=after)


# ---------------------------------------------------------------------------------------
# Checks


def validate_shapes(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"shapes must be a list drawn from {', '.join(SHAPES)}.")
    unknown = [v for v in value if v not in SHAPES]
    if unknown:
        raise InvalidInput(f"Unknown shape {unknown[0]!r}; use {', '.join(SHAPES)}.")
    return list(dict.fromkeys(value))


def validate_attributes(value: Any) -> list[dict]:
    """[{key, name, type, options (choice), min/max (number), default}], keys unique."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise InvalidInput("attributes must be a list of {key, name, type} objects.")
    clean, keys = [], set()
    for number, attribute in enumerate(value, 1):
        where = f"Attribute {number}"
        if not isinstance(attribute, dict):
            raise InvalidInput(f"{where} must be an object with key, name and type.")
        key = attribute.get("key")
        if not isinstance(key, str) or not key.strip() or len(key) > 64:
            raise InvalidInput(f"{where}: key must be text of 1 to 64 characters.")
        if key in keys:
            raise InvalidInput(f"{where}: the key {key!r} is used twice.")
        keys.add(key)
        kind = attribute.get("type")
        if kind not in ATTRIBUTE_TYPES:
            raise InvalidInput(f"{where} ({key}): type must be one of {', '.join(ATTRIBUTE_TYPES)}.")
        item = {"key": key, "name": str(attribute.get("name") or key)[:200], "type": kind}
        if kind == "choice":
            options = attribute.get("options")
            if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
                raise InvalidInput(f"{where} ({key}): a choice needs `options`, a list of at least two texts.")
            item["options"] = options
        if kind == "number":
            for bound in ("min", "max"):
                if attribute.get(bound) is not None:
                    if isinstance(attribute[bound], bool) or not isinstance(attribute[bound], (int, float)):
                        raise InvalidInput(f"{where} ({key}): {bound} must be a number.")
                    item[bound] = attribute[bound]
            if "min" in item and "max" in item and item["min"] > item["max"]:
                raise InvalidInput(f"{where} ({key}): min is above max.")
        if "default" in attribute:
            item["default"] = check_attribute_value(item, attribute["default"], where)
        clean.append(item)
    return clean


def check_attribute_value(attribute: dict, value: Any, where: str) -> Any:
    """One region's value for one attribute; a message that names both when it is wrong."""
    name = f"{where}: attribute {attribute['key']!r}"
    if attribute["type"] == "checkbox":
        if not isinstance(value, bool):
            raise InvalidInput(f"{name} must be true or false.")
    elif attribute["type"] == "choice":
        if value not in attribute["options"]:
            raise InvalidInput(f"{name} must be one of {', '.join(attribute['options'])}.")
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise InvalidInput(f"{name} must be a number.")
        if "min" in attribute and value < attribute["min"] or "max" in attribute and value > attribute["max"]:
            raise InvalidInput(f"{name} must be between {attribute.get('min', '-inf')} and {attribute.get('max', 'inf')}.")
    return value


def region_attributes(label: LabelClass, values: Any, where: str) -> dict:
    """The attributes a region carries: known keys only, defaults filled in."""
    if values in (None, ""):
        values = {}
    if not isinstance(values, dict):
        raise InvalidInput(f"{where}: attributes must be an object of attribute key to value.")
    known = {a["key"]: a for a in label.attributes or []}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InvalidInput(f"{where}: class {label.key!r} has no attribute {unknown[0]!r}.")
    clean = {}
    for key, attribute in known.items():
        if key in values:
            clean[key] = check_attribute_value(attribute, values[key], where)
        elif "default" in attribute:
            clean[key] = attribute["default"]
    return clean


def validate_parent(label: LabelClass | None, parent: LabelClass | None, ontology: Ontology) -> None:
    if parent is None:
        return
    if parent.ontology_id != ontology.pk:
        raise InvalidInput("The parent class must belong to the same ontology.")
    node = parent
    while node is not None:
        if label is not None and node.pk == label.pk:
            raise InvalidInput(f"{parent.name!r} cannot be the parent: it is {label.name!r} or nested inside it.")
        node = node.parent


# ---------------------------------------------------------------------------------------
# Use, merge, delete, reorder


def usage(label: LabelClass) -> dict:
    """How many references a class has; what a merge would move."""
    return {
        "annotations": Annotation.objects.filter(label_class=label).count(),
        "regions": Region.objects.filter(label_class=label).count(),
        "items": Item.objects.filter(final_class=label).count(),
        "gold_items": Item.objects.filter(gold_class=label).count(),
        "children": LabelClass.objects.filter(parent=label).count(),
    }


def in_use(label: LabelClass) -> bool:
    counts = usage(label)
    return any(counts[name] for name in ("annotations", "regions", "items", "gold_items"))


def _class(ontology: Ontology, class_id: Any, what: str) -> LabelClass:
    label = LabelClass.objects.filter(pk=class_id, ontology=ontology).first() if isinstance(class_id, int) else None
    if label is None:
        raise InvalidInput(f"{what}: no class {class_id!r} in this ontology.")
    return label


def merge_preview(ontology: Ontology, source_id: Any, target_id: Any) -> dict:
    source, target = _class(ontology, source_id, "source"), _class(ontology, target_id, "target")
    if source.pk == target.pk:
        raise InvalidInput("Pick two different classes to merge.")
    return {"source": snapshot(source), "target": snapshot(target), "moves": usage(source),
            "projects": list(ontology.projects.values_list("name", flat=True))}


def merge(ontology: Ontology, actor: User, source_id: Any, target_id: Any) -> dict:
    """Move every reference of `source` onto `target` and remove `source`."""
    preview = merge_preview(ontology, source_id, target_id)
    source, target = LabelClass.objects.get(pk=source_id), LabelClass.objects.get(pk=target_id)
    with transaction.atomic():
        Annotation.objects.filter(label_class=source).update(label_class=target)
        Region.objects.filter(label_class=source).update(label_class=target)
        Item.objects.filter(final_class=source).update(final_class=target)
        Item.objects.filter(gold_class=source).update(gold_class=target)
        Assignment.objects.filter(hint_class=source).update(hint_class=target)
        Consensus.objects.filter(label_class=source).update(label_class=target)
        LabelClass.objects.filter(parent=source).update(parent=target)
        _merge_in_other_apps(source, target)
        _rename_keys_in_json(ontology, source.key, target.key)
        log(ontology, actor, OntologyChange.Action.MERGE, source.key, before=preview["source"],
            after={"into": target.key, "moved": preview["moves"]})
        source.delete()
    return preview


def _merge_in_other_apps(source: LabelClass, target: LabelClass) -> None:
    from activelearning.models import Disagreement, QueueEntry

    QueueEntry.objects.filter(predicted_class=source).update(predicted_class=target)
    Disagreement.objects.filter(human_class=source).update(human_class=target)
    Disagreement.objects.filter(model_class=source).update(model_class=target)


def _rename_keys_in_json(ontology: Ontology, old: str, new: str) -> None:
    """Class keys stored inside JSON: target ratios, gold and merged regions, suggestions."""
    from activelearning.models import Prediction

    for project in ontology.projects.all():
        ratios = (project.sampling or {}).get("target_ratios") or {}
        if old in ratios:
            ratios[new] = ratios.get(new, 0) + ratios.pop(old)
            Project.objects.filter(pk=project.pk).update(sampling={**project.sampling, "target_ratios": ratios})
        if not project.has_regions:
            continue
        for model, field in ((Item, "gold_regions"), (Consensus, "regions"), (Prediction, "regions")):
            rows = model.objects.filter(project=project).exclude(**{f"{field}__isnull": True})
            for pk, regions in rows.values_list("pk", field).iterator(chunk_size=2000):
                if regions and any(region.get("label") == old for region in regions):
                    for region in regions:
                        if region.get("label") == old:
                            region["label"] = new
                    model.objects.filter(pk=pk).update(**{field: regions})


def delete_class(ontology: Ontology, actor: User, label: LabelClass) -> None:
    if in_use(label):
        counts = usage(label)
        raise Conflict(
            f"The class {label.name!r} is in use ({counts['annotations']} answers, {counts['regions']} regions, "
            f"{counts['items']} labeled items); merge it into another class instead of deleting it."
        )
    with transaction.atomic():
        before = snapshot(label)
        LabelClass.objects.filter(parent=label).update(parent=label.parent)
        label.delete()
        log(ontology, actor, OntologyChange.Action.DELETE, before["key"], before=before)


def reorder(ontology: Ontology, actor: User, class_ids: Any) -> list[LabelClass]:
    """Set the order of every class from a list of all their ids."""
    current = dict(LabelClass.objects.filter(ontology=ontology).values_list("pk", "key"))
    if not isinstance(class_ids, list) or sorted(class_ids, key=str) != sorted(current, key=str):
        raise InvalidInput("Send `order`: the ids of all the ontology's classes, each once, in the new order.")
    with transaction.atomic():
        before = list(LabelClass.objects.filter(ontology=ontology).order_by("order", "pk").values_list("key", flat=True))
        for position, pk in enumerate(class_ids):
            LabelClass.objects.filter(pk=pk).update(order=position)
        log(ontology, actor, OntologyChange.Action.REORDER, before=before, after=[current[pk] for pk in class_ids])
    return list(LabelClass.objects.filter(ontology=ontology).order_by("order", "pk"))


# ---------------------------------------------------------------------------------------
# Export, import, fork


def export_ontology(ontology: Ontology) -> dict:
    classes = LabelClass.objects.filter(ontology=ontology).select_related("parent").order_by("order", "pk")
    return {"format": "labeler-ontology", "version": FORMAT_VERSION, "name": ontology.name,
            "description": ontology.description, "classes": [snapshot(label) for label in classes]}


def _clean_import(data: Any) -> tuple[dict, list[dict]]:
    if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
        raise InvalidInput("An ontology file is a JSON object with a `classes` list (as exported).")
    if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        raise InvalidInput(f"This file has format version {data.get('version')!r}; this installation reads {FORMAT_VERSION}.")
    from .serializers import LabelClassSerializer

    classes, keys, hotkeys = [], set(), {}
    for number, raw in enumerate(data["classes"], 1):
        if not isinstance(raw, dict):
            raise InvalidInput(f"Class {number} must be an object.")
        fields = {name: raw[name] for name in ("key", "name", "colour", "hotkey", "order") if name in raw}
        fields.setdefault("order", number - 1)
        serializer = LabelClassSerializer(data=fields, context={"ontology": None})
        serializer.fields.pop("id", None)
        errors = {} if serializer.is_valid() else serializer.errors
        if errors:
            field, messages = next(iter(errors.items()))
            raise InvalidInput(f"Class {number} ({raw.get('key', '?')}): {field}: {messages[0]}")
        clean = dict(serializer.validated_data)
        if clean["key"] in keys:
            raise InvalidInput(f"Class {number}: the key {clean['key']!r} appears twice.")
        keys.add(clean["key"])
        if clean.get("hotkey"):
            if clean["hotkey"] in hotkeys:
                raise InvalidInput(f"Class {number} ({clean['key']}): hotkey {clean['hotkey']!r} is also "
                                   f"{hotkeys[clean['hotkey']]!r}'s.")
            hotkeys[clean["hotkey"]] = clean["key"]
        clean["description"] = str(raw.get("description") or "")
        clean["shapes"] = validate_shapes(raw.get("shapes"))
        clean["attributes"] = validate_attributes(raw.get("attributes"))
        clean["parent"] = raw.get("parent")
        classes.append(clean)
    for clean in classes:
        if clean["parent"] is not None and clean["parent"] not in keys:
            raise InvalidInput(f"Class {clean['key']!r}: its parent {clean['parent']!r} is not in the file.")
    _check_no_cycles(classes)
    return data, classes


def _check_no_cycles(classes: list[dict]) -> None:
    parent_of = {c["key"]: c["parent"] for c in classes}
    for key in parent_of:
        seen, node = set(), key
        while node is not None:
            if node in seen:
                raise InvalidInput(f"Class {key!r}: the parents form a loop.")
            seen.add(node)
            node = parent_of[node]


def import_ontology(ontology: Ontology, actor: User, data: Any) -> dict:
    """Upsert the file's classes by key, all or nothing. Classes missing from the file
    stay (they may be in use); the response lists them."""
    data, classes = _clean_import(data)
    existing = {label.key: label for label in LabelClass.objects.filter(ontology=ontology)}
    incoming_hotkeys = {c["hotkey"]: c["key"] for c in classes if c.get("hotkey")}
    for key, label in existing.items():
        owner = incoming_hotkeys.get(label.hotkey)
        if label.hotkey and owner is not None and owner != key and key not in {c["key"] for c in classes}:
            raise InvalidInput(f"Hotkey {label.hotkey!r} of {owner!r} in the file is taken by the existing class {key!r}.")
    report = {"created": [], "updated": [], "kept": sorted(set(existing) - {c["key"] for c in classes})}
    with transaction.atomic():
        LabelClass.objects.filter(ontology=ontology, key__in=[c["key"] for c in classes]).update(hotkey="")
        by_key = {}
        for clean in classes:
            fields = {k: v for k, v in clean.items() if k not in ("key", "parent")}
            label, created = LabelClass.objects.update_or_create(ontology=ontology, key=clean["key"], defaults=fields)
            by_key[label.key] = label
            report["created" if created else "updated"].append(label.key)
        for clean in classes:
            parent = by_key.get(clean["parent"]) or existing.get(clean["parent"])
            LabelClass.objects.filter(pk=by_key[clean["key"]].pk).update(parent=parent)
        if data.get("description") is not None:
            Ontology.objects.filter(pk=ontology.pk).update(description=str(data["description"]))
        log(ontology, actor, OntologyChange.Action.IMPORT, after=report)
    return report


def fork(project: Project, actor: User, name: str | None = None) -> Ontology:
    """Give the project its own copy of its ontology; its answers follow to the copy."""
    old = project.ontology
    with transaction.atomic():
        new = Ontology.objects.create(name=(name or f"{old.name} ({project.name})")[:200],
                                      description=old.description, forked_from=old)
        mapping = {}
        for label in LabelClass.objects.filter(ontology=old).order_by("order", "pk"):
            mapping[label.pk] = LabelClass.objects.create(
                ontology=new, **{field: getattr(label, field) for field in CLASS_FIELDS}, examples=label.examples
            )
        for label in LabelClass.objects.filter(ontology=old, parent__isnull=False):
            LabelClass.objects.filter(pk=mapping[label.pk].pk).update(parent=mapping[label.parent_id])
        for old_id, label in mapping.items():
            Annotation.objects.filter(project=project, label_class_id=old_id).update(label_class=label)
            Region.objects.filter(annotation__project=project, label_class_id=old_id).update(label_class=label)
            Item.objects.filter(project=project, final_class_id=old_id).update(final_class=label)
            Item.objects.filter(project=project, gold_class_id=old_id).update(gold_class=label)
            Assignment.objects.filter(project=project, hint_class_id=old_id).update(hint_class=label)
            Consensus.objects.filter(project=project, label_class_id=old_id).update(label_class=label)
            _fork_in_other_apps(project, old_id, label)
        Project.objects.filter(pk=project.pk).update(ontology=new)
        log(new, actor, OntologyChange.Action.FORK, after={"from": old.pk, "project": project.pk})
    project.refresh_from_db()
    return new


def _fork_in_other_apps(project: Project, old_id: int, label: LabelClass) -> None:
    from activelearning.models import Disagreement, QueueEntry

    QueueEntry.objects.filter(project=project, predicted_class_id=old_id).update(predicted_class=label)
    Disagreement.objects.filter(project=project, human_class_id=old_id).update(human_class=label)
    Disagreement.objects.filter(project=project, model_class_id=old_id).update(model_class=label)


def next_order(ontology: Ontology) -> int:
    return (LabelClass.objects.filter(ontology=ontology).aggregate(n=Max("order"))["n"] or -1) + 1

