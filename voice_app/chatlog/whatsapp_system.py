"""WhatsApp notices that nobody wrote, in the languages WhatsApp ships, and senders that are only notices."""

# Android writes notices without a ``Name:``; iOS writes them under the chat's (or the contact's) name
# and marks them with U+200E, which copies and re-saves lose. So a message is also a notice when its
# text is one (the encryption banner, a security-code or number change, a join by invite link …), and
# a "sender" is a pseudo-sender when what it wrote is notices: a localized "System" label, or a group
# name. Checks run once per sender or on few candidate messages, never on every line.

from __future__ import annotations

import re
from collections import Counter
from operator import attrgetter

from voice_app.chatlog.model import SYSTEM, TEXT, Message

# Notices whose text alone says what they are (a word stem of the notice in each language).
_STRONG = [
    # end-to-end encryption banner
    r"end-to-end", r"ende-zu-ende", r"de bout en bout", r"de extremo a extremo", r"ponta a ponta", r"ponto a ponto",
    r"päästä päähän", r"salataan täysin", r"ende-til-ende", r"end-to-end-krypter", r"komplett krypterade",
    r"w pełni zaszyfrowane", r"criptate integral", r"uçtan uca", r"сквозн\w+ шифровани", r"наскрізн\w+ шифруванн",
    r"エンドツーエンド", r"端到端", r"端對端", r"종단\s?간", r"mã hóa đầu cuối", r"mã hoá đầu cuối",
    r"hujung ke hujung",
    r"مشفرة تمام", r"التشفير التام", r"سرتاسر", r"מקצה[- ]לקצה", r"κρυπτογραφ", r"koncovým šifrováním",
    r"végpontok közötti", r"d'extrem a extrem", r"crittografati end", r"versleuteld", r"एंड-टू-एंड", r"एन्ड-टू-एन्ड",
    r"จากต้นทางถึงปลายทาง", r"fund-e-krye", r"от край до край",
    # security code changed
    r"security code", r"sicherheitsnummer", r"code de sécurité", r"código de seguridad", r"código de segurança",
    r"codice di sicurezza", r"beveiligingscode", r"код безопасности", r"код безпеки", r"güvenlik kodu",
    r"セキュリティコード", r"安全代码", r"安全代碼", r"安全碼", r"보안 코드", r"رمز الأمان", r"رمز أمانك",
    r"קוד האבטחה",
    r"kod zabezpieczeń", r"turvakoodi", r"säkerhetskod", r"sikkerhedskode", r"sikkerhetskode", r"bezpečnostní kód",
    r"mã bảo mật", r"kode keamanan", r"kod keselamatan", r"κωδικός ασφαλείας", r"codul dvs\. de securitate",
    # joined by invite link; number changed; disappearing messages; now admin
    r"invite link", r"einladungslink", r"enlace de invitación", r"lien d'invitation", r"link de convite",
    r"link d'invito", r"uitnodigingslink", r"ссылк\w* приглашени", r"davet bağlantısı", r"招待リンク", r"邀请链接",
    r"邀請連結", r"초대 링크", r"رابط الدعوة", r"קישור ההזמנה", r"link zaproszenia", r"kutsulinki",
    r"changed their phone number", r"changed to a new number", r"hat die telefonnummer", r"a changé de numéro",
    r"cambió su número", r"mudou para um novo número", r"mudou o número", r"ha cambiato numero",
    r"disappearing messages", r"message timer", r"selbstlöschende nachrichten", r"messages éphémères",
    r"mensajes temporales", r"mensagens temporárias", r"messaggi effimeri", r"исчезающие сообщения",
    r"you're now an admin", r"you are now an admin", r"jetzt admin", r"êtes maintenant admin", r"ahora eres admin",
    r"agora é admin", r"ora sei un amministratore",
]  # fmt: skip

# Group changes: "<name> added <name>", "<name> left" … (only trusted when a sender wrote nothing else).
_WEAK = [
    r"\badded\b", r"\bremoved\b", r"\bleft$", r"\bjoined\b", r"created group", r"changed the (?:subject|group)",
    r"changed this group", r"hat .+ hinzugefügt", r"hat .+ entfernt", r"hat die gruppe", r"ist beigetreten",
    r"a ajouté", r"a retiré", r"a quitté", r"a rejoint", r"a créé le groupe", r"a modifié", r"a changé",
    r"\bañadió\b", r"\bagregó\b", r"\beliminó a\b", r"\bsalió\b", r"se unió", r"creó el grupo", r"cambió",
    r"\badicionou\b", r"\bremoveu\b", r"\bsaiu\b", r"\bentrou\b", r"criou o grupo", r"\bmudou\b",
    r"ha aggiunto", r"ha rimosso", r"è uscito", r"è uscita", r"ha creato il gruppo", r"ha cambiato",
    r"heeft .+ toegevoegd", r"heeft .+ verwijderd", r"is vertrokken", r"heeft de groep",
    r"добавил", r"удалил", r"вышел", r"вышла", r"создал", r"изменил", r"присоединил",
    r"ekledi", r"çıkardı", r"ayrıldı", r"grubu oluşturdu", r"を追加しました", r"が退出しました", r"添加了", r"退出了",
    r"님을 초대", r"님이 나갔", r"أضاف", r"غادر", r"הוסיף", r"יצא", r"dodał", r"opuścił", r"lisäsi", r"poistui",
]  # fmt: skip

STRONG = re.compile("|".join(_STRONG), re.I)
WEAK = re.compile("|".join(_WEAK), re.I)

# Labels some viewers and backup tools put where a sender's name would be; a signal, never enough alone.
SYSTEM_LABELS = frozenset(
    [
        "system",
        "système",
        "sistema",
        "systeem",
        "systemet",
        "system-nachricht",
        "systemnachricht",
        "система",
        "системное",
        "系统",
        "系統",
        "システム",
        "시스템",
        "whatsapp",
        "sistem",
        "järjestelmä",
        "σύστημα",
        "מערכת",
        "النظام",
        "سیستم",
    ]
)


def _label(sender: str) -> bool:
    return sender.casefold().strip(" :[]()<>") in SYSTEM_LABELS


def is_notice(text: str) -> bool:
    """True when a message's text is a WhatsApp notice by its wording (any language WhatsApp ships)."""
    return len(text) < 400 and "\n" not in text and STRONG.search(text) is not None


SENTENCE_ENDS = ".。"  # how every notice ends: the parser collects such messages as candidates


def mark_notices(messages: list[Message], candidates: list[Message]) -> None:
    """Turn notices that came with a sender into system messages, and pseudo-senders' lines with them.

    ``candidates`` are the messages of people that end like a sentence (the parser collects them as it
    goes, so no pass over every message is needed for the wording).
    """
    counts: Counter[str] = Counter(map(attrgetter("sender"), messages))  # counted in C
    counts.pop("", None)
    if not counts:
        return
    total = sum(counts.values())
    # A notice under a real name quotes that name or "WhatsApp": cheap substring tests pick the few candidates.
    firsts = {s: s.split()[0] for s in counts if s.split()}
    for m in candidates:
        t = m.text
        if (
            len(t) > 24  # every notice is a sentence
            and m.kind == TEXT
            and m.sender
            and ("WhatsApp" in t or firsts.get(m.sender, m.sender) in t or "واتساب" in t)
            and is_notice(t)
        ):
            m.kind, m.sender = SYSTEM, ""
    small = {s for s, n in counts.items() if n <= max(5, total // 20) or _label(s)}
    if not small:
        return
    own: dict[str, list[Message]] = {s: [] for s in small}
    for m in messages:
        if m.sender in own:
            own[m.sender].append(m)
    for sender, msgs in own.items():
        if not msgs:
            continue
        notices = sum(1 for m in msgs if m.kind == SYSTEM or is_notice(m.text) or WEAK.search(m.text))
        label = _label(sender)
        if (label and notices) or (notices == len(msgs) and (len(msgs) >= 2 or is_notice(msgs[0].text))):
            for m in msgs:
                m.kind, m.sender = SYSTEM, ""
