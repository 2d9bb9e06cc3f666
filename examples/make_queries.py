#!/usr/bin/env python3
"""Writes examples/queries.jsonl: hand-written queries over the 14 router categories, each with a
ground truth and a metric. Kept as code so the set is easy to review and extend.

    python examples/make_queries.py > examples/queries.jsonl
"""

import json

MC = "multiple_choice"

# (category, metric, query, ground_truth, choices or None)
QUERIES = [
    # math
    ("math", "number", "What is 17 + 25?", "42", None),
    ("math", "number", "What is 9 times 8?", "72", None),
    ("math", "number", "What is 144 divided by 12?", "12", None),
    ("math", "number", "A shop sells pens at 3 dollars each. How many dollars do 7 pens cost?", "21", None),
    ("math", "number", "Tom has 15 apples and gives away 6. How many apples does he have left?", "9", None),
    ("math", "number", "What is 2 to the power of 10?", "1024", None),
    ("math", "number", "What is half of 3?", "1.5", None),
    ("math", "math", "Simplify the fraction 2/4.", "\\frac{1}{2}", None),
    ("math", "math", "Solve for x: 2x + 6 = 10.", "2", None),
    ("math", MC, "Which of these numbers is prime?", "C", ["9", "15", "13", "21"]),
    ("math", MC, "What is the square root of 81?", "B", ["8", "9", "7", "81"]),
    ("math", "number", "What is 1,000 minus 1?", "999", None),
    # physics
    ("physics", MC, "What is the SI unit of force?", "A", ["newton", "joule", "watt", "pascal"]),
    ("physics", MC, "What is the SI unit of energy?", "B", ["newton", "joule", "volt", "ohm"]),
    ("physics", "exact", "What is the unit of electrical resistance?", "ohm", None),
    ("physics", "number", "A car travels 100 km in 2 hours. What is its average speed in km per hour?", "50", None),
    ("physics", "exact", "What force pulls objects toward the Earth?", "gravity", None),
    ("physics", MC, "Light travels fastest in which medium?", "D", ["water", "glass", "diamond", "vacuum"]),
    ("physics", "number", "How many centimeters are in one meter?", "100", None),
    ("physics", "exact", "Which particle carries a negative electric charge: proton, neutron or electron?", "electron", None),
    ("physics", "keywords", "Explain what Newton's first law says.", ["rest", "motion", "force"], None),
    ("physics", "exact", "What is the approximate freezing point of water in degrees Celsius?", "0", None),
    ("physics", MC, "Sound cannot travel through which of these?", "C", ["air", "water", "vacuum", "steel"]),
    # chemistry
    ("chemistry", "exact", "What is the chemical symbol for gold?", "Au", None),
    ("chemistry", "exact", "What is the chemical symbol for sodium?", "Na", None),
    ("chemistry", "exact", "What is the chemical formula of water?", "H2O", None),
    ("chemistry", "number", "What is the atomic number of carbon?", "6", None),
    ("chemistry", "number", "What is the atomic number of oxygen?", "8", None),
    ("chemistry", MC, "What is the pH of pure water at 25 degrees Celsius?", "B", ["5", "7", "9", "14"]),
    (
        "chemistry",
        MC,
        "Which gas do plants absorb from the air for photosynthesis?",
        "A",
        ["carbon dioxide", "oxygen", "nitrogen", "helium"],
    ),
    ("chemistry", "exact", "Which element has the chemical symbol Fe?", "iron", None),
    ("chemistry", "exact", "What is the most abundant gas in Earth's atmosphere?", "nitrogen", None),
    (
        "chemistry",
        MC,
        "Table salt is mainly which compound?",
        "D",
        ["potassium chloride", "calcium carbonate", "sodium bicarbonate", "sodium chloride"],
    ),
    ("chemistry", "keywords", "What happens in a combustion reaction?", ["oxygen", "heat"], None),
    # biology
    ("biology", "exact", "What organ pumps blood through the human body?", "heart", None),
    ("biology", MC, "What is the powerhouse of the cell?", "C", ["nucleus", "ribosome", "mitochondria", "membrane"]),
    ("biology", "exact", "What molecule carries genetic information in most living things?", "DNA", None),
    ("biology", "number", "How many chambers does the human heart have?", "4", None),
    ("biology", MC, "Which blood cells carry oxygen?", "A", ["red blood cells", "white blood cells", "platelets", "plasma"]),
    ("biology", "exact", "What process do plants use to turn sunlight into chemical energy?", "photosynthesis", None),
    ("biology", "number", "How many legs does an insect have?", "6", None),
    ("biology", MC, "Which of these animals is a mammal?", "B", ["shark", "whale", "salmon", "octopus"]),
    ("biology", "exact", "What is the largest organ of the human body?", "skin", None),
    ("biology", "keywords", "Describe what a virus needs in order to reproduce.", ["host", "cell"], None),
    ("biology", "exact", "Bees collect nectar from what?", "flowers", None),
    # computer science
    (
        "computer science",
        "code",
        "Write a Python function add(a, b) that returns the sum of a and b.",
        ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"],
        None,
    ),
    (
        "computer science",
        "code",
        "Write a Python function is_even(n) that returns True when n is even.",
        ["assert is_even(4) is True", "assert is_even(7) is False"],
        None,
    ),
    (
        "computer science",
        "code",
        "Write a Python function reverse_string(s) that returns s reversed.",
        ["assert reverse_string('abc') == 'cba'", "assert reverse_string('') == ''"],
        None,
    ),
    (
        "computer science",
        "code",
        "Write a Python function max_of_list(xs) that returns the largest number in a list.",
        ["assert max_of_list([1, 5, 3]) == 5", "assert max_of_list([-2, -9]) == -2"],
        None,
    ),
    (
        "computer science",
        "code",
        "Write a Python function factorial(n) that returns n factorial.",
        ["assert factorial(0) == 1", "assert factorial(5) == 120"],
        None,
    ),
    (
        "computer science",
        MC,
        "What does CPU stand for?",
        "A",
        ["central processing unit", "computer personal unit", "central program utility", "core processing utility"],
    ),
    ("computer science", MC, "Which data structure works first-in, first-out?", "B", ["stack", "queue", "tree", "heap"]),
    ("computer science", "number", "How many bits are in one byte?", "8", None),
    ("computer science", "exact", "What does HTML stand for?", "HyperText Markup Language", None),
    ("computer science", MC, "What is the time complexity of binary search?", "C", ["O(n)", "O(n^2)", "O(log n)", "O(1)"]),
    ("computer science", "exact", "In Python, which keyword defines a function?", "def", None),
    ("computer science", "number", "What is 1010 in binary written as a decimal number?", "10", None),
    # history
    ("history", "number", "In what year did World War II end?", "1945", None),
    ("history", "exact", "Who was the first President of the United States?", "George Washington", None),
    ("history", "number", "In what year did Christopher Columbus first reach the Americas?", "1492", None),
    ("history", MC, "Which ancient civilization built the pyramids of Giza?", "A", ["Egyptians", "Romans", "Greeks", "Aztecs"]),
    ("history", "number", "In what year did the Berlin Wall fall?", "1989", None),
    ("history", "exact", "Which ship sank in 1912 after hitting an iceberg?", "Titanic", None),
    ("history", MC, "Who was the first person to walk on the Moon?", "B", ["Yuri Gagarin", "Neil Armstrong", "Buzz Aldrin", "John Glenn"]),
    ("history", "exact", "Which empire was ruled by Julius Caesar?", "Roman", None),
    ("history", "number", "In what year did the French Revolution begin?", "1789", None),
    ("history", "keywords", "Why is the printing press of Gutenberg important?", ["books", "spread", "knowledge"], None),
    ("history", MC, "The Great Wall was built mainly in which country?", "D", ["Japan", "India", "Mongolia", "China"]),
    # economics
    (
        "economics",
        MC,
        "What is inflation?",
        "A",
        ["a general rise in prices", "a fall in unemployment", "a rise in exports", "a tax on imports"],
    ),
    ("economics", "exact", "What is the term for a market with only one seller?", "monopoly", None),
    (
        "economics",
        MC,
        "When demand rises and supply stays the same, prices usually do what?",
        "B",
        ["fall", "rise", "stay the same", "become zero"],
    ),
    ("economics", "exact", "What does GDP stand for?", "gross domestic product", None),
    ("economics", "number", "If a price rises from 100 to 110 dollars, what is the percentage increase?", "10", None),
    ("economics", "exact", "Which institution sets interest rates in the United States?", "Federal Reserve", None),
    (
        "economics",
        MC,
        "What is a recession?",
        "C",
        ["a rise in stock prices", "a new currency", "a period of falling economic activity", "a trade agreement"],
    ),
    ("economics", "keywords", "Explain the law of supply and demand.", ["price", "supply", "demand"], None),
    (
        "economics",
        "number",
        "You deposit 200 dollars at 5 percent simple interest for one year. How many dollars of interest do you earn?",
        "10",
        None,
    ),
    ("economics", "exact", "What is the currency of Japan?", "yen", None),
    # business
    ("business", "exact", "What does CEO stand for?", "chief executive officer", None),
    ("business", "number", "A product costs 40 dollars to make and sells for 50 dollars. What is the profit in dollars?", "10", None),
    (
        "business",
        MC,
        "What is a balance sheet?",
        "B",
        ["a list of employees", "a statement of assets and liabilities", "a marketing plan", "a sales forecast"],
    ),
    ("business", "exact", "What is the term for money a company earns from sales before costs?", "revenue", None),
    ("business", MC, "What does B2B mean?", "A", ["business to business", "back to basics", "bank to bank", "buy two bonus"]),
    ("business", "keywords", "Name the four Ps of marketing.", ["product", "price", "place", "promotion"], None),
    ("business", "number", "A team of 4 people shares a 1,000 dollar bonus equally. How many dollars does each get?", "250", None),
    ("business", "exact", "What is the name for a share of ownership in a company?", "stock", None),
    (
        "business",
        MC,
        "Which document describes a new company's goals and strategy?",
        "C",
        ["invoice", "receipt", "business plan", "payslip"],
    ),
    ("business", "exact", "What does ROI stand for?", "return on investment", None),
    # law
    (
        "law",
        MC,
        "In a criminal trial in the United States, who must prove guilt?",
        "A",
        ["the prosecution", "the defendant", "the jury", "the witness"],
    ),
    ("law", "exact", "What is the highest court in the United States?", "Supreme Court", None),
    ("law", "exact", "What is the legal term for a written statement made under oath?", "affidavit", None),
    ("law", MC, "What is a contract?", "B", ["a court ruling", "a legally binding agreement", "a type of tax", "a police report"]),
    ("law", "exact", "What do we call the person who brings a civil lawsuit?", "plaintiff", None),
    ("law", MC, "Copyright protects which of these?", "C", ["ideas", "facts", "creative works", "names"]),
    ("law", "keywords", "What does 'innocent until proven guilty' mean?", ["innocent", "proven", "guilty"], None),
    ("law", "exact", "What is the term for false spoken statements that damage a reputation?", "slander", None),
    ("law", "number", "How many amendments make up the US Bill of Rights?", "10", None),
    (
        "law",
        MC,
        "A judge's decision used as a rule for later cases is called what?",
        "D",
        ["a statute", "a treaty", "a verdict", "a precedent"],
    ),
    # health
    ("health", "number", "How many hours of sleep per night are usually recommended for adults, at least?", "7", None),
    ("health", MC, "Which vitamin does the skin make in sunlight?", "D", ["vitamin A", "vitamin B12", "vitamin C", "vitamin D"]),
    ("health", "exact", "What organ filters blood to make urine?", "kidney", None),
    (
        "health",
        MC,
        "What is a normal resting heart rate for adults, in beats per minute?",
        "B",
        ["20 to 40", "60 to 100", "120 to 160", "180 to 220"],
    ),
    ("health", "exact", "What disease is caused by high blood sugar over a long time?", "diabetes", None),
    ("health", "number", "What is the normal human body temperature in degrees Celsius, to the nearest degree?", "37", None),
    ("health", "keywords", "Give three habits that support heart health.", ["exercise", "diet", "smoking"], None),
    ("health", MC, "Antibiotics work against which of these?", "A", ["bacteria", "viruses", "allergies", "genes"]),
    ("health", "exact", "Which mineral is most important for strong bones?", "calcium", None),
    ("health", "number", "How many teeth does an adult human usually have?", "32", None),
    # psychology
    (
        "psychology",
        MC,
        "Who is known as the founder of psychoanalysis?",
        "C",
        ["Carl Rogers", "B. F. Skinner", "Sigmund Freud", "Jean Piaget"],
    ),
    ("psychology", "exact", "Pavlov's experiments with dogs demonstrated what type of conditioning?", "classical conditioning", None),
    ("psychology", MC, "What is short-term memory's typical capacity, in items?", "B", ["2", "7", "50", "1000"]),
    ("psychology", "exact", "What is the term for a strong, irrational fear of something?", "phobia", None),
    (
        "psychology",
        "keywords",
        "Name the levels of Maslow's hierarchy of needs.",
        ["physiological", "safety", "love", "esteem", "self-actualization"],
        None,
    ),
    (
        "psychology",
        MC,
        "Which part of the nervous system controls the fight-or-flight response?",
        "A",
        ["sympathetic", "parasympathetic", "somatic", "spinal"],
    ),
    ("psychology", "exact", "What do psychologists call learning by watching others?", "observational learning", None),
    (
        "psychology",
        MC,
        "Cognitive behavioural therapy focuses mainly on what?",
        "D",
        ["dreams", "childhood memories only", "medication", "thoughts and behaviours"],
    ),
    ("psychology", "exact", "Which psychologist described stages of cognitive development in children?", "Piaget", None),
    ("psychology", "f1", "What is confirmation bias?", "the tendency to favour information that confirms existing beliefs", None),
    # philosophy
    ("philosophy", "exact", "Which philosopher said 'I think, therefore I am'?", "Descartes", None),
    ("philosophy", MC, "Who wrote 'The Republic'?", "B", ["Aristotle", "Plato", "Socrates", "Kant"]),
    ("philosophy", "exact", "What branch of philosophy studies right and wrong?", "ethics", None),
    (
        "philosophy",
        MC,
        "Utilitarianism judges actions mainly by what?",
        "A",
        ["their consequences", "the actor's intentions", "religious rules", "tradition"],
    ),
    ("philosophy", "exact", "Who was Plato's teacher?", "Socrates", None),
    ("philosophy", "exact", "What branch of philosophy studies knowledge?", "epistemology", None),
    ("philosophy", MC, "Which philosopher wrote 'Critique of Pure Reason'?", "C", ["Hume", "Locke", "Kant", "Hegel"]),
    ("philosophy", "f1", "What is the Socratic method?", "asking questions to examine ideas and expose contradictions", None),
    ("philosophy", "exact", "Which ancient philosopher tutored Alexander the Great?", "Aristotle", None),
    ("philosophy", "keywords", "What is the trolley problem about?", ["trolley", "five", "one"], None),
    # other (general knowledge)
    ("other", "exact", "What is the capital of France?", "Paris", None),
    ("other", "exact", "What is the capital of Japan?", "Tokyo", None),
    ("other", "exact", "What is the capital of Italy?", "Rome", None),
    ("other", "exact", "What color do you get by mixing blue and yellow?", "green", None),
    ("other", "number", "How many days are in a leap year?", "366", None),
    ("other", "number", "How many continents are there?", "7", None),
    ("other", MC, "What is the largest ocean on Earth?", "C", ["Atlantic", "Indian", "Pacific", "Arctic"]),
    ("other", "exact", "What is the opposite of 'hot'?", "cold", None),
    ("other", "exact", "Which planet is known as the Red Planet?", "Mars", None),
    ("other", "number", "How many minutes are in one hour?", "60", None),
    ("other", "f1", "Translate 'bonjour' from French to English.", "hello", None),
    ("other", "exact", "What language is mainly spoken in Brazil?", "Portuguese", None),
    # engineering is not a runtime category: the loader counts it and the runtime uses the `other` slot
    ("engineering", MC, "Which material is most commonly used to reinforce concrete?", "A", ["steel", "glass", "wood", "rubber"]),
    ("engineering", "exact", "What simple machine is a ramp?", "inclined plane", None),
    ("engineering", "number", "A gear with 10 teeth drives a gear with 20 teeth. What is the gear ratio, driven to driver?", "2", None),
    # no category: the runtime's `unknown` slot
    (None, "exact", "Say the word 'yes'.", "yes", None),
    (None, "number", "What number comes after 99?", "100", None),
    (None, "exact", "What is the plural of 'mouse'?", "mice", None),
    (None, "exact", "Spell the word 'cat' backwards.", "tac", None),
    (None, "number", "How many sides does a triangle have?", "3", None),
    (None, MC, "Which of these is a fruit?", "B", ["carrot", "apple", "potato", "onion"]),
    (None, "exact", "What is the first letter of the English alphabet?", "A", None),
    (None, "number", "What is 5 plus 5?", "10", None),
    ("other", "exact", "What animal says 'moo'?", "cow", None),
    ("other", "number", "How many weeks are in a year?", "52", None),
    ("math", "number", "What is 3 squared?", "9", None),
]


def main() -> None:
    for category, metric, query, truth, choices in QUERIES:
        line = {"query": query, "ground_truth": truth, "metric": metric}
        if category is not None:
            line["category"] = category
        if choices is not None:
            line["choices"] = choices
        line["task_name"] = f"examples-{(category or 'unknown').replace(' ', '-')}"
        print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    main()
