"""What a cell asks for: its `%%kodisc` options and Manim's flags (`options`, `manim_flags`), the
notebook's definitions that travel with it (`definitions`) and the render cells of a saved notebook
(`notebook`)."""
