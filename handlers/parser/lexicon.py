"""Word lists: the lexicon (folded phrase -> item kind) and the name, title and place words."""

from __future__ import annotations


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


def phrase_set(text: str) -> frozenset[str]:
    """A frozenset from comma-separated phrases (tables stay compact and readable)."""
    return frozenset(p.strip() for p in text.split(",") if p.strip())


# --------------------------------------------------------------------------------------------------
# Lexicon: folded phrase -> item kind. Longest match wins.

# One string per kind, phrases separated by commas (kept as text so the table stays readable).
LEXICON_TEXT: dict[str, str] = {
    "ADMIT": (
        "ket nap, kn, ket nap dang, ket nap vao dang, knd, ket nap moi, le ket nap, ket nap dang vien, ket "
        "nap dang vien moi, ket nap duoc, vao dang, dung vao hang ngu cua dang, vao hang ngu cua dang, dung "
        "vao hang ngu dang, gia nhap dang, ketnap, ket nap dc, ket nap duoc dc, kndv, ket nap them, ket nap "
        "them duoc, dung trong hang ngu cua dang, ket nap xong, da ket nap xong, k/n, k.n, ket lap, ket lap "
        "duoc, vo dang, do dang, dzo dang, zo dang, ket nao"
    ),
    "HEAD": "dang vien, dang vien du bi, dvdb, dvm, dang vien dang, d vien, dang v, d . vien",
    "DV": "dv, d/v, d.v",
    "YOUTH": (
        "doan vien, doan vien thanh nien, dvtn, doan vien tn, dv tn, dv doan, doan vien cong san, la doan "
        "vien, doan vien doan tncs, doan vien doan thanh nien, sinh hoat doan, dang sinh hoat doan, deu sinh "
        "hoat doan, la dvtn, doan vien uu tu, vao doan, da vao doan, tham gia doan, da tham gia doan, bi thu "
        "chi doan, pho bi thu chi doan, bi thu doan, can bo doan, uy vien ban chap hanh doan"
    ),
    "CAND": "quan chung, quan chung uu tu, qcut, qc, doi tuong, doi tuong dang, hoc vien, ho so, truong hop",
    "CLS": (
        "dong chi, d/c, dc, d/chi, dchi, nguoi, ca nhan, ban, em, dong chi moi, dua, chau, nguoi moi, d.c, "
        "q.c"
    ),
    "FEMALE": (
        "nu, phu nu, nu gioi, gioi tinh nu, dong chi nu, la nu, chi em, con gai, chau gai, nu dong chi, chi, "
        "o, o ay, co ay, chi ay, chi ta, ba ay, gai, ba"
    ),
    "MALE": (
        "nam gioi, gioi tinh nam, dong chi nam, la nam, con trai, chau trai, anh ay, anh ta, ong ay, trai, "
        # "ảnh", "ổng": the Southern "he" (with their accents only, see ACCENTED_ONLY)
        "anh, ong"
    ),
    "REL": (
        "ton giao, theo ton giao, co ton giao, theo dao, co dao, cong giao, theo cong giao, thien chua, "
        "thien chua giao, dao thien chua, dao cong giao, theo dao cong giao, theo dao thien chua, giao dan, "
        "phat giao, theo phat giao, dao phat, theo dao phat, phat tu, tin lanh, dao tin lanh, theo dao tin "
        "lanh, cao dai, dao cao dai, hoa hao, dao hoa hao, nguoi co dao, dong bao co dao, cong giao toan "
        "tong, nguoi theo dao, dong bao cong giao, hoi giao, dao hoi, chuc sac, theo tin lanh, la giao dan, "
        "tgiao, t.giao, tg"
    ),
    "NOREL": (
        "khong ton giao, khong theo ton giao, khong theo dao, khong co dao, khong co ton giao, khong theo "
        "dao nao, khong theo ton giao nao, khong tg, ko tg, k tg, khong ton giao nao, khong theo dao gi, "
        "khong co dao gi, chua co dao, chua theo dao, chua co ton giao, ko co dao, k co dao, khong dao, chua "
        "theo ton giao, khong co dao nao"
    ),
    "ETH": (
        "dan toc thieu so, dtts, nguoi dan toc, nguoi dan toc thieu so, dong bao dan toc, dong bao dan toc "
        "thieu so, la nguoi dan toc, dan toc it nguoi, thieu so, muong, hmong, h'mong, h’mong, nung, khmer, "
        "kho me, khome, ede, e de, gia rai, jrai, bahnar, ba na, xo dang, san diu, san chay, cao lan, mnong, "
        "m'nong, raglai, ra glai, stieng, xtieng, lo lo, ha nhi, kho mu, co tu, ta oi, van kieu, chu ru, gie "
        "trieng, pa then, la chi, phu la, si la, pu peo, co lao, la hu, xinh mun, ro mam, dan toc tay, dan "
        "toc thai, dan toc dao, dan toc hoa, dan toc cham, dan toc giay, dan toc mong, dan toc lao, dan toc "
        "lu, dan toc ma, dan toc khang, dan toc tho, dan toc chut, dan toc co, dan toc bru, dan toc mang, "
        "dan toc ngai, dan toc cong, nguoi tay, nguoi thai, nguoi dao, nguoi hoa, nguoi cham, nguoi giay, "
        "nguoi mong, nguoi lao, nguoi ma, nguoi khang, nguoi tho, nguoi bru, nguoi muong, nguoi nung, nguoi "
        "khmer, nguoi hmong, nguoi ede, nguoi gia rai, nguoi ba na, nguoi xo dang, nguoi san diu, nguoi san "
        "chay, nguoi cao lan, dan toc muong, dan toc nung, dan toc khmer, dan toc hmong, dan toc h'mong, dan "
        "toc ede, dan toc gia rai, dan toc ba na, dan toc xo dang, dan toc san diu, dan toc san chay, dan "
        "toc cao lan, dan toc, la dan toc, dtoc, tay, thai, dao"
    ),
    "KINH": "dan toc kinh, nguoi kinh, kinh, dtoc kinh",
    "EDU": (
        "thpt, trung hoc pho thong, pho thong trung hoc, ptth, cap 3, cap ba, cap iii, 12/12, lop 12, tot "
        "nghiep thpt, trung cap, cao dang, dai hoc, thac si, ths, tien si, cu nhan, ky su, sau dai hoc, tot "
        "nghiep 12, thpt tro len, tu thpt tro len, trinh do thpt, bac si, dh, cd, tc, tot nghiep dai hoc, "
        "trinh do dai hoc, trinh do cao dang, trinh do trung cap, 12/12 tro len, bo tuc thpt, btvh thpt, "
        "gdtx, sinh vien, hoc sinh thpt, hs thpt, trinh do 12/12, hoc van 12/12, het lop 12, hoc het lop 12, "
        "hoc xong dai hoc, da hoc xong dai hoc, hoc xong cao dang, da tot nghiep dai hoc, tot nghiep hoc "
        "vien, tot nghiep cap 3, tot nghiep cap ba, tot nghiep trung hoc pho thong, tot nghiep dh, tot "
        "nghiep cd, tot nghiep cao dang, tot nghiep trung cap, tot nghiep lop 12, tot nghiep 12/12, tot "
        "nghiep pho thong, hoc het 12, het 12, hoc xong 12, hoc xong lop 12, xong lop 12, hoc het cap 3, "
        "hoc het cap ba"
    ),
    "LOWEDU": (
        "thcs, 9/12, cap 2, cap hai, trung hoc co so, tieu hoc, cap 1, 8/12, 7/12, trinh do 9/12, hoc van "
        "9/12, lop 9, het lop 9, hoc het lop 9, lop 8, het lop 8, lop 7, het lop 7, lop 6, tot nghiep thcs, "
        "tot nghiep cap 2, tot nghiep cap hai, tot nghiep lop 9"
    ),
    "ALL": "ca, tat ca, toan bo, deu, deu la, ca hai deu, het, ca thay, tat ca deu, 100%, ca ca, toan the",
    "NONE": (
        "ko phai, k phai, kh phai, hong phai, ko phai la, khong co ai, khong ai, chua co ai, khong co dong "
        "chi nao, khong co nguoi nao, khong co, chua co, chua co dong chi nao, khong co truong hop nao, "
        "khong dong chi nao, khong phai, khong phai la, khong la, chua phai, chua la, chua ai, ko ai, k ai, "
        "kh ai, hong ai, hong co ai, ko co ai, k co ai, chang ai, chua co nguoi nao, khong co ai het, chua "
        "dong chi nao, khong ai het, mo co ai, mo ai, khong co ai ca, chua co ai ca"
    ),
    "NEG": "khong, chua, chang, ko, k, kg, khg, hok, hong, kh, chua the",
    "SENT": "cu, da cu, gioi thieu, cu di, de cu di, gt, lua chon cu",
    "STUDY": (
        "di hoc, hoc, tham gia, theo hoc, du lop, tham du, tham gia hoc, tham gia lop, du hoc, dang hoc, "
        "duoc hoc, da hoc, hoc lop, di hoc lop, du, hoc lop nt, hoc lop bdnt, hoc lop doi tuong, di hoc lop "
        "doi tuong, hoc doi tuong, hoc lop ntvd, di hoc lop ntvd"
    ),
    "CLASS": (
        "lop, lop hoc, lop nhan thuc, lop boi duong, lop bdnt, nhan thuc ve dang, cam tinh dang, lop cam "
        "tinh, lop cam tinh dang, boi duong nhan thuc, bdnt, lop bd, nhan thuc, lop boi duong nhan thuc ve "
        "dang, lop nhan thuc ve dang, lop bdnt ve dang, lop nhan thuc dang, bd nhan thuc, lop boi duong ket "
        "nap dang, lop ly luan chinh tri, llct, trung tam chinh tri, ttct, lop tim hieu ve dang, lop nt, "
        "ntvd, lop ntvd, lop doi tuong, lop doi tuong dang, lop nhan thuc ve dang ntvd"
    ),
    "DONE": (
        "hoan thanh, hoc xong, dat yeu cau, tot nghiep lop, da hoan thanh, hoan thanh chuong trinh, ket thuc "
        "lop, hoan thanh khoa hoc, da hoc xong, xong lop, da xong lop, dat, xong"
    ),
    "CERT": (
        "giay chung nhan, gcn, chung nhan, cap giay chung nhan, cap gcn, duoc cap giay chung nhan, duoc cap "
        "gcn, nhan giay chung nhan, nhan gcn, co gcn, co giay chung nhan, cap chung nhan, duoc cap chung "
        "nhan, duoc cap"
    ),
    "PLAN": (
        "ke hoach, chi tieu, phan dau, du kien, se, du dinh, muc tieu, dang ky chi tieu, sap, sap toi, neu, "
        "can, phai, chuan bi, de nghi, xet, xem xet, dang xem xet, lam ho so, hoan thien ho so, hoan tat ho "
        "so, tham dinh, tao nguon, dang lam ho so, cho, dang cho, uoc tinh, hy vong, mong, nam toi, thang "
        "toi, quy toi, thang sau, quy sau, nam sau, nam nay phan dau, duoc giao, nghi quyet, tinh uy giao, "
        "huyen uy giao, de ra, sang nam, quyet tam, dang ky, ngay mai, sang mai, chieu mai, toi mai, tuan "
        "sau, tuan toi, thoi gian toi, sap to chuc, dip toi"
    ),
    "PAST": "da, vua, vua moi, da duoc",
    "Q": (
        "bao nhieu, may, the nao, ra sao, nhu the nao, bao gio, chua nhi, khong nhi, nhi, gi, sao, lam sao, "
        "the, a, khong a, chua a, duoc chua, bn, bnhieu, bao lau, nhu nao"
    ),
    "PROG": (
        "tien do, tiendo, tinh hinh, ket qua, so lieu, thong ke, tong hop, dat bao nhieu, xem tien do, bao "
        "cao tien do, tien do ket nap, ti le, ty le, duoc may roi, duoc bao nhieu roi, dat may phan tram, "
        "duoc may nguoi roi"
    ),
    "HELP": (
        "help, huong dan, giup, tro giup, cach dung, cach bao cao, menu, start, huong dan su dung, giup do, "
        "giup voi, chi dan, lam sao de, lam the nao de, bao cao the nao, bao cao nhu the nao, cu phap, dung "
        "the nao, kieu gi, go sao, go the nao, go nhu the nao, nhap sao, nhap the nao, gui kieu gi, bao cao "
        "kieu gi, gui sao, phai lam gi, lam gi, thi gui sao, thi go sao, lam the nao, thi lam the nao, lam "
        "nhu the nao, phai lam the nao, cach gui, cach gui bao cao, cach nhap, cach go, gui bao cao the nao, "
        "gui nhu the nao, gui bao cao nhu nao, bao cao nhu nao, gui nhu nao, go nhu nao, nhap nhu nao, hdsd, "
        "chi tui voi, chi giup, chi giup voi, chi dum, chi gium, bao cao sao, khong biet bao cao, hong biet "
        "bao cao, ko biet bao cao, k biet bao cao"
    ),
    "GREET": "chao, xin chao, hello, hi, alo, cam on, thanks, thank, ok, oke, okay, vang, da vang, vang a",
    "AND": "va, &, +, voi, cung, con, nhung, nhung ma",
    "TRONGDO": (
        "trong do, trong so do, trong so nay, trong do co, gom, bao gom, cu the, co cau, trong so, trong so "
        "dang vien moi, trong do so"
    ),
    "CO": "co, thi co, co duoc",
    "NEW": "moi",
    "MORE": "them, bo sung, duoc them, tang, tang them",
    "DEVELOP": "phat trien, phat trien duoc, phat trien dang vien, phat trien them",
    "TOTAL": (
        "hien co, tong so, co tong, tong so dang vien, toan chi bo co, hien nay co, hien tai co, quan ly, "
        "sinh hoat, chuyen den, chuyen ve, chuyen chinh thuc, cong nhan chinh thuc, chuyen dang chinh thuc, "
        "chuyen sinh hoat, dang vien chinh thuc, xoa ten, khai tru, tu tran, tu tuat, qua doi, ra khoi dang, "
        "chuyen di, nua la, nang tong so, nang tong so len, tong cong, luy ke, cong don, chuyen cong tac, "
        "tang huy hieu, trao huy hieu, huy hieu, cong nhan"
    ),
    "DUOC": "duoc",
    "BLOCK": (
        "de, nham, truoc khi, dieu kien, de ket nap, tieu chuan, thu tuc, quy trinh, ho so ket nap, de nghi "
        "ket nap, xet ket nap, chuan bi ket nap, tao nguon ket nap, doi tuong ket nap, boi duong ket nap, "
        "nguon ket nap, lam ho so ket nap, ban viec, hop ban, ban ve viec, thao luan, ban ve, xem xet viec, "
        "viec, day manh, tang cuong, cong tac, nang cao chat luong"
    ),
    "LABEL": "trinh do, hoc van, trinh do hoc van, trinh do van hoa, van hoa, td, gioi tinh",
    "CONLAI": "con lai, so con lai, cac dong chi con lai, con lai la",
    "TUOI": "tuoi, tuoi doi",
    # whose admission it is: the party's own units, and organisations that admit their own members
    "PARTY": "chi bo, dang bo, dang uy, chi uy, dang bo xa, dang uy xa, dang bo co so, ban chi uy",
    "ORGO": (
        "chi doan, doan xa, doan truong, doan phuong, doan thi tran, doan thanh nien, doan tncs, doan co so, "
        "ban chap hanh doan, hoi phu nu, hpn, hoi lhpn, hoi lien hiep phu nu, chi hoi phu nu, hoi nong dan, "
        "hnd, chi hoi nong dan, hoi cuu chien binh, hoi ccb, chi hoi ccb, chi hoi cuu chien binh, ccb, cong "
        "doan, cong doan co so, cong doan truong, to cong doan, lien doi, chi doi, doi thieu nien, chi hoi, "
        "hoi nguoi cao tuoi, hoi chu thap do, hoi khuyen hoc, mat tran, hop tac xa, htx, cau lac bo, clb, "
        "to hop tac, doi nhom"
    ),
    "MEMBERO": (
        "hoi vien, hoi vien moi, doi vien, cong doan vien, doan vien cong doan, hvpn, hoi vien phu nu, hoi "
        "vien nong dan, thanh vien, thanh vien moi, xa vien"
    ),
    # somebody else's news, an invitation, a report's own words, a letter's or a forward's dates
    "HEARSAY": (
        "nghe noi, nghe dau, nghe bao, thay bao, thay noi, nghe tin, nghe phong phanh, xa ben, thon ben, chi "
        "bo ben, ben thon, ben xa, ben chi bo, chi bo ban, don vi ban, xa ban, ho, ben kia, chi bo khac, don "
        "vi khac, xom tren, xom duoi, thon tren, thon duoi, xom ben, khu ben, ap ben, ben do, ben ay, chi bo "
        "xom tren, chi bo anh, chi bo ong, chi bo ba, noi chi bo, noi la chi bo"
    ),
    "INVITE": (
        "moi, kinh moi, tran trong kinh moi, xin moi, moi cac, moi anh, moi toan the, moi dong chi, moi dc, "
        "moi d/c, moi tat ca, moi ca, xin tran trong kinh moi, giay moi"
    ),
    "REPORTW": "bao cao, bc, ky bao cao, v/v, ve viec, bao cao ket qua, bao cao nhanh, bao cao so lieu",
    "LETTER": (
        "ngay gui, gui ngay, gui luc, ngay lap, lap ngay, ngay ky, ky ngay, chuyen tiep, tin nhan, tin "
        "chuyen tiep, forwarded, fwd, forward, nguoi bao cao, nguoi lap, noi nhan, luc, gui"
    ),
    "PASTREF": "dot truoc, khoa truoc, lop truoc, truoc day, tu truoc, dot 1, nam truoc, nam ngoai",
    "STATUS": (
        "hien co, trong nguon, nguon, hien nay co, danh sach nguon, hien nay, dang boi duong, hien dang boi "
        "duong"
    ),
    "EACH": "moi thang, moi quy, moi dot, moi nam, moi tuan",
    # "mấy bữa trước": some days ago, not a question and not a period
    "VAGUE": (
        "may bua truoc, may hom truoc, may hom nay, may bua nay, may ngay truoc, may ngay qua, may tuan "
        "truoc, may thang truoc, may hom qua, may bua qua, hom truoc, bua truoc, hom no, bua no, gi do, gi "
        "day"
    ),
    "NAMELIST": "danh sach, gom cac dong chi, cac dong chi",
    "FIELDNAME": (
        "ho ten, ho va ten, thai do, tay nghe, nam sinh, ngay sinh, que quan, nghe nghiep, chuc vu, dia chi, "
        "ngay ket nap, noi sinh, ngay vao dang"
    ),
    "CONGRATS": "chuc mung, xin chuc mung, nhiet liet chuc mung",
    "HEARD": "nghe",
    "NOYOUTH": "ngoai doan, het tuoi doan, qua tuoi doan, khong sinh hoat doan",
    "CARRY": "thuc hien, can cu, trien khai, ket qua thuc hien, thuc hien theo, theo chi dao",
    # the writer does not know: "còn 1 thì không nhớ", "chưa rõ"
    "UNSURE": (
        "khong nho, chua nho, ko nho, k nho, hong nho, khong ro, chua ro, ko ro, chua nam duoc, chua chac, "
        "khong chac, chua chac chan, quen roi, quen mat, khong biet, chua biet, ko biet"
    ),
    # words that contain a domain word but mean something else: a country or a place ("Việt Nam",
    # "Quảng Nam": not "male"), a school of Buddhism, a document's title ("Hướng dẫn số 06": no help)
    "W": (
        "viet nam, cong san viet nam, nam tong, mien nam, ha nam, quang nam, nam dinh, huong dan so, huong "
        "dan cua, theo huong dan"
    ),
}
LEXICON: dict[str, tuple[str, ...]] = {
    kind: tuple(p.strip() for p in text.split(",") if p.strip()) for kind, text in LEXICON_TEXT.items()
}
# "không" is typed in many short forms ("ko đạo", "k theo đạo", "hok có ai"): every phrase of a denial
# is read with each of them, unless another kind already has that spelling.
_KHONG_FORMS = ("ko", "k", "kh", "khg", "hok")  # not "hong": Hồng is a name
_TAKEN = {p for phrases in LEXICON.values() for p in phrases}
for _kind in ("NOREL", "NONE", "NOYOUTH", "UNSURE"):
    _more = []
    for _p in LEXICON[_kind]:
        if _p.startswith("khong "):
            for _form in _KHONG_FORMS:
                _variant = _form + _p[len("khong") :]
                if _variant not in _TAKEN:
                    _TAKEN.add(_variant)
                    _more.append(_variant)
    LEXICON[_kind] = LEXICON[_kind] + tuple(_more)

# Multiword phrases keyed by first token; longest first.
PHRASES: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
for _kind, _phrases in LEXICON.items():
    for _p in _phrases:
        _toks = tuple(_p.split())
        PHRASES.setdefault(_toks[0], []).append((_toks, _kind, " ".join(_toks)))

# One-word entries that share their folded form with unrelated words. With diacritics only the listed
# spellings count ("cử" sends, "cũ"/"cụ" do not); without diacritics the pairs in BARE_SKIP are
# too ambiguous to count at all ("cho" is far more often "for" than "chờ").
ACCENTED_ONLY: dict[tuple[str, str], frozenset[str]] = {
    ("NEW", "moi"): frozenset({"mới"}),
    ("CLS", "ban"): frozenset({"bạn"}),
    ("CLS", "em"): frozenset({"em"}),
    ("SENT", "cu"): frozenset({"cử"}),
    ("PLAN", "se"): frozenset({"sẽ"}),
    ("PLAN", "can"): frozenset({"cần"}),
    ("PLAN", "cho"): frozenset({"chờ"}),
    ("PLAN", "mong"): frozenset({"mong"}),
    ("Q", "may"): frozenset({"mấy"}),
    ("Q", "a"): frozenset({"à"}),
    ("Q", "the"): frozenset({"thế"}),
    ("Q", "gi"): frozenset({"gì"}),
    ("Q", "sao"): frozenset({"sao"}),
    ("Q", "nhi"): frozenset({"nhỉ"}),
    ("ALL", "ca"): frozenset({"cả"}),
    ("ALL", "het"): frozenset({"hết"}),
    ("CO", "co"): frozenset({"có"}),
    ("STUDY", "du"): frozenset({"dự"}),
    ("AND", "con"): frozenset({"còn"}),
    ("KINH", "kinh"): frozenset({"kinh"}),
    ("FEMALE", "chi"): frozenset({"chị"}),
    ("FEMALE", "o"): frozenset({"o"}),
    ("FEMALE", "gai"): frozenset({"gái"}),
    ("MALE", "trai"): frozenset({"trai"}),
    ("CLS", "dua"): frozenset({"đứa"}),
    ("CLS", "chau"): frozenset({"cháu"}),
    ("HEARSAY", "ho"): frozenset({"họ"}),
    ("INVITE", "moi"): frozenset({"mời"}),
    ("ETH", "tay"): frozenset({"tày"}),
    ("ETH", "thai"): frozenset({"thái"}),
    ("ETH", "dao"): frozenset({"dao"}),
    ("MALE", "anh"): frozenset({"ảnh"}),
    ("MALE", "ong"): frozenset({"ổng"}),
    ("FEMALE", "ba"): frozenset({"bả"}),
}
BARE_SKIP = frozenset(
    {
        ("PLAN", "cho"),
        ("PLAN", "can"),
        ("Q", "a"),
        ("Q", "the"),
        ("Q", "sao"),
        ("STUDY", "du"),
        ("FEMALE", "chi"),
        ("FEMALE", "o"),
        ("FEMALE", "gai"),
        ("MALE", "trai"),
        ("CLS", "dua"),
        ("CLS", "chau"),
        ("HEARSAY", "ho"),
        ("INVITE", "moi"),
        ("ETH", "tay"),
        ("ETH", "thai"),
        ("ETH", "dao"),
        ("MALE", "anh"),
        ("MALE", "ong"),
        ("FEMALE", "ba"),
    }
)
# Phrases whose folded form is also a common phrase: with diacritics only the listed spellings count
# ("dô Đảng" joins the party, "dở dang" is unfinished; "vô Đảng", not "vợ đang"); without them the
# phrase is not read at all.
ACCENTED_PHRASES: dict[str, frozenset[str]] = {
    "do dang": frozenset({"dô đảng"}),
    # a slip of the finger: "kết nạo" (not "kết nào", which knot)
    "ket nao": frozenset({"kết nạo"}),
    # "chi bộ ảnh/ổng/bả": his or her cell (Southern), not "chi bộ anh" said to a superior
    "chi bo anh": frozenset({"chi bộ ảnh"}),
    "chi bo ong": frozenset({"chi bộ ổng"}),
    "chi bo ba": frozenset({"chi bộ bả"}),
    "vo dang": frozenset({"vô đảng"}),
    # ethnic groups whose names fold like everyday words: "là chị", "người lao động", "người mà"
    "la chi": frozenset({"la chí"}),
    "la hu": frozenset({"la hủ"}),
    "co lao": frozenset({"cờ lao"}),
    "nguoi lao": frozenset({"người lào"}),
    "dan toc lao": frozenset({"dân tộc lào"}),
    "nguoi ma": frozenset({"người mạ"}),
    "dan toc ma": frozenset({"dân tộc mạ"}),
    "nguoi dao": frozenset({"người dao"}),
    "nguoi tho": frozenset({"người thổ"}),
    # "công nhận" (recognise as a full member), not "công nhân" (a worker, as many new members are)
    "cong nhan": frozenset({"công nhận"}),
}
# ... of which these are read without diacritics too (the everyday word is rare there)
BARE_PHRASES = frozenset({"nguoi dao", "dan toc lao", "dan toc ma"})
for _lst in PHRASES.values():
    _lst.sort(key=lambda e: -len(e[0]))
# The same table split for speed: multiword phrases keyed by their first two words (longest first),
# one-word entries keyed by the word.
LEXN: dict[tuple[str, str], list[tuple[tuple[str, ...], int, str, str]]] = {}
LEX1: dict[str, list[tuple[str, str]]] = {}
for _first, _lst in PHRASES.items():
    for _toks, _kind, _text in _lst:
        if len(_toks) > 1:
            LEXN.setdefault((_toks[0], _toks[1]), []).append((_toks, len(_toks), _kind, _text))
        else:
            LEX1.setdefault(_first, []).append((_kind, _text))
# For the item pass: the distinct lengths under each first-two-words key (longest first) and each
# multiword phrase's entry (the first listed wins), so a try is one dict lookup instead of a scan.
LEXN_LENGTHS: dict[tuple[str, str], tuple[int, ...]] = {
    key: tuple(sorted({length for _, length, _, _ in entries}, reverse=True)) for key, entries in LEXN.items()
}
LEX_PHRASE: dict[tuple[str, ...], tuple[str, str]] = {}
for _entries in LEXN.values():
    for _toks, _, _kind, _text in _entries:
        LEX_PHRASE.setdefault(_toks, (_kind, _text))

SINGLE_LEX = frozenset(p for ps in LEXICON.values() for p in ps if " " not in p)
# NOYOUTH never comes from the lexicon: it is "không phải đoàn viên" read as one item
ATTRS = frozenset({"FEMALE", "MALE", "YOUTH", "NOYOUTH", "REL", "NOREL", "ETH", "KINH", "EDU", "LOWEDU"})
NOUNS = frozenset({"HEAD", "DV", "CAND", "CLS"})
FIELD_OF = {
    "FEMALE": "female",
    "MALE": "female",
    "YOUTH": "youth_union",
    "REL": "religious",
    "NOREL": "religious",
    "ETH": "ethnic_minority",
    "KINH": "ethnic_minority",
    "EDU": "upper_secondary_or_above",
    "LOWEDU": "upper_secondary_or_above",
    "NOYOUTH": "youth_union",
}
# Attributes that state the complement of a field ("2 nam" -> female = count - 2).
COMPLEMENT = frozenset({"MALE", "NOREL", "KINH", "LOWEDU", "NOYOUTH"})
CLASS_KINDS = frozenset({"SENT", "STUDY", "CLASS", "DONE", "CERT"})

# Person words that give the sex of the people they count ("2 anh 1 chị", "ba ông một bà", "1 cô
# giáo", Central "1 o"): read so only right after a count, and by their accented spelling (without
# diacritics only the unambiguous ones).
PERSON_SEX: dict[str, str] = {
    "anh": "MALE",
    "chị": "FEMALE",
    "ông": "MALE",
    "bà": "FEMALE",
    "cô": "FEMALE",
    "chú": "MALE",
    "o": "FEMALE",
    "thằng": "MALE",
}
PERSON_SEX_BARE: dict[str, str] = {"anh": "MALE", "chi": "FEMALE", "ong": "MALE"}
PERSON_SEX_FOLDED = frozenset(PERSON_SEX_BARE) | frozenset({"ba", "co", "chu", "o", "thang"})

# Words that can be numbers but also common words; without diacritics they need a noun after them.
WEAK_NUMBER_WORDS = frozenset({"nam", "sau", "bay", "tam", "ba", "chin", "bon", "muoi"})
# Words that can open a number ("không", "trăm", "linh", "tư", "lăm" only continue one).
NUMBER_START = frozenset({"mot", "hai", "ba", "bon", "nam", "sau", "bay", "tam", "chin", "muoi"})
# Accented forms that are *not* numbers although they fold to number words.
ACCENT_NOT_NUMBER = word_set(
    "nam nằm nâm sau sâu sấu bay bây bày tam tạm tâm tầm tấm bà bá bả bạ bã mọt mót hải hài hái hại "
    "bộn bồn bổn muối muỗi chìn hay"
)
NUM_CONTEXT_BEFORE = frozenset({"ADMIT", "SENT", "MORE", "DUOC", "ALL", "COLON", "LA", "DEVELOP", "TRONGDO"})

SURNAMES_FOLDED = word_set(
    "bach banh bui cao chau chu dam dang dao diep dinh do doan duong giang giap ha han hau ho hoang "
    "hua huynh kha khuat khuc kieu lac lai lam le lieu loc luc luong luu ly mac mach mai nghiem ngo "
    "nguyen ninh nong pham phan phung phuong quach quan sam ta thach thai thieu tiet tieu tong trac "
    "tran trieu trinh truong uong vo vu vuong"
)
SURNAMES_ACCENTED = word_set(
    "bành bùi bạch cao chu châu cù diệp dương giang giáp hoàng huỳnh hà hàn hầu hồ hứa kha khuất khúc "
    "khổng kim kiều la liễu lâm lê lí lò lù lý lưu lương lạc lại lộc lục mai mã mạc mạch mẫn nghiêm "
    "nguyễn ngô ninh nông phan phí phùng phương phạm quan quách sầm thiều thái thân thạch tiêu tiết "
    "triệu trác trương trần trịnh tân tăng tạ tống uông vi viên võ vĩnh vũ vương âu đinh đoàn đàm đào "
    "đặng đỗ"
)
# Given names that are also domain words or number words: allowed as the last syllable of a name.
NAME_COLLIDERS = phrase_set("an, anh, ba, bay, binh, chin, hai, hung, lan, mot, muoi, nam, nu, sau, tam, tu")
# Given names (the last word of a name, with its accents) that are a man's or a woman's in nearly
# every case; a name that has neither "Thị"/"Văn" nor one of these leaves the count of women open.
MALE_GIVEN_NAMES = word_set(
    "tuấn hùng dũng cường thắng long quân huy sơn tùng đức trung hiếu kiên mạnh nghĩa phong quang tài "
    "thịnh toàn trí vinh hưng đạt hào khải khang lộc luân nhân phát tiến trọng tường vượng duy hiển chiến "
    "công cương định đông huân khôi lập phú quốc tấn thạch thông triều việt vỹ vĩ bảo hoàng"
)
FEMALE_GIVEN_NAMES = word_set(
    "hằng lan hoa hương mai nga nhung thảo trang hạnh huyền loan yến oanh thúy thủy nhàn lụa liên lệ "
    "my nguyệt phượng quyên quỳnh thơm thư trâm uyên vân hồng dung duyên hiền hường lài mận mơ mỹ ngân "
    "nhi sen tuyết vy xoan cúc đào huệ lành liễu mến nụ nương thắm thoa thùy trinh diễm kiều lý nhàn"
)
MIDDLE_NAMES = word_set(
    "anh bao bich chi cong dang dinh duc gia hai hong huu khanh kim manh minh my ngoc nhu phuong "
    "quang quoc thai thanh thi thu tien trung tuan van xuan"
)
PERSON_TITLES = phrase_set(
    "anh, ba, ban, chau, chi, cho, co, d/c, d/chi, dc, dchi, dong chi, dong chi moi, em, ho ten, ong, "
    "qc, qcut, quan chung, ten"
)
ROLE_WORDS = phrase_set(
    "ban, bi, can, chi, chu, dai, dang, doan, giao, hieu, pho, thuong, to, tong, tro, truong, uy"
)
PLACE_WORDS = phrase_set(
    "ap, ban, bo phan, chi bo, cong ty, cum, dang bo, doi, dot, giao xu, ho dao, huyen, khoa, khoi, "
    "khu, khu pho, kp, lan, lang, lop, nha may, phong, phuong, so, tdp, thi tran, thon, thu, tinh, "
    "to, to dan pho, truong, ward, xa, xi nghiep, xom"
)
