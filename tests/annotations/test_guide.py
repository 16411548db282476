"""The project guide: admins' edits and their history, members' proposals and the
admins' decisions, restoring old versions, who may do what, Markdown that cannot run
script, and guide images kept for members only."""
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from annotations import guide
from annotations.models import Guide, GuideImage, GuideProposal, GuideRevision
from tests.conftest import client_for, make_project


def url(world, rest: str = "") -> str:
    return f"/api/projects/{world['project'].pk}/guide/{rest}"


def png(colour=(20, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), colour).save(buffer, "PNG")
    return buffer.getvalue()


def put(world, role: str, body: str, note: str = "", **extra):
    return client_for(world[role]).put(url(world), {"body": body, "note": note, **extra}, format="json")


def propose(world, role: str, body: str, note: str = ""):
    return client_for(world[role]).post(url(world, "proposals/"), {"body": body, "note": note}, format="json")


def post(world, role: str, rest: str, data=None):
    return client_for(world[role]).post(url(world, rest), data or {}, format="json")


@pytest.fixture
def world(cast):
    return cast


@pytest.fixture
def published(monkeypatch):
    """Events the guide announces, as (project, type, payload)."""
    events = []
    monkeypatch.setattr(guide, "publish_on_commit",
                        lambda project_id, event_type, **payload: events.append((project_id, event_type, payload)))
    return events


# Editing and history ------------------------------------------------------------------

def test_a_new_project_has_an_empty_guide_at_version_0(world):
    response = client_for(world["annotator"]).get(url(world))
    assert response.status_code == 200
    assert response.json() == {"body": "", "html": "", "version": 0, "updated_by": None, "updated_at": None}
    assert not Guide.objects.exists()


def test_each_admin_edit_is_a_new_version_with_its_revision(world, published):
    first = put(world, "admin", "# Rules\n\nLabel **sarcasm** as negative.", "first draft")
    assert first.status_code == 200, first.content
    assert first.json()["version"] == 1
    assert first.json()["updated_by"] == "adm"
    assert "<h1>Rules</h1>" in first.json()["html"] and "<strong>sarcasm</strong>" in first.json()["html"]

    second = put(world, "admin", "# Rules\n\nLabel sarcasm as negative.\n\nMixed reviews are positive.", "mixed")
    assert second.json()["version"] == 2

    history = client_for(world["annotator"]).get(url(world, "revisions/")).json()
    assert [(r["version"], r["author"], r["note"], r["proposal"]) for r in history] == [
        (2, "adm", "mixed", None), (1, "adm", "first draft", None),
    ]
    assert "body" not in history[0]
    old = client_for(world["annotator"]).get(url(world, "revisions/1/")).json()
    assert old["body"] == "# Rules\n\nLabel **sarcasm** as negative."
    assert "<strong>sarcasm</strong>" in old["html"]
    assert [event[1:] for event in published] == [("guide.changed", {"version": 1}), ("guide.changed", {"version": 2})]


def test_saving_the_same_text_again_makes_no_new_version(world):
    put(world, "admin", "Be consistent.")
    again = put(world, "admin", "Be consistent.")
    assert again.status_code == 200 and again.json()["version"] == 1
    assert GuideRevision.objects.count() == 1


def test_line_endings_are_kept_as_newlines(world):
    put(world, "admin", "one\r\ntwo\rthree")
    assert Guide.objects.get().body == "one\ntwo\nthree"


def test_an_edit_started_from_an_old_version_is_refused_rather_than_overwriting(world):
    put(world, "admin", "v1")
    put(world, "admin", "v2 by someone else", base_version=1)
    late = put(world, "admin", "my edit of v1", base_version=1)
    assert late.status_code == 409
    assert "version 2" in late.json()["detail"]
    assert Guide.objects.get().body == "v2 by someone else"


def test_revisions_page_with_before_and_limit(world):
    for n in range(1, 6):
        put(world, "admin", f"version {n}")
    page = client_for(world["reviewer"]).get(url(world, "revisions/"), {"limit": 2, "before": 4}).json()
    assert [r["version"] for r in page] == [3, 2]
    assert client_for(world["reviewer"]).get(url(world, "revisions/"), {"limit": "many"}).status_code == 400


def test_restoring_an_old_version_makes_it_current_as_a_new_version(world):
    put(world, "admin", "the good rules")
    put(world, "admin", "a bad rewrite")
    response = post(world, "admin", "revisions/1/restore/")
    assert response.status_code == 200, response.content
    assert (response.json()["version"], response.json()["body"]) == (3, "the good rules")
    newest = GuideRevision.objects.get(version=3)
    assert (newest.body, newest.note, newest.author.username) == ("the good rules", "Restored version 1.", "adm")
    assert GuideRevision.objects.get(version=2).body == "a bad rewrite"


def test_restoring_a_version_that_does_not_exist_is_not_found(world):
    put(world, "admin", "only version")
    response = post(world, "admin", "revisions/7/restore/")
    assert response.status_code == 404
    assert "no version 7" in response.json()["detail"]
    assert Guide.objects.get().version == 1


@pytest.mark.parametrize("data, message", [
    ({"body": "x" * (guide.MAX_BODY + 1)}, "200,000"),
    ({"body": "fine", "note": "n" * (guide.MAX_NOTE + 1)}, "500"),
    ({"body": ["not", "text"]}, "`body`"),
    ({"note": "a body is missing"}, "`body`"),
])
def test_limits_and_wrong_types_are_refused_with_a_message(world, data, message):
    edit = client_for(world["admin"]).put(url(world), data, format="json")
    assert edit.status_code == 400 and message in edit.json()["detail"]
    proposal = client_for(world["annotator"]).post(url(world, "proposals/"), data, format="json")
    assert proposal.status_code == 400 and message in proposal.json()["detail"]
    assert not GuideRevision.objects.exists() and not GuideProposal.objects.exists()


def test_text_that_is_not_valid_unicode_is_refused(world):
    raw = '{"body": "half a character: \\ud800"}'
    response = client_for(world["admin"]).put(url(world), raw, content_type="application/json")
    assert response.status_code == 400 and "not valid Unicode" in response.json()["detail"]
    assert not GuideRevision.objects.exists()


def test_the_longest_allowed_guide_is_accepted(world):
    assert put(world, "admin", "x" * guide.MAX_BODY).json()["version"] == 1


# Proposals ---------------------------------------------------------------------------

def test_an_accepted_proposal_becomes_the_guide_with_a_revision_pointing_at_it(world, published):
    put(world, "admin", "Sarcasm is negative.")
    created = propose(world, "annotator", "Sarcasm is negative.\n\nEmoji alone: skip the item.", "saw many of these")
    assert created.status_code == 201, created.content
    proposal = created.json()
    assert (proposal["status"], proposal["base_version"], proposal["author"], proposal["stale"]) == (
        "open", 1, "ann", False)
    assert Guide.objects.get().version == 1  # a proposal changes nothing yet

    accepted = post(world, "admin", f"proposals/{proposal['id']}/accept/")
    assert accepted.status_code == 200, accepted.content
    answer = accepted.json()
    assert answer["stale"] is False
    assert answer["guide"]["version"] == 2
    assert answer["guide"]["body"] == "Sarcasm is negative.\n\nEmoji alone: skip the item."
    assert (answer["proposal"]["status"], answer["proposal"]["decided_by"], answer["proposal"]["accepted_as"]) == (
        "accepted", "adm", 2)

    revision = GuideRevision.objects.get(version=2)
    assert revision.proposal_id == proposal["id"]
    assert (revision.author.username, revision.note) == ("ann", "saw many of these")
    history = client_for(world["annotator"]).get(url(world, "revisions/")).json()
    assert history[0]["proposal"] == proposal["id"]
    assert ("guide.changed", {"version": 2}) in [event[1:] for event in published]


def test_accepting_twice_gives_the_same_answer_and_declining_then_conflicts(world):
    put(world, "admin", "v1")
    proposal = propose(world, "annotator", "v1 improved").json()
    first = post(world, "admin", f"proposals/{proposal['id']}/accept/").json()
    again = post(world, "admin", f"proposals/{proposal['id']}/accept/")
    assert again.status_code == 200
    assert again.json()["guide"]["version"] == first["guide"]["version"] == 2
    assert GuideRevision.objects.count() == 2
    declined = post(world, "admin", f"proposals/{proposal['id']}/decline/", {"reason": "changed my mind"})
    assert declined.status_code == 409
    assert "already accepted" in declined.json()["detail"]
    assert GuideProposal.objects.get().status == "accepted"


def test_a_declined_proposal_leaves_the_guide_alone(world, published):
    put(world, "admin", "Keep it short.")
    proposal = propose(world, "annotator", "Keep it short, and never use the neutral class.").json()
    declined = post(world, "admin", f"proposals/{proposal['id']}/decline/", {"reason": "We have no neutral class."})
    assert declined.status_code == 200, declined.content
    assert declined.json()["proposal"]["status"] == "declined"
    assert declined.json()["reason"] == "We have no neutral class."
    stored = GuideProposal.objects.get()
    assert (stored.status, stored.decided_by.username) == ("declined", "adm")
    assert stored.decided_at is not None
    assert Guide.objects.get().body == "Keep it short." and Guide.objects.get().version == 1
    mine = client_for(world["annotator"]).get(url(world, f"proposals/{proposal['id']}/")).json()
    assert mine["decline_reason"] == "We have no neutral class.", "the author reads why"

    assert post(world, "admin", f"proposals/{proposal['id']}/decline/").status_code == 200
    accepted = post(world, "admin", f"proposals/{proposal['id']}/accept/")
    assert accepted.status_code == 409 and "already declined" in accepted.json()["detail"]
    assert Guide.objects.get().version == 1
    assert ("guide.proposal", {"proposal": proposal["id"], "status": "declined"}) in [e[1:] for e in published]


def test_a_decline_reason_over_the_limit_is_refused(world):
    proposal = propose(world, "annotator", "something").json()
    response = post(world, "admin", f"proposals/{proposal['id']}/decline/", {"reason": "r" * (guide.MAX_NOTE + 1)})
    assert response.status_code == 400
    assert GuideProposal.objects.get().status == "open"


def test_a_proposal_written_against_an_older_version_is_applied_and_flagged_stale(world):
    put(world, "admin", "v1")
    proposal = propose(world, "annotator", "v1 with the annotator's addition").json()
    put(world, "admin", "v2 by the admin")
    listed = client_for(world["admin"]).get(url(world, "proposals/")).json()
    assert listed[0]["stale"] is True

    accepted = post(world, "admin", f"proposals/{proposal['id']}/accept/").json()
    assert accepted["stale"] is True
    assert (accepted["guide"]["version"], accepted["guide"]["body"]) == (3, "v1 with the annotator's addition")
    # The version it replaced is still in the history, and asking again still says stale.
    assert GuideRevision.objects.get(version=2).body == "v2 by the admin"
    assert post(world, "admin", f"proposals/{proposal['id']}/accept/").json()["stale"] is True


def test_annotators_see_their_own_proposals_and_reviewers_see_all(world):
    mine = propose(world, "annotator", "mine").json()
    theirs = propose(world, "annotator2", "theirs").json()
    own = client_for(world["annotator"]).get(url(world, "proposals/")).json()
    assert [p["id"] for p in own] == [mine["id"]]
    assert client_for(world["annotator"]).get(url(world, f"proposals/{theirs['id']}/")).status_code == 404
    detail = client_for(world["annotator"]).get(url(world, f"proposals/{mine['id']}/")).json()
    assert (detail["body"], detail["html"]) == ("mine", "<p>mine</p>\n")
    for role in ("reviewer", "admin"):
        everyone = client_for(world[role]).get(url(world, "proposals/")).json()
        assert {p["id"] for p in everyone} == {mine["id"], theirs["id"]}
        assert "body" not in everyone[0]


def test_proposals_filter_by_status(world):
    first = propose(world, "annotator", "first").json()
    propose(world, "annotator", "second")
    post(world, "admin", f"proposals/{first['id']}/decline/")
    listed = client_for(world["admin"]).get(url(world, "proposals/"), {"status": "open"}).json()
    assert [p["length"] for p in listed] == [len("second")]
    assert client_for(world["admin"]).get(url(world, "proposals/"), {"status": "maybe"}).status_code == 400


def test_a_proposal_identical_to_the_guide_is_refused(world):
    put(world, "admin", "as is")
    response = propose(world, "annotator", "as is")
    assert response.status_code == 400 and "same as the guide" in response.json()["detail"]


def test_one_member_cannot_bury_the_admins_in_proposals(world, monkeypatch):
    monkeypatch.setattr(guide, "MAX_OPEN_PROPOSALS", 2)
    assert propose(world, "annotator", "one").status_code == 201
    assert propose(world, "annotator", "two").status_code == 201
    assert propose(world, "annotator", "three").status_code == 409
    assert propose(world, "annotator2", "someone else's").status_code == 201


def test_a_proposal_of_another_project_cannot_be_decided_here(world):
    other = make_project(name="Other", members=[(world["admin"], "admin"), (world["annotator"], "annotator")])
    foreign = guide.propose(other, world["annotator"], "elsewhere")
    response = post(world, "admin", f"proposals/{foreign.pk}/accept/")
    assert response.status_code == 404
    assert GuideProposal.objects.get().status == "open"


# Markdown that cannot run script -----------------------------------------------------

class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parsed(html: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


HOSTILE = """# Hello

<script>alert("raw")</script>

<img src="x" onerror="alert('attr')">

<a href="https://example.com" onclick="alert('click')">raw link</a>

[click me](javascript:alert('link')) and [also](JaVaScRiPt:alert(1)) and [data](data:text/html;base64,PHNjcmlwdD4=)

![tracker](https://evil.example/pixel.png) ![relative](//evil.example/x.png) ![inline](data:image/png;base64,iVBOR)

![other project](/api/projects/999/guide/images/1/)

[a fine link](https://example.com/rules "Rules")

| class | when |
|:------|-----:|
| positive | praise |
"""


def test_hostile_markdown_is_rendered_harmless(world):
    put(world, "admin", HOSTILE)
    html = client_for(world["annotator"]).get(url(world)).json()["html"]
    tags = parsed(html)
    names = {tag for tag, _ in tags}
    assert "script" not in names
    assert "<script" not in html.lower()
    for tag, attrs in tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for attribute in ("href", "src"):
            value = (attrs.get(attribute) or "").strip().lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), (tag, attrs)
    # No picture from anywhere else: outside addresses would tell a stranger who reads the guide.
    assert [attrs for tag, attrs in tags if tag == "img"] == []
    assert "tracker" in html  # shown as its alt text instead
    links = [attrs for tag, attrs in tags if tag == "a"]
    assert links == [{"href": "https://example.com/rules", "title": "Rules", "target": "_blank",
                      "rel": "noopener noreferrer"}]
    assert ("th", {"style": "text-align:left"}) in tags
    assert "<h1>Hello</h1>" in html


def test_render_keeps_only_this_projects_guide_images():
    own = guide.render("![a](/api/projects/5/guide/images/12/)", 5)
    assert parsed(own) == [("p", {}), ("img", {"src": "/api/projects/5/guide/images/12/", "alt": "a"})]
    for src in ("/api/projects/6/guide/images/12/", "/api/projects/5/guide/images/12/?x=1",
                "/api/projects/5/guide/images/12/../../../../items/1/media/", "https://x.example/api/projects/5/guide/images/12/"):
        assert "<img" not in guide.render(f"![a]({src})", 5), src


# Images ------------------------------------------------------------------------------

def upload(world, role: str, name: str, data: bytes):
    return client_for(world[role]).post(url(world, "images/"), {"file": SimpleUploadedFile(name, data)},
                                        format="multipart")


def fetched(response) -> bytes:
    """The served bytes; reading them to the end closes the file (the test client does)."""
    return b"".join(response.streaming_content)


def test_an_uploaded_image_is_stored_linked_and_shown_in_the_guide(world):
    response = upload(world, "reviewer", "class examples.png", png())
    assert response.status_code == 201, response.content
    stored = response.json()
    image = GuideImage.objects.get()
    assert stored["url"] == f"/api/projects/{world['project'].pk}/guide/images/{image.pk}/"
    assert stored["markdown"] == f"![class examples.png]({stored['url']})"
    assert image.file.name.startswith(f"projects/{world['project'].pk}/guide/")

    put(world, "admin", "See:\n\n" + stored["markdown"])
    html = client_for(world["annotator"]).get(url(world)).json()["html"]
    assert ("img", {"src": stored["url"], "alt": "class examples.png"}) in parsed(html)

    served = client_for(world["annotator"]).get(stored["url"])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert fetched(served) == png()


def test_the_served_type_follows_the_decoded_picture_not_the_name(world):
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "GIF")
    stored = upload(world, "admin", "really-a-gif.png", buffer.getvalue()).json()
    served = client_for(world["admin"]).get(stored["url"])
    assert served["Content-Type"] == "image/gif"
    fetched(served)


def test_brackets_in_an_image_name_do_not_break_its_markdown(world):
    stored = upload(world, "admin", "a]b[c.png", png()).json()
    assert stored["markdown"].startswith("![a\\]b\\[c.png](")
    assert "<img" in guide.render(stored["markdown"], world["project"].pk)


@pytest.mark.parametrize("name, data", [
    ("notes.txt", b"just some words"),
    ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'),
    ("page.png", b"<html><script>alert(1)</script></html>"),
])
def test_a_file_that_is_not_an_image_is_refused_by_name_and_nothing_is_kept(world, settings, name, data):
    response = upload(world, "admin", name, data)
    assert response.status_code == 400
    assert name in response.json()["detail"]
    assert not GuideImage.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_an_upload_without_a_file_is_refused(world):
    response = client_for(world["admin"]).post(url(world, "images/"), {}, format="multipart")
    assert response.status_code == 400 and "`file`" in response.json()["detail"]


def test_a_guide_image_is_served_to_members_only(world):
    stored = upload(world, "admin", "x.png", png()).json()
    for role in ("annotator", "reviewer", "admin"):
        served = client_for(world[role]).get(stored["url"])
        assert served.status_code == 200, role
        fetched(served)
    assert client_for(world["outsider"]).get(stored["url"]).status_code == 404
    assert client_for(None).get(stored["url"]).status_code in (401, 403)


def test_an_image_of_another_project_is_not_served_through_this_one(world):
    other = make_project(name="Other", members=[(world["admin"], "admin")])
    elsewhere = client_for(world["admin"]).post(f"/api/projects/{other.pk}/guide/images/",
                                                {"file": SimpleUploadedFile("o.png", png())}, format="multipart")
    image_id = elsewhere.json()["id"]
    assert client_for(world["admin"]).get(url(world, f"images/{image_id}/")).status_code == 404


# Who may do what ---------------------------------------------------------------------

ROLES = ["anonymous", "outsider", "annotator", "reviewer", "admin"]
RANK = {"annotator": 1, "reviewer": 2, "admin": 3}


def _member(world, user):
    """The acting user when they are a member, else the annotator (for refused roles)."""
    return user if user is not None and user.username != "out" else world["annotator"]


def _proposal(world, user) -> dict:
    return {"proposal": guide.propose(world["project"], _member(world, user), "a better guide").pk}


def _image(world, user) -> dict:
    from annotations.guide_images import store_image

    return {"image": store_image(world["project"], "x.png", io.BytesIO(png())).pk}


@dataclass
class Endpoint:
    name: str
    method: str
    path: str
    needs: str
    ok: int = 200
    data: dict | None = None
    prepare: Callable[[dict, object], dict] = field(default=lambda world, user: {})
    multipart: bool = False


ENDPOINTS = [
    Endpoint("read guide", "get", "", "annotator"),
    Endpoint("edit guide", "put", "", "admin", data={"body": "new rules", "note": "n"}),
    Endpoint("list revisions", "get", "revisions/", "annotator"),
    Endpoint("read revision", "get", "revisions/1/", "annotator"),
    Endpoint("restore revision", "post", "revisions/1/restore/", "admin"),
    Endpoint("list proposals", "get", "proposals/", "annotator"),
    Endpoint("propose", "post", "proposals/", "annotator", 201, data={"body": "my better rules"}),
    Endpoint("read own proposal", "get", "proposals/{proposal}/", "annotator", prepare=_proposal),
    Endpoint("accept proposal", "post", "proposals/{proposal}/accept/", "admin", prepare=_proposal),
    Endpoint("decline proposal", "post", "proposals/{proposal}/decline/", "admin", prepare=_proposal,
             data={"reason": "no"}),
    Endpoint("upload image", "post", "images/", "reviewer", 201, multipart=True),
    Endpoint("read image", "get", "images/{image}/", "annotator", prepare=_image),
]


def expected_status(endpoint: Endpoint, role: str) -> tuple[int, ...]:
    if role == "anonymous":
        return (401, 403)
    if role == "outsider":
        return (404,)
    return (endpoint.ok,) if RANK[role] >= RANK[endpoint.needs] else (403,)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_guide_endpoint_allows_exactly_the_roles_it_should(world, endpoint, role):
    user = None if role == "anonymous" else world[role]
    guide.edit(world["project"], world["admin"], "the first rules")
    guide.edit(world["project"], world["admin"], "the second rules")
    context = endpoint.prepare(world, user)
    data = {"file": SimpleUploadedFile("x.png", png())} if endpoint.multipart else endpoint.data
    response = getattr(client_for(user), endpoint.method)(
        url(world, endpoint.path.format(**context)), data, format="multipart" if endpoint.multipart else "json")
    assert response.status_code in expected_status(endpoint, role), (endpoint.name, role, response.content[:300])
    if hasattr(response, "streaming_content"):
        fetched(response)
