"""The corpus under codec v2: songs keep their meta and key source (also from the cache),
the summary counts key sources and meters, and the split has a test part."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from trainer.config import CodecConfig, DataConfig
from trainer.errors import CadenzaError
from trainer.music import corpus as corpus_mod
from trainer.music.codec import Codec
from trainer.music.corpus import Corpus, Song, split_names, split_songs

V1 = Codec(CodecConfig(vocab_version=1))
V2 = Codec()
D_MAJOR = [0, 2, 4, 5, 7, 9, 11, 12, 7, 4, 0]  # a scale up and the tonic triad down


def write(path, steps, signatures=(), key_number=None, tonic=62):
    """A melody of ``tonic + steps``, one per beat at 120 BPM, with time signatures
    ``(n, d, beat)`` and a key signature (pretty_midi writes 4/4 when none is at 0)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(program=0)
    inst.notes = [pretty_midi.Note(80, tonic + s, b / 2, (b + 1) / 2) for b, s in enumerate(steps)]
    pm.instruments.append(inst)
    pm.time_signature_changes = [pretty_midi.TimeSignature(n, d, b / 2) for n, d, b in signatures]
    if key_number is not None:
        pm.key_signature_changes = [pretty_midi.KeySignature(key_number, 0.0)]
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))


@pytest.fixture
def signed(tmp_path):
    data = tmp_path / "data"
    write(data / "a_file_key.mid", D_MAJOR * 2, [(3, 4, 0)], key_number=2)  # D major, 3/4
    write(data / "b_relative.mid", D_MAJOR * 2, [(6, 8, 0)], key_number=12 + 11)  # B minor
    write(data / "c_disagrees.mid", D_MAJOR * 2, key_number=7)  # G major on D major notes
    write(data / "d_none.mid", D_MAJOR * 2, [(3, 4, 0), (2, 4, 9)])  # 3/4, then 2/4
    return data


def test_songs_carry_their_meta_and_key_source_also_from_the_cache(signed, tmp_path):
    config = DataConfig(data_dir=signed, cache_dir=tmp_path / "cache", jobs=1)
    corpus = corpus_mod.prepare(config, V2, log=lambda line: None)
    got = {s.name: (s.meta.key, s.key_source, s.meta.meter) for s in corpus.songs}
    assert got == {"a_file_key.mid": ((2, "major"), "file", (3, 4)),
                   "b_relative.mid": ((11, "minor"), "file", (6, 8)),
                   "c_disagrees.mid": ((2, "major"), "estimate", (4, 4)),
                   "d_none.mid": ((2, "major"), "estimate", (3, 4))}
    changes = next(s for s in corpus.songs if s.name == "d_none.mid").meta.bars
    assert changes[:4] == ((0, (3, 4)), (12, (3, 4)), (24, (3, 4)), (36, (2, 4)))
    again = corpus_mod.prepare(config, V2, log=lambda line: None)
    assert again.cached == 4 and again.parsed == 0
    assert [(s.meta, s.key_source) for s in again.songs] == \
        [(s.meta, s.key_source) for s in corpus.songs]
    tokens = again.tokens(V2)
    assert all(V2.decode_song(t)[1] == s.meta for t, s in zip(tokens, again.songs))
    v1 = corpus_mod.prepare(DataConfig(data_dir=signed, cache_dir=tmp_path / "cache", jobs=1),
                            V1, log=lambda line: None)
    assert v1.parsed == 4 and all(s.meta is None and s.key_source is None for s in v1.songs)


def test_summary_names_key_sources_meters_and_keys(signed, tmp_path):
    config = DataConfig(data_dir=signed, cache_dir=tmp_path / "cache", jobs=1)
    corpus = corpus_mod.prepare(config, V2, log=lambda line: None)
    first, keys, meters, found = corpus.summary(V2).splitlines()
    assert first.startswith(f"{corpus.source}: used 4 files, skipped 0")
    assert keys.startswith("keys: 2 from the file's key signature, 2 estimated from the notes")
    assert meters == "meters: 3/4 2, 6/8 1, 4/4 1, 2/4 1"  # d_none uses 3/4 and 2/4
    assert found == "keys found: D:major 3, B:minor 1"
    v1 = corpus_mod.prepare(config, V1, log=lambda line: None)
    assert len(v1.summary(V1).splitlines()) == 1


def test_summary_counts_of_hand_made_songs():
    notes = np.array([[0, 4, 60]], dtype=np.int32)
    meta = V2.quantise_song(np.array([[0, 1, 60]], dtype=float), [(0, 5, 4)])[1]
    corpus = Corpus("test", [Song("x", notes, meta, "estimate")])
    assert corpus.summary(V2).splitlines()[1:] == [
        "keys: 0 from the file's key signature, 1 estimated from the notes (the file had none, "
        "or one the notes disagree with)", "meters: other 1", "keys found: C:major 1"]
    assert corpus_mod.describe_counts({}) == "none"
    sixteenths = V2.quantise_song(np.array([[i / 4, (i + 1) / 4, 60] for i in range(8)]),
                                  [(0, 1, 16)])[1]
    assert [b for b, _ in sixteenths.bars] == list(range(8))
    odd = Corpus("test", [Song("y", notes, meta, "file"), Song("z", notes, sixteenths, "file")])
    assert odd.summary(V2).splitlines()[-1] == (
        "bars shorter than a beat (time signatures such as 1/16) in 1 song, e.g. z: kept as "
        "the file states them")
    assert [corpus_mod.short_bars(song, 4) for song in odd.songs] == [0, 7]


def test_split_with_a_test_fraction_is_by_song_and_reproducible():
    names = [f"s{i:02d}" for i in range(20)]
    train, val, test = split_names(names, 0.2, seed=1, test_fraction=0.1)
    assert (len(train), len(val), len(test)) == (14, 4, 2)
    assert sorted(train + val + test) == names and len(set(train + val + test)) == 20
    assert all(part == sorted(part) for part in (train, val, test))
    assert split_names(names, 0.2, 1, 0.1) == (train, val, test)
    assert split_names(names, 0.2, 2, 0.1) != (train, val, test)
    # A run from before the test split (test_fraction 0) held out as validation exactly
    # the songs a later run with the fractions swapped in takes as its test set.
    assert split_names(names, 0.2, 7)[1] == split_names(names, 0.1, 7, test_fraction=0.2)[2]
    assert [len(p) for p in split_names(["a", "b", "c"], 0.01, 0, test_fraction=0.01)] == \
        [1, 1, 1]
    with pytest.raises(CadenzaError, match="at least 3 usable songs .* validation and test"):
        split_names(["a", "b"], 0.2, 0, test_fraction=0.1)


def test_split_with_named_test_songs():
    names = [f"s{i:02d}" for i in range(20)]
    train, val, test = split_names(names, 0.2, 1, test_fraction=0.3,
                                   test=["s03", "s05", "not-in-this-corpus"])
    assert test == ["s03", "s05"]  # the named songs the corpus holds; the fraction is unused
    assert len(val) == 4 and sorted(train + val + test) == names
    assert split_names(names, 0.2, 1, test=["s05", "s03"]) == (train, val, test)
    with pytest.raises(CadenzaError, match="--test-songs: none of its songs"):
        split_names(names, 0.2, 1, test=["elsewhere"])


def test_split_songs_takes_each_part_and_refuses_a_changed_corpus():
    songs = [Song(n, np.array([[0, 4, 60]], dtype=np.int32)) for n in ("a", "b", "c", "d")]
    corpus = Corpus("test", songs)
    parts = split_songs(corpus, {"train": ["a", "b"], "validation": ["c"], "test": ["d"]})
    assert {p: [s.name for s in got] for p, got in parts.items()} == {
        "train": ["a", "b"], "validation": ["c"], "test": ["d"]}
    old = split_songs(corpus, {"train": ["a", "b", "c"], "validation": ["d"]})  # before tests
    assert old["test"] == []
    with pytest.raises(CadenzaError, match="no longer in the corpus"):
        split_songs(corpus, {"train": ["a", "gone"], "validation": ["c"]})
    for damaged in (None, [], {"train": ["a"]}, {"train": "a", "validation": []},
                    {"train": [], "validation": [], "test": "d"}):
        with pytest.raises(CadenzaError, match="split.json"):
            split_songs(corpus, damaged)


def _fake_unit(corpus, unit, out_dir):
    """Stands in for midi_io.export_unit: unit "a" and unit "b" both hold song "dup"
    (as two O'Neill files hold one tune number), each with its own content; "b"
    also fails on a song that "a" exports, and "a" fails on one that "b" exports."""
    songs = {"a": [("dup", None), ("only_a", None), ("flaky", None), ("lost", "no notes")],
             "b": [("dup", None), ("flaky", "music21 could not export it"),
                   ("late", None), ("lost", "bad repeat")]}[unit]
    for name, err in songs:
        if err is None:
            (out_dir / f"{name}.mid").write_text(f"{name} from {unit}")
    return songs


def test_a_song_in_two_export_units_comes_from_the_first_whatever_order_they_finish(
        tmp_path, monkeypatch):
    """The built-in export runs its units in parallel; where two hold a song of the same
    name, the first unit in sorted order wins, also when the later one finishes first
    (before, both wrote one file and the last writer won)."""
    monkeypatch.setattr(corpus_mod.midi_io, "builtin_units", lambda corpus: ["a", "b"])
    monkeypatch.setattr(corpus_mod.midi_io, "builtin_version", lambda: "test")

    def backwards(corpus, units, dirs, jobs, log):  # the later unit finishes first
        for i in (1, 0):
            dirs[i].mkdir(parents=True)
        for i in (1, 0):
            yield i, _fake_unit(corpus, units[i], dirs[i])

    monkeypatch.setattr(corpus_mod, "_export_all", backwards)
    folder, failed = corpus_mod.builtin_folder("folk", tmp_path, 1, lambda line: None)
    files = {p.name: p.read_text() for p in folder.iterdir()}
    assert files == {"dup.mid": "dup from a", "only_a.mid": "only_a from a",
                     "flaky.mid": "flaky from a", "late.mid": "late from b"}
    assert failed == [("lost", "no notes")]  # the first unit's reason
    assert not folder.with_name(folder.name + ".staging").exists()


def test_settle_export_takes_a_later_units_song_where_the_first_failed(tmp_path):
    dirs = [tmp_path / "u0", tmp_path / "u1"]
    for d in dirs:
        d.mkdir()
    (dirs[1] / "x.mid").write_text("x from 1")
    failed = corpus_mod.settle_export([[("x", "no notes")], [("x", None)]], dirs, tmp_path / "out")
    assert failed == {}
    assert (tmp_path / "out" / "x.mid").read_text() == "x from 1"


def test_a_stated_key_is_used_where_the_notes_disagree(signed):
    """The folk corpus names each tune's key (its ABC K: line): prepare uses it as it
    is; a folder's MIDI key signature, and a chorale's (a signature with a mode label),
    must agree with the notes."""
    data = (signed / "c_disagrees.mid").read_bytes()  # G major stated, D major notes
    config = CodecConfig()
    _, _, meta, source = corpus_mod.parse_bytes(data, config, ())
    assert (meta.key, source) == ((2, "major"), "estimate")
    _, _, meta, source = corpus_mod.parse_bytes(data, config, (), stated_keys=True)
    assert (meta.key, source) == ((7, "major"), "file")
    none = (signed / "d_none.mid").read_bytes()  # no key stated: the estimate still
    assert corpus_mod.parse_bytes(none, config, (), stated_keys=True)[2:] == \
        corpus_mod.parse_bytes(none, config, ())[2:]


@pytest.mark.parametrize("corpus, key", [("folk", (7, "major")), ("chorales", (2, "major"))])
def test_prepare_takes_the_folk_corpus_s_keys_as_stated_and_checks_the_chorales(
        signed, tmp_path, monkeypatch, corpus, key):
    # The built-in export stood in for by the signed folder: c_disagrees states G major
    # on D major notes.
    monkeypatch.setattr(corpus_mod, "builtin_folder", lambda *a: (signed, []))
    config = DataConfig(corpus=corpus, cache_dir=tmp_path / "cache", jobs=1)
    songs = {s.name: s for s in corpus_mod.prepare(config, V2, log=lambda line: None).songs}
    assert songs["c_disagrees.mid"].meta.key == key
    assert songs["a_file_key.mid"].meta.key == (2, "major")  # agrees: the file's either way


def _tune(bars, repeat_from=None):
    """A 4/4 song (4 steps a beat) whose bar i holds pitches ``bars[i]``, a quarter each."""
    notes = [[16 * i + 4 * j, 4, p] for i, bar in enumerate(bars) for j, p in enumerate(bar)]
    meta = corpus_mod.Meta((0, "major"), (4, 4), tuple((16 * i, (4, 4)) for i in range(len(bars))))
    return Song("t", np.array(notes, dtype=np.int32), meta)


AABB = [[60 + i, 62, 64, 65] for i in range(4)] * 2 + [[67, 65 + i, 64, 62] for i in range(4)] * 2


def test_one_pass_cuts_a_file_that_plays_its_tune_again_and_keeps_the_rest():
    whole = _tune(AABB)  # A A B B, each part 4 bars: its own repeats stay
    assert corpus_mod.first_pass(whole) is whole
    twice = _tune(AABB + AABB[:-1] + [[60, 60, 60, 60]])  # played again, its last bar new
    cut = corpus_mod.first_pass(twice)
    assert len(cut.meta.bars) == 16 and cut.notes.tolist() == whole.notes.tolist()
    thrice = corpus_mod.first_pass(_tune(AABB * 3 + AABB[:5]))  # and a part of a fourth
    assert thrice.notes.tolist() == whole.notes.tolist()
    held = _tune(AABB * 2)
    held.notes[63, 1] = 40  # the first pass's last note held into the second
    assert corpus_mod.first_pass(held).notes[:, 1].max() == 4  # cut at the bar line
    assert corpus_mod.first_pass(_tune(AABB[:4] + AABB[8:])).meta.bars == \
        _tune(AABB[:4] + AABB[8:]).meta.bars  # A B B: never a pass
    songs = [Song(n, twice.notes, twice.meta) for n in "abc"]
    parts = split_songs(Corpus("t", songs), {"train": ["a"], "validation": ["b"], "test": ["c"]},
                        one_pass=True)
    assert [len(parts[p][0].notes) for p in ("train", "validation", "test")] == [64, 64, 128]
    assert len(split_songs(Corpus("t", songs), {"train": ["a"], "validation": ["b"]})
               ["train"][0].notes) == 128
