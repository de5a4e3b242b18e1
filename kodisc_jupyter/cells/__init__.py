"""What a cell asks for: its `%%kodisc` options and Manim's flags (`options`, `manim_flags`) and the
render cells of a saved notebook (`notebook`)."""
