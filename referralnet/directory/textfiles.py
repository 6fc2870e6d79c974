"""Reading the files people export from spreadsheets and old systems, without crashing and without
guessing silently.

- Character encodings: UTF-8 (with or without a byte-order mark) is read as is; anything else is
  detected with charset-normalizer and the summary says which encoding was used, or the file is
  refused with a message naming it and the problem. `--encoding` overrides the detection.
  A CSV with classic Mac line endings (CR only) that is not UTF-8 is Mac Roman: that is what
  Excel for Mac's "CSV (Macintosh)" writes, and no statistical detector tells it apart reliably.
- CSV rows: a row with fewer or more values than its header is an error naming file and row
  (the usual cause: a comma or a line break in a value that lost its quotes).
- Text values: line breaks inside a value become "\\n" whatever the file's line endings, and text
  that was mis-decoded before it reached us ("WomanÃ¢â‚¬â„¢s", "cafÃ©") is repaired with ftfy,
  restricted to its encoding repairs: quotes, ligatures, widths and Unicode forms of correct text
  are left exactly as they are.
"""
from __future__ import annotations

import codecs
import csv
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import charset_normalizer
import ftfy
from ftfy.badness import is_bad

SAMPLE_BYTES = 4 << 20  # what charset-normalizer looks at: plenty for any directory export
CHUNK = 1 << 20
CP1252_MARGIN = 0.05  # how much less clean (charset-normalizer's "chaos", 0..1) cp1252 may read and still win
# Only ftfy's mojibake repairs. Its other fixes (curly quotes to straight, full-width letters,
# ligatures, NFC, HTML entities, line breaks) would change text that is correct as it is.
REPAIR = ftfy.TextFixerConfig(
    unescape_html=False, remove_terminal_escapes=False, fix_encoding=True, restore_byte_a0=True,
    replace_lossy_sequences=True, decode_inconsistent_utf8=True, fix_c1_controls=True,
    fix_latin_ligatures=False, fix_character_width=False, uncurl_quotes=False, fix_line_breaks=False,
    fix_surrogates=True, remove_control_chars=False, normalization=None, explain=False,
)
_C1_OR_SURROGATE = re.compile("[\x80-\x9f\ud800-\udfff]")
# A spreadsheet's values can be long; the csv module's default limit (128 KiB) is too tight for some exports.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class UnreadableFile(ValueError):
    """The file cannot be read as text; the message names the file and says why and what to do."""


@dataclass(frozen=True)
class Decoding:
    encoding: str  # a Python codec name
    note: str | None = None  # for the import summary when the file was not plain UTF-8


def normalize_line_breaks(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def repair_text(text: str) -> str:
    """Undo mis-decoding (mojibake); correct text, accents included, comes back unchanged."""
    # Fast paths (fix_text costs about 0.1 ms a value): mojibake always has non-ASCII characters,
    # and ftfy's own detector of mis-decoded text (is_bad) or C1 controls / lone surrogates.
    if text.isascii() or not (is_bad(text) or _C1_OR_SURROGATE.search(text)):
        return text
    return ftfy.fix_text(text, REPAIR)


def choose_encoding(path: Path, override: str | None = None) -> Decoding:
    """How to decode `path`. Raises UnreadableFile when the encoding is unknown or undetectable."""
    name = path.name
    if override:
        try:
            codec = codecs.lookup(override).name
        except LookupError:
            raise UnreadableFile(f"{name}: --encoding {override!r} is not a character encoding "
                                 f"(try utf-8, cp1252, latin-1 or mac_roman)") from None
        return Decoding("utf-8-sig" if codec == "utf-8" else codec,
                        f"{name}: read as {codec} (--encoding)")
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return Decoding("utf-8-sig") if _is_utf8(path) is None else _undetectable(path, head, "UTF-8 with errors")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Decoding("utf-16", f"{name}: read as UTF-16 (byte-order mark)")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(f"{name}: this is a spreadsheet workbook (.xlsx/.xls) or a zip file, not CSV text; "
                             f"save it from the spreadsheet as \"CSV UTF-8\" and import that")
    if b"\x00" in head:
        raise UnreadableFile(f"{name}: contains NUL bytes, so it is not CSV text (a binary file, or UTF-16 "
                             f"without a byte-order mark); save it as \"CSV UTF-8\", or give --encoding")
    bad = _is_utf8(path)
    if bad is None:
        return Decoding("utf-8-sig")
    if b"\r" in head and b"\n" not in head:
        return Decoding("mac_roman", f"{name}: not UTF-8 ({bad}); read as mac_roman, the encoding of CSV files "
                                     f"with classic Mac line endings (use --encoding to choose another)")
    matches = charset_normalizer.from_bytes(head)
    best = matches.best()
    if best is None or best.encoding.startswith("utf"):
        return _undetectable(path, head, bad)
    # Mostly-English text with a few accents fits several Western code pages about equally well
    # ("Año" is "Ańo" in cp1250). Directory exports that are not UTF-8 come from Windows Excel:
    # prefer cp1252 whenever it reads the file about as cleanly as the detector's first choice.
    if best.encoding != "cp1252":
        windows = charset_normalizer.from_bytes(head, cp_isolation=["cp1252"]).best()
        if windows is not None and windows.chaos <= best.chaos + CP1252_MARGIN:
            best = windows
    language = f", {best.language}" if best.language and best.language != "Unknown" else ""
    return Decoding(best.encoding, f"{name}: not UTF-8 ({bad}); read as {best.encoding} (detected{language}; "
                                   f"if letters look wrong, import again with --encoding)")


def _undetectable(path: Path, head: bytes, bad: str) -> Decoding:
    raise UnreadableFile(f"{path.name}: not UTF-8 ({bad}) and its character encoding cannot be detected; "
                         f"save it as \"CSV UTF-8\", or give the encoding with --encoding (e.g. cp1252)")


def _is_utf8(path: Path) -> str | None:
    """None if the whole file is valid UTF-8, else where it stops being so ("byte 0xF1 on line 3")."""
    return first_undecodable(path, "utf-8")


def first_undecodable(path: Path, encoding: str) -> str | None:
    """None if the whole file decodes in `encoding`, else where it fails ("byte 0xF1 on line 3")."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            newline = b"\r" if b"\r" in chunk and b"\n" not in chunk else b"\n"  # classic Mac files: CR only
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                start = max(0, exc.start - len(decoder.getstate()[0]))
                line += chunk[:start].count(newline)
                return f"byte 0x{chunk[min(start, len(chunk) - 1)]:02X} on line {line}"
            line += chunk.count(newline)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "it ends in the middle of a character"
    return None


def _cannot_decode(path: Path, decoding: Decoding) -> UnreadableFile:
    where = first_undecodable(path, decoding.encoding) or "a byte"
    shown = decoding.encoding.replace("utf-8-sig", "utf-8")
    return UnreadableFile(f"{path.name}: {where} cannot be read as {shown}; give the file's encoding with "
                          f"--encoding, or save it as \"CSV UTF-8\"")


def read_header(path: Path, decoding: Decoding) -> list[str]:
    """The first row of a CSV file, for telling layouts apart ([] when it is not CSV). Raises
    UnreadableFile when the file is not in the encoding chosen for it."""
    try:
        with path.open(newline="", encoding=decoding.encoding) as fh:
            return [h.strip() for h in next(csv.reader(fh), [])]
    except UnicodeDecodeError:
        raise _cannot_decode(path, decoding) from None
    except (OSError, csv.Error):
        return []


def csv_records(path: Path, decoding: Decoding, errors: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, values by column) for each data row; the header is row 1.

    A row with fewer or more values than the header, a byte that is not in the file's encoding
    and a malformed row are appended to `errors` with file and row; reading goes on where it can.
    """
    name = path.name
    row = 1
    try:
        with path.open(newline="", encoding=decoding.encoding) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return
            header = [h.strip() for h in header]
            for row, values in enumerate(reader, start=2):
                if not values or values == [""] * len(values) and len(values) <= 1:
                    continue  # a blank line
                if len(values) != len(header):
                    errors.append(f"{name} row {row}: {len(values)} values for the header's {len(header)} columns "
                                  f"({'fewer' if len(values) < len(header) else 'more'} than the header); "
                                  f"a value with a comma or a line break may have lost its quotes")
                    continue
                yield row, dict(zip(header, values))
    except UnicodeDecodeError:
        errors.append(str(_cannot_decode(path, decoding)))
    except csv.Error as exc:
        errors.append(f"{name} row {row + 1}: not valid CSV ({exc})")
