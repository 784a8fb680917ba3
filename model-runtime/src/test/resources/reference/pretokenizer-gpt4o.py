# Writes pretokenizer-gpt4o.json: how the GPT-4o (o200k) pre-tokenizer regex, as Phi-4-mini's tokenizer.json gives it
# (llama.cpp pre "gpt-4o"), splits sample texts, with Python's `regex` module (2026.5.9), the engine whose semantics
# tiktoken and Hugging Face tokenizers follow (\p classes, Unicode \s, case-insensitive contractions). A text's pieces
# are its matches in order, with any unmatched run kept as a piece of its own (HF Split, behavior "isolated").
#   pip install regex && python3 pretokenizer-gpt4o.py
import json
import regex

PATTERN = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
           r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
           r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

TEXTS = [
    "Hello world",
    "HelloWorld and HTTPServer, iPhone's JSON'S",
    "I'm sure they'll say we've done it; YOU'RE right, DON'T",
    "1234567 apples cost $3.50 (2024-11-30)",
    "line one\nline two\r\n\r\n  indented\t\ttabs",
    "path/to/file\n/usr/bin and a/b//c",
    "caf\u00e9 cafe\u0301 na\u00efve \u00c9COLE",
    "\u4f60\u597d\u4e16\u754c\uff0c\u3053\u3093\u306b\u3061\u306f \ud55c\uad6d\uc5b4",
    "emoji \U0001F999\U0001F999 and \U0001D400\U0001D401 math",
    "   leading and trailing   ",
    "x\u2003\u2003! a\u3000b",
    "!!! ??? ... --- ===\n\n",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u05e9\u05dc\u05d5\u05dd",
    "don't Don'T DON'T 'tis o'clock",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
]


def split(text):
    pieces, last = [], 0
    for m in regex.finditer(PATTERN, text):
        if m.start() > last:
            pieces.append(text[last:m.start()])
        pieces.append(m.group())
        last = m.end()
    if last < len(text):
        pieces.append(text[last:])
    return pieces


with open("pretokenizer-gpt4o.json", "w", encoding="utf-8") as f:
    json.dump({"source": "regex " + regex.__version__, "pattern": PATTERN,
               "cases": [{"text": t, "pieces": split(t)} for t in TEXTS]}, f, ensure_ascii=False, indent=1)
