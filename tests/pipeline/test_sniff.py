import pytest

from core.errors import ErrorCode, HamsuError
from pipeline.sniff import sniff_channel


@pytest.mark.parametrize(
    ("head", "name", "channel"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "x.bin", "call"),
        (b"OggS\x00\x02", "voice.ogg", "call"),
        (b"\x00\x00\x00\x20ftypM4A ", "call.m4a", "call"),
        (b"From: a@b.c\nTo: d@e.f\nSubject: hi\n\nbody", "mail", "email"),
        (b'{"channel": "chat", "messages": []}', "chat", "chat"),
        ("کارشناس: سلام\nمشتری: سلام".encode(), "chat.txt", "chat"),
    ],
)
def test_channels(head, name, channel):
    assert sniff_channel(head, name) == channel


def test_pdf_named_wav_says_what_it_is():
    with pytest.raises(HamsuError) as err:
        sniff_channel(b"%PDF-1.7\n...", "call.wav")
    assert err.value.code is ErrorCode.UNSUPPORTED_FORMAT
    assert "PDF" in err.value.message and ".wav" in err.value.message


def test_empty_and_binary_junk():
    with pytest.raises(HamsuError) as err:
        sniff_channel(b"", "x.wav")
    assert err.value.code is ErrorCode.EMPTY_FILE
    with pytest.raises(HamsuError) as err:
        sniff_channel(bytes(range(256)), "blob")
    assert err.value.code is ErrorCode.UNSUPPORTED_FORMAT
