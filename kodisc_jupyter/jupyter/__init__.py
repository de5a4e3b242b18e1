"""The notebook side of kodisc-jupyter: magics, status bar, player and result objects.

This package imports nothing on purpose: importing `kodisc_jupyter.jupyter` must not pull in
IPython or ipywidgets, so the pure helpers here (the player HTML) work in plain Python too.
"""
