"""What WhatsApp writes besides messages: media placeholders, deleted-message and call lines, edit marks, banners."""

from __future__ import annotations

import re

from voice_app.chatlog.model import CALL, DELETED, MEDIA, TEXT

_BANNER_WORDS = (
    "end-to-end",
    "ende-zu-ende",
    "de extremo a extremo",
    "de bout en bout",
    "ponta a ponta",
    "端到端",
    "端對端",
    "エンドツーエンド",
    "종단간",
    "종단 간",
    "uçtan uca",
    "сквозным шифрованием",
    "päästä päähän",
    "end-to-end-versleuteld",
    "crittografia end-to-end",
    "ujung ke ujung",
    "من طرف إلى طرف",
)

_MEDIA_EXACT = [
    # en
    "<Media omitted>", "image omitted", "video omitted", "audio omitted", "sticker omitted", "GIF omitted",
    "document omitted", "Contact card omitted", "contact card omitted", "<media omitted>", "null",
    "<View once voice message omitted>", "View once message",
    # de
    "<Medien ausgeschlossen>", "<Medien weggelassen>", "Bild weggelassen", "Video weggelassen",
    "Audio weggelassen", "Sticker weggelassen", "GIF weggelassen", "Dokument weggelassen",
    "Kontaktkarte ausgelassen",
    # es
    "<Multimedia omitido>", "imagen omitida", "video omitido", "audio omitido", "sticker omitido",
    "GIF omitido", "documento omitido", "<Archivo omitido>",
    # fr
    "<Médias omis>", "image absente", "vidéo absente", "audio omis", "autocollant omis", "GIF retiré",
    "document omis", "<Fichier omis>",
    # pt
    "<Mídia oculta>", "<Arquivo de mídia oculto>", "imagem ocultada", "vídeo omitido", "áudio ocultado",
    "figurinha omitida", "GIF omitido", "documento omitido", "<Ficheiro omitido>",
    # zh
    "<省略影音内容>", "<媒体文件已省略>", "<媒体已忽略>", "<已忽略媒体>", "图片已忽略", "视频已忽略",
    "音频已忽略", "贴图已忽略", "<影音已略去>", "<已略去媒體>", "圖片已略去", "影片已略去",
    # others
    "<Media omessi>", "<Media weggelaten>", "<Без медиафайлов>", "<Medya dahil edilmedi>",
]  # fmt: skip

_DELETED_EXACT = [
    "This message was deleted", "You deleted this message",
    "Diese Nachricht wurde gelöscht", "Du hast diese Nachricht gelöscht",
    "Se eliminó este mensaje", "Eliminaste este mensaje", "Este mensaje fue eliminado",
    "Ce message a été supprimé", "Vous avez supprimé ce message",
    "Esta mensagem foi apagada", "Você apagou esta mensagem", "Apagou esta mensagem",
    "此消息已删除", "你删除了此消息", "你已删除此消息", "此訊息已刪除", "你已刪除此訊息",
    "Questo messaggio è stato eliminato", "Hai eliminato questo messaggio",
    "Dit bericht is verwijderd", "Je hebt dit bericht verwijderd",
    "Это сообщение удалено", "Вы удалили это сообщение",
    "このメッセージは削除されました", "メッセージを削除しました", "삭제된 메시지입니다",
]  # fmt: skip

_CALL_EXACT = [
    "Missed voice call", "Missed video call", "Voice call", "Video call",
    "Verpasster Sprachanruf", "Verpasster Videoanruf", "Llamada perdida", "Videollamada perdida",
    "Appel vocal manqué", "Appel vidéo manqué", "Chamada de voz perdida", "Chamada de vídeo perdida",
    "未接语音通话", "未接视频通话",
]  # fmt: skip

_EDITED = (
    "<This message was edited>",
    "<Diese Nachricht wurde bearbeitet>",
    "<Se editó este mensaje.>",
    "<Se editó este mensaje>",
    "<Ce message a été modifié>",
    "<Esta mensagem foi editada>",
    "<Mensagem editada>",
    "<此消息已编辑>",
    "<已编辑此消息>",
    "<此訊息已編輯>",
    "<Questo messaggio è stato modificato>",
    "<Dit bericht is bewerkt>",
    "<Сообщение изменено>",
)


def _key(s: str) -> str:
    return s.rstrip(".").casefold()


_EXACT: dict[str, str] = {}
for _s in _MEDIA_EXACT:
    _EXACT[_key(_s)] = MEDIA
for _s in _DELETED_EXACT:
    _EXACT[_key(_s)] = DELETED
for _s in _CALL_EXACT:
    _EXACT[_key(_s)] = CALL
# Exact placeholder strings as exported (and with a final period / other capitalisation), for the
# one-dict-lookup fast path.
EXACT_RAW: dict[str, str] = {}
for _group, _k in ((_MEDIA_EXACT, MEDIA), (_DELETED_EXACT, DELETED), (_CALL_EXACT, CALL)):
    for _s in _group:
        for _v in (_s, _s + ".", _s.lower(), _s[:1].upper() + _s[1:]):
            EXACT_RAW.setdefault(_v, _k)
_ATTACHED = re.compile(
    r"^<(?:attached|Anhang|adjunto|pièce jointe|anexado|anexo|allegato|bijlage|附件)\s?:\s?.+>$"
    r"|.+\s\((?:file attached|Datei angehängt|archivo adjunto|fichier joint|arquivo anexado|ficheiro anexado"
    r"|file allegato|bestand bijgevoegd|文件已附加|附件|ファイル添付)\)$",
    re.I | re.S,
)


def classify(text: str) -> tuple[str, str, bool]:
    """(text, kind, edited) for a message body, recognising placeholders and markers."""
    edited = False
    if text.endswith(">"):
        for marker in _EDITED:
            if text.endswith(marker):
                text = text[: -len(marker)].rstrip()
                edited = True
                break
    if len(text) < 80:
        kind = _EXACT.get(_key(text))
        if kind is not None:
            return text, kind, edited
    if text.endswith((">", ")")) and _ATTACHED.match(text):
        return text, MEDIA, edited
    return text, TEXT, edited


def is_banner(text: str) -> bool:
    low = text.casefold()
    return any(w in low for w in _BANNER_WORDS)
