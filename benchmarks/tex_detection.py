"""The pre-flight's "needs TeX" rule (rendering/local_needs.tex_use) against what Manim really does, on
every `.. manim::` example in the installed Manim's docstrings.

Each example is built and played in this process with Manim's `dry_run` (no files) and its TeX step
replaced by one that raises: an example "needs TeX" when that step was reached. Examples that fail for
another reason, or take over 8 s, are left out. Printed: examples, how many need TeX, how many the rule
flags, false positives (a scene that renders without TeX blocked where TeX is missing) and false
negatives (a raw `latex` error where the pre-flight could have said it), plus the rule's time per example.
"""
from __future__ import annotations

import ast
import signal
import sys
import time
from pathlib import Path

from benchlib import print_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "preflight"))
from test_manim_examples import documented_examples  # noqa: E402  # the same examples the pre-flight test reads

from kodisc_jupyter.rendering.local_needs import tex_use  # noqa: E402

SECONDS_PER_EXAMPLE = 8


class NeedsTex(Exception):
    """Raised where Manim would run latex."""


def main() -> None:
    import manim.mobject.text.tex_mobject as tex_mobject
    from manim import config

    def no_tex(*args, **kwargs):
        raise NeedsTex

    tex_mobject.tex_to_svg_file = no_tex
    config.dry_run, config.disable_caching, config.progress_bar, config.verbosity = True, True, "none", "ERROR"
    config.quality = "low_quality"

    def too_long(*args):
        raise TimeoutError

    signal.signal(signal.SIGALRM, too_long)
    rows, rule_seconds = [], 0.0
    for _file, name, code in documented_examples():
        source = "from manim import *\n" + code  # as the docs' directive runs it
        started = time.perf_counter()
        flagged = tex_use(ast.parse(source)) is not None
        rule_seconds += time.perf_counter() - started
        namespace: dict = {}
        signal.alarm(SECONDS_PER_EXAMPLE)
        try:
            exec(compile(source, f"<{name}>", "exec"), namespace)
            namespace[name]().render()
            needs: bool | None = False
        except NeedsTex:
            needs = True
        except BaseException:  # an example that needs something else (a file, the network), or too long
            needs = None
        finally:
            signal.alarm(0)
        rows.append((name, flagged, needs))
    decided = [row for row in rows if row[2] is not None]
    false_positives = [name for name, flagged, needs in decided if flagged and not needs]
    false_negatives = [name for name, flagged, needs in decided if needs and not flagged]
    print_table("Needs TeX: the pre-flight's rule vs Manim, on Manim's documented examples",
                ["examples", "decided", "need TeX", "flagged", "false positives", "false negatives", "rule ms/example"],
                [[len(rows), len(decided), sum(1 for row in decided if row[2]), sum(1 for row in decided if row[1]),
                  len(false_positives), len(false_negatives), 1000 * rule_seconds / len(rows)]])
    for label, names in (("false positives", false_positives), ("false negatives", false_negatives)):
        if names:
            print(f"{label}: {', '.join(names)}")


if __name__ == "__main__":
    main()
