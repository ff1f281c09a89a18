"""Word pools of the demo story generator (scripts/demo_corpus.py): names, attributes, places, small details.

Every entry was written for this project. Pools are tuples, so their order (and with it every seeded draw) is
fixed. Two rules keep the ground-truth facts clean, and tests/test_demo_corpus.py checks them:
- fact pools (person names, pet names, pet kinds, colours, towns, object nouns) share no words with each other
  or with the filler pools, so a fact value appears in a story only where the generator put it;
- multi-word values never contain another value of the same pool as a whole word (no "blue" next to "sky blue").
Entries may hold `{slot}` references; the renderer fills them from the story's context or from `POOLS`.
"""


def _split(text: str) -> tuple[str, ...]:
    """Pool from a '|'-separated block (newlines ignored), so long pools stay compact."""
    return tuple(s.strip() for s in text.replace("\n", " ").split("|") if s.strip())


# --- Fact pools (what later memory work asks about) -----------------------------------------------------------
NAMES_SHE = _split("""Ada|Zoë|Chloé|Renée|Inés|Anaïs|Amélie|Léa|Mira|Nell|Orla|Priya|Rosa|Tilly|Una|Wren|Yasmin|
Beatrix|Cora|Dalia|Esme|Freya|Greta|Hana|Imogen|Jora|Kit|Lotte|Maud|Nadia|Olive|Pearl|Ruth|Sadie|Thea|Vera|
Winnie|Agnes|Bea|Clem|Della|Edie|Flora|Gwen|Hattie|Isla|Juno|Kezia|Lina|Marisol|Noor|Opal|Paloma|Quinn|
Rhea|Sunniva|Talia|Ulla|Wanda|Xena|Yara|Zelda|Aoife|Bronwen|Carmen|Dorothea|Elin|Fatima|Gloria""")
NAMES_HE = _split("""José|Björn|Søren|Noé|Raphaël|Joël|Tomás|André|Ben|Cal|Dev|Eli|Finn|Gus|Hugo|Ivo|Jonah|Kai|
Leo|Milo|Nico|Otto|Pavel|Rafi|Sami|Theo|Umar|Vik|Walt|Xavi|Yusuf|Zac|Alfie|Bruno|Cyrus|Dario|Emil|Felix|Gil|
Harry|Idris|Jasper|Kofi|Luca|Matteo|Ned|Oscar|Percy|Ronan|Stellan|Tobias|Ulrich|Vincent|Wilbur|Arlo|Bram|
Caspar|Diego|Ezra|Fergus|Hamish|Ivan|Jude|Lorcan|Mateo|Nils|Orson|Piet|Rufus|Silas|Teodor|Wendell""")
PRONOUNS = {"she": ("she", "her", "her", "girl"), "he": ("he", "him", "his", "boy")}  # he, him, his, kid

PET_KINDS = _split("""cat|dog|hedgehog|tortoise|rabbit|goldfish|parrot|ferret|hamster|goat|duck|pony|lizard|
mouse|owl|guinea pig|budgie|snail|frog|donkey|hen|goose|canary|terrier|spaniel|lamb|newt|gecko|pigeon|
jackdaw|chinchilla|dormouse|toad|magpie|gerbil|axolotl|cockatoo|turtle""")
PET_NAMES = _split("""Pepper|Biscuit|Marmalade|Crumpet|Noodle|Pickle|Waffle|Pudding|Sprout|Domino|Button|
Tumble|Mango|Socks|Ziggy|Pip|Fudge|Dumpling|Nutmeg|Pebble|Gizmo|Radish|Toffee|Muffin|Barnaby|Custard|
Sherbet|Hercules|Bumble|Conker|Dandelion|Figaro|Gumdrop|Jellybean|Kipper|Lulu|Mochi|Nimbus|Peanut|Quibble|
Rascal|Scamp|Truffle|Wobble|Zephyr|Bartholomew|Cinders|Doodle|Flapjack|Hobnob|Jambo|Meringue|Paprika|
Rolo|Snowdrop|Tinker|Wasabi|Bramwell|Chutney|Dusty|Fritter|Gnocchi|Humbug|Inky|Jester|Kumquat|Lentil|
Mister Puddles|Sir Wigglesworth|Professor Snuffles|Lady Fluffington|Captain Whiskers""")
COLOURS = _split("""teal|crimson|amber|lilac|ochre|saffron|indigo|turquoise|scarlet|mustard yellow|sea green|
coral|lavender|emerald|sky blue|apricot|magenta|violet|cobalt|maroon|aquamarine|vermilion|periwinkle|
tangerine|burgundy|cerulean|fuchsia|chartreuse|mauve|ultramarine|primrose|sapphire|pistachio|cinnamon""")
TOWN_HEADS = _split("""Ash|Bram|Mill|Thorn|Wil|Kings|Fern|Oak|Elder|Hazel|Marl|Pen|Stone|Wick|Brack|Cold|
Dun|Fair|Hol|Lark|Lin|Moss|Nether|Ox|Pol|Rook|Tarn|Whit|Wren|Yew|Bel|Cran|Dew|Glen|Heron|Ivy|Kes|Sorrel|Alder|Brin""")
TOWN_TAILS = _split("""brook|ford|wick|haven|ton|bury|mere|combe|field|stead|holt|ridge|well|moor|gate|dale|
worth|hithe|cross|marsh""")
# Object = optional condition word + material + noun; each noun lists the materials that suit it.
OBJECT_NOUNS = (
    ("compass", ("brass", "tin", "pewter")), ("whistle", ("tin", "wooden", "brass", "bone")),
    ("key", ("brass", "iron", "pewter")), ("thimble", ("pewter", "brass", "porcelain")),
    ("bell", ("brass", "pewter", "glass")), ("locket", ("pewter", "brass", "enamel")),
    ("pocket watch", ("brass", "pewter", "enamel")), ("harmonica", ("tin", "brass")),
    ("lantern", ("tin", "paper", "brass")), ("flute", ("wooden", "bamboo", "bone")),
    ("spinning top", ("wooden", "tin", "painted")), ("yo-yo", ("wooden", "painted")),
    ("notebook", ("leather", "cloth-bound", "paper")), ("map", ("paper", "linen", "hand-drawn")),
    ("magnifying glass", ("brass", "wooden-handled")), ("pencil case", ("tin", "leather", "canvas")),
    ("kaleidoscope", ("cardboard", "brass", "painted")), ("telescope", ("brass", "cardboard")),
    ("music box", ("wooden", "enamel", "painted")), ("marble", ("glass", "clay", "agate")),
    ("penknife", ("bone-handled", "wooden-handled")), ("torch", ("tin", "rubber", "wind-up")),
    ("umbrella", ("canvas", "patterned", "oilcloth")), ("satchel", ("leather", "canvas", "patched")),
    ("spyglass", ("brass", "wooden")), ("sketchbook", ("cloth-bound", "leather", "spiral-bound")),
    ("hairbrush", ("wooden", "bone-handled")), ("acorn cup", ("wooden", "carved", "pewter")),
    ("puzzle box", ("wooden", "lacquered", "carved")), ("snow globe", ("glass", "plastic")),
    ("coin purse", ("knitted", "leather", "velvet")), ("pocket mirror", ("pewter", "enamel", "brass")),
)
OBJECT_CONDITIONS = _split("""battered|tiny|dented|lucky|well-worn|shiny|scratched|very old|heavy|small|
polished|much-loved|chipped|miniature|creaky""")

# A quest gives the story its thread: aim (to ...), item, where, done (past tense), task, title.
QUESTS = (
    dict(aim="find the bell that had gone missing from the clock tower", item="the missing bell",
         where="the clock tower", done="hung the bell back in the clock tower", task="the missing bell",
         title="The Missing Bell"),
    dict(aim="grow the biggest pumpkin the town had ever seen", item="the prize pumpkin seed",
         where="the allotments", done="won first prize at the harvest show", task="growing a giant pumpkin",
         title="The Giant Pumpkin"),
    dict(aim="follow the old treasure map from the library", item="the treasure", where="the ruined castle",
         done="found a tin box full of old letters and wooden toys", task="the treasure map",
         title="The Library Map"),
    dict(aim="mend the broken weathervane on top of the barn", item="the lost arrow of the weathervane",
         where="the old barn", done="set the weathervane spinning again", task="mending the weathervane",
         title="The Weathervane"),
    dict(aim="find out who was leaving apples on the town hall steps", item="the mystery apple-giver",
         where="the town hall", done="discovered that the apple-giver was a very shy gardener",
         task="the apple mystery", title="The Apple Mystery"),
    dict(aim="build a boat that would float all the way across the boating lake", item="the boat plans",
         where="the boating lake", done="sailed their boat across the whole lake", task="building the boat",
         title="The Little Boat"),
    dict(aim="find the runaway kite of the school kite club", item="the runaway kite", where="the sand dunes",
         done="brought the kite home, only a little torn", task="the runaway kite",
         title="The Runaway Kite"),
    dict(aim="bake a cake for the whole street's party", item="the secret recipe", where="the bakery",
         done="baked a cake so big it needed two tables", task="the street party cake",
         title="The Enormous Cake"),
    dict(aim="return a lost duckling to its family", item="the duckling's family", where="the river bend",
         done="watched the duckling paddle off after its mother", task="the lost duckling",
         title="The Lost Duckling"),
    dict(aim="solve the riddle carved on the old bridge", item="the answer to the riddle",
         where="the stone bridge", done="solved the riddle on the bridge", task="the bridge riddle",
         title="The Riddle on the Bridge"),
    dict(aim="put on a puppet show for the whole school", item="the puppet theatre", where="the school hall",
         done="put on a puppet show that made everyone cheer", task="the puppet show",
         title="The Puppet Show"),
    dict(aim="find the source of the strange music at night", item="the night music",
         where="the lighthouse", done="found an old music box playing to itself in the lighthouse",
         task="the strange music", title="Music in the Night"),
    dict(aim="rescue a peacock stuck on the church roof", item="the stranded peacock", where="the church roof",
         done="coaxed the peacock down with a handful of corn", task="the rooftop rescue",
         title="The Rooftop Rescue"),
    dict(aim="plant a garden on the empty corner lot", item="a bag of seeds", where="the corner lot",
         done="turned the empty lot into a garden full of sunflowers", task="the corner garden",
         title="The Corner Garden"),
    dict(aim="deliver an important parcel to the far end of town by noon", item="the parcel",
         where="the post office", done="delivered the parcel with one minute to spare",
         task="the parcel delivery", title="The Important Parcel"),
    dict(aim="find out why the town fountain had stopped", item="the fountain's secret",
         where="the market square", done="got the fountain bubbling again", task="the silent fountain",
         title="The Silent Fountain"),
    dict(aim="count every star they could see from the hill", item="the star chart", where="Bramble Hill",
         done="counted four hundred and twelve stars before falling asleep", task="counting the stars",
         title="Counting Stars"),
    dict(aim="win the town's annual sandcastle contest", item="the perfect bucket", where="the beach",
         done="built a sandcastle with a working drawbridge", task="the sandcastle contest",
         title="The Sandcastle Contest"),
    dict(aim="make the old tram run one last time", item="the tram's missing lever", where="the tram depot",
         done="rode the old tram once around the town", task="the old tram", title="The Last Tram"),
    dict(aim="find a home for a litter of lost kittens", item="the kittens' new homes", where="the farm lane",
         done="found a kind home for every kitten", task="the lost kittens", title="Homes for Kittens"),
)

# --- Filler pools (no fact words in here) ----------------------------------------------------------------------
POOLS = {
    "kid_adj": _split("curious|cheerful|quiet|stubborn|thoughtful|lively|clever|shy|restless|kind-hearted|"
                      "determined|dreamy|patient|talkative|brave|careful|cheeky"),
    "relative": _split("grandmother|grandfather|aunt|uncle|older sister|older brother|cousin|godmother|"
                       "grandpa|granny|mother|father|great-aunt"),
    "town_detail": _split("""the river ran right through the middle|the streets were steep and cobbled|
every roof was covered in soft moss|the wind always smelled of the sea|the bakery opened long before sunrise|
the church clock was always five minutes late|swallows nested under every bridge|the hills rolled away in
every direction|the market filled the square every Saturday|the trains stopped only twice a day|the lamps
along the canal were lit by hand|nobody ever locked their front door|the postman knew everybody's birthday|
the library had a slide instead of stairs|the fog came in most mornings and left by lunch"""),
    "town_fame": _split("""its cheese|an enormous clock tower|a very old oak tree|its summer fair|its kite
festival|the best pies in the county|a bridge with seven arches|a lighthouse that had never been used|its
annual pumpkin contest|a museum of umbrellas|the tallest windmill for miles|a brass band that practised
every evening|a well that was said to grant small wishes"""),
    "habit": _split("""waved at everyone|sang while walking to school|always had a question ready|could
whistle almost any tune|fixed broken bicycles for free|knew the name of every bird|told the longest jokes|
collected interesting stones|was the fastest runner on the street|helped at the library on Saturdays|never
forgot a face|laughed louder than anyone else"""),
    "pet_adj": _split("small|clever|sleepy|grumpy|round|speckled|nervous|cheerful|elderly|tiny|bold|fluffy|"
                      "lazy|nosy|gentle|greedy|plump|scruffy"),
    "pet_habit": _split("""liked to sleep in the laundry basket|snored gently through the night|followed
visitors around the garden|stole socks whenever it could|was terribly afraid of puddles|sat on the windowsill
to watch the rain|made a noise like a kettle when it was happy|could open the larder door|hid under the bed
during thunderstorms|greeted the postman every morning|liked to be sung to"""),
    "pet_feature": _split("""one floppy ear|very long whiskers|a crooked tail|bright curious eyes|a habit of
sneezing|a very loud voice|a patch over one eye|surprisingly big feet|an appetite for toast"""),
    "colour_habit": _split("""wore it whenever {he} could|had a scarf in exactly that shade|coloured every
drawing with it|kept a jar of buttons in that shade|asked for it every birthday|had painted {his} bicycle
in it"""),
    "garment": _split("scarf|jumper|woolly hat|raincoat|pair of wellies|cardigan|bobble hat|pair of mittens"),
    "day": _split("""bright morning|windy afternoon|grey Tuesday|warm evening|quiet Sunday|frosty morning|
rainy Thursday|golden afternoon|blustery day|sleepy Saturday"""),
    "time_jump": _split("""The next morning|After lunch|Later that week|Two days later|Early the next day|
By the afternoon|When the rain finally stopped|A little while later|That evening|At first light"""),
    "place": _split("""the old mill|the harbour wall|the market square|the top of Bramble Hill|the town
library|the orchard behind the school|the riverbank|the lighthouse|the railway station|the edge of the
woods|the allotments|the museum steps|the stone bridge|the boating lake|the bandstand in the park|the
clock tower|the covered market|the ferry landing|the windmill|the village green|the sand dunes|the
greenhouse|the village pond|the ruined castle|the bus shelter on the corner"""),
    "sight": _split("""a row of crooked chimneys|a kite stuck in a tree|a heron standing in the shallows|
washing flapping on a line|a tractor crawling along a lane|two boats bumping at their moorings|a hot-air
balloon drifting past|smoke curling from a cottage|a signpost that pointed the wrong way|a scarecrow in a
top hat|a field full of sheep|a bicycle leaning against a wall|puddles shining like mirrors"""),
    "sound": _split("""the cry of a gull|the creak of a gate|church bells|the hum of bees|a distant
train|rain drumming on a tin roof|someone practising the trumpet|wind in the chimney|the clatter of
a cart|laughter from an open window|the tick of a big clock|waves slapping against stones"""),
    "smell": _split("""fresh bread|wet leaves|woodsmoke|salt and seaweed|cut grass|oranges|warm
tar|toasted cheese|rain on dusty stones|pine needles|strawberry jam|hot chestnuts"""),
    "weather": _split("""The sky was a clean, cold blue|A soft drizzle had started to fall|Big white
clouds were racing overhead|The air was warm and still|A sharp wind tugged at their coats|Thin sunshine
came and went between the clouds|Fog hung low over the fields|It was the kind of day that could not decide
whether to rain|The puddles from last night were still drying|The first snow of the year drifted down"""),
    "food": _split("""apple cake|cheese sandwiches|warm scones|hot soup|buttered toast|oat biscuits|
cherries|boiled eggs|gingerbread|lemonade|cocoa|honey buns|pear slices|plum jam tarts|oatcakes"""),
    "feeling": _split("""nervous|excited|curious|sleepy|brave|puzzled|hopeful|tired|giddy|worried|
proud|impatient|cheerful"""),
    "speech_verb": _split("said|whispered|called|replied|added|murmured|declared|admitted|announced"),
    "speech_manner": _split("""looking around|grinning|with a shrug|in a small voice|rubbing {his}
nose|without looking up|pointing ahead|a little out of breath|frowning|trying not to laugh"""),
    "side_title": _split("Mrs|Mr|Miss|Doctor|Captain|Granny|Uncle|Aunt|Professor|Old Mrs|Old Mr"),
    "side_surname": _split("""Hollis|Penrose|Quartermaine|Abernathy|Trelawney|Fitch|Mossop|Gribble|
Okonkwo|Nakamura|Lindqvist|Featherstone|Brightwater|Culpepper|Darrow|Ellery|Fennimore|Gallagher|
Honeybourne|Ingleby|Jarvis|Kowalski|Lovegrove|Merriweather|Nettlefold|Ogilvy|Pemberton|Rookwood|Salter|
Thistlewood|Varga|Whitlock|Yardley|Zabini|Achterberg|Bellweather"""),
    "side_role": _split("""who kept the bakery|who mended boats|who ran the post office|who played the
church organ|who sold newspapers on the corner|who looked after the library|who drove the little
ferry|who grew the biggest marrows in town|who knew every story about the old days|who kept bees behind
the school|who repaired clocks and watches|who painted the shop signs"""),
    "trees": _split("apple trees|tall poplars|old chestnut trees|silver birches|twisted hawthorns|cherry trees"),
    "proverb": _split("""slow and steady gets there in the end|a good map is worth a hundred guesses|
you should always pack one more sandwich than you need|the best paths are the ones nobody else takes|
every cloud is just weather on its way somewhere|being lost is only being found the long way round"""),
    "souvenir": _split("""smooth pebble from the river|feather they had found|ticket from the ferry|
pressed flower|postcard from the museum|pine cone from the woods"""),
    "small_thing": _split("""a whelk shell|a button|a bent spoon|an old bus ticket|a very round pebble|a
green bottle top|a single glove|a length of string|a conker|a feather"""),
    "reply": _split("""Maybe|I hope so|Of course|Not yet, but soon|I'm not sure|Definitely|Only one way to
find out|Let's see|If you say so|I think so — yes, I really do"""),
    "n_word": _split("two|three|four|five|six|seven"),
}
