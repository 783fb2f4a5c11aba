"""Cadenza trainer: MIDI corpus -> tokens -> Keras LSTM -> sampled songs.

Layers, each blind to the ones above it:
``midi_io`` (pretty_midi, music21) -> ``codec`` (notes <-> token ids) ->
``corpus`` (folders, cache) -> ``dataset`` (windows) -> ``model`` (Keras) ->
``sampling`` / ``generate`` -> ``evaluate``. ``config`` holds every setting and
``cli`` derives the command-line flags from it.
"""
