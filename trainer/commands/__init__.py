"""One module per ``python -m trainer`` command: parse its settings, dispatch."""
