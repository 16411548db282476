"""Pictures for the guide (and class descriptions). Each upload is decoded the way item
images are, and only formats a browser shows are kept; the stored name and the served
content type come from the decoded format, never from what the uploader called the file."""
import uuid
from typing import BinaryIO

from django.core.files.base import ContentFile
from django.db import transaction

from .errors import InvalidInput
from .guide import GuideNotFound
from .guide_render import guide_image_url
from .media import NotAnImage, decode_image
from .models import GuideImage, Project

MAX_IMAGE_BYTES = 10 * 1024 * 1024
# Decoded format -> (file suffix, content type).
BROWSER_FORMATS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
    "BMP": ("bmp", "image/bmp"),
}
CONTENT_TYPES = dict(BROWSER_FORMATS.values())


def store_image(project: Project, name: str, stream: BinaryIO) -> GuideImage:
    """Decode, then keep the file and its row together (the file goes if the row fails).
    A file that is not a picture a browser can show is refused, naming it."""
    name = (name or "image").rsplit("/", 1)[-1][:255]
    data = stream.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput(f"{name} is over the limit of {MAX_IMAGE_BYTES // (1024 * 1024)} MB for a guide image.")
    try:
        decoded = decode_image(name, data)
    except NotAnImage as exc:
        raise InvalidInput(str(exc), file=name) from exc
    if decoded.format not in BROWSER_FORMATS:
        raise InvalidInput(f"{name}: {decoded.format or 'this'} images do not show in browsers; "
                           "use PNG, JPEG, GIF or WebP.", file=name)
    suffix, _ = BROWSER_FORMATS[decoded.format]
    image = GuideImage(project=project, name=name)
    image.file.save(f"{uuid.uuid4().hex}.{suffix}", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            image.save()
    except BaseException:
        image.file.delete(save=False)
        raise
    return image


def image_of(project: Project, image_id: int) -> GuideImage:
    image = GuideImage.objects.filter(pk=image_id, project=project).first()
    if image is None or not image.file:
        raise GuideNotFound(f"No guide image {image_id} in this project.", image=image_id)
    return image


def content_type(image: GuideImage) -> str:
    suffix = image.file.name.rsplit(".", 1)[-1].lower()
    return CONTENT_TYPES.get(suffix, "application/octet-stream")


def image_url(image: GuideImage) -> str:
    return guide_image_url(image.project_id, image.pk)


def markdown_snippet(image: GuideImage) -> str:
    """`![name](url)`, with the characters that would end the alt text escaped."""
    alt = " ".join(image.name.split())
    for special in ("\\", "[", "]"):
        alt = alt.replace(special, "\\" + special)
    return f"![{alt}]({image_url(image)})"
