"""Real Manim renders on the local server (low quality, tiny scenes), checked with PyAV."""
from __future__ import annotations

import io
import os
import re
import signal
import time
from fractions import Fraction
from pathlib import Path

import av
import httpx
import pytest
from PIL import Image
from server_helpers import Serve, User

from kodisc_jupyter.client import Kodisc
from kodisc_jupyter.server import start_local_server

pytestmark = pytest.mark.render

SCENES = {
    "landscape": ("""\
from manim import *

class Captioned(Scene):
    def construct(self):
        self.play(Create(Circle(color=YELLOW)), run_time=1, subcaption="A circle appears")
        self.add_subcaption("Then it waits", duration=0.5)
        self.wait(0.5)
""", "Captioned", {}),
    "portrait": ("""\
from manim import *

class Tall(Scene):
    def construct(self):
        self.add(Square(color=BLUE))
        self.wait(1)
""", "Tall", {"aspect_ratio": "9:16", "fps": 10}),
    "syntax": ("""\
from manim import *

class Broken(Scene):
    def construct(self)
        self.wait(1)
""", "Broken", {}),
    "runtime": ("""\
from manim import *

def pick_radius():
    return [1, 2][5]

class Broken(Scene):
    def construct(self):
        self.play(Create(Circle(radius=pick_radius())))
""", "Broken", {}),
    "inside_manim": ("""\
from manim import *

class Broken(Scene):
    def construct(self):
        self.wait(0.1)
        self.play(Create(42))
""", "Broken", {}),
    "missing_file": ("""\
from manim import *

class Picture(Scene):
    def construct(self):
        self.add(ImageMobject("cat.png"))
""", "Picture", {}),
    "missing_class": ("from manim import *\n\nclass Other(Scene):\n    pass\n", "Hello", {}),
    "not_a_scene": ("from manim import *\n\nclass Hello:\n    pass\n", "Hello", {}),
    "memory": ("""\
from manim import *

class Greedy(Scene):
    def construct(self):
        hoard = bytearray(64 * 1024**3)
""", "Greedy", {}),
}


@pytest.fixture(scope="module")
def renders(manim_server):
    """Every scene above, submitted at once (two render at a time), keyed by name once finished."""
    user = User(manim_server)
    try:
        ids = {name: user.submit(code, cls, **options) for name, (code, cls, options) in SCENES.items()}
        return {name: user.wait(job_id, timeout=120) for name, job_id in ids.items()}
    finally:
        user.close()


def download(url: str) -> bytes:
    with Kodisc(base_url=url.split("/r/")[0] + "/api/v2") as client:  # assets need no key
        return client.download(url)


def probe(url: str) -> dict:
    with av.open(io.BytesIO(download(url))) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        return {"codec": stream.codec_context.name, "size": (stream.width, stream.height),
                "fps": stream.average_rate, "frames": frames, "seconds": frames / stream.average_rate}


def vtt_cues(text: str) -> list[tuple[str, str, str]]:
    return re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(.+)", text)


def test_low_quality_landscape_render(renders):
    job = renders["landscape"]
    assert job.status == "completed", job.error
    video = probe(job.result.video)
    assert video["codec"] == "h264" and video["size"] == (854, 480) and video["fps"] == Fraction(15)
    assert video["seconds"] == pytest.approx(1.5, abs=1 / 15)
    thumb = Image.open(io.BytesIO(download(job.result.thumbnail)))
    assert thumb.format == "JPEG" and thumb.size == (854, 480)
    assert thumb.convert("L").getextrema()[1] > 100  # the last frame shows the drawn circle


def test_subcaptions_become_webvtt_cues(renders):
    captions = httpx.get(renders["landscape"].result.captions)
    assert captions.headers["content-type"].startswith("text/vtt")
    assert captions.text.startswith("WEBVTT\n\n")
    assert vtt_cues(captions.text) == [("00:00:00.000", "00:00:01.000", "A circle appears"),
                                       ("00:00:01.000", "00:00:01.500", "Then it waits")]


def test_portrait_with_fps_override(renders):
    job = renders["portrait"]
    assert job.status == "completed", job.error
    video = probe(job.result.video)
    assert video["size"] == (480, 854) and video["fps"] == Fraction(10)
    assert video["seconds"] == pytest.approx(1.0, abs=1 / 10)
    captions = download(job.result.captions).decode()
    assert captions.startswith("WEBVTT") and vtt_cues(captions) == []


@pytest.mark.parametrize("name, expected", [
    ("syntax", r"^SyntaxError: expected ':' \(line 4: def construct\(self\)\)$"),
    ("runtime", r"^IndexError: list index out of range \(line 4: return \[1, 2\]\[5\]\)$"),
    ("inside_manim", r"^TypeError: .+ \(line 6: self\.play\(Create\(42\)\)\)$"),
    ("missing_file", r"^OSError: From: the scene's folder, could not find cat\.png .*\(line 5: self\.add\(ImageMobject"),
    ("missing_class", r"^class 'Hello' not found in the code; define `class Hello\(Scene\):`"),
    ("not_a_scene", r"^'Hello' is not a Scene subclass"),
    ("memory", r"^MemoryError.* \(line 5: hoard = bytearray\(64 \* 1024\*\*3\)\)$"),
])
def test_failing_scenes_name_the_users_line(renders, name, expected):
    job = renders[name]
    assert job.status == "failed" and job.result is None and job.credits_cost == 0
    assert re.search(expected, job.error), job.error
    assert "site-packages" not in job.error and "/tmp" not in job.error and "\n" not in job.error


def test_an_image_from_an_absolute_path_renders_unsandboxed_only(manim_server, tmp_path):
    picture = tmp_path / "red.png"
    Image.new("RGB", (40, 30), (220, 30, 30)).save(picture)
    code = f"from manim import *\n\nclass Picture(Scene):\n    def construct(self):\n" \
           f"        self.add(ImageMobject({str(picture)!r}).scale(4))\n        self.wait(0.2)\n"
    with start_local_server(tmp_path / "server", renderer="manim", workers=1, sandbox=False) as server, \
            Kodisc(server.api_key, base_url=server.base_url) as client:
        job = client.wait(client.render(code, "Picture", quality="low"), timeout=120)
        assert job.status == "completed", job.error
        frame = Image.open(io.BytesIO(client.download(job.result.thumbnail))).convert("RGB")
    red, green, blue = frame.getpixel((frame.width // 2, frame.height // 2))
    assert red > 150 and green < 90 and blue < 90  # the picture itself, in the middle of the frame
    if manim_server.sandbox_problem is None:  # the sandbox shows a scene nothing outside its folder
        user = User(manim_server)
        hidden = user.wait(user.submit(code, "Picture"), timeout=120)
        user.close()
        assert hidden.status == "failed" and "could not find" in hidden.error


def test_an_unsandboxed_render_over_the_timeout_is_killed_with_its_children(tmp_path):
    pid_file = tmp_path / "pids"
    code = f"""\
from manim import *
import os, subprocess, time

class Slow(Scene):
    def construct(self):
        child = subprocess.Popen(["sleep", "60"])
        open({str(pid_file)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(60)
"""
    with start_local_server(tmp_path / "server", renderer="manim", render_timeout=4, workers=1,
                            sandbox=False) as server:
        user = User(server)
        job = user.wait(user.submit(code, "Slow"), timeout=60)
        user.close()
    assert job.status == "failed" and "longer than 4 s" in job.error
    for pid in map(int, pid_file.read_text().split()):
        assert not _alive(pid), pid


@pytest.mark.parametrize("extra", [(), ("--no-sandbox",)], ids=["sandboxed", "unsandboxed"])
def test_a_render_dies_with_its_server(tmp_path, extra):
    """A kernel (or `kodisc serve`) killed mid-render leaves no Manim process behind."""
    token = f"kodisc-render-{os.getpid()}-{time.monotonic_ns()}"
    code = f"""\
from manim import *
import subprocess, sys, time

class Slow(Scene):
    def construct(self):
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{token}"])
        time.sleep(60)
"""
    server = Serve(tmp_path / "server", "--workers", "1", *extra)
    try:
        user = User(server, server.api_key)
        user.submit(code, "Slow")
        user.close()
        deadline = time.monotonic() + 60
        while not _with_token(token):  # the scene has started its child
            assert time.monotonic() < deadline, "the render never started"
            time.sleep(0.1)
    finally:
        server.stop(signal.SIGKILL)
    deadline = time.monotonic() + 15
    while _with_token(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _with_token(token)


def _with_token(token: str) -> list[int]:
    """Live processes with `token` in their command line."""
    found = []
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and token in Path(entry.path, "cmdline").read_text(errors="replace") \
                    and _alive(int(entry.name)):
                found.append(int(entry.name))
        except (OSError, ProcessLookupError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a killed orphan may linger as a zombie until reaped
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_a_running_job_reports_its_progress(manim_server):
    """`progress` (animations finished, seconds of video) while running; gone once the job ended."""
    code = """\
from manim import *
import time

class Steps(Scene):
    def construct(self):
        self.play(Create(Circle()), run_time=0.5)
        self.wait(0.5)
        time.sleep(5)  # the server sees two animations and 1 s of video meanwhile
"""
    user = User(manim_server)
    job_id = user.submit(code, "Steps")
    seen = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job = user.job(job_id)
        if job.done:
            break
        if job.progress is not None and job.progress not in seen:
            seen.append(job.progress)
        time.sleep(0.2)
    final = user.raw_job(job_id)
    user.close()
    assert final["status"] == "completed" and "progress" not in final
    assert seen and (seen[-1].animations, seen[-1].seconds) == (2, 1.0)


EDITABLE = """\
from manim import *

class Edited(Scene):
    def construct(self):
        self.play(Create(Circle()), run_time=0.3)
        self.play(FadeOut(Circle()), run_time=0.3)
        self.play(FadeIn(Square(side_length=7, fill_opacity=1, color={color})), run_time=0.3)
"""


def _centre(client: Kodisc, job) -> tuple[int, int, int]:
    poster = Image.open(io.BytesIO(client.download(job.result.thumbnail))).convert("RGB")
    return poster.getpixel((poster.width // 2, poster.height // 2))


def test_an_edit_reuses_the_unchanged_animations_and_shows_the_edit(tmp_path):
    """Manim's partial movies persist per user and scene: only the edited animation renders again."""
    from kodisc_jupyter.server._process import work_root

    with start_local_server(tmp_path / "server", renderer="manim", workers=1) as server, \
            Kodisc(server.api_key, base_url=server.base_url) as client:
        cache = work_root(server.data_dir) / "cache"
        first = client.wait(client.render(EDITABLE.format(color="RED"), "Edited", quality="low"), timeout=120)
        kept = {path.name for path in cache.rglob("*.mp4")}
        edited = client.wait(client.render(EDITABLE.format(color="BLUE"), "Edited", quality="low"), timeout=120)
        after_edit = {path.name for path in cache.rglob("*.mp4")}
        assert first.status == edited.status == "completed", (first.error, edited.error)
        red, blue = _centre(client, first), _centre(client, edited)
        stranger = server.create_user(credits=100)
        with Kodisc(stranger.api_key, base_url=server.base_url) as other:
            theirs = other.wait(other.render(EDITABLE.format(color="BLUE"), "Edited", quality="low"), timeout=120)
    assert len(kept) == 3 and kept < after_edit and len(after_edit) == 4  # one new partial movie: the edit
    assert red[0] > 150 and red[2] < 100 and blue[2] > 150 and blue[0] < 100  # and the video shows it
    assert theirs.status == "completed"
    assert len([entry for user in cache.iterdir() for entry in user.iterdir()]) == 2  # never shared between users
