"""TeX in a render (its own error, where it is installed) and the files beside a notebook (only on the
embedded single-user server, which is started with `scene_files`), with real Manim in the sandbox."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from server_helpers import User

from kodisc_jupyter.server import start_local_server
from kodisc_jupyter.server._process import scene_files
from kodisc_jupyter.server._tex import DEBIAN_TEX_PACKAGES, find_tex

pytestmark = pytest.mark.render

TYPO = r'''from manim import *

class Typo(Scene):
    def construct(self):
        self.add(MathTex(r"\alpah + \beta"))
'''

BESIDE = '''from manim import *
import numpy as np

class Beside(Scene):
    def construct(self):
        points = np.loadtxt("data.csv", delimiter=",")
        self.add(ImageMobject("diagram.png").scale(2), SVGMobject("icons/logo.svg").to_corner(UL),
                 VGroup(*(Dot([x, y, 0]) for x, y in points)))
'''


def rendered(server, code: str, class_name: str):
    """The finished job of `code` on `server`, sent by its first user."""
    user = User(server)
    try:
        return user.wait(user.submit(code, class_name), timeout=120)
    finally:
        user.close()


def folder_of_files(folder: Path) -> Path:
    from PIL import Image

    folder.mkdir()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(folder / "diagram.png")
    (folder / "icons").mkdir()  # Manim writes icons/logo_.svg beside it while reading it
    (folder / "icons/logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                                     '<rect width="10" height="10" fill="blue"/></svg>')
    (folder / "data.csv").write_text("0,0\n1,1\n2,0.5\n")
    return folder


def test_a_tex_typo_fails_with_what_tex_said(manim_server):
    job = rendered(manim_server, TYPO, "Typo")
    assert job.status == "failed"
    assert job.error == ('LaTeX failed on the scene\'s TeX: ! Undefined control sequence. at "\\alpah", before '
                         '"+ \\beta" (line 5: self.add(MathTex(r"\\alpah + \\beta")))'), job.error


def test_files_beside_the_notebook_render_only_where_the_server_was_given_them(manim_server, tmp_path):
    files = folder_of_files(tmp_path / "lesson")
    with start_local_server(tmp_path / "embedded", renderer="manim", workers=1, scene_files=files) as embedded:
        job = rendered(embedded, BESIDE, "Beside")
        assert job.status == "completed", job.error
        assert embedded.scene_files == files.resolve() and embedded.scene_files_problem is None

    job = rendered(manim_server, BESIDE, "Beside")  # like `kodisc serve`: no scene_files, so no file of anyone's is in sight
    assert job.status == "failed" and "data.csv not found" in job.error, job.error


def test_a_scene_cannot_write_beside_the_notebook(tmp_path):
    files = folder_of_files(tmp_path / "lesson")
    code = ('from manim import *\n\nclass Write(Scene):\n    def construct(self):\n'
            '        open("diagram.png", "wb").write(b"x")\n')
    with start_local_server(tmp_path / "embedded", renderer="manim", workers=1, warm=0, scene_files=files) as server:
        job = rendered(server, code, "Write")
    assert job.status == "failed" and "Read-only file system" in job.error, job.error
    assert (files / "diagram.png").read_bytes()[:4] == b"\x89PNG"


def test_a_folder_holding_the_home_is_never_shared(tmp_path):
    home = Path.home().resolve()
    for folder in (home, home.parent, Path("/")):
        path, problem = scene_files(folder)
        assert path is None and "holds your whole home folder" in problem
    assert scene_files(tmp_path) == (tmp_path.resolve(), None)
    assert scene_files(tmp_path / "nope")[0] is None


def test_tex_is_found_in_tinytex_in_the_home_and_nothing_else_of_the_home(tmp_path, monkeypatch):
    """A TinyTeX tree in a fake home (its `latex` a copy of `true`): a sandboxed render runs it by name,
    TEXINPUTS is passed and its folder bound, and nothing else of the home is in sight."""
    import shutil

    from kodisc_jupyter.server._sandbox import bwrap_problem, render_env, sandboxed

    if bwrap_problem():
        pytest.skip(bwrap_problem())
    home = tmp_path / "home"
    bin_dir = home / ".TinyTeX/bin/x86_64-linux"
    bin_dir.mkdir(parents=True)
    (home / ".TinyTeX/texmf-dist").mkdir()
    (home / "secret.txt").write_text("private")
    for program in ("latex", "dvisvgm"):
        shutil.copy("/bin/true", bin_dir / program)
    styles = tmp_path / "styles"
    styles.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", "/nonexistent:relative/bin")  # a PATH without TeX: the usual places are searched
    monkeypatch.setenv("TEXINPUTS", f".:{styles}//:")
    tex = find_tex()
    assert tex.path == (str(bin_dir),) and not tex.missing
    assert tex.binds == tuple(sorted((home / ".TinyTeX", styles)))
    env = render_env("/job")
    assert env["TEXINPUTS"] == f".:{styles}//:" and str(bin_dir) in env["PATH"].split(":")
    job = tmp_path / "job"
    job.mkdir()
    script = f"latex && dvisvgm && test -d {styles} && ! test -e {home / 'secret.txt'}"
    run = subprocess.run(sandboxed(["/bin/sh", "-c", script], job, env, hidden=[home]), env=env, capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 0, run.stderr


def test_the_tex_packages_match_system_deps():
    script = (Path(__file__).parents[2] / "scripts/system-deps.sh").read_text()
    line = next(line for line in script.splitlines() if line.startswith("tex=("))
    assert tuple(line[len("tex=("):-1].split()) == DEBIAN_TEX_PACKAGES


def test_a_scene_written_for_kodisc_renders_with_its_plugin(manim_server):
    pytest.importorskip("manim_kodisc", reason="make's install step installs manim-kodisc (--no-deps)")
    code = ('from manim import *\nfrom manim_kodisc import *\n\nclass Shares(Scene):\n    def construct(self):\n'
            '        self.play(FadeIn(PiChart({"a": 2, "b": 1}, colors=[RED, BLUE])), run_time=0.2)\n')
    job = rendered(manim_server, code, "Shares")
    assert job.status == "completed", job.error


def test_a_missing_latex_in_a_render_says_that_tex_is_not_installed_there(tmp_path):
    from kodisc_jupyter.server._tex import TEX_INSTALL, tex_error_message

    message = tex_error_message(FileNotFoundError(2, "No such file or directory", "latex"), tmp_path)
    assert message.startswith("LaTeX is not installed where this server renders (latex not found)")
    assert TEX_INSTALL in message and message.endswith("Kodisc renders them as they are.")
    assert tex_error_message(FileNotFoundError(2, "No such file or directory", "data.csv"), tmp_path) is None
    assert tex_error_message(ValueError("latex error converting to dvi. See log output above or the log file: "
                                        "media/Tex/gone.log"), tmp_path) is None  # no log: Manim's own words stay


def test_the_mirror_of_a_folder_is_bounded(tmp_path, monkeypatch):
    from kodisc_jupyter.server import _render_job

    source = tmp_path / "notebooks"
    for folder in ("a", "b", "c"):
        (source / folder).mkdir(parents=True)
        for name in ("1.png", "2.png"):
            (source / folder / name).write_bytes(b"x")
    (source / "top.csv").write_text("1\n")
    monkeypatch.setattr(_render_job, "MIRRORED_ENTRIES", 8)  # 4 at the top, then room for two folders of 2
    target = _render_job.mirror(source, tmp_path / "beside")
    assert sorted(p.name for p in target.iterdir()) == ["a", "b", "c", "top.csv"]
    assert [(target / f).is_symlink() for f in ("a", "b", "c")] == [False, False, True]  # c: linked whole
    assert (target / "a/1.png").is_symlink() and (target / "c/2.png").read_bytes() == b"x"
    monkeypatch.setattr(_render_job, "MIRRORED_ENTRIES", 3)  # more at the top than that: read in place
    assert _render_job.mirror(source, tmp_path / "other") == source and not (tmp_path / "other").exists()


def test_a_missing_tex_package_is_named_from_the_log(tmp_path):
    from kodisc_jupyter.server._tex import tex_error_message

    log = tmp_path / "media/Tex/abc.log"
    log.parent.mkdir(parents=True)
    log.write_text("This is pdfTeX\n! LaTeX Error: File `siunitx.sty' not found.\n\nType X to quit.\n"
                   "l.5 \\usepackage\n          {siunitx}\n! Emergency stop.\n<*> abc.tex\n")
    message = tex_error_message(ValueError("latex error converting to dvi. See log output above or the log file: "
                                           "media/Tex/abc.log"), tmp_path)
    assert message == ("LaTeX failed on the scene's TeX: ! LaTeX Error: File `siunitx.sty' not found. at "
                       '"\\usepackage", before "{siunitx}" (a TeX package is not installed: install the one '
                       "providing siunitx.sty) (and 1 more TeX error)")
