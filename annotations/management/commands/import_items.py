"""Import text items from a CSV, TSV or JSONL file into a project."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations.errors import LabelerError
from annotations.formats.tabular import FORMATS, guess_format, read_rows
from annotations.importing import SPLITS, import_rows
from annotations.models import Project


class Command(BaseCommand):
    help = ("Import items: text rows from a CSV, TSV or JSONL file (all rows or none), or, for an image "
            "project, a folder of images, a zip archive or one image.")

    def add_arguments(self, parser):
        parser.add_argument("project", type=int, help="Project id.")
        parser.add_argument("path", type=Path)
        parser.add_argument("--format", choices=FORMATS, help="Guessed from the file name when left out.")
        parser.add_argument("--text-field", default="text")
        parser.add_argument("--label-field", default=None, help="A column whose values are class keys or names.")
        parser.add_argument("--id-field", default=None)
        parser.add_argument("--split", choices=SPLITS, default="auto")
        parser.add_argument("--no-round", action="store_true", help="Do not ask for a round afterwards.")

    def handle(self, *args, **options):
        project = Project.objects.filter(pk=options["project"]).first()
        if project is None:
            raise CommandError(f"No project with id {options['project']}.")
        path: Path = options["path"]
        if project.is_image:
            self._import_images(project, path, options)
            return
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        fmt = options["format"] or guess_format(path.name)
        if fmt is None:
            raise CommandError("Say --format (csv, tsv or jsonl); the file name does not tell.")

        def report(rows: int) -> None:
            self.stdout.write(f"  {rows} rows read", ending="\r")

        try:
            with path.open("rb") as stream:
                result = import_rows(
                    project, read_rows(stream, fmt), text_field=options["text_field"],
                    label_field=options["label_field"], id_field=options["id_field"], split=options["split"],
                    progress=report,
                )
        except LabelerError as exc:
            lines = [exc.message] + [f"  row {e['row']}: {e['error']}" for e in exc.details.get("row_errors", [])]
            raise CommandError("\n".join(lines)) from None
        self.stdout.write(
            f"Imported {result.created} items ({result.labeled} labeled, {result.evaluation} in the evaluation split)."
        )
        if not options["no_round"]:
            from activelearning.services import request_round

            request_round(project.pk, reason="import")

    def _import_images(self, project: Project, path: Path, options) -> None:
        """A folder of images (searched recursively), a zip archive, or one image; each is
        decoded first, and non-images in a folder are skipped and listed."""
        from annotations.media import IMAGE_SUFFIXES, import_image_files

        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            skipped = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES | {".zip"}]
            files = [p for p in files if p not in skipped]
        elif path.is_file():
            files, skipped = [path], []
        else:
            raise CommandError(f"Nothing at {path}: give a folder of images, a zip archive or an image.")
        split = options["split"] if options["split"] in ("pool", "eval") else "pool"
        handles = [p.open("rb") for p in files]
        try:
            result = import_image_files(
                project, [(str(p.relative_to(path) if path.is_dir() else p.name), h) for p, h in zip(files, handles)],
                split=split, progress=lambda n: self.stdout.write(f"  {n} images stored", ending="\r"),
            )
        except LabelerError as exc:
            raise CommandError(exc.message) from None
        finally:
            for handle in handles:
                handle.close()
        self.stdout.write(f"Imported {len(result.created)} images.")
        for entry in [{"name": str(p), "error": "not an image file (by its extension)"} for p in skipped] + result.skipped:
            self.stdout.write(f"  skipped {entry['name']}: {entry['error']}")
        if not options["no_round"]:
            from activelearning.services import request_round

            request_round(project.pk, reason="import")
