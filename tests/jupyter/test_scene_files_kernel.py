"""On a real kernel with no key (the embedded server): a scene reads the files beside its notebook, and a
scene written for Kodisc (`from manim_kodisc import *`) renders, as they would under `%%manim`."""
from __future__ import annotations

import pytest
from nbrun import error_of, outputs_of, text_of

pytestmark = [pytest.mark.kernel, pytest.mark.render]


def test_files_beside_the_notebook_and_kodiscs_plugin_render_on_the_embedded_server(run_cells):
    from PIL import Image

    Image.new("RGB", (8, 8), (250, 200, 0)).save(run_cells.work / "diagram.png")
    beside = ("from manim import *\n\nclass Diagram(Scene):\n    def construct(self):\n"
              '        self.add(ImageMobject("diagram.png").scale(4))\n')
    plugin = ("from manim import *\nfrom manim_kodisc import *\n\nclass Shares(Scene):\n    def construct(self):\n"
              '        self.add(PiChart({"a": 2, "b": 1}, colors=[RED, BLUE], show_labels=False))\n')
    nb = run_cells(["%load_ext kodisc_jupyter", f"%%kodisc -ql -s\n{beside}", f"%%kodisc -ql -s\n{plugin}"],
                   timeout=180)
    for cell in nb.cells[1:]:
        assert error_of(cell) is None, text_of(cell)
        assert "Warning" not in text_of(cell), text_of(cell)
        assert any("image/png" in output.get("data", {}) for output in outputs_of(cell)), text_of(cell)
    import base64
    import io

    png = next(o["data"]["image/png"] for o in outputs_of(nb.cells[1]) if "image/png" in o.get("data", {}))
    with Image.open(io.BytesIO(base64.b64decode(png))) as frame:
        red, green, blue = frame.convert("RGB").getpixel((427, 240))  # the middle of the scaled-up image
    assert red > 200 and green > 150 and blue < 80
