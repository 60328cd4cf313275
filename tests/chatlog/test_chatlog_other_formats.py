# ruff: noqa: E501  (fixture data lines are kept verbatim)
"""WeChat, QQ, iMessage, Signal, Discord, LINE, SMS Backup & Restore, Google Chat, generic CSV/JSONL."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest

from voice_app.chatlog import detect, load
from voice_app.core.errors import UnknownFormatError

DEMO = Path(__file__).resolve().parents[2] / "voice_app" / "data" / "demo"


def rows(conv):
    return [(m.timestamp, m.sender, m.text, m.kind) for m in conv.messages]


# --- WeChat -------------------------------------------------------------------------------------------


def test_wechatmsg_csv_type_codes(write):
    header = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender"
    lines = [
        header,
        "1,2,1,0,0,1696335300,2,在吗,2023-10-03 20:15:00,阿杰,阿杰,阿杰",
        '2,2,1,0,1,1696335360,2,"在呀,怎么啦",2023-10-03 20:16:00,阿杰,阿杰,小林',
        '3,2,3,0,1,1696335400,2,"<?xml version=""1.0""?><msg><img /></msg>",2023-10-03 20:16:40,阿杰,阿杰,小林',
        "4,2,34,0,0,1696335410,2,<msg><voicemsg /></msg>,2023-10-03 20:16:50,阿杰,阿杰,阿杰",
        "5,2,43,0,0,1696335420,2,,2023-10-03 20:17:00,阿杰,阿杰,阿杰",
        "6,2,47,0,1,1696335430,2,,2023-10-03 20:17:10,阿杰,阿杰,小林",
        "7,2,49,6,0,1696335440,2,<msg><appmsg><title>合同.pdf</title></appmsg></msg>,2023-10-03 20:17:20,阿杰,阿杰,阿杰",
        "8,2,50,0,0,1696335450,2,,2023-10-03 20:17:30,阿杰,阿杰,阿杰",
        "9,2,10000,0,0,1696335460,2,阿杰撤回了一条消息,2023-10-03 20:17:40,阿杰,阿杰,",
        "10,2,10000,0,0,1696335470,2,你已添加了阿杰，现在可以开始聊天了。,2023-10-03 20:17:50,阿杰,阿杰,",
        "11,2,1,0,0,1696335480,2,bad time,not a time,阿杰,阿杰,阿杰",
    ]
    p = write("chat.csv", "\n".join(lines) + "\n", "utf-8-sig")
    assert detect(p) == "wechat_csv"
    conv = load(p)
    assert [(m.sender, m.text, m.kind) for m in conv.messages] == [
        ("阿杰", "在吗", "text"),
        ("小林", "在呀,怎么啦", "text"),
        ("小林", "[图片]", "media"),
        ("阿杰", "[语音]", "media"),
        ("阿杰", "[视频]", "media"),
        ("小林", "[表情包]", "media"),
        ("阿杰", "[文件/链接]", "media"),
        ("阿杰", "[通话]", "call"),
        ("阿杰", "阿杰撤回了一条消息", "deleted"),
        ("", "你已添加了阿杰，现在可以开始聊天了。", "system"),
    ]
    assert conv.messages[0].timestamp == datetime(2023, 10, 3, 20, 15)
    assert conv.warnings[0].line == 12 and "time" in conv.warnings[0].message


def test_pywxdump_weclone_csv(write):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "msg", "src", "CreateTime"])
    w.writerow([1, "8812", "文本", 0, "阿杰", "wxid_ajie", "早", "", "2023-10-04 08:00:01"])
    w.writerow([2, "8813", "文本", 1, "wxid_me", "wxid_ajie", "早安\n今天降温了", "", "2023-10-04 08:01:00"])
    w.writerow([3, "8814", "图片", 0, "阿杰", "wxid_ajie", "", "FileStorage/Image/1.dat", "2023-10-04 08:02:00"])
    w.writerow([4, "8815", "音视频通话", 1, "wxid_me", "wxid_ajie", "通话时长 01:02", "", "2023-10-04 08:03:00"])
    w.writerow([5, "8816", "系统通知", 0, "", "wxid_ajie", "以上是打招呼的内容", "", "2023-10-04 08:04:00"])
    p = write("ajie.csv", buf.getvalue())
    assert detect(p) == "wechat_csv"
    conv = load(p, mapping={"me": "小林"})
    assert rows(conv) == [
        (datetime(2023, 10, 4, 8, 0, 1), "阿杰", "早", "text"),
        (datetime(2023, 10, 4, 8, 1), "小林", "早安\n今天降温了", "text"),
        (datetime(2023, 10, 4, 8, 2), "阿杰", "[图片]", "media"),
        (datetime(2023, 10, 4, 8, 3), "小林", "通话时长 01:02", "call"),
        (datetime(2023, 10, 4, 8, 4), "", "以上是打招呼的内容", "system"),
    ]


def test_wechatmsg_txt(write):
    text = "2023-10-03 20:15:00 阿杰\n在吗\n\n2023-10-03 20:16:00 小林\n在呀\n第二行\n\n2023-10-03 20:17:00 小林\n[图片]\n\n"
    p = write("阿杰.txt", text)
    assert detect(p) == "wechat_txt"
    assert rows(load(p)) == [
        (datetime(2023, 10, 3, 20, 15), "阿杰", "在吗", "text"),
        (datetime(2023, 10, 3, 20, 16), "小林", "在呀\n第二行", "text"),
        (datetime(2023, 10, 3, 20, 17), "小林", "[图片]", "media"),
    ]


def test_demo_wechat_csv():
    conv = load(DEMO / "wechat_demo.csv")
    assert conv.format == "wechat_csv"
    assert set(conv.participants) == {"小林", "阿杰"}
    assert 55 <= len(conv.messages) <= 70
    assert conv.messages[0].text == "在吗" and conv.messages[0].sender == "阿杰"
    assert {m.kind for m in conv.messages} >= {"text", "media", "deleted"}


# --- QQ -----------------------------------------------------------------------------------------------

QQ_TEXT = (
    "消息记录（此消息记录为文本格式，不支持重新导入）\n\n"
    "================================================================\n"
    "消息分组:我的好友\n"
    "================================================================\n"
    "消息对象:阿杰\n"
    "================================================================\n\n"
    "2021-05-01 9:05:07 小林(10001)\n周末去爬山吗\n\n"
    "2021-05-01 9:06:30 阿杰<ajie@example.com>\n好呀\n几点？\n\n"
    "2021-05-01 9:07:00 小林(10001)\n[图片]\n\n"
)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be", "utf-8"])
def test_qq_txt_encodings(write, encoding):
    p = write("阿杰.txt", QQ_TEXT.replace("\n", "\r\n"), encoding)
    assert detect(p) == "qq_txt"
    conv = load(p)
    assert rows(conv) == [
        (datetime(2021, 5, 1, 9, 5, 7), "小林", "周末去爬山吗", "text"),
        (datetime(2021, 5, 1, 9, 6, 30), "阿杰", "好呀\n几点？", "text"),
        (datetime(2021, 5, 1, 9, 7), "小林", "[图片]", "media"),
    ]
    assert conv.title == "阿杰" and conv.warnings == []


# --- iMessage -----------------------------------------------------------------------------------------


def test_imessage_exporter_txt(write):
    text = (
        "May 17, 2023  5:29:42 PM (Read by you after 1 minute)\n"
        "+15551234567\n"
        "are you home?\n"
        "\n"
        "May 17, 2023  5:31:02 PM (Read by them after 10 seconds)\n"
        "Me\n"
        "almost!\n"
        "two lines\n"
        "    Tapbacks:\n"
        "    Loved by +15551234567\n"
        "\n"
        "May 17, 2023 12:02:10 AM\n"
        "Me\n"
        "/Users/sam/Library/Messages/Attachments/ab/IMG_0042.HEIC\n"
        "\n"
        "May 18, 2023  9:00:00 AM\n"
        "+15551234567\n"
        "This message was unsent!\n"
        "\n"
    )
    p = write("+15551234567.txt", text)
    assert detect(p) == "imessage"
    conv = load(p)
    assert rows(conv) == [
        (datetime(2023, 5, 17, 0, 2, 10), "Me", "/Users/sam/Library/Messages/Attachments/ab/IMG_0042.HEIC", "media"),
        (datetime(2023, 5, 17, 17, 29, 42), "+15551234567", "are you home?", "text"),
        (datetime(2023, 5, 17, 17, 31, 2), "Me", "almost!\ntwo lines", "text"),
        (datetime(2023, 5, 18, 9, 0), "+15551234567", "This message was unsent!", "deleted"),
    ]
    assert conv.messages[2].reactions == (("+15551234567", "❤️"),)


# --- Signal -------------------------------------------------------------------------------------------


def test_signal_export_markdown(write):
    text = (
        "[2023-05-01 18:22] Alex: hey!\n"
        "[2023-05-01 18:23] Me: > hey!\n"
        "> \n"
        "hi yourself\n"
        "(- Alex: ❤️ -)\n"
        "[2023-05-01 18:24] Alex: ![signal-2023-05-01-182400.jpeg](./media/signal-2023-05-01-182400.jpeg)\n"
        "[2023-05-01 18:25] Me: line one\n"
        "line two\n"
    )
    p = write("chat.md", text)
    assert detect(p) == "signal"
    conv = load(p)
    assert rows(conv) == [
        (datetime(2023, 5, 1, 18, 22), "Alex", "hey!", "text"),
        (datetime(2023, 5, 1, 18, 23), "Me", "hi yourself", "text"),
        (datetime(2023, 5, 1, 18, 24), "Alex", "![signal-2023-05-01-182400.jpeg](./media/signal-2023-05-01-182400.jpeg)", "media"),
        (datetime(2023, 5, 1, 18, 25), "Me", "line one\nline two", "text"),
    ]  # fmt: skip
    assert conv.messages[1].reply_to == "hey!" and conv.messages[1].reactions == (("Alex", "❤️"),)


# --- Discord ------------------------------------------------------------------------------------------


def test_discord_json(write):
    doc = {
        "guild": {"id": "0", "name": "Direct Messages"},
        "channel": {"id": "1", "type": "DirectTextChat", "name": "alex"},
        "dateRange": {"after": None, "before": None},
        "messages": [
            {"id": "10", "type": "Default", "timestamp": "2023-05-01T18:22:10.123+02:00", "timestampEdited": None,
             "content": "yo", "author": {"id": "5", "name": "alex_k", "discriminator": "0000", "nickname": "Alex"},
             "attachments": [], "embeds": [], "stickers": [], "reactions": [], "mentions": []},
            {"id": "11", "type": "Reply", "timestamp": "2023-05-01T18:23:00+02:00",
             "timestampEdited": "2023-05-01T18:24:00+02:00", "content": "sup",
             "author": {"id": "6", "name": "sam", "nickname": "sam"}, "attachments": [],
             "reactions": [{"emoji": {"id": "", "name": "😂"}, "count": 1,
                            "users": [{"id": "5", "name": "alex_k", "nickname": "Alex"}]}],
             "reference": {"messageId": "10", "channelId": "1"}},
            {"id": "12", "type": "Default", "timestamp": "2023-05-01T18:25:00+02:00", "content": "",
             "author": {"id": "5", "name": "alex_k"}, "attachments": [{"id": "1", "url": "x", "fileName": "cat.png"}]},
            {"id": "13", "type": "Call", "timestamp": "2023-05-01T18:30:00+02:00", "content": "",
             "author": {"id": "5", "name": "alex_k", "nickname": "Alex"}},
            {"id": "14", "type": "ChannelPinnedMessage", "timestamp": "2023-05-01T18:31:00+02:00",
             "content": "Pinned a message.", "author": {"id": "5", "name": "alex_k", "nickname": "Alex"}},
        ],
        "messageCount": 5,
    }  # fmt: skip
    p = write("Direct Messages - alex [1].json", json.dumps(doc))
    assert detect(p) == "discord_json"
    conv = load(p)
    assert rows(conv) == [
        (datetime(2023, 5, 1, 18, 22, 10, 123000), "Alex", "yo", "text"),
        (datetime(2023, 5, 1, 18, 23), "sam", "sup", "text"),
        (datetime(2023, 5, 1, 18, 25), "alex_k", "<cat.png>", "media"),
        (datetime(2023, 5, 1, 18, 30), "Alex", "call", "call"),
        (datetime(2023, 5, 1, 18, 31), "", "Pinned a message.", "system"),
    ]
    m = conv.messages[1]
    assert m.edited and m.reply_to == "yo" and m.reactions == (("Alex", "😂"),)


def test_discord_csv(write):
    text = (
        "AuthorID,Author,Date,Content,Attachments,Reactions\n"
        '"5","alex_k","2023-05-01T18:22:10.1234567+02:00","hey, you","",""\n'
        '"6","sam","2023-05-01T18:23:00+02:00","multi\nline","","😂 (1)"\n'
        '"5","alex_k","01-May-23 06:30 PM","","https://cdn.discordapp.com/a/cat.png",""\n'
    )
    p = write("dm.csv", text)
    assert detect(p) == "discord_csv"
    conv = load(p)
    assert rows(conv) == [
        (datetime(2023, 5, 1, 18, 22, 10, 123456), "alex_k", "hey, you", "text"),
        (datetime(2023, 5, 1, 18, 23), "sam", "multi\nline", "text"),
        (datetime(2023, 5, 1, 18, 30), "alex_k", "https://cdn.discordapp.com/a/cat.png", "media"),
    ]
    assert conv.messages[1].reactions == (("", "😂"),)


# --- LINE ---------------------------------------------------------------------------------------------

LINE_EN = (
    "[LINE] Chat history with Alex\n"
    "Saved on: 2023/05/02, 10:00\n"
    "\n"
    "2023/05/01, Mon\n"
    "18:22\tAlex\they\n"
    '18:23\tSam\t"two\n'
    'lines"\n'
    "18:24\tAlex\t[Sticker]\n"
    "18:25\tAlex\t☎ Call time 1:23\n"
    "18:26\tSam\tSam unsent a message.\n"
)
LINE_JA = (
    "[LINE] Alexとのトーク履歴\n"
    "保存日時：2023/05/02 10:00\n"
    "\n"
    "2023/05/01(月)\n"
    "18:22\tAlex\tやあ\n"
    '18:23\tSam\t"二行\n'
    'です"\n'
    "18:24\tAlex\t[スタンプ]\n"
    "18:25\tAlex\t☎ 通話時間 1:23\n"
    "18:26\tSam\tSamが送信を取り消しました\n"
)
LINE_ZH = (
    "[LINE] 与Alex的聊天记录\n"
    "保存日期：2023/05/02 10:00\n"
    "\n"
    "2023/05/01（周一）\n"
    "下午6:22\tAlex\t嗨\n"
    '下午6:23\tSam\t"两\n'
    '行"\n'
    "下午6:24\tAlex\t[贴图]\n"
    "下午6:25\tAlex\t☎ 通话时间 1:23\n"
    "下午6:26\tSam\tSam已收回讯息\n"
)


@pytest.mark.parametrize(
    ("text", "hey", "two"), [(LINE_EN, "hey", "two\nlines"), (LINE_JA, "やあ", "二行\nです"), (LINE_ZH, "嗨", "两\n行")]
)
def test_line_languages(write, text, hey, two):
    p = write("[LINE] Chat.txt", text)
    assert detect(p) == "line"
    conv = load(p)
    assert [(m.timestamp, m.sender, m.text if i < 2 else "", m.kind) for i, m in enumerate(conv.messages)] == [
        (datetime(2023, 5, 1, 18, 22), "Alex", hey, "text"),
        (datetime(2023, 5, 1, 18, 23), "Sam", two, "text"),
        (datetime(2023, 5, 1, 18, 24), "Alex", "", "media"),
        (datetime(2023, 5, 1, 18, 25), "Alex", "", "call"),
        (datetime(2023, 5, 1, 18, 26), "Sam", "", "deleted"),
    ]
    assert conv.title == "Alex"


def test_line_us_date_lines_and_12h(write):
    text = "Chat history with Alex\nSaved on: 5/2/2023, 10:00 AM\n\nMon, 5/1/2023\n6:22 PM\tAlex\thi\n12:05 AM\tSam\tlate\n"
    conv = load(write("chat.txt", text))
    assert [(m.timestamp, m.sender) for m in conv.messages] == [
        (datetime(2023, 5, 1, 0, 5), "Sam"), (datetime(2023, 5, 1, 18, 22), "Alex")]  # fmt: skip


# --- SMS Backup & Restore ---------------------------------------------------------------------------

SMS_XML = """<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<!--File Created By SMS Backup & Restore v10.18.000 on 01/06/2023 10:00:00-->
<smses count="5" backup_set="1" backup_date="1685613600000" type="full">
  <sms protocol="0" address="+15551234567" date="1685613600000" type="1" subject="null" body="hey it's me"
       toa="null" sc_toa="null" service_center="null" read="1" status="-1" locked="0" date_sent="1685613590000"
       sub_id="1" readable_date="Jun 1, 2023 10:00:00 AM" contact_name="Alex" />
  <sms protocol="0" address="+15551234567" date="1685613660000" type="2" subject="null" body="hi &amp; hello&#10;2nd line"
       toa="null" sc_toa="null" service_center="null" read="1" status="-1" locked="0" date_sent="0"
       readable_date="Jun 1, 2023 10:01:00 AM" contact_name="Alex" />
  <sms protocol="0" address="+15550000000" date="1685613700000" type="1" body="Your code is 1234" contact_name="(Unknown)" />
  <mms date="1685613720000" rr="null" sub="null" ct_t="application/vnd.wap.multipart.related" read_status="null"
       seen="1" msg_box="1" address="+15551234567" m_cls="personal" readable_date="Jun 1, 2023 10:02:00 AM"
       contact_name="Alex">
    <parts>
      <part seq="-1" ct="application/smil" name="null" chset="null" cd="null" fn="null" cid="&lt;smil&gt;"
            cl="smil.xml" ctt_s="null" ctt_t="null" text="&lt;smil&gt;&lt;/smil&gt;" />
      <part seq="0" ct="image/jpeg" name="IMG_1.jpg" chset="null" cd="null" fn="null" cid="&lt;0&gt;"
            cl="IMG_1.jpg" ctt_s="null" ctt_t="null" text="null" data="/9j/4AAQSkZJRgABAQ==" />
    </parts>
    <addrs>
      <addr address="+15551234567" type="137" charset="106" />
      <addr address="+15559999999" type="151" charset="106" />
    </addrs>
  </mms>
  <mms date="1685613780000" msg_box="2" address="+15551234567" contact_name="Alex" ct_t="application/vnd.wap.multipart.related">
    <parts>
      <part seq="0" ct="text/plain" name="null" chset="106" cl="txt000.txt" text="cute!!" />
    </parts>
    <addrs><addr address="+15559999999" type="137" charset="106" /><addr address="+15551234567" type="151" charset="106" /></addrs>
  </mms>
</smses>
"""


def test_sms_backup_restore_xml_with_mms(write):
    p = write("sms-20230601.xml", SMS_XML)
    assert detect(p) == "sms_xml"
    conv = load(p)
    assert rows(conv) == [
        (datetime(2023, 6, 1, 10, 0), "Alex", "hey it's me", "text"),
        (datetime(2023, 6, 1, 10, 1), "Me", "hi & hello\n2nd line", "text"),
        (datetime(2023, 6, 1, 10, 2), "Alex", "<IMG_1.jpg>", "media"),
        (datetime(2023, 6, 1, 10, 3), "Me", "cute!!", "text"),
    ]
    assert conv.title == "Alex"
    assert any("2 conversations" in str(w) for w in conv.warnings)
    other = load(p, mapping={"chat": "+15550000000"})
    assert [m.text for m in other.messages] == ["Your code is 1234"]


def test_sms_truncated_xml_names_line(write):
    from voice_app.core.errors import CorruptExportError

    p = write("sms.xml", SMS_XML[: SMS_XML.index("<mms")])
    with pytest.raises(CorruptExportError, match=r"sms\.xml: broken XML at line \d+"):
        load(p)


# --- Google Chat --------------------------------------------------------------------------------------


def test_google_chat_takeout(write):
    doc = {"messages": [
        {"creator": {"name": "Alex Kim", "email": "alex@example.com", "user_type": "Human"},
         "created_date": "Monday, May 1, 2023 at 6:22:10\u202fPM UTC", "text": "lunch?", "topic_id": "a",
         "message_id": "m1"},
        {"creator": {"name": "Sam Park", "email": "sam@example.com", "user_type": "Human"},
         "created_date": "Monday, May 1, 2023 at 6:23:00 PM UTC", "text": "yes!", "updated_date": "x",
         "reactions": [{"emoji": {"unicode": "👍"}, "reactor_emails": ["alex@example.com"]}],
         "quoted_message_metadata": {"creator": {"name": "Alex Kim"}, "text": "lunch?"}},
        {"creator": {"name": "Alex Kim", "email": "alex@example.com", "user_type": "Human"},
         "created_date": "Monday, May 1, 2023 at 6:24:00 PM UTC",
         "attached_files": [{"original_name": "menu.pdf", "export_name": "File-menu.pdf"}]},
    ]}  # fmt: skip
    p = write("messages.json", json.dumps(doc))
    assert detect(p) == "google_chat"
    conv = load(p)
    assert rows(conv) == [
        (datetime(2023, 5, 1, 18, 22, 10), "Alex Kim", "lunch?", "text"),
        (datetime(2023, 5, 1, 18, 23), "Sam Park", "yes!", "text"),
        (datetime(2023, 5, 1, 18, 24), "Alex Kim", "<menu.pdf>", "media"),
    ]
    m = conv.messages[1]
    assert m.edited and m.reply_to == "lunch?" and m.reactions == (("Alex Kim", "👍"),)


# --- generic ------------------------------------------------------------------------------------------


def test_generic_csv_with_mapping(write):
    text = 'sent_on;handle;body_text;extra\n2023-05-01 18:22:00;Alex;hey;x\n1682965380;Sam;"yo; sup";y\n'
    p = write("export.csv", text)
    with pytest.raises(UnknownFormatError, match=r"export\.csv"):
        load(p)
    conv = load(p, format="generic_csv", mapping={"timestamp": "sent_on", "sender": "handle", "text": "body_text"})
    assert rows(conv) == [
        (datetime(2023, 5, 1, 18, 22), "Alex", "hey", "text"),
        (datetime(2023, 5, 1, 18, 23), "Sam", "yo; sup", "text"),
    ]


def test_generic_csv_automapped_and_bad_row(write):
    text = "timestamp,sender,text\n2023-05-01T18:22:00,Alex,hey\nnope,Sam,broken\n2023-05-01T18:23:00Z,Sam,ok\n"
    p = write("log.csv", text)
    assert detect(p) == "generic_csv"
    conv = load(p)
    assert [(m.sender, m.text) for m in conv.messages] == [("Alex", "hey"), ("Sam", "ok")]
    assert conv.warnings[0].line == 3


def test_generic_csv_timestamp_format(write):
    p = write("log.csv", "when,who,what\n01.05.2023 18:22,Alex,hey\n")
    conv = load(p, format="generic_csv",
                mapping={"timestamp": "when", "sender": "who", "text": "what", "timestamp_format": "%d.%m.%Y %H:%M"})  # fmt: skip
    assert rows(conv) == [(datetime(2023, 5, 1, 18, 22), "Alex", "hey", "text")]


def test_generic_jsonl(write):
    text = (
        '{"t": 1682965320000, "u": "Alex", "m": "hey"}\n'
        "not json\n"
        '{"t": "2023-05-01 18:23:00", "u": "Sam", "m": "yo", "type": "x"}\n'
    )
    p = write("log.jsonl", text)
    assert detect(p) == "generic_jsonl"
    conv = load(p, mapping={"timestamp": "t", "sender": "u", "text": "m"})
    assert rows(conv) == [
        (datetime(2023, 5, 1, 18, 22), "Alex", "hey", "text"),
        (datetime(2023, 5, 1, 18, 23), "Sam", "yo", "text"),
    ]
    assert conv.warnings[0].line == 2
    with pytest.raises(UnknownFormatError, match=r"log\.jsonl"):
        load(p)  # no mapping and no recognizable keys
