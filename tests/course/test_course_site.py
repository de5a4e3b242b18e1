"""notebooks/course/ published as a teacher would: pre-render in one batch, execute, build with Sphinx +
myst-nb + kodisc_jupyter.sphinx; every video, poster and captions track of the site must play offline."""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from kodisc_jupyter.rendering.assets import vtt_has_cues

REPO = Path(__file__).resolve().parents[2]
COURSE = REPO / "notebooks" / "course"
LESSONS = ["01-shapes.ipynb", "02-text.ipynb"]


class Media(HTMLParser):
    """Every <video> of a page with its poster and the src of its <track>s."""

    def __init__(self) -> None:
        super().__init__()
        self.videos: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "video":
            self.videos.append({"src": attrs.get("src"), "poster": attrs.get("poster"), "tracks": []})
        elif tag == "track" and self.videos:
            self.videos[-1]["tracks"].append(attrs.get("src"))


def load(url: str, page: Path, site: Path) -> bytes:
    """The bytes a browser gets for `url` on `page`: a data: URL, or a file that must be inside the site."""
    if url.startswith("data:"):
        return base64.b64decode(url.split(",", 1)[1])
    parts = urlsplit(url)
    assert not parts.scheme and not parts.netloc, f"{page.name} loads {url} from outside the site"
    path = (page.parent / unquote(parts.path)).resolve()
    assert path.is_relative_to(site.resolve()) and path.is_file(), f"{page.name}: {url} is not in the built site"
    return path.read_bytes()


def h264_frames(data: bytes, tmp: Path) -> int:
    import av

    file = tmp / "video.mp4"
    file.write_bytes(data)
    with av.open(str(file)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        return sum(1 for _ in container.decode(stream))


@pytest.mark.render
@pytest.mark.kernel
def test_publish_the_course(tmp_path, manim_server):
    import nbformat
    from nbclient import NotebookClient
    from PIL import Image

    course = tmp_path / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns("_build", "kodisc_media", ".ipynb_checkpoints"))
    env = {**os.environ, "KODISC_API_KEY": manim_server.api_key, "KODISC_BASE_URL": manim_server.base_url,
           "PYTHONPATH": str(REPO), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    before = manim_server.job_count()

    # 1. one batch: three scenes, three jobs
    batch = subprocess.run([sys.executable, "-m", "kodisc_jupyter", "render", *LESSONS], cwd=course, env=env,
                           capture_output=True, text=True, timeout=600)
    assert batch.returncode == 0, batch.stderr
    assert manim_server.job_count() - before == 3
    assert "3 rendered, 0 cached, 0 failed" in batch.stdout

    # 2. executing the notebooks sends no render: every cell is a cache hit
    for lesson in LESSONS:
        notebook = nbformat.read(course / lesson, as_version=4)
        NotebookClient(notebook, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(course)}}).execute(env=env)
        nbformat.write(notebook, course / lesson)
    assert manim_server.job_count() - before == 3

    # 3. the site, without the source folder's media next to it
    site = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", str(course), str(site)], env=env,
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    assert "kodisc:" not in build.stderr, build.stderr
    shutil.rmtree(course / "kodisc_media")
    assert manim_server.job_count() - before == 3

    # 4. every <video>, poster and captions <track> resolves inside the site and decodes
    seen = 0
    for page in (site / "01-shapes.html", site / "02-text.html"):
        media = Media()
        media.feed(page.read_text(encoding="utf-8"))
        assert media.videos, f"{page.name} has no player"
        for video in media.videos:
            assert h264_frames(load(video["src"], page, site), tmp_path) > 0
            poster = tmp_path / "poster.jpg"
            poster.write_bytes(load(video["poster"], page, site))
            with Image.open(poster) as image:
                assert image.format == "JPEG" and image.size[0] > 0
            assert video["tracks"], f"{page.name}: a player without captions"
            for track in video["tracks"]:
                assert vtt_has_cues(load(track, page, site).decode("utf-8"))
            seen += 1
    assert seen == 3
