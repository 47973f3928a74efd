"""Turning mail bytes into text whatever charset they claim.

Chinese mail is often labelled GB2312 but written in GBK (or GB18030), so every
GB label decodes as GB18030, its superset; Big5 decodes as Big5-HKSCS for the same
reason. Unknown or wrong labels fall back to UTF-8, then GB18030, then Latin-1 —
never an exception, and never a silent loss of the bytes (``errors="replace"`` only
as the very last step). Some codecs (UTF-7, UTF-16) decode into lone surrogates, which
no database can store and no page can encode: every text that leaves this module has
them replaced by U+FFFD, so such mail is imported rather than quarantined.
"""

from __future__ import annotations

import codecs
import re
from email.header import decode_header

# Labels mailers use, mapped to the codec that actually decodes what they send.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "euccn": "gb18030",
    "x-euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "cn-big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",  # mailers routinely send Windows-1252 labelled Latin-1
    "latin1": "cp1252",
    "us-ascii": "utf-8",  # 8-bit bytes in "ASCII" mail are usually UTF-8
    "ascii": "utf-8",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}

_FALLBACKS = ("utf-8", "gb18030")


def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None when it is unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _SUPERSETS.get(name, name)
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    return name


def without_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (and a valid pair joined into its character)."""
    if not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def decode_bytes(data: bytes, label: str | None) -> str:
    """Decode ``data`` from its declared charset, falling back sensibly when it lies."""
    return without_lone_surrogates(_decode_bytes(data, label))


def _decode_bytes(data: bytes, label: str | None) -> str:
    codec = codec_for(label)
    tried: list[str] = []
    for name in (codec, *_FALLBACKS):
        if name is None or name in tried:
            continue
        tried.append(name)
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    if codec is not None:
        return data.decode(codec, errors="replace")
    return data.decode("cp1252", errors="replace") if _is_cp1252_clean(data) else data.decode("utf-8", errors="replace")


def _is_cp1252_clean(data: bytes) -> bool:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


_FOLD = re.compile(r"\r?\n[ \t]")
_ENCODED_WORD = re.compile(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=")


def raw_header_bytes(value: str) -> bytes:
    """A header value as the parser stored it (8-bit bytes kept as surrogate escapes)."""
    return value.encode("ascii", "surrogateescape")


# Decoding is superlinear in the number of encoded words (a 700 kB subject took 6 s, on the
# event loop for small batches); what we keep of a header is far shorter than this anyway.
MAX_HEADER_CHARS = 10_000


def decode_header_value(raw: str) -> str:
    """Unfold and decode a raw header value: RFC 2047 words and raw 8-bit text, any charset."""
    return without_lone_surrogates(_decode_header_value(raw[:MAX_HEADER_CHARS]))


def _decode_header_value(raw: str) -> str:
    text = _FOLD.sub(" ", raw).strip()
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in text):
        text = decode_bytes(raw_header_bytes(text), None)
    if "=?" not in text or not _ENCODED_WORD.search(text):
        return text
    try:
        parts = decode_header(text)
    except Exception:  # a broken encoded word: show it as written rather than fail
        return text
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset) if charset else chunk.decode("raw-unicode-escape", errors="replace"))
        else:
            out.append(chunk)
    decoded = "".join(out).strip()
    return decoded or text  # an encoded word that decodes to nothing is shown as written
