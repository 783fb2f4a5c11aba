"""MIDI files and songs as notes and tokens: numpy only, no network."""
