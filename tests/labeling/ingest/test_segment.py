from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeling.ingest.segment import normalize_text, segment_text, split_paragraphs
from tests.conftest import shared_path

# Boundaries of ../shared/data/seed/fr_news_article.txt, written by hand: the start of each sentence.
SEED_STARTS = [
    "Depuis bientôt dix jours, les généraux du Pentagone",
    "Ils disent vouloir \"couper\"",
    "Leur modus operandi consiste",
    "Depuis la base US à Al-Tanf,",
    "Y a-t-il un risque de remake de l'invasion daechiste de 2014?",
    "Rien n'est moins sûr.",
    "En 2014, le régime américain",
    "Cette fois, Daech n'aura pas cette chance.",
    "Les Unités de mobilisation populaire",
    "En effet, depuis que les Kurdes",
    "Dans la foulée, les Hachd al-Chaabi",
    "Le mercredi 31 octobre, les Forces démocratiques syriennes (FDS)",
    "Les daechistes sont à présent sur les territoires syriens",
    "Depuis que les Américains ont lâché les Kurdes",
    "Samedi, 3 novembre, les forces de l’armée irakienne",
    "Elles ont dressé des fils barbelés",
    "À part des patrouilles",
    "Les hélicoptères survolent régulièrement",
    "Une dernière information fait état du déploiement de quelques 20.000 combattants des Hachd dans la région.",
    "Mohammed Mohi, le porte-parole",
    "C’est une réaction à la franche victoire",
]


def sentences(text: str, lang: str) -> list[str]:
    text = normalize_text(text)
    return [text[a:b] for a, b in segment_text(text, lang)]


def test_seed_article_matches_hand_written_boundaries() -> None:
    text = shared_path("seed", "fr_news_article.txt").read_text(encoding="utf-8")
    got = sentences(text, "fr")
    assert len(got) == len(SEED_STARTS) == 21
    for sentence, start in zip(got, SEED_STARTS):
        assert sentence.startswith(start), (sentence[:80], start)
    assert got[4] == "Y a-t-il un risque de remake de l'invasion daechiste de 2014?"
    assert got[5] == "Rien n'est moins sûr."
    assert got[11].endswith("la Turquie et Daech agissant visiblement de concert.")
    assert "a affirmé Qassem al-Mohammadi" in got[12]


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        # French guillemets, ?/! inside quotes, abbreviations
        ("fr", "M. Dupont a déclaré : « Nous ne céderons pas ! Jamais. » Puis il est parti.",
         ["M. Dupont a déclaré : « Nous ne céderons pas ! Jamais. »", "Puis il est parti."]),
        ("fr", "Mme Durand et le Dr Martin sont arrivés. Mme. Petit aussi.",
         ["Mme Durand et le Dr Martin sont arrivés.", "Mme. Petit aussi."]),
        ("fr", "« Pourquoi ? » a-t-il demandé. Personne n’a répondu.",
         ["« Pourquoi ? » a-t-il demandé.", "Personne n’a répondu."]),
        # a quotation spanning two sentences stays one unit with its attribution
        ("fr", "Il a dit : « C'est fini. Nous partons demain. » Le ministre a confirmé.",
         ["Il a dit : « C'est fini. Nous partons demain. »", "Le ministre a confirmé."]),
        # numbers with . and , inside
        ("fr", "Quelque 20.000 combattants, soit 5,8 % de plus. Les chiffres sont publics.",
         ["Quelque 20.000 combattants, soit 5,8 % de plus.", "Les chiffres sont publics."]),
        ("fr", "Le budget a été réduit etc. et personne ne l'a vu. Fin.",
         ["Le budget a été réduit etc. et personne ne l'a vu.", "Fin."]),
        # ellipses
        ("fr", "On ne peut que s’étonner de la lenteur de l’État… Une enquête sera ouverte.",
         ["On ne peut que s’étonner de la lenteur de l’État…", "Une enquête sera ouverte."]),
        ("fr", "« On n’a rien pu sauver… Ni les meubles, ni les photos. » Fin.",
         ["« On n’a rien pu sauver… Ni les meubles, ni les photos. »", "Fin."]),
        ("en", "The U.S. Army said so. Gen. Smith disagreed... He left.",
         ["The U.S. Army said so.", "Gen. Smith disagreed...", "He left."]),
        ("en", "Mr. Smith said “it is over. We leave tomorrow.” Nobody believed him. Ms. Kay agreed.",
         ["Mr. Smith said “it is over. We leave tomorrow.”", "Nobody believed him.", "Ms. Kay agreed."]),
        ("en", "\"Why now?\" she asked. Dr. Lee did not know.",
         ["\"Why now?\" she asked.", "Dr. Lee did not know."]),
        # paragraph breaks are never crossed, hard-wrapped lines are joined
        ("en", "The minister resigned\nNew elections follow", ["The minister resigned", "New elections follow"]),
        ("en", "The minister said that\nhe would resign. Then he left.",
         ["The minister said that\nhe would resign.", "Then he left."]),
        ("fr", "Premier paragraphe sans point final\n\nDeuxième paragraphe.",
         ["Premier paragraphe sans point final", "Deuxième paragraphe."]),
    ],
)
def test_edge_cases(lang: str, text: str, expected: list[str]) -> None:
    assert sentences(text, lang) == expected


def test_normalize_keeps_characters_and_unifies_line_endings() -> None:
    raw = "\ufeffCafe\u0301 «\u00a0oui\u00a0»\r\nsuite\rfin\u2028"
    assert normalize_text(raw) == "Café «\u00a0oui\u00a0»\nsuite\nfin"


_text = st.text(
    alphabet=st.sampled_from(list("abcdeé ABC.?!…«»“”\"',;:-\n 0123456789M\u00a0")), max_size=300
)


@settings(max_examples=300, deadline=None)
@given(text=_text, lang=st.sampled_from(["fr", "en", "de"]))
def test_offsets_always_reconstruct_the_text(text: str, lang: str) -> None:
    text = normalize_text(text)
    spans = segment_text(text, lang)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip() and piece
        previous_end = end
    # nothing but whitespace is left out
    covered = set()
    for start, end in spans:
        covered.update(range(start, end))
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)
    # no sentence crosses a paragraph
    paragraphs = split_paragraphs(text)
    for start, end in spans:
        assert any(p_start <= start and end <= p_end for p_start, p_end in paragraphs)


def test_a_no_break_space_that_crashes_sentencex_is_segmented_all_the_same() -> None:
    text = ";d C\u00a0.” Puis la suite arrive ici."  # sentencex 1.0.32 panics on this in French
    spans = segment_text(text, "fr")
    assert spans and "".join(text[a:b] for a, b in spans).replace(" ", "") == text.replace(" ", "")
