"""Video into frame items: every n-th second, or the N most different frames (k-center
greedy over small greyscale thumbnails), each frame keeping its video and index."""
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
from django.core.files import File

from activelearning.strategies.diversity import k_center_greedy

from .errors import ImportFailed
from .media import DecodedImage, save_images
from .models import Project, Video

MAX_CANDIDATES = 3000
THUMB = 32
MAX_FRAMES = 20_000


def _open(path: str):
    import cv2

    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ImportFailed("The file is not a video OpenCV can read (try MP4 with H.264, or WebM).", reason="bad_video")
    return capture


def _frame_count(capture) -> tuple[int, float, int, int]:
    import cv2

    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    return count, fps, width, height


def _read_frames(path: str, wanted: set[int] | None, step: int = 1):
    """Yield (index, BGR frame) for the wanted indexes (or every `step`-th)."""
    capture = _open(path)
    index = 0
    try:
        while True:
            ok = capture.grab()
            if not ok:
                break
            if (wanted is None and index % step == 0) or (wanted is not None and index in wanted):
                ok, frame = capture.retrieve()
                if ok:
                    yield index, frame
            index += 1
    finally:
        capture.release()


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    import cv2

    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return (small - small.mean()).ravel()


def pick_informative(path: str, count: int, total: int, seed: int = 0) -> list[int]:
    """Indexes of `count` frames that cover the video's look best (k-center greedy)."""
    step = max(1, total // MAX_CANDIDATES) if total else 1
    indexes, vectors = [], []
    for index, frame in _read_frames(path, None, step):
        indexes.append(index)
        vectors.append(_thumbnail(frame))
    if not indexes:
        return []
    chosen, _, _ = k_center_greedy(np.stack(vectors), count, rng=np.random.default_rng(seed))
    return sorted(indexes[i] for i in chosen)


def import_video(project: Project, name: str, stream: BinaryIO, every_seconds: float | None = None,
                 informative: int | None = None, split: str = "pool",
                 progress: Callable[[int], None] | None = None) -> tuple[Video, list[int]]:
    """Keep the video, then add its frames as items: one every `every_seconds`, or the
    `informative` most different ones."""
    import cv2

    if (every_seconds is None) == (informative is None):
        raise ImportFailed("Choose one: a frame every N seconds, or the N most informative frames.", reason="frames")
    suffix = Path(name).suffix.lower() or ".mp4"
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            tmp.write(chunk)
        tmp.flush()
        capture = _open(tmp.name)
        total, fps, width, height = _frame_count(capture)
        capture.release()
        if informative is not None:
            wanted = set(pick_informative(tmp.name, informative, total))
            frames = _read_frames(tmp.name, wanted)
        else:
            step = max(1, round((fps or 25.0) * every_seconds))
            if total and total // step > MAX_FRAMES:
                raise ImportFailed(f"That rate gives {total // step} frames; the limit is {MAX_FRAMES}. Use a longer interval.",
                                   reason="too_many_frames")
            frames = _read_frames(tmp.name, None, step)
        stem = Path(name).stem
        indexes: list[int] = []

        def encoded():
            for index, frame in frames:
                ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
                if ok:
                    indexes.append(index)
                    yield DecodedImage(f"{stem}_frame{index:06d}.jpg", data.tobytes(), frame.shape[1], frame.shape[0], "JPEG")

        video = Video(project=project, name=name[:255], fps=fps, frame_count=total, width=width, height=height)
        tmp.seek(0)
        video.file.save(f"{stem}{suffix}", File(tmp), save=False)
        video.save()
        try:
            created = save_images(project, encoded(), split=split, video=video,
                                  frame_indexes=_LateIndexes(indexes), progress=progress)
        except BaseException:
            video.file.delete(save=False)
            video.delete()
            raise
    if not created:
        video.file.delete(save=False)
        video.delete()
        raise ImportFailed("No frames could be read from the video.", reason="bad_video")
    return video, created


class _LateIndexes:
    """Frame indexes appended while the frames are encoded, read one per saved item."""

    def __init__(self, values: list[int]):
        self.values = values
        self.position = 0

    def __iter__(self):
        return self

    def __next__(self) -> int:
        value = self.values[self.position]
        self.position += 1
        return value
