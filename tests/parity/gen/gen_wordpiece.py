#!/usr/bin/python3
"""gen_wordpiece.py - the BERT tokenizer (BasicTokenizer + WordpieceTokenizer) for assay's wordpiece.

Hugging Face transformers is not installable here, so the reference is a transcription of
BERT's tokenization.py (google-research/bert) with the changes Hugging Face's BertTokenizer
(transformers, tokenization_bert.py) made to it, using only Python's unicodedata:
  - _is_control counts every category C* (Cc, Cf, Cs, Co, Cn) as control (Google: Cc, Cf);
  - the text is NFC-normalized after the CJK spacing (transformers >= 4.31);
  - strip_accents: None follows do_lower_case, False/True override it;
  - the special tokens are split out of the text first (PreTrainedTokenizer.tokenize's trie:
    leftmost match, case-sensitive) and are never lower-cased or split (never_split).
Writes tests/parity/fixtures/wordpiece.json: a vocabulary of a few hundred tokens (specials,
characters and their ## forms, words, ## pieces, CJK, accented, Greek, kana, an emoji) and about
60 tricky strings with the expected tokens and ids for do_lower_case = 1 and 0, and for
do_lower_case = 1 with strip_accents = False.
(No string holds U+0000: the fixture reader refuses it; the C unit test checks NUL with lengths.
No character is newer than Unicode 14, Python 3.11's unicodedata; utf8proc 2.8 has 15.)
Run with Debian's python: /usr/bin/python3 tests/parity/gen/gen_wordpiece.py
"""
import json
import os
import unicodedata

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "wordpiece.json")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


# ---- BERT's tokenization.py (as in transformers' tokenization_bert.py) ----------------------

def whitespace_tokenize(text):
    text = text.strip()
    if not text:
        return []
    return text.split()


def _is_whitespace(char):
    if char == " " or char == "\t" or char == "\n" or char == "\r":
        return True
    return unicodedata.category(char) == "Zs"


def _is_control(char):
    if char == "\t" or char == "\n" or char == "\r":
        return False
    return unicodedata.category(char).startswith("C")


def _is_punctuation(char):
    cp = ord(char)
    if (cp >= 33 and cp <= 47) or (cp >= 58 and cp <= 64) or (cp >= 91 and cp <= 96) or (cp >= 123 and cp <= 126):
        return True
    return unicodedata.category(char).startswith("P")


class BasicTokenizer:
    def __init__(self, do_lower_case=True, never_split=None, tokenize_chinese_chars=True, strip_accents=None):
        self.do_lower_case = do_lower_case
        self.never_split = set(never_split or [])
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = strip_accents

    def tokenize(self, text):
        never_split = self.never_split
        text = self._clean_text(text)
        if self.tokenize_chinese_chars:
            text = self._tokenize_chinese_chars(text)
        text = unicodedata.normalize("NFC", text)
        orig_tokens = whitespace_tokenize(text)
        split_tokens = []
        for token in orig_tokens:
            if token not in never_split:
                if self.do_lower_case:
                    token = token.lower()
                    if self.strip_accents is not False:
                        token = self._run_strip_accents(token)
                elif self.strip_accents:
                    token = self._run_strip_accents(token)
            split_tokens.extend(self._run_split_on_punc(token, never_split))
        return whitespace_tokenize(" ".join(split_tokens))

    def _run_strip_accents(self, text):
        text = unicodedata.normalize("NFD", text)
        return "".join(c for c in text if unicodedata.category(c) != "Mn")

    def _run_split_on_punc(self, text, never_split):
        if text in never_split:
            return [text]
        chars = list(text)
        i = 0
        start_new_word = True
        output = []
        while i < len(chars):
            char = chars[i]
            if _is_punctuation(char):
                output.append([char])
                start_new_word = True
            else:
                if start_new_word:
                    output.append([])
                start_new_word = False
                output[-1].append(char)
            i += 1
        return ["".join(x) for x in output]

    def _tokenize_chinese_chars(self, text):
        output = []
        for char in text:
            if self._is_chinese_char(ord(char)):
                output.append(" ")
                output.append(char)
                output.append(" ")
            else:
                output.append(char)
        return "".join(output)

    def _is_chinese_char(self, cp):
        return ((cp >= 0x4E00 and cp <= 0x9FFF) or (cp >= 0x3400 and cp <= 0x4DBF)
                or (cp >= 0x20000 and cp <= 0x2A6DF) or (cp >= 0x2A700 and cp <= 0x2B73F)
                or (cp >= 0x2B740 and cp <= 0x2B81F) or (cp >= 0x2B820 and cp <= 0x2CEAF)
                or (cp >= 0xF900 and cp <= 0xFAFF) or (cp >= 0x2F800 and cp <= 0x2FA1F))

    def _clean_text(self, text):
        output = []
        for char in text:
            cp = ord(char)
            if cp == 0 or cp == 0xFFFD or _is_control(char):
                continue
            output.append(" " if _is_whitespace(char) else char)
        return "".join(output)


class WordpieceTokenizer:
    def __init__(self, vocab, unk_token, max_input_chars_per_word=100):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word

    def tokenize(self, text):
        output_tokens = []
        for token in whitespace_tokenize(text):
            chars = list(token)
            if len(chars) > self.max_input_chars_per_word:
                output_tokens.append(self.unk_token)
                continue
            is_bad = False
            start = 0
            sub_tokens = []
            while start < len(chars):
                end = len(chars)
                cur_substr = None
                while start < end:
                    substr = "".join(chars[start:end])
                    if start > 0:
                        substr = "##" + substr
                    if substr in self.vocab:
                        cur_substr = substr
                        break
                    end -= 1
                if cur_substr is None:
                    is_bad = True
                    break
                sub_tokens.append(cur_substr)
                start = end
            if is_bad:
                output_tokens.append(self.unk_token)
            else:
                output_tokens.extend(sub_tokens)
        return output_tokens


def split_specials(text):
    """PreTrainedTokenizer.tokenize's trie split: (piece, is_special) in order."""
    out, i, start = [], 0, 0
    while i < len(text):
        hit = next((s for s in SPECIALS if text.startswith(s, i)), None)
        if hit:
            if i > start:
                out.append((text[start:i], False))
            out.append((hit, True))
            i += len(hit)
            start = i
        else:
            i += 1
    if start < len(text):
        out.append((text[start:], False))
    return out


def bert_tokenize(text, vocab, lower, strip_accents=None):
    basic = BasicTokenizer(do_lower_case=lower, never_split=SPECIALS, strip_accents=strip_accents)
    wp = WordpieceTokenizer(vocab, "[UNK]")
    out = []
    for piece, special in split_specials(text):
        if special:
            out.append(piece)
            continue
        for tok in basic.tokenize(piece):
            out.extend(wp.tokenize(tok))
    return out


# ---- the vocabulary and the strings --------------------------------------------------------

def build_vocab():
    toks = list(SPECIALS)
    chars = [chr(c) for c in range(33, 127)] + list("éèêëáàâäíïóöôúüçñßøåæœ") + list("ÉÖÜÅ")
    toks += chars + ["##" + c for c in chars if c.isalnum()]
    words = ("the of and to in a is that for it as was with be by on not he this are or his from at "
             "which but have an they you were her she there been one all we their has would when "
             "what if will more no out so said up about can who some time into its new only other "
             "after also could two first because over may like hello world un ##aff ##able run "
             "##ning ##s ##ed ##ing ##ly ##er ##est token ##izer ##ization play ##ful straße strasse "
             "café cafe naïve naive résumé resume über uber ##über http https www example com org "
             "github bert 2023 100 000 ##0 ##00 ##000 3 14 co ##operation email user name "
             "ﬁ ﬁne fine istanbul İstanbul i̇stanbul ##stanbul σ ς ο δ ## οδος οδός αθήνα αθηνα "
             "Hello World The Café Straße Paris paris").split()
    toks += words
    toks += list("中文字人日本東京北京我爱你的是") + list("ひらがなカタカナです") + ["##な", "##ナ", "##で", "##す"]
    greek = "αβγδεζηθικλμνξοπρστυφχψως"
    toks += list(greek) + ["##" + c for c in greek] + ["σας", "Σ", "##Σ", "##Α", "i̇", "##̇"]
    toks += ["👍", "😀", "❤", "🇫", "##🇷", "…", "—", "–", "¿", "¡", "«", "»", "“", "”", "‘", "’", "·", "€", "£", "¥", "°"]
    toks += ["a" * 3, "##aa", "##aaa", "x" * 10, "##" + "y" * 5]
    seen, out = set(), []
    for t in toks:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


CASES = [
    "",
    "   ",
    "\t\n\r ",
    "Hello, World!",
    "hello world",
    "HELLO WORLD",
    "unaffable",
    "UnAffable running",
    "playful tokenizer tokenization",
    "Café naïve résumé",
    "CAFÉ NAÏVE RÉSUMÉ",
    "Cafe\u0301 nai\u0308ve",
    "Straße STRASSE straße",
    "İstanbul ISTANBUL istanbul",
    "ΟΔΟΣ οδός Αθήνα ΣΑΣ",
    "Σ ΑΣ. ΑΣΑ ΑΣ'Α ΑΣ́ Σ́Α",
    "ﬁne ﬁ ﬀ",
    "über Über ÜBER",
    "Ångström Å Å",
    "中文字",
    "我爱你的中文",
    "hello中文world",
    "東京は日本",
    "ひらがな カタカナです",
    "ＡＢＣ１２３",
    "👍👍 hello😀",
    "❤️ love",
    "🇫🇷 flag",
    "family 👨\u200d👩\u200d👧",
    "zero\u200bwidth\u200cjoin\u200dhere\ufeff",
    "soft\u00adhyphen",
    "control\x01\x02\x7f\x1bchars",
    "tab\there\nnew\rline",
    "vt\x0bff\x0cfs\x1cus\x1f",
    "nbsp\u00a0thin\u2009ideo\u3000space",
    "line\u2028sep\u2029para",
    "nel\x85next",
    "replacement\ufffdchar",
    "private\ue000use",
    "!!!???...",
    "a.b,c;d:e",
    "(hello) [world] {the}",
    "$100 ^_^ `code` ~tilde~",
    "¿Qué? ¡Sí! «quoted» “curly” ‘single’",
    "em—dash en–dash…",
    "1,000,000 3.14 2023-01-01 100%",
    "http://www.example.com/path?q=1&r=2",
    "https://github.com/bert",
    "user.name@example.org",
    "a" * 100,
    "a" * 101,
    "x" * 10 + "yyyyy",
    "xxxxxxxxxx" + "z",
    "[CLS] hello [SEP] world [SEP]",
    "[cls] [MASK] the[MASK]of",
    "hello[SEP]world[PAD][UNK]",
    "[CL\u200bS] hidden special",
    "[MASK",
    "qwerty zxcvb",
    "The the THE tHe",
    "Paris paris PARIS",
    "ǅ ǈ Ǳ",
    "€100 £5 ¥3 30°",
    "\u037e greek question",
    "Ａ full width Ｈｅｌｌｏ",
    "tokenization" * 9,
    "x\u0300\u0301\u0302y",
    "\u0301\u0301 lone marks",
    "\uf900\ufa0e compat ideographs",
    "Ωhm \u2126 \u212a kelvin",
]


# (key, do_lower_case, strip_accents)
MODES = (("lower", True, None), ("cased", False, None), ("lower_keep_accents", True, False))


def main():
    vocab = build_vocab()
    index = {t: i for i, t in enumerate(vocab)}
    cases = []
    for text in CASES:
        case = {"text": text}
        for key, lower, strip in MODES:
            toks = bert_tokenize(text, index, lower, strip)
            case[key] = {"tokens": toks, "ids": [index[t] for t in toks]}
        cases.append(case)
    doc = {
        "source": "BERT tokenization.py with transformers' BertTokenizer changes (gen_wordpiece.py), "
                  "unicodedata " + unicodedata.unidata_version,
        "vocab": vocab,
        "cases": cases,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("%s: %d tokens, %d cases" % (OUT, len(vocab), len(cases)))


if __name__ == "__main__":
    main()
