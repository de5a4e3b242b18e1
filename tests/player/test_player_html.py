"""The player's HTML, parsed back with html.parser: structure, escaping, accepted URLs."""
from __future__ import annotations

import base64
import html.parser
import subprocess
import sys

import pytest

from kodisc_jupyter.jupyter.player import UNTRUSTED_HINT, data_url, player_data, player_html, player_text

VTT = "WEBVTT\n\n00:00.000 --> 00:01.000\nA circle appears.\n"
POSTER = data_url(b"\xff\xd8\xff\xe0 fake jpeg", "image/jpeg")
HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.text = ""


class Tree(html.parser.HTMLParser):
    """Just enough of a DOM to check structure: elements in order, with their parent and text."""

    VOID = {"track", "img", "source", "br", "input"}

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("root", {}, None)
        self.current = self.root
        self.elements: list[Element] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        self.elements.append(element)
        if tag not in self.VOID:
            self.current = element

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.current.parent is not None:
            self.current = self.current.parent

    def handle_data(self, data):
        self.current.text += data

    def find(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]

    def by_class(self, name: str) -> list[Element]:
        return [e for e in self.elements if name in (e.attrs.get("class") or "").split()]


def test_video_carries_src_and_poster_itself_and_the_captions_track():
    tree = Tree(player_html(video_src="media/job1/video.mp4", poster_src=POSTER, captions_vtt=VTT, title="Hello"))
    [player] = tree.by_class("kodisc-player")
    [video] = tree.find("video")
    assert video.parent is player and "kodisc-video" in video.attrs["class"]
    assert video.attrs["src"] == "media/job1/video.mp4" and video.attrs["poster"] == POSTER
    assert {"controls", "playsinline"} <= video.attrs.keys() and video.attrs["preload"] == "metadata"
    assert "crossorigin" not in video.attrs and not tree.find("source")
    assert "width:100%" in video.attrs["style"] and "max-width:720px" in video.attrs["style"]
    [track] = tree.find("track")
    assert track.parent is video
    assert (track.attrs["kind"], track.attrs["srclang"], track.attrs["label"]) == ("captions", "en", "English")
    assert "default" in track.attrs
    prefix = "data:text/vtt;base64,"
    assert track.attrs["src"].startswith(prefix)
    assert base64.b64decode(track.attrs["src"][len(prefix):]).decode() == VTT


def test_with_captions_a_hint_is_followed_by_the_script_that_removes_it():
    tree = Tree(player_html(video_src="v.mp4", captions_vtt=VTT.encode(), title="Hello"))
    [player] = tree.by_class("kodisc-player")
    names = [child.tag for child in player.children]
    [hint] = tree.by_class("kodisc-untrusted-hint")
    assert hint.tag == "p" and hint.text == UNTRUSTED_HINT
    position = player.children.index(hint)
    assert names[position + 1] == "script"
    script = player.children[position + 1].text
    assert "document.currentScript" in script and "previousElementSibling" in script and "try" in script


@pytest.mark.parametrize("captions", [None, "", "WEBVTT\n\n", b"WEBVTT\n\nNOTE no cues\n"])
def test_without_cues_there_is_no_track_no_hint_and_no_script(captions):
    tree = Tree(player_html(video_src="v.mp4", poster_src=None, captions_vtt=captions, title="T"))
    assert not tree.find("track") and not tree.find("script") and not tree.by_class("kodisc-untrusted-hint")
    assert "poster" not in tree.find("video")[0].attrs


def test_summary_line_is_its_own_paragraph():
    tree = Tree(player_html(video_src="v.mp4", title="T", summary="1.2 s · 0.5 credits · job clx9"))
    [summary] = tree.by_class("kodisc-summary")
    assert summary.tag == "p" and summary.text == "1.2 s · 0.5 credits · job clx9"
    assert not Tree(player_html(video_src="v.mp4", title="T")).by_class("kodisc-summary")


def test_hostile_strings_stay_text():
    markup = player_html(video_src=f"media/{HOSTILE}.mp4", poster_src=POSTER, captions_vtt=VTT,
                         title=HOSTILE, summary=HOSTILE)
    tree = Tree(markup)
    assert len(tree.find("script")) == 1  # only ours
    assert not tree.find("img") and "alert(1)" not in tree.find("script")[0].text
    [video] = tree.find("video")
    assert video.attrs["src"] == f"media/{HOSTILE}.mp4"  # round-trips as an attribute value
    assert video.attrs["aria-label"] == HOSTILE
    assert tree.by_class("kodisc-summary")[0].text == HOSTILE
    assert "<script>alert" not in markup and "<img" not in markup


def test_query_strings_are_escaped_in_attributes():
    url = "https://cdn.example/v.mp4?sig=a&exp=1"
    markup = player_html(video_src=url, title="T")
    assert "sig=a&amp;exp=1" in markup and Tree(markup).find("video")[0].attrs["src"] == url


@pytest.mark.parametrize("src", [
    "media/job1/video.mp4", "../shared/video%20one.mp4", "video one.mp4", "https://cdn.example/v.mp4",
    "http://127.0.0.1:8000/r/job/video.mp4", "data:video/mp4;base64,AAAA", "/files/notebooks/v.mp4",
])
def test_accepted_video_sources(src):
    assert Tree(player_html(video_src=src, title="T")).find("video")[0].attrs["src"] == src


@pytest.mark.parametrize("src", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "java\nscript:alert(1)", "vbscript:msgbox(1)", "file:///etc/passwd", "data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml,<svg onload=alert(1)>", "C:\\Users\\me\\video.mp4", "", "\x00v.mp4",
])
def test_rejected_video_sources(src):
    with pytest.raises(ValueError, match="video_src"):
        player_html(video_src=src, title="T")


@pytest.mark.parametrize("captions", ["javascript:alert(1)", "data:text/html,x", "https://cdn.example/c.vtt",
                                      "file:///c.vtt", "c\x00.vtt"])
def test_renderer_json_rejects_captions_it_cannot_load_safely(captions):
    with pytest.raises(ValueError, match="captions_src"):
        player_data(video_src="v.mp4", captions_src=captions, title="T")


def test_renderer_json_names_the_files_or_defers_to_the_html_sibling():
    data = player_data(video_src="kodisc_media/A-1.mp4", poster_src="kodisc_media/A-1.jpg",
                       captions_src="kodisc_media/A-1.vtt", title=HOSTILE, width=640, summary="s", notes=["n"])
    assert (data["video"], data["poster"], data["captions"], data["media"]) == (
        "kodisc_media/A-1.mp4", "kodisc_media/A-1.jpg", "kodisc_media/A-1.vtt", None)
    assert (data["title"], data["width"], data["max_width"], data["notes"]) == (HOSTILE, "640px", "100%", ["n"])
    embedded = player_data(video_src=data_url(b"mp4", "video/mp4"), poster_src=POSTER, title="T", media_in_html=True)
    assert embedded["media"] == "text/html" and embedded["video"] is embedded["poster"] is None
    with pytest.raises(ValueError, match="video_src"):  # still checked, even when not carried
        player_data(video_src="javascript:alert(1)", title="T", media_in_html=True)


@pytest.mark.parametrize("poster", ["javascript:alert(1)", "data:video/mp4;base64,AAAA", "data:text/html,x"])
def test_rejected_posters(poster):
    with pytest.raises(ValueError, match="poster_src"):
        player_html(video_src="v.mp4", poster_src=poster, title="T")


@pytest.mark.parametrize("width, style", [(480, "width:480px"), ("80%", "width:80%"), (" 640px ", "width:640px")])
def test_width(width, style):
    assert style in Tree(player_html(video_src="v.mp4", title="T", width=width)).find("video")[0].attrs["style"]


@pytest.mark.parametrize("width", [0, -5, True, "expression(alert(1))", "100%;background:url(x)", 4.5])
def test_bad_width_is_refused(width):
    with pytest.raises(ValueError, match="width"):
        player_html(video_src="v.mp4", title="T", width=width)


def test_data_url_round_trips_and_checks_the_mime():
    url = data_url(b"\x00\x01binary", "image/jpeg")
    assert url.startswith("data:image/jpeg;base64,") and base64.b64decode(url.split(",", 1)[1]) == b"\x00\x01binary"
    with pytest.raises(ValueError, match="mime"):
        data_url(b"x", 'text/html"><script>')


def test_player_text():
    assert player_text(title="Hello") == "▶ Hello"
    assert player_text(title="Hello", duration_ms=1234, file="/m/job/video.mp4", summary="0.5 credits") == (
        "▶ Hello (1.2 s render) · 0.5 credits\n  video: /m/job/video.mp4"
    )


def test_importing_the_player_does_not_import_ipython_or_widgets():
    code = ("import sys, kodisc_jupyter.jupyter, kodisc_jupyter.jupyter.player; "
            "bad = [m for m in ('IPython', 'ipywidgets', 'httpx') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_local_render_links_its_folder_and_says_once_how_to_make_it_portable(monkeypatch, tmp_path):
    from kodisc_jupyter.jupyter.result import PORTABLE_HINT, Rendered
    from kodisc_jupyter.rendering import session
    from kodisc_jupyter.rendering.pipeline import Outcome

    monkeypatch.setattr(session, "_current", session.Session())  # a fresh kernel's session: nothing said yet
    monkeypatch.chdir(tmp_path)
    (tmp_path / "source.mp4").write_bytes(b"not decoded here")
    from datetime import datetime, timezone

    from kodisc_jupyter.contract import Job, RenderResult
    from kodisc_jupyter.rendering.backend import Backend

    job = Job(job_id="local123456", status="completed", created_at=datetime.now(timezone.utc), duration_ms=800,
              result=RenderResult(video="http://127.0.0.1:1/r/local123456/video.mp4"))
    outcome = Outcome(job=job, backend=Backend("local", "http://127.0.0.1:1/api/v2", None), class_name="Here",
                      quality="low", aspect_ratio="16:9", video=tmp_path / "source.mp4")
    first, second = Rendered(outcome).bundle(embed=False), Rendered(outcome).bundle(embed=False)
    assert PORTABLE_HINT in first["text/plain"] and PORTABLE_HINT not in second["text/plain"]
    assert "data-kodisc-fallback" not in first["text/html"]  # the embedded server's URL dies with it
    assert PORTABLE_HINT not in Rendered(outcome).bundle(embed=True)["text/plain"]


def test_the_cdn_fallback_is_an_escaped_http_url_read_by_a_constant_handler():
    from kodisc_jupyter.jupyter.player import player_html

    html = player_html(video_src="kodisc_media/a.mp4", title="A", fallback_src='https://cdn.example/a.mp4?x="><script>')
    assert 'data-kodisc-fallback="https://cdn.example/a.mp4?x=&quot;&gt;&lt;script&gt;"' in html
    assert "onerror=\"var f=this.getAttribute(&#x27;data-kodisc-fallback&#x27;)" in html
    for bad in ("javascript:alert(1)", "data:video/mp4;base64,AA", "kodisc_media/b.mp4"):
        with pytest.raises(ValueError):
            player_html(video_src="kodisc_media/a.mp4", title="A", fallback_src=bad)
    assert "onerror" not in player_html(video_src="kodisc_media/a.mp4", title="A")


@pytest.mark.parametrize(("backend", "video_url", "fallback"), [
    ("kodisc", "https://cdn.kodisc.example/v/abc/video.mp4", True),
    ("kodisc", "http://127.0.0.1:8765/r/abc/video.mp4", True),  # `kodisc serve` standing in for Kodisc
    ("local", "http://127.0.0.1:8765/r/abc/video.mp4", False),  # the embedded server's port dies with it
])
def test_only_a_kodisc_render_gets_the_players_fallback(tmp_path, monkeypatch, backend, video_url, fallback):
    from datetime import datetime, timezone

    from kodisc_jupyter.contract import Job, RenderResult
    from kodisc_jupyter.jupyter.result import Rendered
    from kodisc_jupyter.rendering.backend import Backend
    from kodisc_jupyter.rendering.pipeline import Outcome

    monkeypatch.chdir(tmp_path)
    (tmp_path / "source.mp4").write_bytes(b"not decoded here")
    job = Job(job_id="abc123456", status="completed", created_at=datetime.now(timezone.utc), duration_ms=800,
              result=RenderResult(video=video_url))
    outcome = Outcome(job=job, backend=Backend(backend, "https://kodisc.example/api/v2", None), class_name="Here",
                      quality="low", aspect_ratio="16:9", video=tmp_path / "source.mp4")
    html = Rendered(outcome).bundle(embed=False)["text/html"]
    assert ("data-kodisc-fallback" in html) is fallback
    assert (f'data-kodisc-fallback="{video_url}"' in html) is fallback

