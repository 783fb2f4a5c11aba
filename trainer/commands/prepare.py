"""``python -m trainer prepare``: read a corpus, report it, fill the cache."""

from trainer.config import CodecConfig, DataConfig
from trainer.music.codec import Codec
from trainer.music.corpus import prepare


def command(given: dict) -> int:
    data = DataConfig(**given[DataConfig])
    codec = Codec(CodecConfig(**given[CodecConfig]))
    corpus = prepare(data, codec)
    print(corpus.summary(codec))
    return 0
