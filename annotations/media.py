"""Images into items: every file is decoded before it is kept (a pixel limit stops
decompression bombs), zip archives are read member by member with no path leaving the
archive, and a batch is all-or-nothing in the database with its files removed again
when it fails."""
import io
import stat
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image, UnidentifiedImageError

from .errors import ImportFailed
from .models import Item, Project, Video, item_media_path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
READ_CHUNK = 1 << 20


class NotAnImage(ValueError):
    """A file that does not decode as an image; the message names it."""


@dataclass
class DecodedImage:
    name: str
    data: bytes
    width: int
    height: int
    format: str


@dataclass
class ImageImport:
    created: list[int] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"created": len(self.created), "skipped": self.skipped}


def decode_image(name: str, data: bytes) -> DecodedImage:
    """Open and fully decode, refusing anything past the pixel limit."""
    limit = settings.LABELER_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, limit
            try:
                with Image.open(io.BytesIO(data)) as image:
                    width, height = image.size
                    if width * height > limit:
                        raise NotAnImage(f"{name}: {width}x{height} pixels is over the limit of {limit}")
                    image.load()
                    fmt = image.format or ""
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise NotAnImage(f"{name}: too many pixels (limit {limit})") from exc
    except UnidentifiedImageError as exc:
        raise NotAnImage(f"{name}: not an image (it does not decode as JPEG, PNG, BMP, GIF, WebP or TIFF)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, NotAnImage):
            raise
        raise NotAnImage(f"{name}: the image is damaged or truncated ({exc})") from exc
    if width < 1 or height < 1:
        raise NotAnImage(f"{name}: the image has no pixels")
    return DecodedImage(name=name, data=data, width=width, height=height, format=fmt)


def zip_members(stream: BinaryIO, skipped: list[dict],
                suffixes: frozenset[str] | set[str] = frozenset(IMAGE_SUFFIXES)) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each regular file in the archive. Absolute paths, '..', links and
    archives over the size or count limits are refused; other non-images are skipped."""
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile as exc:
        raise ImportFailed("The file is not a valid zip archive.", reason="bad_zip") from exc
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > settings.LABELER_MAX_ZIP_FILES:
        raise ImportFailed(
            f"The archive holds {len(members)} files; the limit is {settings.LABELER_MAX_ZIP_FILES}. Split it.",
            reason="too_many_files",
        )
    total = sum(info.file_size for info in members)
    if total > settings.LABELER_MAX_ZIP_BYTES:
        raise ImportFailed(
            f"The archive unpacks to {total} bytes; the limit is {settings.LABELER_MAX_ZIP_BYTES}. Split it.",
            reason="too_large",
        )
    for info in members:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or info.filename.startswith(("/", "\\")) or ":" in path.parts[0]:
            raise ImportFailed(f"The archive entry {info.filename!r} points outside the archive; nothing was imported.",
                               reason="unsafe_path")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            skipped.append({"name": info.filename, "error": "a link, not a file"})
            continue
        if path.name.startswith(".") or "__MACOSX" in path.parts:
            continue
        if path.suffix.lower() not in suffixes:
            skipped.append({"name": info.filename, "error": "not an image file (by its extension)"})
            continue
        with archive.open(info) as member:
            data = member.read(info.file_size + 1)
        if len(data) > info.file_size:
            raise ImportFailed(f"The archive entry {info.filename!r} is larger than it declares.", reason="bad_zip")
        yield info.filename, data


def _stored_name(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower() or ".img"
    return f"{uuid.uuid4().hex}{suffix}"


def save_images(
    project: Project,
    images: Iterable[DecodedImage],
    split: str = "pool",
    video: Video | None = None,
    frame_indexes: Iterable[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[int]:
    """Write the files and their items: all or none (files of a failed batch are deleted)."""
    written: list[str] = []
    created: list[int] = []
    frames = iter(frame_indexes) if frame_indexes is not None else None
    try:
        with transaction.atomic():
            for count, image in enumerate(images, 1):
                item = Item(project=project, split=split, width=image.width, height=image.height,
                            external_id=image.name[:200], video=video,
                            frame_index=next(frames) if frames is not None else None)
                path = default_storage.save(item_media_path(item, _stored_name(image.name)), ContentFile(image.data))
                written.append(path)
                item.media.name = path
                item.save()
                created.append(item.pk)
                if progress:
                    progress(count)
    except BaseException:
        for path in written:
            default_storage.delete(path)
        raise
    return created


def import_image_files(project: Project, files: Iterable[tuple[str, BinaryIO]], split: str = "pool",
                       progress: Callable[[int], None] | None = None) -> ImageImport:
    """Uploaded files and zip archives. A loose file that is not an image refuses the
    whole upload (every such file named); inside an archive, non-images are skipped and
    reported. Images are decoded and written one at a time, so memory stays flat."""
    result = ImageImport()
    refused: list[str] = []

    def decoded() -> Iterator[DecodedImage]:
        for name, stream in files:
            if name.lower().endswith(".zip"):
                for member, data in zip_members(stream, result.skipped):
                    try:
                        yield decode_image(member, data)
                    except NotAnImage as exc:
                        result.skipped.append({"name": member, "error": str(exc).split(": ", 1)[-1]})
                continue
            try:
                yield decode_image(name, stream.read())
            except NotAnImage as exc:
                refused.append(str(exc))
        # Raised inside the save loop, so its transaction and files are rolled back.
        if refused:
            raise ImportFailed("Nothing was imported: " + "; ".join(refused[:20]) + ".", reason="not_images",
                               files=refused)

    result.created = save_images(project, decoded(), split=split, progress=progress)
    if not result.created:
        raise ImportFailed("No images found in the upload.", reason="empty", skipped=result.skipped)
    return result
