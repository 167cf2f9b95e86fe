"""userName preparation and comparison: the PRECIS rules RFC 7644 §5 requires.

RFC 7644 §5 (https://www.rfc-editor.org/rfc/rfc7644#section-5): «Before comparing or evaluating the
uniqueness of a "userName" or "password" attribute, service providers MUST use the preparation,
enforcement, and comparison of internationalized strings (PRECIS) preparation and comparison rules
described in Sections 3 and 4, respectively, of [RFC7613]». The UsernameCaseMapped profile of RFC 7613 §3.2
(https://www.rfc-editor.org/rfc/rfc7613#section-3.2) maps fullwidth and halfwidth characters to their
decompositions, maps case, and normalizes to NFC; two userNames are the same when what that leaves is
identical. Case is mapped with Unicode case folding (str.casefold), as userName uniqueness always was here:
it also equates what lower-casing alone keeps apart ("ß" and "ss"), so it never admits a userName the
profile would call a duplicate.

Enforcement: the profile's IdentifierClass disallows control characters and the invisible format characters
(zero-width spaces and joiners, bidirectional overrides); a userName holding one is refused with 400
invalidValue rather than stored as a lookalike of another.
"""

from __future__ import annotations

import unicodedata

from .errors import invalid_value

DISALLOWED_CATEGORIES = {"Cc": "a control character", "Cf": "an invisible format character"}


def width_mapped(text: str) -> str:
    """Fullwidth and halfwidth characters replaced by their decomposition mappings ("Ａ" → "A", "ｶ" → "カ")."""
    out = []
    for char in text:
        decomposition = unicodedata.decomposition(char)
        if decomposition.startswith(("<wide> ", "<narrow> ")):
            out.append("".join(chr(int(code, 16)) for code in decomposition.split()[1:]))
        else:
            out.append(char)
    return "".join(out)


def username_key(user_name: str) -> str:
    """The form two userNames are compared in: width-mapped, case-folded, NFC."""
    return unicodedata.normalize("NFC", width_mapped(user_name).casefold())


def check_username(user_name: str) -> None:
    """400 invalidValue when the userName holds a control or invisible format character (Unicode Cc, Cf)."""
    for char in user_name:
        category = unicodedata.category(char)
        if category in DISALLOWED_CATEGORIES:
            raise invalid_value(f"userName must not contain {DISALLOWED_CATEGORIES[category]} "
                                f"(U+{ord(char):04X}): RFC 7613 §3.2 enforcement")
