"""Seeded test text shared by the test files: pseudo-stories, foreign-language paragraphs, Shakespeare chunks."""

import random

from common.paths import SHARED_DATA_DIR

SHAKESPEARE = SHARED_DATA_DIR / "tinyshakespeare.txt"
WORDS = ("the a an old young quiet brave tired little clever girl boy fox owl baker sailor miller king queen "
         "river forest village garden lantern door window road hill boat bread song letter secret map key "
         "walked ran looked found carried opened whispered laughed waited wondered remembered followed "
         "into across under over beside behind toward through slowly softly suddenly again never always "
         "morning evening winter summer rain snow wind star moon cold warm bright dark").split()

STORY = (
    "The lighthouse keeper climbed the stairs every evening, counting the steps out loud so the silence would "
    "not feel so heavy. At the top he wiped the glass and lit the lamp.\n\n"
    "\"Do you ever get lonely?\" asked the girl who delivered his bread on Tuesdays.\n\n"
    "He thought about it for a long time. \"The boats keep me company,\" he said at last. \"Every light out "
    "there is somebody going home.\" She nodded, as if that explained everything, and ran back down the hill "
    "before the rain could catch her.\n\n* * *\n\n"
    "Years later, when the lamp was replaced by a machine that needed nobody, she came back with a basket of "
    "bread and found him still counting the steps.\n")
FRENCH = (
    "Le gardien du phare montait l'escalier chaque soir en comptant les marches à voix haute, pour que le "
    "silence paraisse moins lourd. En haut, il essuyait la vitre et allumait la lampe. La petite fille qui "
    "apportait son pain le mardi lui demanda un jour s'il se sentait seul. Il réfléchit longtemps avant de "
    "répondre que les bateaux lui tenaient compagnie.\n")
GERMAN = (
    "Der Leuchtturmwärter stieg jeden Abend die Treppe hinauf und zählte die Stufen laut, damit die Stille "
    "nicht so schwer wirkte. Oben putzte er das Glas und zündete die Lampe an. Das Mädchen, das ihm dienstags "
    "das Brot brachte, fragte ihn eines Tages, ob er sich einsam fühle. Er dachte lange nach und sagte dann, "
    "die Boote leisteten ihm Gesellschaft.\n")


def synthetic_story(rng: random.Random, sentences: int = 30) -> str:
    """Seeded pseudo-story: sentences of random words, five to a paragraph."""
    out = []
    for _ in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 14))]
        out.append(" ".join(words).capitalize() + rng.choice(".!?"))
    return "\n\n".join(" ".join(out[i:i + 5]) for i in range(0, len(out), 5)) + "\n"


def shakespeare_chunks(n: int, size: int = 3000) -> list[str]:
    if not SHAKESPEARE.is_file():
        return []
    text = SHAKESPEARE.read_text(encoding="utf-8")
    step = len(text) // n
    return [text[i * step:i * step + size] for i in range(n)]

