"""The render flow behind the magic and the CLI: pre-flight, cache, POST, history, wait, assets.

`pipeline` runs one render; `backend` chooses Kodisc or the embedded local server; `session` owns
what lives as long as the process (that server, the `--no-wait` worker, the history, observers, the
notices said once).
Nothing here imports IPython or the widgets.
"""
