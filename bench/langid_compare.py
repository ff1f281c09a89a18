"""Compare language-ID libraries for the filter stage: accuracy, milliseconds per document, memory.

Candidates: py3langid (all 97 languages), langdetect (seeded), lingua-language-detector restricted to 16 common
languages (low-accuracy mode and, with --lingua-high, high-accuracy mode). Test set: short paragraphs written for
this benchmark in English, French, German, Spanish, Italian, Portuguese, Dutch and Russian (Cyrillic), plus
English paragraphs cut from ../shared/data/tinyshakespeare.txt (beside the checkout) when that file exists (or
--shakespeare PATH).
Every paragraph is scored twice: whole, and as a short snippet (its first ~60 characters) to show how each
library copes with little text. Each library runs in its own subprocess so its memory figure (peak RSS growth
over a bare interpreter, model loading included) is not mixed with the others'. Libraries that are not installed
are reported as missing.

**Usage:**
    .venv/bin/python bench/langid_compare.py
    .venv/bin/python bench/langid_compare.py --lingua-high --shakespeare-docs 300
"""

import sys
from pathlib import Path

import argparse
import json
import resource
import subprocess
import time

from bench.conditions import format_conditions, measure_conditions

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
SNIPPET_CHARS = 60
LINGUA_LANGS = ["ENGLISH", "FRENCH", "GERMAN", "SPANISH", "ITALIAN", "PORTUGUESE", "DUTCH", "RUSSIAN", "POLISH",
                "SWEDISH", "DANISH", "TURKISH", "CHINESE", "JAPANESE", "ARABIC", "UKRAINIAN"]
LINGUA_ISO = {"ENGLISH": "en", "FRENCH": "fr", "GERMAN": "de", "SPANISH": "es", "ITALIAN": "it",
              "PORTUGUESE": "pt", "DUTCH": "nl", "RUSSIAN": "ru", "POLISH": "pl", "SWEDISH": "sv", "DANISH": "da",
              "TURKISH": "tr", "CHINESE": "zh", "JAPANESE": "ja", "ARABIC": "ar", "UKRAINIAN": "uk"}

# Written for this benchmark (simple everyday prose, a story-like register).
SAMPLES = {
    "en": [
        "The lighthouse keeper climbed the stairs every evening, counting the steps out loud so the silence would "
        "not feel so heavy. At the top he wiped the glass, lit the lamp and watched the boats come home.",
        "Maya found the letter under a loose floorboard in her grandmother's kitchen. The ink had faded, but she "
        "could still read the first line: do not open the blue door until the rain stops.",
        "Nobody in the village believed the old baker when he said the river had started to sing at night, so he "
        "took a lantern and a chair and waited by the water until the mayor came to listen too.",
        "It was the kind of winter morning when the frost draws ferns on the windows and the kettle takes forever. "
        "Sam pulled on two pairs of socks and went out to feed the hens before school.",
        "The robot had been built to sort apples, yet it spent its breaks staring at the clouds. One afternoon it "
        "asked the farmer whether clouds were sorted too, and if so, by whom.",
    ],
    "fr": [
        "Le gardien du phare montait l'escalier chaque soir en comptant les marches à voix haute pour que le "
        "silence paraisse moins lourd. En haut, il essuyait la vitre et allumait la lampe.",
        "Maya trouva la lettre sous une latte du plancher, dans la cuisine de sa grand-mère. L'encre avait pâli, "
        "mais elle pouvait encore lire la première ligne : n'ouvre pas la porte bleue avant la fin de la pluie.",
        "Personne au village ne croyait le vieux boulanger quand il disait que la rivière chantait la nuit. Il prit "
        "donc une lanterne et une chaise, et attendit au bord de l'eau jusqu'à ce que le maire vienne écouter.",
        "C'était un de ces matins d'hiver où le givre dessine des fougères sur les fenêtres et où la bouilloire "
        "met une éternité à chauffer. Sam enfila deux paires de chaussettes et sortit nourrir les poules.",
        "Le robot avait été construit pour trier les pommes, mais il passait ses pauses à regarder les nuages. Un "
        "après-midi, il demanda au fermier si quelqu'un triait aussi les nuages.",
    ],
    "de": [
        "Der Leuchtturmwärter stieg jeden Abend die Treppe hinauf und zählte die Stufen laut, damit die Stille "
        "nicht so schwer wirkte. Oben putzte er das Glas, zündete die Lampe an und sah den Booten nach.",
        "Maya fand den Brief unter einem losen Dielenbrett in der Küche ihrer Großmutter. Die Tinte war verblasst, "
        "aber die erste Zeile konnte sie noch lesen: Öffne die blaue Tür erst, wenn der Regen aufhört.",
        "Niemand im Dorf glaubte dem alten Bäcker, als er sagte, der Fluss singe nachts. Also nahm er eine Laterne "
        "und einen Stuhl und wartete am Wasser, bis auch der Bürgermeister zum Zuhören kam.",
        "Es war einer dieser Wintermorgen, an denen der Frost Farne an die Fenster malt und der Wasserkessel ewig "
        "braucht. Sam zog zwei Paar Socken an und ging vor der Schule hinaus, um die Hühner zu füttern.",
        "Der Roboter war gebaut worden, um Äpfel zu sortieren, doch in seinen Pausen starrte er in die Wolken. "
        "Eines Nachmittags fragte er den Bauern, ob auch die Wolken von jemandem sortiert würden.",
    ],
    "es": [
        "El farero subía la escalera cada tarde contando los peldaños en voz alta para que el silencio no pesara "
        "tanto. Arriba limpiaba el cristal, encendía la lámpara y miraba volver los barcos.",
        "Maya encontró la carta debajo de una tabla suelta en la cocina de su abuela. La tinta se había borrado, "
        "pero todavía podía leer la primera línea: no abras la puerta azul hasta que deje de llover.",
        "Nadie en el pueblo creía al viejo panadero cuando decía que el río cantaba por la noche, así que tomó un "
        "farol y una silla y esperó junto al agua hasta que el alcalde también vino a escuchar.",
        "Era una de esas mañanas de invierno en que la escarcha dibuja helechos en las ventanas y la tetera tarda "
        "una eternidad. Sam se puso dos pares de calcetines y salió a dar de comer a las gallinas.",
        "El robot había sido construido para clasificar manzanas, pero pasaba los descansos mirando las nubes. "
        "Una tarde le preguntó al granjero si alguien clasificaba también las nubes.",
    ],
    "it": [
        "Il guardiano del faro saliva le scale ogni sera contando i gradini ad alta voce, perché il silenzio "
        "sembrasse meno pesante. In cima puliva il vetro, accendeva la lampada e guardava tornare le barche.",
        "Maya trovò la lettera sotto un'asse del pavimento nella cucina della nonna. L'inchiostro era sbiadito, ma "
        "riusciva ancora a leggere la prima riga: non aprire la porta blu finché non smette di piovere.",
        "Nessuno in paese credeva al vecchio fornaio quando diceva che di notte il fiume cantava, così prese una "
        "lanterna e una sedia e aspettò vicino all'acqua finché anche il sindaco venne ad ascoltare.",
        "Era una di quelle mattine d'inverno in cui la brina disegna felci sui vetri e il bollitore non si decide "
        "mai. Sam si infilò due paia di calzini e uscì a dare da mangiare alle galline.",
        "Il robot era stato costruito per smistare le mele, eppure passava le pause a fissare le nuvole. Un "
        "pomeriggio chiese al contadino se anche le nuvole venivano smistate da qualcuno.",
    ],
    "pt": [
        "O faroleiro subia a escada todas as noites contando os degraus em voz alta, para que o silêncio não "
        "pesasse tanto. Lá em cima limpava o vidro, acendia a lâmpada e via os barcos voltarem.",
        "A Maya encontrou a carta debaixo de uma tábua solta na cozinha da avó. A tinta tinha desbotado, mas ainda "
        "conseguia ler a primeira linha: não abras a porta azul antes de a chuva parar.",
        "Ninguém na aldeia acreditava no velho padeiro quando ele dizia que o rio cantava à noite, por isso levou "
        "uma lanterna e uma cadeira e esperou junto à água até o presidente da câmara vir ouvir também.",
        "Era uma daquelas manhãs de inverno em que a geada desenha fetos nas janelas e a chaleira demora uma "
        "eternidade. O Sam calçou dois pares de meias e saiu para dar de comer às galinhas.",
        "O robô tinha sido construído para separar maçãs, mas passava os intervalos a olhar para as nuvens. Numa "
        "tarde perguntou ao agricultor se alguém também separava as nuvens.",
    ],
    "nl": [
        "De vuurtorenwachter klom elke avond de trap op en telde de treden hardop, zodat de stilte minder zwaar "
        "voelde. Boven poetste hij het glas, stak de lamp aan en keek hoe de boten terugkwamen.",
        "Maya vond de brief onder een losse plank in de keuken van haar oma. De inkt was verbleekt, maar de eerste "
        "regel kon ze nog lezen: doe de blauwe deur pas open als het ophoudt met regenen.",
        "Niemand in het dorp geloofde de oude bakker toen hij zei dat de rivier 's nachts zong, dus nam hij een "
        "lantaarn en een stoel mee en wachtte bij het water tot ook de burgemeester kwam luisteren.",
        "Het was zo'n winterochtend waarop de vorst varens op de ramen tekent en de waterkoker eindeloos duurt. "
        "Sam trok twee paar sokken aan en ging voor school naar buiten om de kippen te voeren.",
        "De robot was gebouwd om appels te sorteren, maar in zijn pauzes staarde hij naar de wolken. Op een middag "
        "vroeg hij de boer of iemand de wolken ook sorteerde.",
    ],
    "ru": [
        "Смотритель маяка каждый вечер поднимался по лестнице и считал ступени вслух, чтобы тишина не казалась "
        "такой тяжёлой. Наверху он протирал стекло, зажигал лампу и смотрел, как возвращаются лодки.",
        "Майя нашла письмо под расшатанной половицей на бабушкиной кухне. Чернила выцвели, но первую строчку ещё "
        "можно было прочитать: не открывай синюю дверь, пока не кончится дождь.",
        "Никто в деревне не верил старому пекарю, когда он говорил, что по ночам река поёт. Тогда он взял фонарь "
        "и стул и ждал у воды, пока послушать не пришёл и сам староста.",
        "Это было одно из тех зимних утр, когда мороз рисует на окнах папоротники, а чайник закипает целую "
        "вечность. Сэм натянул две пары носков и пошёл кормить кур перед школой.",
        "Робота построили, чтобы сортировать яблоки, но в перерывах он смотрел на облака. Однажды днём он спросил "
        "фермера, сортирует ли кто-нибудь облака.",
    ],
}


def shakespeare_paragraphs(path: Path, n: int) -> list[str]:
    """`n` English passages of 300-600 characters from the play text, evenly spread over the file."""
    if not path.is_file() or n <= 0:
        return []
    blocks = [b.strip() for b in path.read_text(encoding="utf-8").split("\n\n") if len(b.strip()) >= 300]
    step = max(1, len(blocks) // n)
    return [b[:600] for b in blocks[::step][:n]]


def test_set(args) -> list[tuple[str, str, str]]:
    """(expected language, kind, text) triples: whole paragraphs and short snippets."""
    docs = [(lang, "para", t) for lang, texts in SAMPLES.items() for t in texts]
    docs += [("en", "shakespeare", t) for t in shakespeare_paragraphs(Path(args.shakespeare), args.shakespeare_docs)]
    snippets = [(lang, "snippet", t[:SNIPPET_CHARS].rsplit(" ", 1)[0]) for lang, kind, t in docs if kind == "para"]
    return docs + snippets


def rss_mb() -> float:
    """Current resident set size of this process in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def make_detector(name: str):
    """A function text -> ISO 639-1 code for one library (imports it here so its memory is measured)."""
    if name == "py3langid":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return lambda t: ident.classify(t)[0]
    if name == "langdetect":
        from langdetect import DetectorFactory, detect
        DetectorFactory.seed = 0
        detect("warm up the profiles")

        def run(t):
            try:
                return detect(t)
            except Exception:
                return "und"
        return run
    if name.startswith("lingua"):
        from lingua import Language, LanguageDetectorBuilder
        builder = LanguageDetectorBuilder.from_languages(*[getattr(Language, n) for n in LINGUA_LANGS])
        if name == "lingua-low":
            builder = builder.with_low_accuracy_mode()
        det = builder.build()

        def run(t):
            lang = det.detect_language_of(t)
            return LINGUA_ISO.get(lang.name, lang.name.lower()) if lang else "und"
        return run
    raise ValueError(name)


def measure(name: str, args) -> dict:
    """Accuracy (all, paragraphs, snippets), ms/doc and memory of one library (run in a child process)."""
    docs = test_set(args)
    base = rss_mb()
    t0 = time.perf_counter()
    try:
        detect = make_detector(name)
    except ImportError:
        return {"name": name, "missing": True}
    load_s = time.perf_counter() - t0
    detect(docs[0][2])  # first call may build caches
    results = []
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        results = [(lang, kind, detect(text)) for lang, kind, text in docs]
    ms = (time.perf_counter() - t0) * 1000 / (len(docs) * args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000  # kB -> MB on Linux

    def acc(sel):
        hits = [got == want for want, kind, got in results if sel(kind)]
        return sum(hits) / len(hits) if hits else float("nan")
    wrong = sorted({f"{want}->{got}" for want, kind, got in results if got != want})
    return {"name": name, "n": len(docs), "acc_all": acc(lambda k: True), "acc_para": acc(lambda k: k == "para"),
            "acc_shakespeare": acc(lambda k: k == "shakespeare"), "acc_snippet": acc(lambda k: k == "snippet"),
            "ms_per_doc": ms, "load_s": load_s, "mem_mb": peak - base, "errors": wrong[:8]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shakespeare", default=str(SHAKESPEARE), help="English text to cut paragraphs from")
    parser.add_argument("--shakespeare-docs", type=int, default=200, help="how many English passages to add")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the test set for the timing")
    parser.add_argument("--lingua-high", action="store_true", help="also run lingua in high-accuracy mode")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child-process mode: measure one library, print JSON
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args)))
        return 0
    print(format_conditions(measure_conditions(threads=1, note="each library in its own single-threaded process")))
    names = ["py3langid", "langdetect", "lingua-low"] + (["lingua-high"] if args.lingua_high else [])
    rows = []
    for name in names:
        cmd = [sys.executable, __file__, "--one", name, "--shakespeare", args.shakespeare,
               "--shakespeare-docs", str(args.shakespeare_docs), "--repeat", str(args.repeat)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    n = next((r["n"] for r in rows if "n" in r), 0)
    print(f"language ID on {n} texts (8 languages x 5 paragraphs, their {SNIPPET_CHARS}-char snippets, "
          f"Shakespeare passages)")
    print(f"{'library':<12} {'all':>6} {'para':>6} {'shakesp':>8} {'snippet':>8} {'ms/doc':>8} {'load s':>7} "
          f"{'mem MB':>7}  errors")
    for r in rows:
        if r.get("missing"):
            print(f"{r['name']:<12} not installed")
            continue
        print(f"{r['name']:<12} {r['acc_all']:>6.1%} {r['acc_para']:>6.1%} {r['acc_shakespeare']:>8.1%} "
              f"{r['acc_snippet']:>8.1%} {r['ms_per_doc']:>8.3f} {r['load_s']:>7.2f} {r['mem_mb']:>7.1f}  "
              f"{', '.join(r['errors'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
