"""The magic's options, configuration and loading, in an in-process IPython shell (no kernel, no server)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from IPython.testing import globalipapp

from kodisc_jupyter.cells import options as cell_options
from kodisc_jupyter.jupyter import magic
from kodisc_jupyter.jupyter.display import CellError


def start_ipython():
    """The process-wide test shell (IPython allows one)."""
    globalipapp.start_ipython()
    return globalipapp.get_ipython()


@pytest.fixture
def shell():
    ip = start_ipython()
    ip.run_line_magic("load_ext", "kodisc_jupyter")
    yield ip
    ip.run_line_magic("unload_ext", "kodisc_jupyter")


def parse(line: str):
    return magic._parse(cell_options.RENDER, line)


@pytest.mark.parametrize(("flag", "quality"), [("-ql", "low"), ("-qm", "medium"), ("-qh", "high"),
                                               ("-qp", "twok"), ("-qk", "fourk"), ("-q high", "high"),
                                               ("--quality twok", "twok"), ("-q m", "medium"), ("-qM", "medium"),
                                               ("--quality l", "low"), ("--quality medium", "medium")])
def test_manim_quality_flags_map_to_contract_names(flag, quality):
    assert parse(f"Scene1 {flag}").quality == quality
    assert parse(f"{flag} Scene1").class_name == "Scene1"  # %%manim puts the scene last


@pytest.mark.parametrize(("line", "expected"), [
    # The lines of Manim's docs and example notebook, as written.
    ("-qm -v WARNING SquareToCircle", {"class_name": "SquareToCircle", "quality": "medium", "verbosity": "WARNING"}),
    ("Example1 -s -p -ql -v WARNING --disable_caching",
     {"class_name": "Example1", "quality": "low", "save_last_frame": True, "preview": True, "force": True}),
    ("HelloManim -p -q m -v warning --disable_caching", {"quality": "medium", "verbosity": "WARNING", "force": True}),
    ("-v WARNING --disable_caching -qm BannerExample", {"class_name": "BannerExample", "force": True}),
    ("X --fps 24", {"fps": 24}), ("X --frame_rate 60.0", {"fps": 60}),
    ("X --format png", {"save_last_frame": True}), ("X --format mp4", {"save_last_frame": False}),
    ("X --progress_bar none", {"class_name": "X"}),
])
def test_manim_render_flags_map_onto_the_request(line, expected):
    args = vars(parse(line))
    assert {name: args[name] for name in expected} == expected


@pytest.mark.parametrize(("line", "flag", "nearest"), [
    ("-t X", "-t/--transparent", "config.background_color"),
    ("X -r 1920,1080", "-r/--resolution", "-q l|m|h|p|k"),
    ("X --format gif", "--format", "-s for its last frame"),
    ("X -o out.mp4", "-o/--output_file", "--out NAME"),
    ("X --renderer opengl", "--renderer", "leave the flag out"),
    ("X -a", "-a/--write_all", "%%kodisc MyScene"),
    ("X --fps 29.97", "--fps/--frame_rate", "whole number of frames per second"),
])
def test_manim_flags_kodisc_cannot_honour_name_the_nearest_option(line, flag, nearest):
    with pytest.raises(CellError) as caught:
        parse(line)
    message = str(caught.value)
    assert message.startswith(f"argument {flag}: ") and nearest in message and "\n" not in message


def test_options_use_shell_quoting():
    args = parse("""MyScene --aspect 9:16 --fps 24 --metadata '{"lesson": "a b"}' --out clip --no-wait --force""")
    assert (args.class_name, args.aspect, args.fps, args.out, args.no_wait, args.force) == \
        ("MyScene", "9:16", 24, "clip", True, True)
    assert args.metadata == {"lesson": "a b"}


@pytest.mark.parametrize(("line", "message"), [
    ("--bogus", "unrecognized arguments: --bogus (options: %%kodisc?)"),  # `%kodisc?` finds nothing
    ("--quality ultra", "expected one of l|m|h|p|k or low|medium|high|twok|fourk, got 'ultra'"),
    ("--fps 0", "--fps/--frame_rate: must be 1..240, got 0"),
    ("--metadata '{oops'", "--metadata: must be JSON"),
    ("--timeout -3", "--timeout: must be more than 0 seconds"),
    ("--metadata '{\"a\": 1}", "check the quotes"),
])
def test_bad_options_are_one_line_errors(line, message):
    with pytest.raises(CellError) as caught:
        parse(line)
    assert message in str(caught.value)
    assert caught.value._render_traceback_() == [f"Kodisc: {caught.value}"]


def test_a_message_that_names_kodisc_is_not_prefixed_twice():
    assert CellError("Kodisc rejected the API key (401): bad.")._render_traceback_() == [
        "Kodisc rejected the API key (401): bad."]
    assert CellError("the prelude does not parse")._render_traceback_() == ["Kodisc: the prelude does not parse"]


def test_config_and_help(shell):
    shell.run_line_magic("config", 'Kodisc.quality = "low"')
    shell.run_line_magic("config", 'Kodisc.backend = "local"')
    kodisc = shell.magics_manager.registry["Kodisc"]
    assert (kodisc.quality, kodisc.backend) == ("low", "local")
    help_text = kodisc.kodisc.__doc__  # what %%kodisc? shows
    for listed in ("-ql", "--no-wait", "--disable_caching", "--save_last_frame", "--verbosity", "--preview",
                   "--transparent", "--resolution", "--format", "%kodisc_prelude"):
        assert listed in help_text
    assert kodisc.kodisc.__doc__.split()[1] == "%%kodisc"  # the usage line names the cell magic


def test_pyproject_defaults_sit_below_config(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.kodisc]\nquality = "low"\naspect = "9:16"\nembed = true\n')
    nested = tmp_path / "lessons" / "week1"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    ip = start_ipython()
    ip.config.Kodisc.aspect = "16:9"  # set by %config / the command line: wins over the file
    try:
        kodisc = magic.Kodisc(ip)
        assert (kodisc.quality, kodisc.aspect, kodisc.embed) == ("low", "16:9", True)
    finally:
        del ip.config["Kodisc"]
        ip.configurables.remove(kodisc)


def test_bad_pyproject_values_are_skipped_with_a_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text('[tool.kodisc]\nquality = "ultra"\ncolour = "red"\n')
    monkeypatch.chdir(tmp_path)
    ip = start_ipython()
    kodisc = magic.Kodisc(ip)
    ip.configurables.remove(kodisc)
    assert kodisc.quality == "medium"
    err = capsys.readouterr().err
    assert "ignoring [tool.kodisc] quality = 'ultra'" in err and "unknown [tool.kodisc] setting 'colour'" in err


def test_unload_removes_the_magics_and_load_again_works(shell):
    managers = shell.magics_manager.magics
    kodisc = shell.magics_manager.registry["Kodisc"]
    assert kodisc in shell.configurables
    assert {"kodisc", "kodisc_prelude"} <= set(managers["cell"])
    assert {"kodisc_resume", "kodisc_panel", "kodisc_login"} <= set(managers["line"])
    shell.run_line_magic("unload_ext", "kodisc_jupyter")
    assert "kodisc" not in managers["cell"] and "kodisc_resume" not in managers["line"]
    assert "kodisc_panel" not in managers["line"]
    assert kodisc not in shell.configurables
    shell.run_line_magic("load_ext", "kodisc_jupyter")
    assert "kodisc" in managers["cell"]


def test_prelude_set_show_clear(shell, capsys):
    shell.run_cell("%%kodisc_prelude\nfrom manim import *\nRADIUS = 2\n")
    kodisc = shell.magics_manager.registry["Kodisc"]
    assert kodisc.prelude == "from manim import *\nRADIUS = 2\n"
    shell.run_line_magic("kodisc_prelude", "")
    assert "RADIUS = 2" in capsys.readouterr().out
    result = shell.run_cell("%%kodisc_prelude\nfrom manim import (\n")
    assert isinstance(result.error_in_exec, CellError) and "the prelude does not parse: line 1" in str(result.error_in_exec)
    assert kodisc.prelude == "from manim import *\nRADIUS = 2\n"  # a broken prelude leaves the old one
    shell.run_line_magic("kodisc_prelude", "--clear")
    assert kodisc.prelude == ""


def test_loading_imports_no_client_widgets_or_server():
    code = ("from IPython.testing.globalipapp import get_ipython as start_ipython; import sys, json; ip = start_ipython(); "
            "before = set(sys.modules); ip.run_line_magic('load_ext', 'kodisc_jupyter'); "
            "print(json.dumps(sorted(set(sys.modules) - before)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    heavy = [name for name in loaded if name.split(".")[0] in ("httpx", "ipywidgets", "starlette", "uvicorn", "manim")
             or name.startswith(("kodisc_jupyter.client", "kodisc_jupyter.server"))]
    assert heavy == []
    # what a magic needs comes with its first run: not the render core, the contract or the history (P4)
    deferred = [name for name in loaded if name.startswith(("kodisc_jupyter.rendering", "kodisc_jupyter.contract",
                                                           "kodisc_jupyter.errors", "kodisc_jupyter.jupyter.panel"))
                or name in ("sqlite3", "getpass")]
    assert deferred == []


def test_kernels_with_their_own_shell_class_get_widgets(monkeypatch):
    """Colab's shell is `google.colab._shell.Shell`, a ZMQInteractiveShell subclass: it must get the player."""
    import IPython
    from ipykernel.zmqshell import ZMQInteractiveShell

    from kodisc_jupyter.jupyter.frontend import frontend_has_widgets

    class Shell(ZMQInteractiveShell):  # named like Colab's
        pass

    colab_like = object.__new__(Shell)  # only its type matters here; a real one needs a kernel
    monkeypatch.setattr(IPython, "get_ipython", lambda: colab_like)
    assert frontend_has_widgets()
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert not frontend_has_widgets()


def test_resume_of_an_unknown_job_on_the_local_server(shell):
    from kodisc_jupyter.rendering.backend import stop_local_server

    shell.run_line_magic("config", 'Kodisc.backend = "local"')
    try:
        result = shell.run_cell("%kodisc_resume nope")
    finally:
        stop_local_server()
    assert isinstance(result.error_in_exec, CellError)
    assert str(result.error_in_exec) == ("No job nope in the history or on the local server: check the id; "
                                         "past jobs: %kodisc_jobs")
