"""`place()`: where a video goes, from the frontend, the sizes and the caps alone (no file, no kernel)."""
from __future__ import annotations

import pytest

from kodisc_jupyter.jupyter.frontend import COLAB, JUPYTER, VSCODE
from kodisc_jupyter.jupyter.result import Caps, Placement, Sizes, place

MB = 2**20
SMALL = Sizes(video=1 * MB, stored=2 * 10**6)
CAPS = Caps(embed_max_mb=20.0, colab_max_mb=10.0)
NAME = "kodisc_media/Scene1-abc12345.mp4"


@pytest.mark.parametrize(("where", "embed", "how"), [
    (JUPYTER, None, "link"), (COLAB, None, "embed"), (VSCODE, None, "embed"),  # embed where linking cannot play
    (JUPYTER, True, "embed"), (COLAB, False, "link"), (VSCODE, False, "link"),  # the user's choice wins
])
def test_under_the_caps_the_frontend_and_the_choice_decide(where, embed, how):
    assert place(where, SMALL, CAPS, embed=embed, name=NAME) == Placement(how)


def test_over_the_embed_cap_each_frontend_falls_back_its_own_way():
    big = Sizes(video=25 * MB, stored=34 * 10**6)
    jupyter = place(JUPYTER, big, CAPS, embed=True, name=NAME)
    assert jupyter.how == "link" and "25.0 MB, over the 20 MB embed cap" in jupyter.note
    vscode = place(VSCODE, big, CAPS, name=NAME)
    assert vscode.how == "link" and f"VS Code cannot play a linked file: open {NAME}" in vscode.note
    assert place(COLAB, big, CAPS, cdn=True, name=NAME) == Placement(
        "cdn", "The video is 25.0 MB, over the 20 MB embed cap (%config Kodisc.embed_max_mb): it plays from Kodisc's CDN.")
    none = place(COLAB, big, CAPS, cdn=False, name=NAME)
    assert none.how == "none" and f"it is {NAME} (Files panel)" in none.note


def test_colab_measures_the_whole_output_against_its_own_limit():
    heavy = Sizes(video=8 * MB, stored=11 * 10**6)  # under the embed cap, over Colab's output limit
    assert place(COLAB, heavy, CAPS, cdn=True).how == "cdn"
    assert "11.0 MB in the output, over Colab's 10 MB output limit" in place(COLAB, heavy, CAPS).note
    assert place(VSCODE, heavy, CAPS) == Placement("embed")  # only Colab has that limit
    assert place(COLAB, heavy, Caps(colab_max_mb=12.0)) == Placement("embed")

