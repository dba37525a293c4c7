"""Detect an article's language offline with lingua (models ship inside the wheel)."""

from __future__ import annotations

from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from srcrel_core.errors import ConfigError

__all__ = ["UNDETERMINED", "check_language_codes", "detect_language"]

UNDETERMINED = "und"
# The start of an article settles its language; reading all of it only costs time.
_SAMPLE_CHARS = 1000


def check_language_codes(codes: list[str] | tuple[str, ...], *, setting: str) -> None:
    for code in codes:
        if not hasattr(IsoCode639_1, code.upper()):
            raise ConfigError(f"{setting}: {code!r} is not an ISO 639-1 language code (e.g. en, fr, de)")


@lru_cache(maxsize=4)
def _detector(codes: tuple[str, ...]) -> LanguageDetector:
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in codes]
    if len(languages) == 1:
        languages.append(Language.ENGLISH if languages[0] != Language.ENGLISH else Language.FRENCH)
    return LanguageDetectorBuilder.from_languages(*languages).build()


def detect_language(text: str, *, candidates: tuple[str, ...]) -> str:
    """ISO 639-1 code of the most likely language among `candidates`, or "und"."""
    language = _detector(candidates).detect_language_of(text[:_SAMPLE_CHARS])
    return language.iso_code_639_1.name.lower() if language is not None else UNDETERMINED
