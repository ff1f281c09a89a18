"""Sentence templates of the demo story generator (scripts/demo_corpus.py), grouped by the kind of sentence.

Slots: `{name} {he} {him} {his} {kid}` and the facts `{town} {pet} {petname} {colour} {object}` of the sentence's
main character; the same with a `2` suffix for a second character; `{all}` (every main character), scene slots
(`{place} {side} {side_role} {food}`), the quest's slots (`{aim} {item} {where} {done} {task}`, see
demo_vocab.QUESTS), and any pool name of demo/vocab.py (a fresh draw each time, rarely the same twice
in a story). Dialogue is written with curly quotes and straight apostrophes; the generator turns them into
one consistent style per story (one character for one, so offsets stay the same).
Rules the tests rely on: a sentence never starts with a lowercase fact slot (capitalising it would change the
fact), and every re-mention template names its character before the fact, so a probe prefix that ends right
before the fact says whose fact is asked for.
"""

OPENING = (
    "This is a story about {all}, and about the {day} when everything changed.",
    "Nobody expected anything unusual to happen on that {day}.",
    "It began, as the best adventures do, on a perfectly ordinary {day}.",
    "There are some days you remember for the rest of your life, and this was one of them.",
    "{weather}, and the whole world seemed to be waiting for something.",
    "Long before the town clocks struck nine, {all} were already awake.",
    "If you had been there on that {day}, you might have noticed {sight}.",
    "Some stories start with a letter, and some with a knock at the door; this one started with {small_thing}.",
    "{all} would always remember that {day}, though not for the reasons you might think.",
    "{small_thing} was the first clue, though nobody knew it yet on that {day}.",
    "{name}'s {relative} always said that {proverb}, and on that {day} {name} found out why.",
    "The smell of {smell} hung over everything on the {day} this story begins.",
    "{sound} woke {all} early on a {day} at the very start of the holidays.",
    "Every town has its secrets, and on a {day} {all} stumbled upon one.",
    "Afterwards, people said it had all started with {small_thing}, and perhaps they were right.",
    "{weather} on the {day} when {all} first heard about {task}.",
    "Not many people notice {sight}, but {all} did, one {day} not so long ago.",
)

INTRO_TOWN = (
    "{name} lived in {town}, a small town where {town_detail}.",
    "In {town}, where {town_detail}, there lived a {kid_adj} {kid} called {name}.",
    "{name} came from {town}, which was famous for {town_fame}.",
    "Everyone in {town} knew {name}, because {he} {habit}.",
    "{name} had lived in {town} for as long as {he} could remember.",
    "{name} grew up in {town}, at the end of a lane lined with {trees}.",
    "The town of {town} was not very big, and {name} knew every corner of it.",
    "{name} lived with {his} {relative} in a crooked house in {town}.",
    "Far away, in a town called {town}, a {kid_adj} {kid} named {name} woke to the sound of {sound}.",
    "If you ever visit {town}, look for the house with the round window; that is where {name} lived.",
    "{name} was a {kid_adj} {kid} from {town}, and {he} {habit}.",
    "Ask anyone in {town} about {name} and they will tell you that {he} {habit}.",
)
INTRO_PET = (
    "{name} had a {pet_adj} {pet} named {petname}.",
    "{his} best friend was a {pet} called {petname}, who {pet_habit}.",
    "{name} never went far without {petname}, a {pet_adj} {pet} with {pet_feature}.",
    "There was also {petname}, {name}'s {pet}, who {pet_habit}.",
    "{name} shared {his} room with a {pet} called {petname}, who {pet_habit}.",
    "{name}'s {pet}, {petname}, {pet_habit}.",
    "The most important member of the household was {petname}, a {pet_adj} {pet} who belonged to {name}.",
    "One rainy winter {name} had rescued a {pet_adj} {pet} and named it {petname}.",
    "Every morning {name} fed {his} {pet}, {petname}, before doing anything else.",
    "{name} also looked after a {pet} called {petname}, which had {pet_feature}.",
)
INTRO_COLOUR = (
    "{name}'s favourite colour was {colour}, and {he} {colour_habit}.",
    "{name} loved the colour {colour} more than any other.",
    "If you asked {name} about colours, {he} would tell you that {colour} was the best one in the world.",
    "Almost everything {name} owned was {colour}, from {his} {garment} to {his} toothbrush.",
    "{name} had painted {his} bedroom door {colour}, because {colour} was {his} favourite colour.",
    "{name} always chose {colour}: {colour} pencils, {colour} ribbons, {colour} everything.",
    "{name} wore a {colour} {garment} almost every day, since {colour} was {his} favourite colour.",
    "{his} favourite colour was {colour}, and {he} {colour_habit}.",
    "When {name} closed {his} eyes and thought of something happy, {he} always saw {colour}.",
)
INTRO_OBJECT = (
    "{name} always carried a {object} wherever {he} went.",
    "In {his} bag, {name} kept a {object} that had once belonged to {his} {relative}.",
    "{name} never left home without {his} {object}.",
    "{name}'s most treasured possession was a {object}.",
    "{name}'s {relative} had given {him} a {object} on {his} last birthday, and {he} kept it close always.",
    "{name} owned a {object}, and nobody was allowed to borrow it.",
    "{name} had found a {object} at the back of a drawer and had carried it ever since.",
    "Wherever {name} went, {his} {object} went too.",
    "{he} was hardly ever seen without {his} {object}.",
)
INTRO_TRAIT = (
    "{name} was {kid_adj} and {kid_adj}, and {he} {habit}.",
    "Some people said {name} was a little too {kid_adj}, but {his} friends did not mind.",
    "{he} {habit}, which made {him} easy to like.",
    "{name} liked {food} more than almost anything.",
    "On most days {name} felt {feeling}, but today {he} felt {feeling}.",
)
MEETING = (
    "{name} and {name2} had been friends since the day they both got stuck in the same tree.",
    "{name} had met {name2} at {place}, and they had been inseparable ever since.",
    "{name2} lived only a short bus ride from {name}, and they saw each other every week.",
    "Nobody could remember a time when {name} and {name2} were not friends.",
    "{name} and {name2} wrote each other letters every Sunday, full of drawings and questions.",
    "{name} thought {name2} was the cleverest person in the world, and {name2} thought the same of {name}.",
    "{name2} and {name} had once spent a whole summer building a raft that never floated.",
)
INCITING = (
    "One {day}, {name} and {name2} decided to {aim}.",
    "It all began when {side}, {side_role}, asked {name} to {aim}.",
    "A note had been pushed under {name}'s door, asking for help to {aim}.",
    "{name} had a plan, and the plan was to {aim}.",
    "Everyone said it could not be done, but {name} and {name2} wanted to {aim}.",
    "{side} had been trying to {aim} for years, and now needed some help.",
    "So the friends agreed: before the week was out, they would {aim}.",
)
TRAVEL = (
    "{time_jump}, {all} set off towards {place}.",
    "{time_jump}, the friends walked to {place}, taking turns to carry the bag.",
    "{time_jump}, {name} led the way down to {place}.",
    "{time_jump}, they caught the little bus that rattled all the way to {place}.",
    "{time_jump}, {name} and {name2} hurried to {place} with a basket of {food}.",
    "{time_jump}, they followed the river path until they reached {place}.",
    "{time_jump}, the friends met at {place}, just as they had promised.",
)
SETTING = (
    "{weather}.",
    "From {place} they could see {sight}.",
    "Somewhere nearby they could hear {sound}, and the air smelled of {smell}.",
    "The path — if you could call it a path — wound between {trees}.",
    "{weather}, and {sound} drifted across from the far side of {place}.",
    "It smelled of {smell} here, and {name} breathed it in deeply.",
    "Everything looked different at {place} today; even {sight} seemed new.",
    "A little way off there was {sight}, which made {name2} laugh.",
)
ACTION = (
    "{name} climbed onto a wall to get a better look.",
    "{name2} unfolded a scrap of paper and read it again, moving {his2} lips.",
    "They shared the {food} and talked about what to do next.",
    "{name} counted the steps under {his} breath: one, two, three, all the way to {n_word} hundred.",
    "{name2} stopped to tie a shoelace, and {name} waited, humming.",
    "They asked three different people for directions and got three different answers.",
    "{name} drew a quick map in the dust with a stick.",
    "{name2} found {small_thing} on the ground and put it in {his2} pocket, just in case.",
    "The friends sat on a bench and watched {sight} for a while.",
    "{name} knocked on a door, but nobody answered.",
    "They split up for ten minutes to search, then met again by {place}.",
    "{name2} wrote everything down in careful, tiny letters.",
)
SIDE = (
    "At {place} they met {side}, {side_role}.",
    "{side}, {side_role}, waved at them and came over to chat.",
    "{side} was sweeping the step outside and looked up with a smile.",
    "It was {side} who finally pointed them in the right direction.",
    "{side} shared some {food} with them and wished them luck.",
)
QUEST_MIDDLE = (
    "Nobody had seen {item} for weeks, and the trail was growing cold.",
    "{name2} wondered aloud whether {item} was still somewhere near {where}.",
    "The more they learned about {task}, the more puzzling it became.",
    "{name} was certain that {where} held the answer.",
    "Everyone they met had an opinion about {item}, but nobody had any facts.",
)
PROBLEM = (
    "Then, without any warning, it began to pour with rain.",
    "But the gate was locked, and the wall was far too high to climb.",
    "Halfway there, {name} realised they had taken the wrong turning.",
    "Suddenly the path ended at a stream that was much wider than it looked.",
    "Just then a gust of wind snatched {name2}'s hat and sent it bowling away.",
    "The clue they had been following turned out to be a shopping list.",
    "A large, stubborn ram was standing in the middle of the bridge and would not move.",
    "By now the light was fading, and the shadows were growing long.",
)
SOLUTION = (
    "{name} thought hard and then had an idea.",
    "So they went the long way round, singing to keep their spirits up.",
    "{name2} found a row of stepping stones a little further along.",
    "Luckily, {side} came by and knew exactly what to do.",
    "They waited, and after a while the problem solved itself, as problems sometimes do.",
    "{name} laughed, and that made everything seem easier.",
    "With a bit of patience and a lot of giggling, they managed it together.",
)
FEELING = (
    "{name} felt {feeling} and a little bit {feeling}.",
    "{name2} was {feeling}, though {he2} tried not to show it.",
    "For a moment nobody said anything at all.",
    "{name} could feel {his} heart beating fast.",
    "It was, {name2} decided, the strangest afternoon of the whole year.",
)
RETURN = (
    "{time_jump}, the friends came home tired, muddy and very pleased with themselves.",
    "{time_jump}, everything was finally done.",
    "{time_jump}, word had spread all over town.",
    "{time_jump}, they met once more at {place} to talk it all over.",
    "{time_jump}, the adventure was over, though nobody wanted it to be.",
)
RESOLUTION = (
    "In the end, they {done}.",
    "It took all their courage, but they {done}.",
    "{side} could hardly believe the news that they had {done}.",
    "Later, nobody could quite agree on how they had {done}, but they had.",
    "So that was how {all} {done}.",
)
REMENTION_TOWN = (
    "That night, {name} walked home through the quiet streets of {town}.",
    "{name} did not mind the long walk back to {town}.",
    "When {name} finally got home to {town}, the lamps were already lit.",
    "{name} smiled, because there really was no place like {town}.",
    "The road curved, and {name} saw the rooftops of {town} at last.",
    "{name} told everyone back in {town} about the adventure.",
    "{name} sent a postcard home to {town} the very next day.",
    "{name} was glad to be back in {town}, where {town_detail}.",
    "For {name}, nothing could beat the evening light over {town}.",
)
REMENTION_PET = (
    "{name}'s {pet}, {petname}, was waiting at the door.",
    "{name} told the whole story to {his} {pet}, {petname}, who listened politely.",
    "{name} gave {his} {pet}, {petname}, an extra treat that night.",
    "As soon as {name} opened the gate, {his} {pet}, {petname}, came running.",
    "{name} curled up by the fire, and {his} {pet}, {petname}, settled down close by.",
    "{name} was sure that {his} faithful {pet}, {petname}, had missed {him} terribly.",
    "{name} had saved a crust for {his} {pet}, {petname}.",
    "Even {name}'s {pet}, {petname}, seemed to know that something wonderful had happened.",
)
REMENTION_COLOUR = (
    "{name} tied a ribbon in {his} favourite colour, {colour}, around the {souvenir}.",
    "{name} wrote the whole adventure down in ink of {his} favourite colour, {colour}.",
    "{name} painted a picture of the day, using plenty of {his} favourite colour, {colour}, of course.",
    "Before bed, {name} pulled on {his} favourite {colour} {garment}.",
    "{name} said the sky that evening was almost {colour}, {his} favourite colour, so it had been a perfect day.",
    "{name} chose a frame in {his} favourite colour, {colour}, for the drawing of the day.",
    "{name} wrapped a present for {name2} in paper of {his} favourite colour, {colour}.",
)
REMENTION_OBJECT = (
    "{name} put {his} {object} safely away.",
    "{name} took out {his} {object} and turned it over in {his} hands, thinking.",
    "{name} was glad {he} had remembered to bring {his} {object}.",
    "{name} patted {his} bag to check that {his} {object} was still there.",
    "{name} held up {his} {object} so that it caught the last of the light.",
    "{name} said it was {his} {object} that had brought them luck.",
    "{name} polished {his} {object} before putting it away for the night.",
)
CLOSING = (
    "And if you ever pass through that part of the world, you might still hear people talking about it.",
    "It had been, everyone agreed, a very good day.",
    "The stars came out one by one, and the town went quietly to sleep.",
    "Tomorrow there would be new adventures, but tonight there was cocoa, and that was enough.",
    "{name} fell asleep before {he} had even finished yawning.",
    "Some days end with fireworks; this one ended with a cup of tea and a great deal of laughing.",
    "And that, more or less, is exactly how it happened.",
)

# Dialogue: one line per paragraph. STATEMENT lines carry no final punctuation (the pattern adds it).
SAY_STATEMENT = (
    "“{line},” said {name}.",
    "{name} said, “{line}.”",
    "“{line},” {name} {speech_verb}, {speech_manner}.",
    "“{line},” {name} told {name2}.",
)
SAY_QUESTION = ("“{question}” asked {name}.", "{name} turned to {name2}. “{question}”",
                "“{question}” {name} wondered aloud.")
SAY_EXCLAIM = ("“{exclaim}” cried {name}.", "“{exclaim}” {name} shouted, {speech_manner}.",
               "{name} grabbed {name2}'s sleeve. “{exclaim}”")
SAY_REPLY = ("“{reply},” {name2} answered.", "“{reply},” said {name2}, {speech_manner}.",
             "{name2} thought about it. “{reply}.”")
LINES = {
    "line": (
        "I have a good feeling about this", "My {relative} always says that {proverb}",
        "We should have brought more {food}", "I'm not scared — not really, anyway",
        "It looks different when the light changes", "We need to {aim}, and we need to do it today",
        "{side} will know what to do", "I think we are closer than we were", "Let's try {place} first",
        "If we keep going, we'll be there before dark", "I once read about something like this",
        "Whatever happens, we stick together", "Maybe {item} doesn't want to be found",
    ),
    "question": (
        "Do you think we'll manage to {aim} before dark?", "Which way is {where}?", "Did you hear that?",
        "What if it rains?", "Have you ever been to {place} before?", "Are you hungry yet?",
        "What do you think {side} meant?", "Shall we rest for a minute?", "Is that {where}, over there?",
        "Do you think {item} is still there?", "Why would anyone hide it there?",
    ),
    "exclaim": (
        "Look over there!", "I can see {sight}!", "Wait — I think I heard something!", "This is the best day ever!",
        "Quick, before the weather turns!", "We did it!", "Oh no, not again!", "{name2}, come and look at this!",
    ),
}

TITLES = ("{quest_title}", "{name} and {quest_title_lower}", "{name}, {name2} and {quest_title_lower}",
          "{quest_title} of {town}", "A Story from {town}", "{name}'s Adventure")
