"""The regions of an answer: checked against the image and the ontology before anything
is stored, so a bad shape refuses the submit with a message saying which and why."""
from .errors import InvalidInput, UnknownClass
from .geometry import GeometryError, validate_geometry
from .models import Annotation, Item, LabelClass, Project, Region
from .ontology import region_attributes

MAX_REGIONS = 5000
KINDS_BY_PROJECT = {
    Project.Kind.DETECTION: {Region.Kind.BOX},
    Project.Kind.SEGMENTATION: {Region.Kind.BOX, Region.Kind.POLYGON, Region.Kind.MASK},
}


def validate_regions(project: Project, item: Item, regions: list[dict]) -> list[dict]:
    """Clean region dicts: {label_class, kind, geometry, from_model, model_confidence, order}."""
    if not isinstance(regions, list):
        raise InvalidInput("`regions` must be a list of shapes.")
    if len(regions) > MAX_REGIONS:
        raise InvalidInput(f"{len(regions)} regions in one answer; the limit is {MAX_REGIONS}.")
    if not item.width or not item.height:
        raise InvalidInput("This item is not an image, so it cannot take regions.")
    classes = {c.key: c for c in LabelClass.objects.filter(ontology_id=project.ontology_id)}
    allowed = KINDS_BY_PROJECT.get(project.kind, set())
    clean = []
    for number, region in enumerate(regions, 1):
        if not isinstance(region, dict):
            raise InvalidInput(f"Region {number} must be an object with label, kind and geometry.")
        key = region.get("label")
        if key not in classes:
            raise UnknownClass(
                f"Region {number}: unknown class {key!r}; use one of {', '.join(classes)}.", region=number
            )
        kind = region.get("kind")
        if kind not in allowed:
            names = ", ".join(sorted(allowed))
            raise InvalidInput(f"Region {number}: kind {kind!r} is not used in this project; use {names}.", region=number)
        label = classes[key]
        if label.shapes and kind not in label.shapes:
            raise InvalidInput(
                f"Region {number}: class {key!r} is drawn as {', '.join(label.shapes)}, not as a {kind}.", region=number
            )
        attributes = region_attributes(label, region.get("attributes"), f"Region {number}")
        try:
            geometry = validate_geometry(kind, region.get("geometry"), item.width, item.height)
        except GeometryError as exc:
            raise InvalidInput(f"Region {number}: {exc}", region=number) from exc
        confidence = region.get("model_confidence")
        if confidence is not None and not (isinstance(confidence, int | float) and 0 <= confidence <= 1):
            raise InvalidInput(f"Region {number}: model_confidence must be a number between 0 and 1.", region=number)
        clean.append({
            "label_class": classes[key], "kind": kind, "geometry": geometry,
            "from_model": bool(region.get("from_model", False)), "model_confidence": confidence, "order": number,
            "attributes": attributes,
        })
    return clean


def create_regions(annotation: Annotation, clean: list[dict]) -> list[Region]:
    return Region.objects.bulk_create([Region(annotation=annotation, **region) for region in clean])


def region_payload(region: Region) -> dict:
    return {
        "label": region.label_class.key, "kind": region.kind, "geometry": region.geometry,
        "from_model": region.from_model, "model_confidence": region.model_confidence,
        "attributes": region.attributes,
    }
