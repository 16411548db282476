"""Import text items from a CSV, TSV or JSONL file into a project."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations.errors import LabelerError
from annotations.formats.tabular import FORMATS, guess_format, read_rows
from annotations.importing import SPLITS, import_rows
from annotations.models import Project


class Command(BaseCommand):
    help = "Import items from a CSV, TSV or JSONL file (all rows or none)."

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
