"""Importing items (all rows or none, with a message saying what to fix) and exporting labels."""
import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import override_settings

from annotations import services
from annotations.models import Annotation, Item
from tests.conftest import add_items, client_for


def upload(user, project, name: str, content: bytes, **fields):
    return client_for(user).post(
        f"/api/projects/{project.pk}/import/", {"file": SimpleUploadedFile(name, content), **fields}, format="multipart"
    )


def csv_bytes(header, rows, delimiter=","):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def jsonl_bytes(records):
    return "".join(json.dumps(r) + "\n" for r in records).encode()


@pytest.fixture
def admin(cast):
    return cast["admin"]


@pytest.fixture
def project(cast):
    return cast["project"]


# What goes in.


def test_csv_upload_creates_one_item_per_row(admin, project):
    content = csv_bytes(["text"], [["good, really good"], ['a "quoted" word'], ["line one\nline two"]])
    response = upload(admin, project, "reviews.csv", content)
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 3, "labeled": 0, "evaluation": 0}
    texts = list(Item.objects.filter(project=project).order_by("pk").values_list("text", flat=True))
    assert texts == ["good, really good", 'a "quoted" word', "line one\nline two"]
    assert all(i.status == Item.Status.UNLABELED for i in Item.objects.all())


def test_tsv_upload_creates_items(admin, project):
    content = b"id\ttext\nr1\tfirst review\nr2\tsecond review\n"
    response = upload(admin, project, "reviews.tsv", content, id_field="id")
    assert response.status_code == 201, response.content
    assert list(Item.objects.order_by("pk").values_list("external_id", "text")) == [
        ("r1", "first review"), ("r2", "second review")
    ]


def test_jsonl_upload_creates_items_and_skips_blank_lines(admin, project):
    content = jsonl_bytes([{"text": "one"}, {"text": "two"}]) + b"\n" + jsonl_bytes([{"text": "three"}])
    response = upload(admin, project, "reviews.jsonl", content)
    assert response.status_code == 201, response.content
    assert Item.objects.count() == 3


def test_the_format_can_be_named_when_the_file_name_does_not_tell(admin, project):
    assert upload(admin, project, "export.data", b"text\nhello\n").status_code == 400
    response = upload(admin, project, "export.data", jsonl_bytes([{"text": "hello"}]), format="jsonl")
    assert response.status_code == 201
    assert Item.objects.get().text == "hello"


def test_the_text_field_can_be_chosen(admin, project):
    content = csv_bytes(["title", "review"], [["Meh", "it was long"], ["Wow", "it was short"]])
    response = upload(admin, project, "reviews.csv", content, text_field="review")
    assert response.status_code == 201
    assert sorted(Item.objects.values_list("text", flat=True)) == ["it was long", "it was short"]


def test_a_label_field_makes_items_labeled_by_key_or_name(admin, project):
    content = csv_bytes(["text", "sentiment"], [["loved it", "positive"], ["hated it", "Negative"], ["no idea", ""]])
    response = upload(admin, project, "reviews.csv", content, label_field="sentiment")
    assert response.status_code == 201
    assert response.json() == {"created": 3, "labeled": 2, "evaluation": 0}
    loved = Item.objects.get(text="loved it")
    assert loved.status == Item.Status.LABELED and loved.final_class.key == "positive" and loved.final_at is not None
    assert Item.objects.get(text="hated it").final_class.key == "negative"
    assert Item.objects.get(text="no idea").status == Item.Status.UNLABELED
    imported = Annotation.objects.get(item=loved)
    assert imported.source == Annotation.Source.IMPORT and imported.annotator is None


def test_imported_labeled_items_are_never_handed_out(admin, project, cast):
    content = csv_bytes(["text", "label"], [["labeled already", "positive"], ["to do", ""]])
    upload(admin, project, "reviews.csv", content, label_field="label")
    held = services.claim_tasks(cast["annotator"], project, want=5)
    assert [a.item.text for a in held] == ["to do"]


def test_split_eval_puts_every_row_in_the_evaluation_split(admin, project):
    content = jsonl_bytes([{"text": f"held out {n}", "label": "positive"} for n in range(5)])
    response = upload(admin, project, "eval.jsonl", content, split="eval", label_field="label")
    assert response.status_code == 201
    assert response.json()["evaluation"] == 5
    assert set(Item.objects.values_list("split", flat=True)) == {"eval"}


def test_split_auto_sets_aside_the_eval_fraction_of_unlabeled_rows(admin, project):
    project.eval_fraction = 0.3
    project.save()
    rows = [[f"unlabeled {n}", ""] for n in range(300)] + [[f"labeled {n}", "positive"] for n in range(50)]
    response = upload(admin, project, "mixed.csv", csv_bytes(["text", "label"], rows), label_field="label", split="auto")
    assert response.status_code == 201
    evaluation = Item.objects.filter(split="eval")
    assert response.json()["evaluation"] == evaluation.count()
    assert 45 <= evaluation.count() <= 135  # 30% of 300, give or take 4.5 standard deviations
    assert not evaluation.filter(text__startswith="labeled").exists()


def test_split_auto_with_no_eval_fraction_keeps_everything_in_the_pool(admin, project):
    upload(admin, project, "reviews.csv", csv_bytes(["text"], [[f"r{n}"] for n in range(50)]))
    assert set(Item.objects.values_list("split", flat=True)) == {"pool"}


def test_text_with_next_line_characters_stays_one_row(admin, project):
    # IMDb reviews contain U+0085 (NEL); str.splitlines() would cut the row there.
    text = "A film\u0085 that drags\u2028 and drags."
    tsv = f"text\tlabel\n{text}\tpositive\nshort\tnegative\n".encode()
    response = upload(admin, project, "imdb.tsv", tsv, label_field="label")
    assert response.status_code == 201, response.content
    assert list(Item.objects.order_by("pk").values_list("text", flat=True)) == [text, "short"]
    response = upload(admin, project, "imdb.jsonl", jsonl_bytes([{"text": text}]))
    assert response.status_code == 201
    assert Item.objects.filter(text=text).count() == 2


def test_a_utf8_byte_order_mark_is_not_part_of_the_header(admin, project):
    response = upload(admin, project, "excel.csv", "\ufefftext\nbonjour\n".encode())
    assert response.status_code == 201, response.content
    assert Item.objects.get().text == "bonjour"


def test_a_successful_upload_asks_for_a_round(admin, project, django_capture_on_commit_callbacks):
    from activelearning.models import Round

    with django_capture_on_commit_callbacks(execute=True):
        upload(admin, project, "reviews.csv", csv_bytes(["text"], [[f"review {n}"] for n in range(30)]))
    assert Round.objects.filter(project=project).count() == 1


# What is refused, and how: 400, a message saying what to fix, and nothing imported.


def assert_refused(response, *fragments):
    assert response.status_code == 400, response.content
    body = response.json()
    for fragment in fragments:
        assert fragment in json.dumps(body), (fragment, body)
    assert Item.objects.count() == 0
    assert Annotation.objects.count() == 0
    return body


def test_an_empty_file_is_refused(admin, project):
    assert_refused(upload(admin, project, "empty.csv", b""), "empty")


def test_a_header_without_rows_is_refused(admin, project):
    assert_refused(upload(admin, project, "header.csv", b"text\n"), "no data rows")


def test_a_malformed_jsonl_line_is_refused_with_its_row_number(admin, project):
    content = jsonl_bytes([{"text": "fine"}]) + b'{"text": "broken\n' + jsonl_bytes([{"text": "also fine"}])
    body = assert_refused(upload(admin, project, "bad.jsonl", content), "not valid JSON")
    assert body["row_errors"] == [{"row": 2, "error": body["row_errors"][0]["error"]}]
    assert "Nothing was imported" in body["detail"]


def test_a_jsonl_line_that_is_not_an_object_is_refused(admin, project):
    body = assert_refused(upload(admin, project, "bad.jsonl", b'{"text": "ok"}\n["a", "list"]\n'), "JSON object")
    assert body["row_errors"][0]["row"] == 2


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(admin, project):
    content = "text\ncaf\u00e9 ok\nna\u00efve\n".encode("latin-1")
    assert_refused(upload(admin, project, "latin.csv", content), "not UTF-8", "line 2", "Save it as UTF-8")


def test_a_missing_text_column_is_refused_listing_the_columns(admin, project):
    content = csv_bytes(["review", "stars"], [["nice", "5"]])
    body = assert_refused(upload(admin, project, "reviews.csv", content), "'text'", "review, stars")
    assert body["columns"] == ["review", "stars"]


def test_a_missing_label_column_is_refused_listing_the_columns(admin, project):
    content = csv_bytes(["text"], [["nice"]])
    assert_refused(upload(admin, project, "reviews.csv", content, label_field="sentiment"), "'sentiment'", "text")


def test_an_unknown_label_value_is_refused_with_the_row_and_the_known_classes(admin, project):
    rows = [["fine", "positive"], ["odd", "neutral"], ["also fine", "negative"], ["odder", "meh"]]
    body = assert_refused(
        upload(admin, project, "reviews.csv", csv_bytes(["text", "label"], rows), label_field="label"), "'neutral'"
    )
    assert [e["row"] for e in body["row_errors"]] == [2, 4]
    assert "negative, positive" in body["row_errors"][0]["error"]
    assert "2 row(s)" in body["detail"]


def test_rows_with_empty_text_or_wrong_field_counts_are_named(admin, project):
    content = b"text,label\nfine,positive\n,positive\ntoo,many,fields\n"
    body = assert_refused(upload(admin, project, "reviews.csv", content, label_field="label"))
    assert [e["row"] for e in body["row_errors"]] == [2, 3]
    assert "empty" in body["row_errors"][0]["error"]
    assert "3 fields" in body["row_errors"][1]["error"]


@override_settings(LABELER_MAX_IMPORT_BYTES=100)
def test_an_oversized_upload_is_refused_with_the_limit(admin, project):
    content = csv_bytes(["text"], [[f"review number {n}"] for n in range(20)])
    assert_refused(upload(admin, project, "big.csv", content), "limit is 100", "Split it")


def test_an_unknown_split_is_refused(admin, project):
    response = upload(admin, project, "reviews.csv", b"text\nfine\n", split="holdout")
    assert response.status_code == 400
    assert Item.objects.count() == 0


def test_a_bad_row_after_thousands_of_good_ones_leaves_nothing_behind(admin, project):
    good = jsonl_bytes([{"text": f"review {n}"} for n in range(4500)])
    response = upload(admin, project, "big.jsonl", good + b"{oops\n")
    body = assert_refused(response)
    assert body["row_errors"][0]["row"] == 4501


def test_bad_bytes_after_thousands_of_good_rows_leave_nothing_behind_and_name_the_line(admin, project):
    # Over 150 KB, so the bad byte is several read chunks into the file: header + 4500 rows, then line 4502.
    good = csv_bytes(["text"], [[f"review number {n} with a little padding"] for n in range(4500)])
    assert len(good) > 150_000
    assert_refused(upload(admin, project, "big.csv", good + b"caf\xe9\n"), "not UTF-8", "near line 4502")


def test_an_existing_project_keeps_its_items_when_an_import_fails(admin, project):
    add_items(project, ["kept"])
    response = upload(admin, project, "bad.jsonl", b'{"text": "new"}\n{bad\n')
    assert response.status_code == 400
    assert list(Item.objects.values_list("text", flat=True)) == ["kept"]


# Memory: an upload of any size is read in blocks, and a file of bad rows keeps only what is reported.


class BlockOnlyUpload(io.BytesIO):
    """An upload that refuses to be read whole: read() without a size, readlines and
    iteration fail, as they would hold a 500 MB file in memory."""

    largest_read = 0

    def read(self, size=-1):
        if size is None or size < 0:
            raise AssertionError("the whole upload was read at once")
        self.largest_read = max(self.largest_read, size)
        return super().read(size)

    def readlines(self, *args):
        raise AssertionError("the whole upload was read at once")

    def __iter__(self):
        raise AssertionError("the upload was read line by line through the file, not in blocks")


@pytest.mark.parametrize(("fmt", "content"), [
    ("jsonl", jsonl_bytes([{"text": f"review {n}"} for n in range(3000)])),
    ("csv", csv_bytes(["text"], [[f"review {n}"] for n in range(3000)])),
    ("tsv", csv_bytes(["text"], [[f"review {n}"] for n in range(3000)], delimiter="\t")),
])
def test_an_upload_is_read_in_blocks_never_whole(project, fmt, content):
    from annotations.formats.tabular import read_rows
    from annotations.importing import import_rows

    upload = BlockOnlyUpload(content)
    result = import_rows(project, read_rows(upload, fmt), split="pool")
    assert result.created == 3000 == Item.objects.filter(project=project).count()
    assert 0 < upload.largest_read <= 1 << 16


def test_a_file_of_bad_rows_keeps_only_the_reported_errors(admin, project):
    from annotations.importing import MAX_REPORTED_ERRORS, ImportResult

    body = assert_refused(upload(admin, project, "bad.jsonl", b"{oops\n" * 500), "500 row(s) have problems")
    assert [e["row"] for e in body["row_errors"]] == list(range(1, MAX_REPORTED_ERRORS + 1))
    result = ImportResult()
    for number in range(1, 10_001):
        result.add_error(number, "bad")
    assert result.error_count == 10_000 and len(result.errors) == MAX_REPORTED_ERRORS


# The management command.


def test_import_items_command_reads_a_file(project, tmp_path):
    path = tmp_path / "reviews.tsv"
    path.write_bytes(b"review\tsentiment\ngreat\tpositive\npoor\tnegative\nunsure\t\n")
    out = io.StringIO()
    call_command(
        "import_items", str(project.pk), str(path), "--text-field", "review", "--label-field", "sentiment",
        "--split", "pool", "--no-round", stdout=out,
    )
    assert "Imported 3 items (2 labeled" in out.getvalue()
    assert Item.objects.filter(project=project, status=Item.Status.LABELED).count() == 2


def test_import_items_command_handles_jsonl_and_eval_split(project, tmp_path):
    path = tmp_path / "held_out.jsonl"
    path.write_bytes(jsonl_bytes([{"text": "a", "y": "positive"}, {"text": "b", "y": "negative"}]))
    call_command("import_items", str(project.pk), str(path), "--label-field", "y", "--split", "eval", stdout=io.StringIO())
    assert set(Item.objects.values_list("split", flat=True)) == {"eval"}


def test_import_items_command_reports_row_errors_and_imports_nothing(project, tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(b"text,label\nok,positive\nbad,neutral\n")
    with pytest.raises(CommandError) as error:
        call_command("import_items", str(project.pk), str(path), "--label-field", "label", stdout=io.StringIO())
    assert "row 2: unknown label 'neutral'" in str(error.value)
    assert Item.objects.count() == 0


def test_import_items_command_refuses_a_missing_file_or_project(project, tmp_path):
    with pytest.raises(CommandError, match="No file"):
        call_command("import_items", str(project.pk), str(tmp_path / "nope.csv"))
    (tmp_path / "x.csv").write_bytes(b"text\nhi\n")
    with pytest.raises(CommandError, match="No project"):
        call_command("import_items", "999999", str(tmp_path / "x.csv"))


# What comes out.


@pytest.fixture
def labeled(cast, project):
    add_items(project, ["imported positive"], labels=["positive"])
    add_items(project, ["to label", "left alone"])
    item = Item.objects.get(text="to label")
    services.claim_tasks(cast["annotator"], project, want=2)
    services.submit_annotation(cast["annotator"], project, item.pk, "negative")
    return project


def export(user, project, query=""):
    response = client_for(user).get(f"/api/projects/{project.pk}/export/{query}")
    return response, b"".join(response.streaming_content).decode() if response.status_code == 200 else ""


def test_csv_export_has_the_final_label_annotator_and_time_per_labeled_item(cast, labeled):
    response, body = export(cast["reviewer"], labeled, "?export_format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = {r["text"]: r for r in csv.DictReader(io.StringIO(body))}
    assert set(rows) == {"imported positive", "to label"}
    human = rows["to label"]
    item = Item.objects.get(text="to label")
    assert (human["label"], human["label_name"], human["annotator"], human["split"]) == ("negative", "negative", "ann", "pool")
    assert human["labeled_at"] == item.final_at.isoformat()
    assert rows["imported positive"]["label"] == "positive"
    assert rows["imported positive"]["annotator"] == ""


def test_jsonl_export_has_one_object_per_labeled_item(cast, labeled):
    response, body = export(cast["admin"], labeled, "?export_format=jsonl")
    assert response.status_code == 200
    records = [json.loads(line) for line in body.splitlines()]
    by_text = {r["text"]: r for r in records}
    assert set(by_text) == {"imported positive", "to label"}
    assert by_text["to label"]["annotator"] == "ann"
    assert by_text["to label"]["label"] == "negative"
    assert by_text["to label"]["labeled_at"].startswith(str(Item.objects.get(text="to label").final_at.date()))
    assert by_text["imported positive"]["annotator"] is None


def test_export_all_includes_unlabeled_items(cast, labeled):
    _, body = export(cast["reviewer"], labeled, "?export_format=jsonl&all=1")
    records = [json.loads(line) for line in body.splitlines()]
    assert {r["text"]: r["label"] for r in records}["left alone"] is None
    assert len(records) == 3


def test_export_round_trips_through_import(cast, labeled):
    from tests.conftest import make_project

    _, body = export(cast["reviewer"], labeled, "?export_format=csv")
    target = make_project()
    response = upload(cast["staff"], target, "labels.csv", body.encode(), label_field="label", id_field="item_id")
    assert response.status_code == 201, response.content
    assert response.json()["labeled"] == 2


def test_export_refuses_an_unknown_format_and_annotators(cast, labeled):
    response, _ = export(cast["reviewer"], labeled, "?export_format=xml")
    assert response.status_code == 400
    response, _ = export(cast["annotator"], labeled)
    assert response.status_code == 403


@pytest.fixture
def varied(cast, labeled):
    """Rows that stress the encoding: non-ASCII, quotes and newlines, an external id, a
    time without microseconds, a consensus with its agreement."""
    from datetime import UTC, datetime

    from annotations.models import Consensus

    add_items(labeled, ['caf\u00e9 "quoted"\nsecond line \u2603', "plain"], labels=["positive", "negative"])
    odd = Item.objects.get(text="plain")
    Item.objects.filter(pk=odd.pk).update(external_id="ext-7", final_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    Consensus.objects.create(item=odd, project=labeled, method=Consensus.Method.MAJORITY,
                             status=Consensus.Status.AGREED, agreement=2 / 3)
    return labeled


def reference_records(project, include_unlabeled):
    """The export's rows built one ORM object at a time: the format's definition."""
    from annotations.models import Consensus

    items = Item.objects.filter(project=project).select_related("final_class", "final_annotator").order_by("pk")
    for item in items:
        if item.status != Item.Status.LABELED and not include_unlabeled:
            continue
        consensus = Consensus.objects.filter(item=item).first()
        yield {
            "item_id": item.pk, "external_id": item.external_id, "text": item.text,
            "label": item.final_class.key if item.final_class else None,
            "label_name": item.final_class.name if item.final_class else None,
            "split": item.split,
            "annotator": item.final_annotator.username if item.final_annotator else None,
            "labeled_at": item.final_at.isoformat() if item.final_at else None,
            "consensus": consensus.method if consensus else None,
            "agreement": consensus.agreement if consensus else None,
        }


@pytest.mark.parametrize("include_unlabeled", [False, True])
def test_the_export_bytes_are_the_format_row_by_row_across_chunks(cast, varied, monkeypatch, include_unlabeled):
    from annotations import exporting

    monkeypatch.setattr(exporting, "ROWS_PER_CHUNK", 2)
    records = list(reference_records(varied, include_unlabeled))
    assert len(records) == 4 + include_unlabeled
    assert any(r["labeled_at"] and "." not in r["labeled_at"] for r in records)
    assert_exports_are(cast["reviewer"], varied, records, include_unlabeled)


def assert_exports_are(user, project, records, include_unlabeled):
    """The JSONL export is json.dumps of each record, the CSV export csv.DictWriter's."""
    from annotations import exporting

    expected_jsonl = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=exporting.FIELDS)
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in records)
    query = "&all=1" if include_unlabeled else ""
    assert export(user, project, "?export_format=jsonl" + query)[1] == expected_jsonl
    assert export(user, project, "?export_format=csv" + query)[1] == buffer.getvalue()


@pytest.fixture
def many_hands(cast, varied):
    """Annotators and a class first met in a later chunk (the export reads usernames and
    class names for each chunk's new ids), a class of another ontology, a username that
    needs escaping, agreements of 1.0, 0.5 and none, times with and without microseconds."""
    from datetime import UTC, datetime

    from django.contrib.auth.models import User

    from annotations.models import Consensus, LabelClass, Ontology

    add_items(varied, [f"row {n}" for n in range(6)], labels=["positive", "negative"] * 3)
    elsewhere = LabelClass.objects.create(ontology=Ontology.objects.create(name="Other"), key="elsewhere",
                                          name='Somewhere "else" \u00e9', order=0)
    hands = [User.objects.create_user(name) for name in ("late-1", 'late "2" \u00fc', "late-3")]
    rows = list(Item.objects.filter(text__startswith="row ").order_by("pk"))
    for n, item in enumerate(rows):
        Item.objects.filter(pk=item.pk).update(
            final_annotator=hands[n % 3] if n >= 2 else None,
            final_at=datetime(2026, 3, 4, 5, 6, 7, 890 * n, tzinfo=UTC),
            final_class=elsewhere if n == 5 else item.final_class,
        )
    for item, agreement in zip(rows[3:], (1.0, 0.5, None)):
        Consensus.objects.create(item=item, project=varied, method=Consensus.Method.REVIEWER,
                                 status=Consensus.Status.REVIEWED, agreement=agreement)
    return varied


@pytest.mark.parametrize("include_unlabeled", [False, True])
def test_the_export_reads_names_met_in_later_chunks(cast, many_hands, monkeypatch, include_unlabeled):
    from annotations import exporting

    monkeypatch.setattr(exporting, "ROWS_PER_CHUNK", 2)
    records = list(reference_records(many_hands, include_unlabeled))
    assert {r["annotator"] for r in records} >= {"late-1", 'late "2" \u00fc', "late-3"}
    assert {r["agreement"] for r in records} >= {1.0, 0.5}
    assert "elsewhere" in {r["label"] for r in records}
    assert_exports_are(cast["reviewer"], many_hands, records, include_unlabeled)
