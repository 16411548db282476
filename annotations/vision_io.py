"""Labels of image projects in and out: COCO JSON, YOLO (detect and seg) and Pascal VOC.

Export takes each labeled image's latest answer. Import reads a COCO JSON file, or a
zip holding a YOLO dataset (data.yaml, images, labels), a VOC folder (Annotations and
JPEGImages) or a COCO file with its images; it creates the images that are not in the
project yet and stores the regions as imported answers (a seed set or the evaluation
split) or as the model's suggestions. All of it in one transaction, or nothing.
"""
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .errors import ImportFailed, InvalidInput, StorageFull
from .exporting import DISK_FULL, is_disk_full
from .formats.coco import dump_coco, read_coco
from .formats.regions import Dataset, FormatError, ImageRecord, geometry_to_region, region_to_geometry
from .formats.voc import read_voc, write_voc
from .formats.yolo import read_yolo, write_yolo
from .geometry import GeometryError, validate_geometry
from .media import IMAGE_SUFFIXES, NotAnImage, decode_image, save_images, zip_members
from .models import Annotation, Consensus, Item, LabelClass, Project, Region

VISION_EXPORTS = {"coco": "application/json", "yolo": "application/zip", "voc": "application/zip"}
IMPORT_TARGETS = ("annotations", "eval", "predictions")


# Export.


def project_dataset(project: Project) -> Dataset:
    """Every labeled image with its regions (see project_images), as one Dataset."""
    classes, images = project_images(project)
    return Dataset(classes=classes, images=list(images))


def project_images(project: Project) -> tuple[list[str], Iterator[ImageRecord]]:
    """The classes, and every labeled image with its regions, normalised: the merged
    consensus regions where several annotators labeled it, else its latest counted
    answer. Classes are written by name (what COCO and YOLO users read), by key where
    two share a name. The images are read EXPORT_CHUNK at a time, so a writer that
    streams them holds one chunk, whatever the project's size."""
    ontology = list(LabelClass.objects.filter(ontology_id=project.ontology_id).values_list("pk", "key", "name"))
    names = [name for _, _, name in ontology]
    shown = {pk: (name if names.count(name) == 1 else key) for pk, key, name in ontology}
    shown_by_key = {key: shown[pk] for pk, key, _ in ontology}
    classes = [shown[pk] for pk, _, _ in ontology]
    return classes, _labeled_images(project, shown, shown_by_key)


EXPORT_CHUNK = 2000


def _labeled_images(project: Project, shown: dict[int, str], shown_by_key: dict[str, str]) -> Iterator[ImageRecord]:
    items = Item.objects.filter(project=project, status=Item.Status.LABELED).exclude(media="").order_by("pk")
    last = 0
    while chunk := list(items.filter(pk__gt=last)[:EXPORT_CHUNK]):
        last = chunk[-1].pk
        item_ids = [item.pk for item in chunk]
        answer_of = dict(
            Annotation.objects.filter(item_id__in=item_ids, gold_score__isnull=True)
            .exclude(review_status=Annotation.Review.REJECTED)
            .values("item_id").annotate(last=Max("pk")).values_list("item_id", "last")
        )
        regions_by_annotation: dict[int, list] = {}
        for region in Region.objects.filter(annotation_id__in=answer_of.values()).order_by("order", "pk"):
            regions_by_annotation.setdefault(region.annotation_id, []).append(
                geometry_to_region(shown[region.label_class_id], region.kind, region.geometry,
                                   score=region.model_confidence)
            )
        merged = _consensus_regions(project, item_ids, shown_by_key)
        for item in chunk:
            regions = merged.get(item.pk)
            if regions is None:
                regions = regions_by_annotation.get(answer_of.get(item.pk), [])
            yield ImageRecord(
                file_name=export_name(item), width=item.width, height=item.height, regions=regions,
                path=item.media.path,
            )


def _consensus_regions(project: Project, item_ids: list[int], shown_by_key: dict[str, str]) -> dict[int, list]:
    """The merged regions of those items settled by region vote (overlap above one)."""
    if project.overlap <= 1:
        return {}
    rows = Consensus.objects.filter(
        project=project, item_id__in=item_ids, method=Consensus.Method.REGION_VOTE
    ).values_list("item_id", "regions")
    return {
        item_id: [geometry_to_region(shown_by_key.get(r["label"], r["label"]), r["kind"], r["geometry"]) for r in regions]
        for item_id, regions in rows
    }


def export_name(item: Item) -> str:
    """A stable, unique file name: the item id, then the name it was uploaded with."""
    original = Path(item.external_id or item.media.name).name
    return f"{item.pk:08d}_{original}" if original else f"{item.pk:08d}{Path(item.media.name).suffix}"


def export_vision(project: Project, fmt: str, task: str | None = None) -> Path:
    """Write the export to a temporary file and return its path (the caller deletes it).
    A full disk is reported as such, and no partial file is left behind."""
    if fmt not in VISION_EXPORTS:
        raise InvalidInput(f"Use one of {', '.join(VISION_EXPORTS)} for an image project.")
    task = task or ("segment" if project.kind == Project.Kind.SEGMENTATION else "detect")
    workdir = Path(tempfile.mkdtemp(prefix="labeler-export-"))
    try:
        if fmt == "coco":
            target = workdir / "annotations.json"
            with target.open("w", encoding="utf-8") as out, (workdir / "annotations.part").open("w+") as spill:
                dump_coco(*project_images(project), out, spill)
            return _detach(target, workdir)
        dataset = project_dataset(project)
        folder = workdir / "dataset"
        if fmt == "yolo":
            write_yolo(dataset, folder, image_path=lambda record: Path(record.path), task=task)
        else:
            write_voc(dataset, folder)
            images = folder / "JPEGImages"
            images.mkdir(parents=True, exist_ok=True)
            for record in dataset.images:
                shutil.copyfile(record.path, images / record.file_name)
        archive = workdir / "export.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    bundle.write(path, path.relative_to(folder).as_posix())
        return _detach(archive, workdir)
    except BaseException as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        if is_disk_full(exc):
            raise StorageFull(DISK_FULL) from exc
        raise


def _detach(path: Path, workdir: Path) -> Path:
    fd, final = tempfile.mkstemp(prefix="labeler-export-", suffix=path.suffix)
    os.close(fd)
    try:
        shutil.move(path, final)
    except BaseException:
        Path(final).unlink(missing_ok=True)
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    return Path(final)


# Import.


def read_label_upload(name: str, stream, workdir: Path) -> tuple[Dataset, dict[str, bytes] | None]:
    """The dataset in an uploaded file, and the images that came with it (by file name)."""
    if name.lower().endswith(".json"):
        try:
            return read_coco(json.load(stream)), None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ImportFailed(f"{name} is not valid JSON: {exc}", reason="format") from exc
    if not name.lower().endswith(".zip"):
        raise ImportFailed("Upload a COCO .json file, or a .zip of a YOLO dataset, a VOC folder or COCO with images.",
                           reason="format")
    skipped: list[dict] = []
    root = workdir / "upload"
    for member, data in _all_members(stream, skipped):
        target = root / member
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    yamls = sorted(root.rglob("data.yaml")) or sorted(root.rglob("*.yaml"))
    if yamls:
        task = "segment" if _looks_like_segment(yamls[0].parent) else "detect"
        return read_yolo(yamls[0], task=task), None
    xmls = sorted(root.rglob("*.xml"))
    if xmls:
        dataset = read_voc(xmls)
        return dataset, _images_by_name(root)
    jsons = sorted(root.rglob("*.json"))
    if jsons:
        with jsons[0].open() as handle:
            return read_coco(json.load(handle)), _images_by_name(root)
    raise ImportFailed("The zip holds no data.yaml (YOLO), no .xml (VOC) and no .json (COCO).", reason="format")


LABEL_SUFFIXES = frozenset(IMAGE_SUFFIXES | {".txt", ".yaml", ".yml", ".xml", ".json"})


def _all_members(stream, skipped) -> Iterator[tuple[str, bytes]]:
    """Every regular file of the archive (images and label files), safely."""
    return zip_members(stream, skipped, suffixes=LABEL_SUFFIXES)


def _looks_like_segment(folder: Path) -> bool:
    for label in folder.rglob("*.txt"):
        for line in label.read_text().splitlines():
            if len(line.split()) > 6:
                return True
    return False


def _images_by_name(root: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in root.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES}


def import_labels(project: Project, dataset: Dataset, images: dict[str, bytes] | None, target: str,
                  add_classes: bool = False, model_version: int = 0) -> dict:
    """Store the dataset's images and regions in the project: all or nothing."""
    from activelearning.models import Prediction

    if target not in IMPORT_TARGETS:
        raise InvalidInput(f"`as` must be one of {', '.join(IMPORT_TARGETS)}.")
    classes = {c.key: c for c in LabelClass.objects.filter(ontology_id=project.ontology_id)}
    by_name = {c.name.lower(): c for c in classes.values()}
    missing = sorted({r.label for record in dataset.images for r in record.regions
                      if r.label not in classes and r.label.lower() not in by_name})
    if missing and not add_classes:
        raise ImportFailed(f"The file uses classes the project does not have: {', '.join(missing[:20])}. "
                           "Add them first, or import with add_classes.", reason="unknown_class", classes=missing)
    existing = {Path(item.external_id).name: item for item in Item.objects.filter(project=project).exclude(media="")}
    counts = {"images_created": 0, "images_matched": 0, "regions": 0}
    with transaction.atomic():
        for key in missing:
            order = len(classes)
            classes[key] = LabelClass.objects.create(ontology_id=project.ontology_id, key=_class_key(key), name=key,
                                                     order=order)
        by_name = {c.name.lower(): c for c in classes.values()}
        for record in dataset.images:
            item = existing.get(Path(record.file_name).name)
            if item is None:
                item = _create_item(project, record, images, target)
                counts["images_created"] += 1
            else:
                counts["images_matched"] += 1
            regions = []
            for number, region in enumerate(record.regions, 1):
                label = classes.get(region.label) or by_name[region.label.lower()]
                try:
                    geometry = validate_geometry(region.kind, region_to_geometry(region), item.width, item.height)
                except GeometryError as exc:
                    raise ImportFailed(f"{record.file_name}, region {number}: {exc}", reason="geometry") from exc
                regions.append((label, region, geometry, number))
            counts["regions"] += len(regions)
            if target == "predictions":
                Prediction.objects.update_or_create(item=item, defaults={
                    "project": project, "model_version": model_version,
                    "regions": [{"label": label.key, "kind": region.kind, "geometry": geometry,
                                 "confidence": region.score if region.score is not None else 1.0}
                                for label, region, geometry, _ in regions],
                })
                continue
            annotation = Annotation.objects.create(project=project, item=item, source=Annotation.Source.IMPORT)
            Region.objects.bulk_create([
                Region(annotation=annotation, label_class=label, kind=region.kind, geometry=geometry, order=number)
                for label, region, geometry, number in regions
            ])
            Item.objects.filter(pk=item.pk).update(status=Item.Status.LABELED, final_at=timezone.now(),
                                                   split=Item.Split.EVAL if target == "eval" else item.split)
    return counts


def _class_key(name: str) -> str:
    import re

    key = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip()).strip("_")[:64]
    return key or "class"


def _create_item(project: Project, record: ImageRecord, images: dict[str, bytes] | None, target: str) -> Item:
    data = None
    if record.path:
        data = Path(record.path).read_bytes()
    elif images is not None:
        data = images.get(Path(record.file_name).name)
    if data is None:
        raise ImportFailed(f"{record.file_name}: the image is neither in the project nor in the upload.",
                           reason="missing_image")
    try:
        decoded = decode_image(Path(record.file_name).name, data)
    except NotAnImage as exc:
        raise ImportFailed(str(exc), reason="not_an_image") from exc
    split = Item.Split.EVAL if target == "eval" else Item.Split.POOL
    (pk,) = save_images(project, [decoded], split=split)
    return Item.objects.get(pk=pk)


def import_label_file(project: Project, name: str, stream, target: str, add_classes: bool = False) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="labeler-import-"))
    try:
        try:
            dataset, images = read_label_upload(name, stream, workdir)
        except FormatError as exc:
            raise ImportFailed(str(exc), reason="format") from exc
        return import_labels(project, dataset, images, target, add_classes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
