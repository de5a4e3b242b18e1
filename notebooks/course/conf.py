# The course site: Sphinx + myst-nb (what Jupyter Book 1 runs) + kodisc_jupyter.sphinx, which copies
# every video the notebooks' players link (kodisc_media/...) into the built site.
project = "A short Manim course"
extensions = ["myst_nb", "kodisc_jupyter.sphinx"]
# Notebooks run before the build (`kodisc render` then nbclient/`jupyter execute`): the build only
# executes a notebook that has no outputs yet ("auto"), and every render is then a cache hit.
nb_execution_mode = "auto"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "kodisc_media"]
html_theme = "alabaster"
