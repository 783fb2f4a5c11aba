"""Named defaults and fixed facts of the Cadenza representation and pipeline.

Every default a config field uses is named here, so a reader can find the
number behind a behaviour without reading the code that applies it.
"""

# --- token codec -----------------------------------------------------------
PAD, BOS, EOS = "PAD", "BOS", "EOS"
SPECIAL_TOKENS = (PAD, BOS, EOS)  # ids 0, 1, 2 in this order
PIANO_LOW, PIANO_HIGH = 21, 108  # A0..C8, the range NOTE tokens cover
STEPS_PER_BEAT = 4  # grid steps per quarter-note beat (sixteenth notes)
MAX_DURATION = 32  # longest DUR token, in steps (two 4/4 bars at 4 steps/beat)
MAX_SHIFT = 16  # longest SHIFT token, in steps; longer gaps use several
VOCAB_FORMAT = "cadenza-vocab"
EXPORT_TYPE = "cadenza-lstm"  # config.json "type" of an exported model folder
RUN_SECTIONS = ("data", "codec", "model", "train")  # what a training run's config.json holds
VOCAB_VERSION = 2  # the default: KEY, METER and BAR tokens
VOCAB_VERSIONS = (1, 2)  # what loads (v1: notes only)

# --- MIDI input limits (a file outside them is skipped as unusable) --------
MIN_TEMPO_BPM = 4.0
MAX_TEMPO_BPM = 1000.0
MAX_SONG_SECONDS = 2 * 60 * 60
MAX_SONG_BEATS = 20_000
# The largest MIDI file read, checked before reading: real pieces take kilobytes, a
# whole opera a few megabytes; /dev/zero or a 2 GB dump must not be read to the end.
MAX_MIDI_BYTES = 16 * 1024 * 1024
DEFAULT_VELOCITY = 80

# --- corpora ---------------------------------------------------------------
MIDI_SUFFIXES = (".mid", ".midi")
BUILTIN_CORPORA = ("chorales", "folk")
DEFAULT_CORPUS = "chorales"
CACHE_ENV = "CADENZA_CACHE"  # overrides the default cache folder
PARSER_VERSION = 6  # bump when MIDI reading changes, to invalidate caches
EXPORT_VERSION = 6  # bump when the built-in corpora's export changes, to export again
SERIAL_BELOW = 16  # parse fewer uncached files than this without a process pool

# --- model and training ----------------------------------------------------
RNN_SIZE = 256
NUM_LAYERS = 2
EMBEDDING_SIZE = 64
DROPOUT = 0.2
# 32 windows of 128 tokens: as many tokens and updates per epoch as 16 x 256,
# but the LSTM's matrix products are twice as wide, ~1.6x the tokens/s on a CPU
WINDOW_SIZE = 128
BATCH_SIZE = 32
BURN_IN = 32  # tokens read without loss before a mid-song window (see dataset.py): measured
# on the chorales, whole-song test NLL per note 3.022 -> 2.757 against 0 (from a zero state)
LEARNING_RATE = 5e-3  # the peak of the cosine schedule
SCHEDULES = ("cosine", "plateau")
# cosine: a warm-up from LR/10 over the first WARMUP share of the steps, then a
# cosine decay to LR * LR_FINAL at the last epoch. plateau (the v1 recipe):
# constant LR, halved after LR_PATIENCE epochs without a better validation loss.
SCHEDULE = "cosine"
WARMUP = 0.05
LR_FINAL = 0.02
LR_PATIENCE = 2
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
GRAD_CLIP = 1.0
VAL_FRACTION = 0.1
TEST_FRACTION = 0.1  # the first 10% of the split permutation: a v1 run's validation songs
EPOCHS = 26  # the cosine schedule spans exactly these epochs (measured: 20 gave 1.5% worse NLL)
PATIENCE = 8
TRANSPOSE = 0

# --- sampling --------------------------------------------------------------
MAX_SEED = 2**32 - 1  # seeds are 32-bit (mulberry32, numpy): larger ones would repeat songs
TEMPERATURE = 1.0
TOP_K = 0  # 0 = no top-k cut
TOP_P = 0.95
SAMPLE_NOTES = 200
TEMPO_BPM = 100.0
TEMPO_RANGE = (10, 400)  # BPM of written and played songs; the Compose page takes the same
INSTRUMENT = "Acoustic Grand Piano"
