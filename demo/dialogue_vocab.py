"""Word pools and templates of the demo chat-dialogue generator (demo/dialogues.py).

Every entry was written for this project and is child-safe. Pools are tuples, so their order (and with it every
seeded draw) is fixed. Two rules keep the ground truth clean, and tests/test_demo_dialogues.py checks them:
- the fact pools here (foods, hobbies, months, subjects) share no value with each other or with the fact pools
  reused from demo/vocab.py (names, pets, colours, towns);
- chit-chat text never contains a value of any fact pool (as a whole word, in any case), so a fact value shows
  up in a conversation only where the user told it or the assistant repeated it back.
Templates are `str.format` strings. Slots: {v} the value, {old} the value it replaces, {kind}/{a_kind} the pet's
kind (without/with its article), {pron}/{Pron}/{obj} the pet's pronouns, {rel} "sister" or "brother".
"""

# --- Fact pools of this module (the others come from demo/vocab.py) -------------------------------------------
FOODS = ("pears", "plums", "pancakes", "spaghetti", "porridge", "strawberries", "blueberries", "cherries",
         "grapes", "peaches", "tomato soup", "fish pie", "cheese on toast", "lasagne", "risotto", "sushi",
         "vegetable curry", "falafel", "macaroni cheese", "sweetcorn", "baked potatoes", "raspberries",
         "watermelon", "pineapple", "couscous", "apple crumble", "pizza", "tacos", "pea soup", "fish fingers")
HOBBIES = ("chess", "knitting", "swimming", "juggling", "origami", "skateboarding", "birdwatching",
           "stamp collecting", "rock climbing", "tap dancing", "pottery", "gymnastics", "rowing", "cycling",
           "ice skating", "drumming", "ballet", "sailing", "tennis", "badminton", "crochet", "sewing",
           "photography", "puppetry", "hiking", "netball", "basketball", "canoeing")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
SUBJECTS = ("history", "geography", "art", "music", "French", "Spanish", "German", "Latin", "biology",
            "chemistry", "physics", "drama", "computing", "design and technology")

# --- Telling a fact: user statements and the assistant's acknowledgements --------------------------------------
TELL = {
    "name": ("Hi, my name is {v}.", "I'm {v}, by the way.", "You can call me {v}.", "Let me introduce myself: I'm {v}.",
             "First things first, my name is {v}.", "My name's {v}, nice to meet you.",
             "Before I forget, I'm called {v}."),
    "pet_kind": ("I have a pet {kind}.", "We've got {a_kind} at home.", "Guess what? I have {a_kind}!",
                 "There's {a_kind} living at our house.", "My pet is {a_kind}.", "I look after our family {kind}."),
    "pet": ("I have {a_kind} called {v}.", "My {kind} is called {v}.", "Our {kind}'s name is {v}.",
            "I've got a little {kind} named {v}.", "We have {a_kind}, and {pron}'s called {v}.",
            "Did I tell you about my {kind}? {Pron}'s called {v}."),
    "pet_name": ("{Pron}'s called {v}.", "{Pron} is called {v}.", "{Pron}'s name is {v}.", "We call {obj} {v}.",
                 "Our family named {obj} {v}."),
    "town": ("I live in {v}.", "We live in a town called {v}.", "I'm from {v}, it's quite small.",
             "Home for me is {v}.", "My family lives in {v}.", "I live in a place called {v}."),
    "colour": ("My favourite colour is {v}.", "I love the colour {v}.", "If I had to pick one colour, I'd pick {v}.",
               "My bedroom walls are {v}, because it's my favourite colour.", "The colour I like best is {v}."),
    "food": ("My favourite food is {v}.", "I could eat {v} every day.", "Nothing beats {v} for dinner.",
             "I really, really love {v}.", "The best food in the world is {v}."),
    "sibling": ("I have a {rel} called {v}.", "My {rel}'s name is {v}.", "My {rel} is called {v}.",
                "I live with my mum, my dad and my {rel}, {v}.", "Do you know what my {rel} is called? {v}!"),
    "hobby": ("My favourite hobby is {v}.", "In my free time I love {v}.", "I've been really into {v} lately.",
              "What I enjoy most is {v}.", "I spend most weekends on {v}."),
    "birthday_month": ("My birthday is in {v}.", "I was born in {v}.", "My birthday comes every year in {v}.",
                       "I'll have a birthday party in {v}."),
    "subject": ("My favourite subject at school is {v}.", "At school I like {v} the most.",
                "The best lesson of the week is {v}.", "I'm best at {v}, and it's my favourite subject."),
}
ACK = {
    "name": ("Nice to meet you, {v}!", "Hello, {v}! I'll remember your name.", "What a lovely name, {v}.",
             "Thanks, {v}. I'll keep that in mind."),
    "pet_kind": ("A {kind}! That sounds lovely.", "How nice to have {a_kind} at home.",
                 "I'd love to hear more about your {kind} some time."),
    "pet_kind_then_name": ("A {kind}! What is {pron} called?", "Oh, {a_kind}! Does {pron} have a name?",
                           "How lovely. What's your {kind}'s name?"),
    "pet_name": ("{v} is a great name for a {kind}!", "Say hello to {v} from me.", "I'll remember {v} the {kind}.",
                 "{v}! What a fun name."),
    "town": ("{v} sounds like a nice place to live.", "I'll remember that you live in {v}.",
             "Thanks for telling me. {v}, got it."),
    "colour": ("Lovely! I'll remember that you like {v}.", "Good choice, {v} is a beautiful colour.",
               "Thanks, your favourite colour is {v}. Noted!"),
    "food": ("Yum, {v} sounds delicious.", "Good choice! I'll remember you love {v}.",
             "I can see why. I'll remember that you like {v} best."),
    "sibling": ("It must be fun to have a {rel}. Say hi to {v}!", "{v} sounds like a great {rel}.",
                "Thanks for telling me about {v}."),
    "hobby": ("That sounds like fun! I'll remember you enjoy {v}.", "Oh, {v} is a great hobby.",
              "How interesting! Tell me about {v} any time."),
    "birthday_month": ("A birthday in {v}! I'll remember that.", "I'll remember that your birthday is in {v}.",
                       "Lovely, {v} is a great month for a birthday."),
    "subject": ("Nice, {v} is a great subject.", "I'll remember that you like {v} best.",
                "Good to know, {v} can be really interesting."),
}

# --- Corrections and changes: the later value wins ------------------------------------------------------------
CORRECT = {
    "pet_name": ("Actually, {pron} is called {v}, not {old}. {old} is my friend's pet.",
                 "We decided to give our {kind} a new name: {pron}'s called {v} now.",
                 "Oops, I got that wrong. My {kind} is called {v}.",
                 "Guess what? We renamed our {kind} {v}. {Pron} didn't like {old}."),
    "town": ("Big news: we moved from {old} to {v} last week!", "We've moved house. Now we live in {v}.",
             "I don't live in {old} any more. We moved to {v}.", "Sorry, I said it wrong before: I live in {v}."),
    "colour": ("My favourite colour isn't {old} any more. Now it's {v}.", "I've changed my mind: I like {v} best now.",
               "These days my favourite colour is {v}."),
    "food": ("I don't like {old} any more. Now my favourite is {v}.", "I've gone off {old}. Now I love {v} most.",
             "Update: my new favourite food is {v}."),
    "sibling": ("Oops, I got that wrong: my {rel} is called {v}, not {old}.",
    "Sorry, I mixed it up. My {rel}'s name is {v}."),
    "hobby": ("I've stopped {old}. These days I'm into {v}.", "My new favourite hobby is {v}.",
              "I gave up {old} and started {v} instead."),
    "birthday_month": ("Wait, I told you the wrong month! My birthday is in {v}, not {old}.",
                       "Oops, my birthday is actually in {v}."),
    "subject": ("This term my favourite subject is {v} instead of {old}.",
    "I've changed my mind: now I like {v} best at school.",
                "Since we got a new teacher, my favourite subject is {v}."),
}
CORRECT_ACK = {
    "pet_name": ("Thanks! I'll remember that your {kind} is called {v}.", "Got it, {v} it is. Hello, {v}!"),
    "town": ("Thanks for telling me. I'll remember that you live in {v} now.", "Got it: {v} it is."),
    "colour": ("Changing your mind is fine! I'll remember that you like {v} now.",
    "Got it, your favourite colour is {v} now."),
    "food": ("Tastes change! I'll remember that you like {v} best now.", "Okay, your favourite food is {v} now."),
    "sibling": ("No problem. Your {rel} is called {v}, I'll remember.", "Thanks for fixing that: {v} it is."),
    "hobby": ("How exciting! I'll remember that you're into {v} now.", "Good luck with {v}!"),
    "birthday_month": ("Thanks for telling me. Your birthday is in {v}, I'll remember.", "Got it, {v} it is."),
    "subject": ("I'll remember that your favourite subject is {v} now.", "Nice, {v} is a great choice."),
}

# --- Asking about a fact later ----------------------------------------------------------------------------------
ASK_PREFIX = ("", "", "", "Quick question: ", "Hey, ", "Let's test your memory: ", "I wonder, ", "Tell me, ",
              "Here's a little test. ", "Hmm, ", "Be honest: ", "Okay, memory game! ", "Remind me, ", "So, ",
              "Wait, ", "Let me check: ", "One more thing: ", "Oh, and ", "I bet you forgot. ", "Right, ")
ASK = {
    "name": ("what's my name?", "do you remember my name?", "can you remember what I'm called?",
             "what name did I tell you?", "do you know what my name is?"),
    "pet_kind": ("what kind of pet do I have?", "do you remember what animal my pet is?", "what pet do I have?",
                 "what sort of animal lives with us at home?"),
    "pet_name": ("what's my {kind} called?", "do you remember my {kind}'s name?", "what is the name of my {kind}?",
                 "can you remember what we call my {kind}?"),
    "town": ("which town do I live in?", "do you remember where I live?", "what's the name of my town?",
             "where do I live again?", "do you remember which town I live in?"),
    "colour": ("what's my favourite colour?", "do you remember which colour I like best?",
               "what colour do I love most?"),
    "food": ("what's my favourite food?", "do you remember what food I like best?", "what do I like to eat most?"),
    "sibling": ("what's my {rel} called?", "do you remember my {rel}'s name?", "what is my {rel}'s name?"),
    "hobby": ("what's my favourite hobby?", "do you remember what I like doing in my free time?",
              "what hobby am I into these days?"),
    "birthday_month": ("when is my birthday?", "do you remember which month my birthday is in?",
                       "in which month was I born?"),
    "subject": ("what's my favourite subject at school?", "which lesson do I like best?",
                "do you remember my favourite school subject?"),
}
ANSWER = {
    "name": ("Your name is {v}.", "You're {v}!", "You told me your name is {v}.", "Of course, you're {v}."),
    "pet_kind": ("You have {a_v}.", "Your pet is {a_v}.", "You told me you have {a_v} at home."),
    "pet_name": ("Your {kind} is called {v}.", "{v}! That's your {kind}'s name.", "You call your {kind} {v}."),
    "town": ("You live in {v}.", "Your town is {v}.", "You told me you live in {v}."),
    "colour": ("Your favourite colour is {v}.", "You like {v} best.", "It's {v}!"),
    "food": ("Your favourite food is {v}.", "You love {v} most of all.", "It's {v}. Yum!"),
    "sibling": ("Your {rel} is called {v}.", "{v} is your {rel}'s name."),
    "hobby": ("Your favourite hobby is {v}.", "You're into {v}.", "You enjoy {v}."),
    "birthday_month": ("Your birthday is in {v}.", "You were born in {v}.", "It's in {v}!"),
    "subject": ("Your favourite subject is {v}.", "You like {v} best at school."),
}
# Every "never told" reply says "don't know", so a reader (and the tests) can recognise it.
UNKNOWN = ("I don't know yet, because you haven't told me {about}.",
           "Sorry, I don't know that. You haven't told me {about} yet.",
           "Hmm, I don't know. You can tell me {about} any time.")
ABOUT = {"name": "your name", "pet_kind": "about a pet", "pet_name": "about a pet", "town": "where you live",
         "colour": "your favourite colour", "food": "your favourite food", "sibling": "your {rel}'s name",
         "hobby": "about your hobbies", "birthday_month": "when your birthday is",
         "subject": "your favourite subject"}

# --- Greetings and goodbyes -------------------------------------------------------------------------------------
HELLO = ("Hi!", "Hello!", "Hey there!", "Good morning!", "Good afternoon!", "Hiya!", "Hello again!", "Hi hi!",
         "Good evening!", "Hey!", "Hi again!", "Morning!")
FIRST_OPENER = ("This is my first time here.", "I just found this chat.", "Can we talk for a bit?", "I'm new here.",
                "Are you the helper I can chat with?")
FIRST_REPLY = ("Hello! I'm happy to chat with you.", "Welcome! It's lovely to meet you.",
               "Hi! I'm here to chat whenever you like.")
OPENER = ("I'm back!", "It's me again.", "Have you missed me?", "I have a few minutes before tea.", "I just got home.",
          "Guess who's back?", "Are you there?", "I finished my chores, so I can chat.", "I'm bored, let's talk.",
          "School's over for the day.", "I woke up early today.", "I've got some time to chat.",
          "It's been a while!", "I'm sitting in the garden.", "I just had breakfast.", "It's the weekend at last!",
          "I can't sleep yet.", "We just got back from the shops.", "I'm waiting for the bus.",
          "My homework is all done.", "I'm in a chatty mood.", "It's a lazy day today.")
HELLO_REPLY = ("Hello again! It's nice to chat.", "Hi! I'm here whenever you want to talk.",
               "Welcome back! I always enjoy our chats.", "Hello! What's on your mind today?",
               "Hi there! Good to see you again.")
# Goodbye = a reason + a closing; the reply answers the reason, then says goodbye.
BYE_REASON = (("I have to go now.", "No problem!"), ("That's all for today.", "Thanks for chatting!"),
              ("Time for bed.", "Sleep well!"), ("I'm off to have my tea.", "Enjoy your tea!"),
              ("My friend just arrived.", "Have fun together!"), ("I need to tidy my room now.",
               "Good luck with the tidying!"),
              ("We're going to the park.", "Have a lovely time at the park!"), ("It's bath time.", "Enjoy your bath!"),
              ("Mum is calling me.", "Off you go!"), ("I'm going to read my book now.", "Happy reading!"))
BYE_CLOSING = ("Bye!", "See you soon!", "Talk tomorrow!", "Thanks for the chat!", "Goodbye!", "Bye for now!")
BYE_REPLY = ("Bye for now.", "Talk soon.", "See you next time.", "I enjoyed our chat.", "Come back any time.")

# --- Chit-chat (no fact words in here) --------------------------------------------------------------------------
# Weather: kind -> (what the user says it is doing, how the assistant reacts, what it suggests).
WEATHER = {
    "rain": (("it's pouring with rain", "it has been drizzling all morning", "it's grey and wet outside"),
             ("Rainy days can be cosy.", "Sounds like a day for staying dry.",
              "The gardens will be happy about that rain."),
             ("Maybe build a blanket fort or draw a picture.",
              "If you go out, wear your wellies and splash in the puddles.",
              "It's a good day for a board game and a warm drink.")),
    "wind": (("it's really windy", "the wind is howling round the house", "it's so blustery that my hat blew off"),
             ("Hold on to your hat!", "Windy days are exciting.", "That sounds wild out there."),
             ("It could be a great day for flying a kite.", "Wrap up warm if you go outside.",
              "Listen to the wind whistling, it can sound like a song.")),
    "sun": (("it's sunny and warm", "the sun is out at last", "it's a bright, clear day"),
            ("How lovely!", "Sunshine makes everything look cheerful.", "What a treat."),
            ("Don't forget a sun hat and some water.", "Maybe have a picnic in the garden.",
             "It's a perfect day to play outside.")),
    "snow": (("it's snowing a little", "there's a thin layer of snow on the ground", "it's freezing and frosty"),
             ("Brrr, that sounds chilly!", "How magical.", "Snowy days are special."),
             ("Gloves and a woolly hat will keep you warm.", "You could build a tiny snowman on the wall.",
              "Look closely at a snowflake on your sleeve, every one is different.")),
    "fog": (("it's very foggy", "I can hardly see the end of the street in this fog", "there's thick mist everywhere"),
            ("Fog makes everything look mysterious.", "How spooky and quiet!",
             "It must feel like being inside a cloud."),
            ("Stay close to a grown-up if you go out.", "Listen carefully, sounds travel strangely in fog.",
             "It might clear up by the afternoon.")),
    "heat": (("it's really hot today", "it's hot and sticky", "it's the warmest day of the year so far"),
             ("Phew, that sounds hot!", "Try to stay cool.", "What a scorcher."),
             ("Drink plenty of water and find some shade.", "A paddling pool would be perfect today.",
              "Maybe play quiet games indoors where it's cooler.")),
}
WEATHER_TAIL = (".", " here.", " today.", " where I am.", " and I don't know what to do.", ", so I'm staying in.")

STORY_ASK = ("Can you tell me a tiny story about {x}?", "Tell me a short story about {x}, please.",
             "Could you make up a little story about {x}?", "I'd love a bedtime story about {x}.",
             "Story time! Something about {x}, please.")
STORY_ADJ = ("shy", "brave", "sleepy", "clumsy", "curious", "little", "cheerful", "grumpy", "forgetful", "polite",
             "noisy", "gentle")
STORY_CREATURE = ("fox", "badger", "otter", "squirrel", "hare", "mole", "robin", "penguin", "whale", "beaver",
                  "walrus", "panda", "koala", "seal", "puffin", "llama", "sloth", "giraffe", "bumblebee",
                  "ladybird", "snowman", "teapot", "robot", "cloud", "tugboat", "kangaroo")
# (what it wanted, how it ended): the endings fit their wish.
STORY_WISH = (
    ("wanted to see the sea", (
        "It followed a river for three whole days, and when it saw the waves it laughed out loud.",
        "A kind gull showed it the way, and it paddled happily in the shallow water.",
    )),
    ("could not find its hat", (
        "It searched high and low, and at last found the hat on top of its own head.",
        "Its friends helped it look, and they found the hat keeping a bird's egg warm.",
    )),
    ("was learning to whistle", (
        "It practised every morning, and one day a perfect little tune came out.",
        "At first only puffs of air came out, but by the end of the week the whole wood could hear it.",
    )),
    ("wanted to touch the moon", (
        "It climbed the tallest hill, and the moon seemed so close that it waved goodnight.",
        "It never quite reached it, but it saw the moon reflected in a pond and touched that instead.",
    )),
    ("was afraid of the dark", (
        "A friendly glow-worm kept it company, and soon the dark felt soft and calm.",
        "It counted the stars one by one and forgot to be afraid.",
    )),
    ("wanted to bake a cake", (
        "The cake came out lopsided and covered in sprinkles, and everyone said it was the best one ever.",
        "It forgot the sugar, so it shared the cake with the birds, who loved it anyway.",
    )),
    ("lost its way home", (
        "It followed the smell of warm bread all the way back to its own front door.",
        "A helpful neighbour pointed the way, and it was home in time for supper.",
    )),
    ("wanted to make a new friend", (
        "It shared its snack with someone sitting alone, and that was the start of a great friendship.",
        "It said hello to everyone it met, and by evening it had three new friends.",
    )),
    ("could not fall asleep", (
        "It listened to the rain tapping on the roof, and soon it was fast asleep.",
        "It hummed a quiet song to itself and drifted off to sleep.",
    )),
    ("wanted to grow the tallest sunflower", (
        "It watered the seed every day, and by the end of summer the flower was taller than the house.",
        "The sunflower grew so tall that the birds used it as a lookout.",
    )),
)

JOKE_ASK = ("Tell me a joke about {topic}.", "Do you know any {adj} jokes?", "I need a {adj} joke for my friend.",
            "Make me laugh with a joke about {topic}!", "Have you got a funny {adj} joke?")
JOKE_INTRO = ("", "Here's one: ", "Okay, here goes: ", "I've got one: ")
JOKES = (  # (topic, adjective, jokes)
    ("clouds", "cloud", ("Why did the cloud stay in bed? It was feeling a little under the weather.",
                         "What did the cloud say when it went to a party? I'm here to rain on the dance floor!")),
    ("vegetables", "vegetable", ("Why did the carrot get a gold star? It always got to the root of the problem.",
                                 "Why was the cabbage so good at quizzes? It had a big head full of leaves.")),
    ("numbers", "number", ("Why do numbers love parties? There's always someone to count on.",
                           "Why was the number ten so calm? It had already counted to ten.")),
    ("trains", "train", ("Why was the train so good at school? It always stayed on track.",
                         "What do trains eat for breakfast? Choo-choo-colate cereal!")),
    ("books", "book", ("Why did the book join the gym? It wanted to work on its spine.",
                       "Why was the book so calm? It had already read the ending.")),
    ("the seaside", "seaside", ("Why is the sea so friendly? It always waves.",
                                "Why did the crab never share? Because it was a little shellfish.")),
    ("space", "space", ("Why did the star go to school? To get a little brighter.",
                        "How do planets keep their hair tidy? With a comet!")),
)

COOK_ASK = ("How do I make {dish}?", "Can you teach me to make {dish}?", "What's an easy way to make {dish}?",
            "I want to make {dish} today. How?")
DISHES = (
    ("scrambled eggs", "Whisk two eggs with a splash of milk, then stir them gently in a warm pan until just set."),
    ("a cheese sandwich",
     "Butter two slices of bread, add grated cheese and a little salad, then press them together."),
    ("a banana smoothie", "Blend a banana with a cup of milk and a spoonful of yoghurt until it is smooth and frothy."),
    ("fried rice",
     "Warm some cooked rice in a pan with peas, a beaten egg and a little soy sauce, stirring all the time."),
    ("mashed potatoes",
     "Boil peeled potatoes until soft, drain them, then mash them with butter and a splash of milk."),
    ("a tomato salad",
     "Slice some ripe tomatoes, sprinkle on a pinch of salt and a few basil leaves, and drizzle with oil."),
    ("oat cookies", "Mix oats, flour, butter and sugar, roll the dough into little balls and bake them until golden."),
    ("homemade lemonade", "Squeeze three lemons, stir the juice into cold water with a little sugar, and add ice."),
    ("vegetable soup", "Chop some carrots, onions and celery, simmer them in stock until soft, then blend it all up."),
    ("hot chocolate", "Warm a mug of milk and stir in two spoonfuls of cocoa and a little sugar."),
    ("a jacket potato", "Prick a big potato with a fork and bake it for about an hour, until the skin is crispy."),
    ("a jam sandwich", "Spread butter and your favourite jam on two slices of bread, then cut it into triangles."),
)
COOK_SAFETY = ("", "Remember to wash your hands first.", "Ask a grown-up to help you in the kitchen.",
               "Have fun, and tidy up afterwards!")
INGREDIENTS = ("eggs", "flour", "milk", "butter", "rice", "potatoes", "tomatoes", "cheese", "onions", "lemons",
               "oats", "yoghurt", "spinach", "peas", "bread", "honey", "beans", "carrots")
INGREDIENT_ASK = ("What can I make with {a} and {b}?", "I've only got {a} and {b}. Any ideas for a snack?",
                  "Is there a recipe with {a} and {b}?")
INGREDIENT_REPLY = ("With {a} and {b} you could make a simple bake or a warm soup. Taste as you go!",
                    "You could try {a} and {b} together in a sandwich or a little stir-fry.",
                    "How about a simple supper with {a} and {b}? Ask a grown-up to help at the stove.")

PLANT_ASK = ("My {plant} {problem}. What should I do?", "Help! My {plant} {problem}.",
             "Can you help with my {plant}? It {problem}.", "I'm worried about my {plant}, it {problem}.")
PLANTS = ("sunflower", "cactus", "basil plant", "bean plant", "spider plant", "fern", "tomato plant", "mint plant",
          "rubber plant", "bonsai tree", "pea shoots", "geranium", "money plant", "strawberry plant")
PLANT_PROBLEMS = (
    ("has yellow leaves", (
        "Yellow leaves often mean too much water, so let the soil dry out a little between drinks.",
        "Try watering it a bit less, and check that the pot has holes at the bottom.",
    )),
    ("is drooping", (
        "A droopy plant is usually thirsty. Give it a good drink and it should perk up.",
        "Check the soil with your finger: if it's dry, some water should help.",
    )),
    ("is growing really slowly", (
        "It might need more light. Try moving it to a brighter windowsill.",
        "Plants grow slowly in winter, so be patient. A little plant food in spring can help.",
    )),
    ("keeps leaning towards the window", (
        "Plants lean towards the light. Turn the pot a little every few days.",
        "That's normal! Give the pot a quarter turn each week so it grows straight.",
    )),
    ("has crispy brown tips", (
        "Crispy tips can mean the air is dry. A gentle mist of water can help.",
        "Keep it away from the radiator, and water it a little more regularly.",
    )),
    ("has tiny bugs on the leaves", (
        "Wipe the leaves gently with a damp cloth, and ask a grown-up to take a look.",
        "Rinse the leaves with lukewarm water, and keep it apart from your other plants for a while.",
    )),
    ("has outgrown its pot", (
        "It might be time for a bigger pot with fresh soil.",
        "Move it to a pot one size bigger, and it will have room to stretch its roots.",
    )),
)

MATH_ASK = {
    "+": ("What's {a} plus {b}?", "Can you help with my homework? What is {a} add {b}?",
    "How much is {a} and {b} together?"),
    "-": ("What's {a} minus {b}?", "What do you get if you take {b} away from {a}?",
    "If I have {a} sweets and eat {b}, how many are left?"),
    "*": ("What is {a} times {b}?", "What's {a} multiplied by {b}?",
    "My times tables homework asks for {a} times {b}. What is it?"),
    "/": ("What's {a} divided by {b}?", "If {a} sweets are shared between {b} friends, how many does each get?",
          "How many times does {b} go into {a}?"),
}
MATH_REPLY = ("The answer is {c}.", "It's {c}!", "That makes {c}.", "It's {c}. Well done for practising!",
              "Let's work it out together: it comes to {c}.")

SPELL_WORDS = ("because", "necessary", "beautiful", "rhythm", "library", "separate", "definitely", "Wednesday",
               "friend", "island", "believe", "caterpillar", "different", "surprise", "remember", "thought",
               "tomorrow", "neighbour", "rhinoceros", "dinosaur", "lightning", "skeleton")
SPELL_ASK = ("How do you spell '{w}'?", "Can you spell '{w}' for me?", "I always get '{w}' wrong. How is it spelled?")
SPELL_REPLY = ("It's spelled {letters}.", "You spell it {letters}.", "'{w}' is spelled {letters}. Tricky one!")
MEANINGS = (("enormous", "very, very big"), ("curious", "wanting to know or learn about things"),
            ("grateful", "feeling thankful for something"), ("gloomy", "dark, or a bit sad"),
            ("nibble", "to take lots of small bites"), ("drizzle", "very light rain"),
            ("whisper", "to speak very quietly"), ("ancient", "very, very old"), ("fragile", "easy to break"),
            ("puzzled", "confused about something"), ("cosy", "warm and comfortable"),
            ("swift", "very fast"), ("hollow", "empty inside"), ("generous", "happy to share and give"))
MEANING_ASK = ("What does '{w}' mean?", "What's the meaning of the word '{w}'?",
               "My book says '{w}'. What does that mean?")
MEANING_REPLY = ("'{w}' means {m}.", "It means {m}.", "Good question! '{w}' means {m}.")
RHYMES = (("moon", "spoon, soon and balloon"), ("bee", "tree, sea and key"), ("star", "car, jar and far"),
          ("light", "kite, night and bright"), ("rain", "train, lane and chain"), ("snow", "glow, slow and bow"),
          ("cake", "lake, bake and wake"), ("sun", "fun, bun and run"), ("bear", "chair, hair and pear"),
          ("hat", "mat, flat and chat"), ("shoe", "blue, glue and zoo"), ("ring", "sing, king and swing"))
RHYME_ASK = ("What rhymes with '{w}'?", "Can you find a rhyme for '{w}'?",
             "I'm writing a poem. What rhymes with '{w}'?")
RHYME_REPLY = ("Some words that rhyme with '{w}' are {r}.", "How about {r}?", "{R} all rhyme with '{w}'.")

RIDDLE_ASK = ("Give me a riddle!", "Can you ask me a riddle?", "Let's play a riddle game.", "I love riddles. Got one?")
RIDDLES = (  # (riddle, answer, a wrong guess)
    ("I am full of holes, yet I can soak up a whole puddle. What am I?", "a sponge", "a net"),
    ("I go up when the rain comes down. What am I?", "an umbrella", "a roof"),
    ("I have a neck but no head, and I wear a cap. What am I?", "a bottle", "a jumper"),
    ("I get shorter the longer I glow. What am I?", "a candle", "a torch"),
    ("I have lots of teeth but I never bite. What am I?", "a comb", "a zip"),
    ("I fill a room but take up no space. What am I?", "light", "air"),
    ("I run all day but never get tired, and I have a bed I never sleep in. What am I?", "a river", "a clock"),
    ("I have pages but I'm not a tree, and I tell stories without talking. What am I?", "a book", "a diary"),
)
GUESS = ("Is it {g}?", "Hmm, is it {g}?", "I think it's {g}!", "Could it be {g}?")
NUMBER_GAME = ("I'm thinking of a number from 1 to {top}. Can you guess it?",
               "Guess my number! It's between 1 and {top}.",
               "Let's play a guessing game. I've picked a number from 1 to {top}.")
RPS = ("rock", "paper", "scissors")
RPS_ASK = ("Let's play rock, paper, scissors! I pick {x}.", "Rock, paper, scissors... I choose {x}!",
           "One round of rock, paper, scissors? I'm going with {x}.")
RATHER = (  # (option, reason) pairs the user can choose between
    (("fly like a bird", "I'd love to see the rooftops from above"), ("swim like a fish",
      "the sea must be full of surprises")),
    (("live in a treehouse", "I could listen to the leaves all night"), ("live on a houseboat",
      "I'd wake up to the sound of water")),
    (("have a robot helper", "it could tidy up while we play"), ("have a magic paintbrush",
      "everything I painted would come to life")),
    (("visit the Moon", "I'd love to bounce around in low gravity"), ("explore the deep ocean",
      "there are creatures down there nobody has seen")),
    (("talk to trees", "they must know lots of old stories"), ("read a book in one minute",
      "I could read a whole library")),
    (("have snow every winter", "snowball games are the best"), ("have sunshine every day",
      "every day could be a picnic day")),
)
RATHER_ASK = ("Would you rather {a} or {b}?", "Here's a question: would you rather {a} or {b}?",
              "If you had to choose, would you {a} or {b}?")
RATHER_REPLY = ("I think I'd rather {x}, because {why}.", "Ooh, tricky! I'd choose to {x}, since {why}.")

SCIENCE = (
    ("how far away is the Moon?", "The Moon is about 384,000 kilometres away, roughly a three-day trip by rocket."),
    ("how many planets are in our solar system?", "There are eight planets, from little Mercury out to windy Neptune."),
    ("why does the Moon change shape?",
     "It doesn't really change: we just see different amounts of its sunny side as it travels around us."),
    ("is the Sun a star?", "Yes! The Sun is a star, and it's the closest one to us."),
    ("what is the biggest planet?", "Jupiter is the biggest planet. More than a thousand Earths could fit inside it."),
    ("why does Mars look red?", "Mars is covered in rusty soil and rocks, which makes it look red."),
    ("what are stars made of?", "Stars are giant balls of very hot gas, mostly hydrogen and helium."),
    ("why do astronauts float?",
     "In orbit they are falling around the Earth together with their spaceship, so they float."),
    ("what is a shooting star?", "It's a tiny bit of space rock burning up as it zooms into our air."),
    ("which planet has rings?", "Saturn has the most famous rings, made of ice and rock."),
    ("why is it dark at night?",
     "Our side of the Earth turns away from the Sun, so its light can't reach us until morning."),
    ("how many legs does a spider have?", "A spider has eight legs. Insects, like ants, have six."),
    ("why do leaves fall in autumn?", "Many trees rest in winter, so they drop their leaves to save water and energy."),
    ("how do fish breathe underwater?", "Fish use gills, which take the oxygen out of the water as it flows past."),
    ("why do bees buzz?", "Their wings flap more than two hundred times a second, and that makes the buzzing sound."),
    ("where does rain come from?",
     "Water rises into the sky as invisible vapour, makes clouds, and falls back down as rain."),
)
SCIENCE_PREFIX = ("", "", "I was wondering: ", "My teacher asked us: ", "Fun question! ", "Science time: ")
SCIENCE_INTRO = ("", "", "Good question! ", "Here's the short answer: ")  # only before one-sentence answers

DAY_MOODS = {
    "good": (("great", "brilliant", "really fun", "happy"),
             ("I scored a point in the class quiz", "we went to the park after school",
              "I finished a really big jigsaw",
              "I learned to do a cartwheel", "my friend came round to play", "we had a sports day"),
             ("That sounds wonderful! I'm glad you had fun.", "Hooray! Days like that are the best.",
              "How lovely. Thanks for sharing it with me.")),
    "busy": (("long", "busy", "tiring"),
             ("we walked all the way to the library and back", "I had lots of homework", "we tidied the whole garage",
              "I had two clubs after school", "we visited three shops looking for new shoes"),
             ("What a busy day! A quiet evening might help you rest.", "You've earned a good rest.",
              "Phew! Maybe curl up with a book tonight.")),
    "sad": (("sad", "tricky", "difficult"),
            ("my best friend was off sick", "I lost my favourite pencil", "it rained at playtime, so we stayed in",
             "I didn't do well in my spelling test", "I fell over in the playground"),
            ("I'm sorry to hear that. Tomorrow is a fresh start.", "That sounds hard. Be kind to yourself tonight.",
             "Oh no. It's okay to have days like that, and they always pass.")),
}
DAY_ASK = ("I had a {mood} day. {Event}.", "Today was {mood}, because {event}.",
           "Guess what? {Event}. It was a {mood} day.")

# --- The child-safety blocklist (whole words, any case) the tests scan every generated text for ----------------
BLOCKLIST = ("kill", "killed", "die", "dead", "death", "blood", "gun", "guns", "weapon", "knife", "sword", "fight",
             "war", "bomb", "kiss", "sexy", "beer", "wine", "drunk", "cigarette", "drugs", "hate", "stupid", "idiot",
             "damn", "hell", "shut up", "ugly", "scary", "monster", "punch")
