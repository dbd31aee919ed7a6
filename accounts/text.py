"""User-provided text that must not spoof: bidirectional controls stripped at input
(titles, band names, mail subjects), and usernames compared by what they look like."""

import unicodedata

from confusable_homoglyphs.confusables import confusables_data

# Embeddings and overrides (U+202A-U+202E), isolates (U+2066-U+2069), the left-to-right and
# right-to-left marks (U+200E, U+200F) and the Arabic letter mark (U+061C): each can make
# "gnp.exe" show as "exe.png". Templates isolate names too (<bdi>, dir="auto").
BIDI_CONTROLS = frozenset(
    [*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A)), *"\u200e\u200f\u061c"]
)
_STRIP_BIDI = {ord(c): None for c in BIDI_CONTROLS}


def strip_bidi(text: str) -> str:
    """``text`` without bidirectional control characters."""
    return text.translate(_STRIP_BIDI)


def _look_alike(char: str) -> str:
    """The ASCII character(s) ``char`` is confusable with (Unicode's confusables.txt, as
    confusable_homoglyphs ships it), or ``char`` itself."""
    if char.isascii():
        return char
    ascii_forms = sorted(h["c"] for h in confusables_data.get(char, ()) if h["c"].isascii())
    return ascii_forms[0] if ascii_forms else char


# Plain ASCII that passes for other ASCII once case is folded (confusables.txt: "1" → "l",
# "0" → "O", "m" → "rn"). The capital I ("I" → "l") folds to "i": `username_skeletons`.
_ASCII_LOOK_ALIKES = str.maketrans({"1": "l", "0": "o"})


def username_skeleton(username: str) -> str:
    """What a username looks like, in the spirit of Unicode TR39's skeleton: NFKC, case
    folded, accents dropped, each letter replaced by the ASCII letter it can pass for.
    "ádmin", "Admin", "\u0430dmin" (a Cyrillic a) and "adrnin" all give "admin"."""
    folded = unicodedata.normalize("NFKC", username).casefold()
    bare = "".join(c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c))
    looks = "".join(_look_alike(c) for c in unicodedata.normalize("NFC", bare)).casefold()
    return looks.translate(_ASCII_LOOK_ALIKES).replace("rn", "m")


def username_skeletons(username: str) -> set[str]:
    """The skeletons a username may pass for: its own, and the one with each capital I read
    as an l ("aIice" beside "alice"; "ALICE" still folds to "alice"). Two usernames look
    alike when their sets meet."""
    normal = unicodedata.normalize("NFKC", username)
    return {username_skeleton(normal), username_skeleton(normal.replace("I", "l"))}
