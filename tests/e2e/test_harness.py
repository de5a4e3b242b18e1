"""The harness itself: Lab runs our venv's kernel with the isolated Kodisc environment."""
from __future__ import annotations

import sys

import pytest
from lab_driver import make_notebook, open_notebook, run_all_cells
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_kernel_runs_with_isolated_kodisc_env(lab, page):
    notebook = make_notebook(lab.root / "harness.ipynb", [
        "import os, sys\n"
        "print('home=' + os.environ['KODISC_HOME'])\n"
        "print('keys=' + str(sorted(k for k in os.environ if k.startswith('KODISC_') and k != 'KODISC_HOME')))\n"
        "print('python=' + sys.executable)",
    ])
    open_notebook(page, lab, notebook)
    run_all_cells(page)
    output = page.locator(".jp-OutputArea-output").first
    expect(output).to_contain_text(f"home={lab.kodisc_home}")
    expect(output).to_contain_text("keys=[]")
    expect(output).to_contain_text(f"python={sys.executable}")
