"""A project with something behind every id an API route takes, for the tests that walk
every route (the permission matrix, the schema fuzzing)."""
import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from activelearning.models import Disagreement, SimulationRun
from annotations import comments, guide, guide_images, services
from annotations.models import Item, LabelClass, Membership, Video
from tests.conftest import add_items, make_project


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 200, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def build_world(cast) -> dict:
    """One project with something behind every id a route takes, so that an allowed GET
    answers 200 rather than 404 for a missing object."""
    project = cast["project"]
    annotator, admin = cast["annotator"], cast["admin"]
    make_project(name="Elsewhere", members=[(cast["outsider"], Membership.Role.ANNOTATOR)])
    add_items(project, [f"review {n}" for n in range(6)])
    answered = services.claim_tasks(annotator, project, want=1)[0]
    services.submit_annotation(annotator, project, answered.item_id, "positive")
    open_task = services.claim_tasks(annotator, project, want=1)[0]
    item = Item.objects.get(pk=answered.item_id)
    annotation = item.annotations.get(annotator=annotator)
    comment = comments.add_comment(project, annotator, Membership.Role.ANNOTATOR, item.pk, "Is this sarcasm?")
    spare = LabelClass.objects.create(ontology=project.ontology, key="mixed", name="Mixed", hotkey="9", order=9)
    picture = Item.objects.create(project=project, text="", width=8, height=6)
    picture.media.name = default_storage.save(f"items/matrix/{picture.pk}.png", ContentFile(png_bytes()))
    picture.save()
    video = Video.objects.create(project=project, name="clip.mp4", file="videos/clip.mp4", fps=10, frame_count=1)
    guide.edit(project, admin, "# How to label\n\nRead the whole review.")
    proposal = guide.propose(project, annotator, "# How to label\n\nRead it twice.")
    image = guide_images.store_image(project, "example.png", io.BytesIO(png_bytes()))
    return {
        "project_id": project.pk,
        "class_id": spare.pk,
        "member_id": Membership.objects.get(project=project, user=cast["annotator2"]).pk,
        "item_id": item.pk,
        "video_id": video.pk,
        "assignment_id": open_task.pk,
        "annotation_id": annotation.pk,
        "comment_id": comment.pk,
        "simulation_id": SimulationRun.objects.create(project=project).pk,
        "disagreement_id": Disagreement.objects.create(project=project, item=item, confidence=0.9).pk,
        "version": 1,
        "proposal_id": proposal.pk,
        "image_id": image.pk,
        "picture_id": picture.pk,
    }
