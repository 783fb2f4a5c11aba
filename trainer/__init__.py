"""Cadenza trainer: MIDI corpus -> tokens -> Keras LSTM -> sampled songs.

Layers, each a folder, each blind to the ones after it (tests/test_layers.py
holds them to that):

- ``music/``: MIDI files and songs, numpy only. ``midi_io`` (the only module
  that imports pretty_midi and music21), ``keys``, ``codec`` (notes <-> token
  ids), ``grammar`` (which token may come next), ``corpus`` (folders, cache,
  splits).
- ``nn/``: the Keras network and its training. ``backend``, ``network`` (the
  network as an export describes it: every table by name and shape),
  ``model``, ``pitch_layers``, ``dataset`` (windows), ``callbacks``,
  ``checkpoints``, ``runs`` (the run folder), ``train``, ``loading`` (a
  trained network from a run or an export: its description and weights by
  name).
- ``compose/``: composing with a trained network, numpy and no Keras.
  ``stepper`` (the network one token at a time, built from the weights by
  name and the network's description), ``sampling``, ``harmony``
  (the harmonizer's Constraint), ``form`` (the form head: which bars come back),
  ``composing``, ``songs`` (what ``sample``
  and ``harmonize`` write).
- ``evaluation/``: ``likelihood``, ``ngram``, ``music_metrics``,
  ``harmony_metrics``, ``evaluate``, ``harmonizing``, ``calibration``, ``form_fit``
  (fitting the form head).
- ``commands/``: one module per ``python -m trainer`` command, each parsing
  its settings and dispatching.

``config`` holds every setting and ``cli`` derives the command-line flags
from it; ``constants`` and ``errors`` serve every layer.
"""
