"""Random v2 songs for property tests: raw notes, time signatures and a file key.

``raw_songs`` draws what a MIDI file hands :meth:`trainer.music.codec.Codec.quantise_song`:
notes that may start after a pickup (an offset that is no whole bar), time
signatures (with a token of their own or not) at any beat, including mid-bar
changes, and maybe a key signature. ``codecs`` draws v2 codecs of every
shape: grid, mono, and the ``no_bars`` ablation.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from trainer.config import CodecConfig
from trainer.music import keys as K
from trainer.music.codec import Codec

OTHER_METERS = [(5, 4), (7, 8), (5, 8), (1, 4), (7, 16), (3, 16), (4, 1), (11, 8)]

meters = st.one_of(st.sampled_from(K.METERS), st.sampled_from(OTHER_METERS),
                   st.tuples(st.integers(1, 13), st.sampled_from([1, 2, 4, 8, 16, 32])))


@st.composite
def raw_songs(draw, max_notes: int = 40):
    """``(raw notes (n, 3) in beats, meters [(beat, n, d)], file key or None)``."""
    offset = draw(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 3.75, 5.0]))
    grid = draw(st.sampled_from([0.25, 0.5, 1.0, 1 / 3]))
    notes = draw(st.lists(st.tuples(st.integers(0, 96), st.integers(0, 12),
                                    st.integers(15, 115)), min_size=1, max_size=max_notes))
    raw = np.array([(offset + s * grid, offset + (s + d) * grid, p) for s, d, p in notes],
                   dtype=np.float64)
    changes = draw(st.lists(st.tuples(st.sampled_from([0, 0.5, 1, 2, 3, 4, 6, 7.5, 8, 12, 16,
                                                       24, 30]), meters), max_size=4))
    first = draw(st.one_of(st.none(), meters))  # a time signature at beat 0, or none
    events = ([(0.0, *first)] if first else []) + [(float(b), n, d) for b, (n, d) in changes]
    file_key = draw(st.one_of(st.none(), st.sampled_from(K.KEYS)))
    return raw, events, file_key


@st.composite
def codecs(draw, bars: bool | None = None):
    """A v2 codec; ``bars`` True/False fixes whether it has BAR tokens."""
    no_bars = draw(st.booleans()) if bars is None else not bars
    return Codec(CodecConfig(steps_per_beat=draw(st.sampled_from([1, 2, 4, 12])),
                             mono=draw(st.booleans()), max_shift=draw(st.sampled_from([4, 16])),
                             no_bars=no_bars))
