"""Hand-written words of the demo site: its name, authors, comments, tags, and the few special pages' text.

Every sentence here was written for this project (child-safe, no scraped text). The French story exists so the
pipeline meets a page in another language; the short note so it meets a page too short to be a story; the wall
text so it meets an app-download wall. Story text itself comes from the demo story generator.
"""

SITE_NAME = "Lantern Hill Stories"
TAGLINE = "Short stories to read aloud at bedtime"

AUTHORS = (
    ("Marigold Finch", "Marigold writes about small towns, brave pets and the things children keep in their "
                       "pockets. She lives by the sea with two cats and far too many notebooks."),
    ("Tobias Reed", "Tobias used to drive a bookmobile and now writes the stories he wished he had carried. "
                    "He bakes bread on Sundays."),
    ("Hattie Lark", "Hattie has been telling bedtime stories to her nieces for ten years and finally started "
                    "writing them down."),
    ("Oswin Pell", "Oswin is a retired lighthouse keeper who collects maps, kites and good endings."),
)

COMMENTERS = ("Priya M.", "Sam the reader", "Grandpa Joe", "Lucy K.", "Teacher Anne", "Mo", "Bea R.",
              "Night-owl dad", "Clara", "Tomasz W.")

COMMENTS = (
    "My daughter asked for this one three nights in a row!",
    "Lovely story. We read it in class and everybody clapped at the end.",
    "The part with the pet made my son laugh so much.",
    "Perfect length for bedtime. Thank you for writing these.",
    "We printed this one out for our reading corner.",
    "Could you write a sequel? We want to know what happens next.",
    "I read this to my grandchildren over the phone and they loved it.",
    "Such a gentle story. Exactly what we needed after a long day.",
    "Five stars from a very sleepy seven-year-old.",
    "We looked up all the town names on a map afterwards. Great fun.",
)

TAGS = ("adventure", "friendship", "animals", "mystery", "seaside", "bedtime", "town life", "family")

ILLUSTRATION_CAPTIONS = (
    "Illustration: a winding path at dusk",
    "Illustration: two friends under a big tree",
    "Illustration: rooftops in the rain",
    "Illustration: a little boat on a calm lake",
)

COOKIE_BANNER = ("We use cookies to remember your reading list and to count visits. "
                 "Read our cookie policy to learn more.")

NEWSLETTER = "Get a new story in your inbox every Friday. No spam, ever."

ABOUT_TEXT = (
    f"{SITE_NAME} is a small collection of read-aloud stories written by a handful of friends.",
    "New stories appear every week. Every story is free to read on this website.",
)

FOOTER_NOTE = f"© 2026 {SITE_NAME}. All rights reserved."

NOSCRIPT = "You need to enable JavaScript to read this story."

# The page in another language: an original short story in French.
FOREIGN_LANG = "fr"
FOREIGN_SLUG = "la-lanterne-de-mireille"
FOREIGN_TITLE = "La lanterne de Mireille"
FOREIGN_PARAGRAPHS = (
    "Au bord du canal, dans une petite ville où les péniches passaient lentement, vivait une fillette nommée "
    "Mireille. Chaque soir, son grand-père allumait une vieille lanterne en cuivre et la posait sur le rebord "
    "de la fenêtre, pour que les bateliers retrouvent leur chemin dans le brouillard.",
    "Un matin d'automne, le grand-père toussa si fort qu'il dut rester au lit. « Qui allumera la lanterne ce "
    "soir ? » demanda-t-il d'une voix inquiète. Mireille promit qu'elle s'en chargerait, même si elle n'avait "
    "jamais touché aux allumettes toute seule.",
    "Toute la journée, elle s'entraîna à nettoyer le verre, à couper la mèche et à remplir le petit réservoir "
    "d'huile. Son chat, Pistache, la suivait partout en agitant la queue, comme s'il voulait lui donner des "
    "conseils.",
    "Quand le soleil disparut derrière les peupliers, le brouillard monta du canal, épais comme du lait. "
    "Mireille gratta une allumette, puis une deuxième, car la première s'était éteinte aussitôt. Enfin, une "
    "flamme jaune dansa derrière le verre, et la fillette poussa un soupir de soulagement.",
    "Au loin, une sirène retentit. Une péniche chargée de pommes avançait à tâtons dans la brume. Le batelier "
    "aperçut la lumière à la fenêtre, corrigea sa route et passa sous le pont sans le moindre choc. Il leva son "
    "chapeau pour saluer la maison.",
    "Le lendemain, il frappa à la porte avec un panier de pommes rouges. « C'est pour la gardienne de la "
    "lanterne », dit-il en souriant. Le grand-père, assis dans son fauteuil avec une tasse de tisane, déclara "
    "qu'il n'avait jamais été aussi fier de sa petite-fille.",
)

# The page too short to be a story (well under the filter's 300 characters).
SHORT_SLUG = "the-pebble"
SHORT_TITLE = "The Pebble"
SHORT_PARAGRAPHS = (
    "Pip found a smooth grey pebble by the pond and slipped it into her pocket. At bedtime she put it under "
    "her pillow, and she dreamed of frogs all night.",
)

# The app-download wall shown after a story's first paragraph.
WALL_HEADING = "Get the app to continue reading"
WALL_LINES = (
    "This story is only available in the Lantern Hill app. Download the app for free to read the rest of "
    "this story and hundreds more.",
    "Already have an account? Log in to continue reading.",
)
WALL_BUTTONS = ("Download on the App Store", "Get it on Google Play", "Open in app")

# Words the near-duplicate copies swap (a few per story), so they differ from the original by a few words.
NEAR_DUP_SWAPS = {
    "said": "replied", "little": "small", "looked": "peered", "asked": "wondered", "very": "really",
    "happy": "glad", "walked": "wandered", "big": "large", "old": "ancient", "smiled": "grinned",
    "ran": "hurried", "small": "tiny", "laughed": "giggled", "quickly": "swiftly",
}
NEAR_DUP_MAX_SWAPS = 6
NEAR_DUP_FALLBACK = "And that, more or less, is how it happened."
