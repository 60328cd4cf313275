"""Who is speaking to whom: a reply that confuses the roles is caught before it is shown or spoken.

A small model playing the ex slips out of its role in five ways, seen in real replies:
  - it names itself as the one it talks to ("you are amazing Alex", said by Alex);
  - it takes the user's name as its own ("my name is sam", said by Alex to Sam);
  - it speaks of the user in the third person ("I think he was being selfish", to Sam about Sam);
  - it speaks as an assistant ("I'm glad you found it interesting! Reading is a wonderful way…");
  - it denies the shared history ("the messages were fake", "we never dated").
`role_error()` reads a reply so far (English and Chinese) and names the first such slip. It is a
precise check, not a wide one: a slip it misses is a weaker reply, a false one costs a retry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OWN_NAME = "own_name"
USER_THIRD_PERSON = "user_third_person"
ASSISTANT = "assistant"
DENIAL = "denial"
USER_NAME_AS_OWN = "user_name_as_own"
KINDS = (OWN_NAME, USER_NAME_AS_OWN, USER_THIRD_PERSON, ASSISTANT, DENIAL)
CORRECTED = "corrected"  # a reply the user marked "they wouldn't say that", said again (persona.guard)


@dataclass(frozen=True)
class RoleError:
    """A slip out of the persona's role, and the words that showed it."""

    kind: str
    words: str


# How an assistant talks, never an ex in a chat (lowercase, straight apostrophes).
_ASSISTANT = (
    "how can i help",
    "how can i assist",
    "how may i help",
    "how may i assist",
    "is there anything else",
    "anything else i can",
    "i'm here to help",
    "i am here to help",
    "happy to help",
    "glad to help",
    "hope this helps",
    "hope that helps",
    "great question",
    "i'm glad you found",
    "i am glad you found",
    "don't hesitate to",
    "feel free to ask",
    "if you have any other questions",
    "if you have any questions",
    "let me know if you have any",
    "as an ai",
    "as a language model",
    "language model",
    "i'm an ai",
    "i am an ai",
    "virtual assistant",
    "ai assistant",
    "i'm a chatbot",
    "i am a chatbot",
    "can't assist with",
    "cannot assist with",
    "can't help you with that",
    "sorry for the inconvenience",
    "sorry for any inconvenience",
    "apologize for any confusion",
    "apologies for any confusion",
    "thank you for sharing",
    # the prompt's own scaffolding, said back
    "real past exchanges",
    "answer in this voice",
    "do not copy them",
    "replies marked as not",
    "never answer like these",
    "thanks for sharing that",
    "is a wonderful way to",
    "is a great way to",
    "作为一个ai",
    "作为ai",
    "作为人工智能",
    "我是一个ai",
    "我是人工智能",
    "有什么可以帮",
    "有什么我可以帮",
    "很高兴为你",
    "希望对你有帮助",
    "希望这对你有帮助",
    "还有其他问题",
    "请随时",
)

_DENIAL_EN = re.compile(
    r"\b(?:messages?|texts?|chats?|chat history|history|conversations?|screenshots?|memories)\b[^.!?]{0,30}?"
    r"\b(?:fake|made[- ]up|not real|aren't real|weren't real|isn't real|wasn't real|fabricated|invented|generated"
    r"|written by|never happened)"
    r"|\b(?:written|made up|typed|sent) by (?:my ex|someone else|somebody else|a bot|an ai)\b"
    r"|\bwe (?:were never|never were|never dated|never met|never went out|have never been|never been|weren't)"
    r"(?: really)? ?(?:together|a couple|dating)?\b"
    r"|\bi (?:don't|do not|never) (?:even |really )?know (?:who you are|you)\b"
    r"|\bwho (?:are|r) you\b(?! to\b)(?!,? (?:now|these days|anymore|with)\b)"
    r"|\bi(?:'ve| have) never (?:met|seen) you\b"
    r"|\bi'?m (?:just |only )?(?:a|an) (?:bot|ai|program|simulation|computer|robot)\b"
    r"|\bi am (?:just |only )?(?:a|an) (?:bot|ai|program|simulation|computer|robot)\b"
    # the app's own framing said back: the ex never calls what they lived "a simulation" or "exchanges"
    r"|\bsimulat(?:ion|ed)\b|\b(?:past|previous|real|these|those) exchanges\b",
    re.IGNORECASE,
)
_DENIAL_ZH = re.compile(
    r"(?:消息|聊天记录|记录|短信|聊天)[^。！？!?]{0,8}(?:假的|伪造|编的|编造|不是真的)"
    r"|我(?:根本|都|也)?不认识你"
    r"|我们(?:根本|从来|从)?没(?:有)?(?:在一起|见过|谈过|交往)"
    r"|你是谁(?!啊?[，,]?你凭什么)"
    r"|我(?:只)?是(?:一个)?(?:机器人|程序|ai|AI|人工智能)"
    r"|模拟(?:的|出来|程序|对话)"
)
# The prompt's own wording said back ("Sam's new message follows.)" → "the new message does not follow").
# Also a transcript label the model writes itself: "alex's message:", "sam's new message:".
_SCAFFOLD = re.compile(
    r"\bnew message (?:does ?n[o']?t |did ?n[o']?t )?follows?\b|\b\w+'s (?:new |last |next )?message\s*:"
)

# A question about whether the shared history is real, and a reply that says no to it.
_ASKS_IF_HISTORY_REAL = re.compile(
    r"\b(?:messages?|texts?|chats?|history|conversations?|memories)\b.{0,40}\b(?:real|fake|true|ours)\b"
    r"|\b(?:real|fake)\b.{0,20}\b(?:messages?|texts?|chats?|history|conversations?)\b"
    r"|(?:聊天记录|记录|消息|聊天).{0,10}(?:真的|假的|是真|是假)",
    re.IGNORECASE,
)
_SAYS_NO = re.compile(
    r"^\W*(?:no\b|nope\b|nah\b|not really\b|i don'?t think so\b|i doubt it\b|of course not\b"
    r"|不是|不|假的|没有)",
    re.IGNORECASE,
)
_MY_EX = re.compile(r"\bmy ex\b|我(?:的)?前任|我前男友|我前女友", re.IGNORECASE)
# "you're my ex" says it to the user: "my ex" is then what they are, not someone spoken of.
_YOU_ARE_BEFORE = re.compile(
    r"(?:\byou(?:'re|’re| are| were|'ll always be| will always be)(?: (?:just|only|still|now|officially))?"
    r"|你(?:就|已经|现在|曾经|还)?是)\s*$",
    re.IGNORECASE,
)

# Words that give "he"/"she" someone to refer to besides the user.
_THIRD_PARTIES = (
    "friend|brother|bro|sister|sis|mom|mum|mother|dad|father|parent|parents|boss|manager|guy|girl|man|woman"
    "|boyfriend|girlfriend|husband|wife|partner|cousin|coworker|co-worker|colleague|roommate|flatmate|neighbor"
    "|neighbour|teacher|doctor|therapist|son|daughter|kid|child|baby|dog|cat|uncle|aunt|grandma|grandpa"
    "|grandmother|grandfather|landlord|nephew|niece|buddy|someone|somebody|everyone|person|people|they|he|she"
)
_THIRD_PARTY_RE = re.compile(rf"\b(?:{_THIRD_PARTIES})s?\b", re.IGNORECASE)
_ZH_THIRD_PARTY = re.compile(
    r"朋友|妈|爸|哥|姐|弟|妹|老板|同事|室友|男朋友|女朋友|老公|老婆|同学|老师|医生|邻居|家人|孩子|狗|猫|他|她"
    r"|女生|男生|女孩|男孩|女人|男人|有人|别人|人家"
)
_HE_SHE = re.compile(r"\b(?:he|she|him|his|he's|she's|he'd|she'd)\b", re.IGNORECASE)
_ZH_HE_SHE = re.compile(r"[他她]")
_MID_SENTENCE_NAME = re.compile(r"(?<=[a-z,;:] )[A-Z][a-z]+\b")  # a capitalized word inside a sentence
_SELF_INTRO = r"(?:i'?m|i am|it'?s|this is|it is|我是|我叫|是我)\s*"


def _norm(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("‘", "'").split())


def _name_forms(name: str) -> list[str]:
    """The full name and its first word (what a chat would call them), longest first."""
    name = name.strip()
    if not name:
        return []
    forms = {name}
    first = name.split()[0]
    if len(first) >= 2:
        forms.add(first)
    return sorted(forms, key=len, reverse=True)


def _name_re(name: str, *, any_case: bool = False) -> re.Pattern[str] | None:
    forms = _name_forms(name)
    if not forms:
        return None
    alternatives = "|".join(re.escape(f) for f in forms)
    if any("\u4e00" <= ch <= "\u9fff" for ch in name):
        return re.compile(f"(?:{alternatives})")
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?![\w'])", re.IGNORECASE if any_case else 0)


def _own_name(text: str, them: str, *, any_case: bool = False) -> str | None:
    """Their own name used as if they were someone else (addressed, or spoken of), not "I'm Alex".

    `any_case`: "alex" and "ALEX" count too; only for a name that is no word they write (a persona
    named Will writes "will")."""
    pattern = _name_re(them, any_case=any_case)
    if pattern is None:
        return None
    for found in pattern.finditer(text):
        before = text[max(0, found.start() - 12) : found.start()]
        if re.search(_SELF_INTRO + "$", before, re.IGNORECASE):
            continue
        at_sentence_start = not text[: found.start()].strip() or text[: found.start()].rstrip()[-1] in ".!?。！？"
        if at_sentence_start and re.match(r"\s+[a-z]", text[found.end() :]):
            continue  # "Will you come?" from a persona named Will: a word, not the name
        return found.group(0)
    return None


def _user_name_as_own(text: str, me: str, them: str) -> str | None:
    """The user's name claimed as their own: "my name is sam", "i'm Sam", "我是阿杰" (said by Alex)."""
    me_forms = [f for f in _name_forms(me) if f.lower() not in {t.lower() for t in _name_forms(them)}]
    if not me_forms:
        return None
    names = "|".join(re.escape(f) for f in me_forms)
    if any("\u4e00" <= ch <= "\u9fff" for ch in me):
        found = re.search(rf"我(?:就)?(?:是|叫)(?:{names})", text)
    else:
        found = re.search(rf"\b(?:my name(?:'s| is)|i'?m|i am|call me)\s+(?:{names})(?![\w'])", text, re.IGNORECASE)
    return found.group(0) if found else None


def _vocative(text: str, start: int, end: int) -> bool:
    """The name at text[start:end] addresses someone: "Sam, …", "…, Sam", "…you Sam!", at the end."""
    before = text[:start].rstrip()
    after = text[end:].lstrip()
    if (
        not before
        or before[-1] in ",，.!?！？。…"
        or re.search(r"\b(?:hey|hi|hello|oh|dear|bye|thanks|you)$", before, re.I)
    ):
        return True
    return not after or after[0] in ",，.!?！？。…)"


def _user_in_third_person(text: str, me: str, them: str, context: str) -> str | None:
    """The user spoken of rather than to: their name not addressed, "my ex", or an unexplained he/she."""
    pattern = _name_re(me)
    if pattern is not None:
        for found in pattern.finditer(text):
            if not _vocative(text, found.start(), found.end()):
                return found.group(0)
    for found_ex in _MY_EX.finditer(text):
        if not _YOU_ARE_BEFORE.search(text[: found_ex.start()]):
            return found_ex.group(0)
    pronoun = _HE_SHE.search(text)
    if pronoun:
        earlier = context + " " + text[: pronoun.start()]
        people = {f.lower() for f in (*_name_forms(me), *_name_forms(them))}
        named = [w for w in _MID_SENTENCE_NAME.findall(earlier) if w.lower() not in people]
        if not _THIRD_PARTY_RE.search(earlier) and not named:
            return pronoun.group(0)
    pronoun_zh = _ZH_HE_SHE.search(text)
    if pronoun_zh:
        earlier = context + text[: pronoun_zh.start()]
        if not _ZH_THIRD_PARTY.search(earlier):
            return pronoun_zh.group(0)
    return None


def role_error(reply: str, *, them: str, me: str, user_line: str = "", name_any_case: bool = False) -> RoleError | None:
    """The first way `reply` (said by `them` to `me`, answering `user_line`) confuses the roles, or None.

    `name_any_case`: their first name is no word they write (`lexicon.own_name_kept_out` kept it out),
    so "alex" and "ALEX" are their name as much as "Alex" is."""
    text = _norm(reply)
    if not text:
        return None
    low = text.lower()
    for phrase in _ASSISTANT:
        if phrase in low:
            return RoleError(ASSISTANT, phrase)
    echoed = _SCAFFOLD.search(low)
    if echoed:
        return RoleError(ASSISTANT, echoed.group(0))
    denial = _DENIAL_EN.search(text) or _DENIAL_ZH.search(text)
    if denial is None and them:
        denial = re.search(rf"\bi'?m not {re.escape(them.split()[0])}\b|我不是{re.escape(them)}", text, re.I)
    if denial is None and _ASKS_IF_HISTORY_REAL.search(_norm(user_line)):
        denial = _SAYS_NO.search(text)
    if denial:
        return RoleError(DENIAL, denial.group(0))
    own = _own_name(text, them, any_case=name_any_case)
    if own is not None and own.lower() not in {f.lower() for f in _name_forms(me)}:
        return RoleError(OWN_NAME, own)
    claimed = _user_name_as_own(text, me, them)
    if claimed is not None:
        return RoleError(USER_NAME_AS_OWN, claimed)
    third = _user_in_third_person(text, me, them, _norm(user_line))
    if third is not None:
        return RoleError(USER_THIRD_PERSON, third)
    return None


def retry_note(error: RoleError, them: str, me: str) -> str:
    """What the model is told when it is asked again after `error` (added to the user's line)."""
    you = me or "the person you are talking to"
    notes = {
        OWN_NAME: f"You are {them}. You are talking to {you}: never call {you} '{them}'.",
        USER_NAME_AS_OWN: f"You are {them}, not {you}: {you} is the one you are talking to.",
        USER_THIRD_PERSON: f"You are {them}. Talk to {you} directly, as 'you': {you} is the one reading this.",
        ASSISTANT: f"Answer {you} as {them} would in this chat, in their own words, never as an assistant.",
        DENIAL: f"The chat history between you ({them}) and {you} is real: you lived it. Never say it is fake.",
        CORRECTED: f'{you} told you {them} would never say "{error.words}". Answer differently.',
    }
    return f"\n\n({notes[error.kind]})"
