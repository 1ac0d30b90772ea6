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


CHAT = "Agent: How can I help?\nCustomer: مبلغ را دو بار کم کردید\n"


@pytest.mark.parametrize(
    "data",
    [
        # FF FE, the UTF-16LE mark, is also an MPEG audio frame header
        ("\ufeff" + CHAT).encode("utf-16-le"),
        ("\ufeff" + CHAT).encode("utf-16-be"),
        ("\ufeff" + CHAT).encode("utf-32-le"),
        ("\ufeff" + CHAT).encode("utf-32-be"),
        CHAT.encode("utf-16-le"),
        CHAT.encode("utf-16-be"),
    ],
    ids=[
        "utf-16-le-bom",
        "utf-16-be-bom",
        "utf-32-le-bom",
        "utf-32-be-bom",
        "utf-16-le",
        "utf-16-be",
    ],
)
@pytest.mark.parametrize("name", ["chat.txt", "chat"])
def test_wide_text_is_a_chat_not_audio(data, name):
    assert sniff_channel(data, name) == "chat"


def test_utf16_bom_file_from_notepad_is_a_chat(test_data_dir):
    data = (test_data_dir / "chat" / "utf16_bom.txt").read_bytes()
    assert data.startswith(b"\xff\xfe")
    assert sniff_channel(data, "utf16_bom.txt") == "chat"


def test_wide_text_marks_do_not_hide_audio_or_junk():
    # an MPEG Layer I frame starts FF FE too; what follows is not UTF-16 text
    mpeg = b"\xff\xfe\x90\x00" + bytes(range(256)) * 16
    assert sniff_channel(mpeg, "recording") == "call"
    with pytest.raises(HamsuError) as err:
        sniff_channel(b"\x00\x01\x00\x02" * 512, "blob")
    assert err.value.code is ErrorCode.UNSUPPORTED_FORMAT
