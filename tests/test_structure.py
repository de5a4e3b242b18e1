"""The house rules a tool cannot see: public modules in reprs, cheap imports, no notebook in the terminal."""
from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import kodisc_jupyter
from kodisc_jupyter import client, errors, webhooks


@pytest.mark.parametrize("module", [kodisc_jupyter, errors, webhooks, client])
def test_public_classes_report_a_public_module(module):
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value):
            assert not any(part.startswith("_") for part in value.__module__.split(".")), (name, value.__module__)


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; before = set(sys.modules); {statement}; print(' '.join(set(sys.modules) - before))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


@pytest.mark.parametrize("statement", ["import kodisc_jupyter.errors", "import kodisc_jupyter.webhooks",
                                       "import kodisc_jupyter.contract", "import kodisc_jupyter.client"])
def test_the_contract_and_the_client_package_load_no_http_stack(statement):
    assert not {"httpx", "asyncio"} & _loaded_after(statement)


def test_the_command_line_loads_no_notebook_layer():
    loaded = _loaded_after("from kodisc_jupyter import cli; cli.build_parser()")
    assert not {m for m in loaded if m.startswith(("kodisc_jupyter.jupyter", "ipywidgets", "IPython"))}


def test_architecture_lists_every_module_once():
    """ARCHITECTURE.md's module list has one line per file of the package, and names no file that is gone."""
    import re
    from pathlib import Path

    root = Path(kodisc_jupyter.__file__).parent
    text = (root.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = text[text.index("## Modules"):]
    block = block[block.index("```\n") + 4:]
    listed = re.findall(r"^  (\S+\.py)\s", block[:block.index("```")], flags=re.MULTILINE)
    files = sorted(str(path.relative_to(root)) for path in root.rglob("*.py") if "labextension" not in path.parts)
    assert sorted(listed) == files
