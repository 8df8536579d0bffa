#!/usr/bin/python3
"""Generates a second, independent labelled PII corpus in tests/pii/corpus_faker_py/, with
Debian's Python Faker (package python3-fake-factory, `import faker`) instead of the
@faker-js/faker generator of tests/pii/corpus/, and with templates of its own:

    /usr/bin/python3 tests/pii/generate_faker_py.py      (writes corpus_faker_py/*.jsonl.gz)
    tests/pii/evaluate.py --corpus tests/pii/corpus_faker_py

It exists because the first corpus was written by the people who wrote the rules: this one
was written from a description of the 16 types ("what would a careful human mark?"), not
from the rules, and it was not tuned to the engine's results.

corpus_faker_py/labelled.jsonl.gz  every type in UPDATE/multi-row/quoted-identifier SQL,
                                   result cells, nested JSON, url-encoded query strings,
                                   headers, several log styles, CSV-ish text, prose in five
                                   languages and Redis values, in the formats of seven
                                   locales; plus hard negatives (labels: [])
corpus_faker_py/clean.jsonl.gz     PII-free traffic (logs, API bodies, SQL, headers)

Each line is a pii-scan input line plus "labels": [{"type","start","end","variant"}] with
BYTE offsets into the UTF-8 text (what pii-scan reports and evaluate.py compares); "variant"
says which generator branch made the value, for breaking misses down (evaluate.py and
pii-scan ignore it). Output is byte-identical across runs: fixed seeds, no clock, gzip
mtime 0. Values that no careful human would call the type are left out or used as hard
negatives: faker 0.9.3 writes GB, FR and PL IBANs of the wrong length (own BBANs are used for
those countries), and draws US phone digits with no regard to the numbering plan (redrawn).
"""
import base64
import gzip
import hashlib
import json
import os
import random
import string
import sys
import urllib.parse
import zlib
from datetime import date, datetime, timedelta

import faker
from faker import Faker

SEED = 7351
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus_faker_py")

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT"]
R = random.Random(SEED)
F = {}
for i, loc in enumerate(LOCALES + ["de_AT", "pl_PL", "no_NO"]):
    F[loc] = Faker(loc)
    F[loc].seed_instance(SEED + 101 * i)
US = F["en_US"]


def pick(seq):
    return seq[R.randrange(len(seq))]


def chance(p):
    return R.random() < p


def rint(a, b):
    return R.randint(a, b)


def rstr(alphabet, n):
    return "".join(alphabet[R.randrange(len(alphabet))] for _ in range(n))


ALNUM = string.ascii_letters + string.digits
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
HEX = "0123456789abcdef"

# ---------------------------------------------------------------- PII values
# Each returns (value, variant).


def luhn_sum_ok(d):
    s = 0
    for i, ch in enumerate(reversed(d)):
        x = int(ch)
        if i % 2:
            x *= 2
            if x > 9:
                x -= 9
        s += x
    return s % 10 == 0


def group(d, sizes, sep):
    out, i = [], 0
    for n in sizes:
        if i >= len(d):
            break
        out.append(d[i:i + n])
        i += n
    if i < len(d):
        out.append(d[i:])
    return sep.join(out)


CARD_TYPES = ["visa16", "visa16", "mastercard", "mastercard", "amex", "discover", "visa13",
              "visa19", "diners", "jcb16", "jcb15", "maestro"]


def v_credit_card(compact=False):
    ct = pick(CARD_TYPES)
    d = US.credit_card_number(card_type=ct)
    while d[0] == "0":  # faker's maestro prefix list has 0604, which is no card issuer's
        d = US.credit_card_number(card_type=ct)
    assert luhn_sum_ok(d), d
    if ct in ("amex", "jcb15"):
        sizes = [4, 6, 5]
    elif ct == "diners":
        sizes = [4, 6, 4]
    else:
        sizes = [4, 4, 4, 4, 4]
    if compact:
        return d, ct + "/plain"
    fmt = pick(["plain", "plain", "space", "space", "dash"])
    if fmt == "space":
        return group(d, sizes, " "), ct + "/space"
    if fmt == "dash":
        return group(d, sizes, "-"), ct + "/dash"
    return d, ct + "/plain"


# ISO 13616 lengths and BBAN shapes for the countries faker 0.9.3 gets wrong or lacks
# ('9' a digit, 'A' an upper-case letter, 'X' either).
OWN_BBAN = {"GB": "AAAA99999999999999", "FR": "99999999999999999999999",
            "ES": "99999999999999999999", "BE": "999999999999", "CH": "99999XXXXXXXXXXXX",
            "IE": "AAAA99999999999999", "PT": "999999999999999999999",
            "LU": "999XXXXXXXXXXXXX", "AT": "9999999999999999", "PL": "999999999999999999999999"}
IBAN_LEN = {"GB": 22, "FR": 27, "ES": 24, "BE": 16, "CH": 21, "IE": 22, "PT": 25, "LU": 20,
            "AT": 20, "DE": 22, "IT": 27, "NL": 18, "NO": 15, "PL": 28}


def iban_check_digits(cc, bban):
    s = "".join(str(int(c, 36)) for c in bban + cc + "00")
    return "%02d" % (98 - int(s) % 97)


def iban_valid(iban):
    s = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def v_iban_compact():
    src = pick(["de_DE", "de_AT", "it_IT", "nl_NL", "no_NO", "own", "own", "own"])
    if src == "own":
        cc = pick(sorted(OWN_BBAN))
        bban = "".join(pick(string.digits) if c == "9" else pick(string.ascii_uppercase) if c == "A"
                       else pick(string.ascii_uppercase + string.digits) for c in OWN_BBAN[cc])
        v = cc + iban_check_digits(cc, bban) + bban
        variant = "own/" + cc
    else:
        v = F[src].iban()
        variant = "faker/" + v[:2]
    assert iban_valid(v) and len(v) == IBAN_LEN[v[:2]], v
    return v, variant


def v_iban(compact=False):
    v, variant = v_iban_compact()
    if compact or chance(0.5):
        return v, variant + "/compact"
    return " ".join(v[i:i + 4] for i in range(0, len(v), 4)), variant + "/grouped"


def v_us_ssn(bare_ok=False):
    v = US.ssn()
    if bare_ok and chance(0.2):
        return v.replace("-", ""), "bare"
    if bare_ok and chance(0.1):
        return v.replace("-", " "), "spaced"
    return v, "dashed"


def nanp_digits_ok(d):
    return d[0] >= "2" and d[3] >= "2" and d[1:3] != "11" and d[4:6] != "11"


def phone_shape(v):
    return "".join("#" if c.isdigit() else c for c in v)


# digits after the country code (or after the trunk 0) that a national plan allows; faker
# 0.9.3's it_IT, es_ES and nl_NL formats also draw numbers too long or too short to dial
NSN_LEN = {"en_GB": (9, 10), "de_DE": (6, 13), "fr_FR": (9, 9), "nl_NL": (9, 9), "es_ES": (9, 9),
           "it_IT": (6, 11)}


def v_phone(loc=None, compact=False):
    loc = loc or pick(LOCALES)
    f = F[loc]
    for _ in range(200):
        v = f.phone_number()
        if loc == "en_GB" and chance(0.3):
            v = f.cellphone_number()
        digits = "".join(c for c in v.split("x")[0] if c.isdigit())
        if loc == "en_US":
            nsn = digits[-10:]
            if not nanp_digits_ok(nsn):
                continue  # faker draws area and exchange codes that the plan never assigns
        else:
            # a trunk 0 or country code followed by another 0 is no number anyone writes
            body = v.replace("(0)", "").replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
            if body.startswith("+"):
                cc = {"en_GB": "44", "de_DE": "49", "fr_FR": "33", "nl_NL": "31", "es_ES": "34",
                      "it_IT": "39"}[loc]
                if body[1 + len(cc)] == "0" and loc != "it_IT":
                    continue
                nsn = body[1 + len(cc):]
            elif body.startswith("0") and body[1] == "0":
                continue
            else:
                nsn = body[1:] if loc != "it_IT" else body
            lo, hi = NSN_LEN[loc]
            if not lo <= len(nsn) <= hi:
                continue
        if compact and (" " in v or "(" in v):
            continue
        return v, loc + ":" + phone_shape(v)
    raise RuntimeError("no phone for " + loc)


def v_ip(compact=False):
    k = pick(["v4", "v4", "v4", "v4priv", "v6full", "v6comp", "v6comp", "v6mapped"])
    if k == "v4":
        return US.ipv4(), "ipv4"
    if k == "v4priv":
        return US.ipv4_private(), "ipv4_private"
    if k == "v6full":
        return US.ipv6(), "ipv6_full"
    if k == "v6comp":
        # a documentation or link-local prefix, a run of zero groups, then random groups
        pre = pick(["2001:db8", "fe80:", "2a02:8108", "2600:1f18", "2001:0db8:85a3"])
        tail = ":".join("%x" % rint(0, 0xffff) for _ in range(rint(1, 4)))
        v = pre + ("::" if not pre.endswith(":") else ":") + tail
        import ipaddress
        ipaddress.IPv6Address(v)
        return v, "ipv6_compressed"
    return "::ffff:" + US.ipv4_public(), "ipv6_v4mapped"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def v_jwt():
    alg = pick(["HS256", "RS256", "ES384", "PS256", "EdDSA", "HS384"])
    hdr = pick([{"alg": alg, "typ": "JWT"}, {"alg": alg}, {"kid": rstr(HEX, 16), "alg": alg, "typ": "JWT"},
                {"typ": "at+jwt", "alg": alg, "kid": rstr(ALNUM, 10)}])
    iat = rint(1650000000, 1790000000)
    payload = pick([
        {"sub": str(rint(1, 10 ** 7)), "iat": iat},
        {"iss": "https://" + US.domain_name() + "/", "aud": pick(["api", "web", US.domain_name()]),
         "sub": US.uuid4(), "exp": iat + 900, "iat": iat, "email": US.free_email()},
        {"user_id": rint(1, 99999), "roles": ["user"] + (["admin"] if chance(0.2) else []),
         "exp": iat + 86400, "jti": rstr(HEX, 32)},
        {"sub": US.user_name(), "scope": "openid profile email", "azp": rstr(ALNUM, 20), "iat": iat,
         "exp": iat + 3600, "name": US.name()},
    ])
    sig_len = {"HS256": 32, "HS384": 48, "RS256": 256, "PS256": 256, "ES384": 96, "EdDSA": 64}[alg]
    sig = bytes(R.randrange(256) for _ in range(sig_len))
    js = lambda o: json.dumps(o, separators=(",", ":")).encode()
    return "%s.%s.%s" % (b64u(js(hdr)), b64u(js(payload)), b64u(sig)), alg


B32 = string.ascii_uppercase + "234567"


def v_aws_access_key():
    p = pick(["AKIA", "AKIA", "AKIA", "ASIA"])
    return p + rstr(B32, 16), p


def v_aws_secret_key():
    while True:
        s = rstr(string.ascii_letters + string.digits + "+/", 40)
        if any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s):
            return s, "b64_40"


def v_github_token():
    if chance(0.15):
        return "github_pat_%s_%s" % (rstr(ALNUM, 22), rstr(ALNUM, 59)), "fine_grained"
    prefix = pick(["ghp", "ghp", "ghp", "gho", "ghs", "ghu", "ghr"])
    body = rstr(ALNUM, 30)
    c = zlib.crc32(body.encode())
    chk = ""
    for _ in range(6):
        chk = B62[c % 62] + chk
        c //= 62
    return "%s_%s%s" % (prefix, body, chk), prefix


def v_slack_token():
    k = pick(["xoxb", "xoxb", "xoxb", "xoxp", "xoxa2", "hook", "xapp", "xoxe"])
    num = lambda n: str(rint(1, 9)) + rstr(string.digits, n - 1)
    if k == "xoxb":
        return "xoxb-%s-%s-%s" % (num(rint(10, 13)), num(rint(12, 13)), rstr(ALNUM, 24)), k
    if k == "xoxp":
        return "xoxp-%s-%s-%s-%s" % (num(rint(10, 12)), num(rint(10, 12)), num(13), rstr(HEX, 32)), k
    if k == "xoxa2":
        return "xoxa-2-%s-%s-%s" % (num(12), num(13), rstr(HEX, 64)), k
    if k == "hook":
        return "https://hooks.slack.com/services/T%s/B%s/%s" % (
            rstr(string.ascii_uppercase + string.digits, 10), rstr(string.ascii_uppercase + string.digits, 11),
            rstr(ALNUM, 24)), k
    if k == "xapp":
        return "xapp-1-A%s-%s-%s" % (rstr(string.ascii_uppercase + string.digits, 10), num(13), rstr(HEX, 64)), k
    return "xoxe.xoxp-1-%s" % rstr(ALNUM + "-", 140), k


def v_private_key():
    kind = pick(["RSA PRIVATE KEY", "PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY",
                 "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "DSA PRIVATE KEY"])
    n = {"EC PRIVATE KEY": 121, "OPENSSH PRIVATE KEY": rint(380, 1700), "DSA PRIVATE KEY": 440}.get(kind, rint(600, 1200))
    body = base64.b64encode(bytes(R.randrange(256) for _ in range(n))).decode()
    width = 70 if kind == "OPENSSH PRIVATE KEY" else 64
    lines = [body[i:i + width] for i in range(0, len(body), width)]
    hdr = ""
    if kind == "RSA PRIVATE KEY" and chance(0.3):
        hdr = "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,%s\n\n" % rstr("0123456789ABCDEF", 32)
    nl = "\r\n" if chance(0.15) else "\n"
    text = "-----BEGIN %s-----\n%s%s\n-----END %s-----" % (kind, hdr, "\n".join(lines), kind)
    return text.replace("\n", nl), kind.replace(" ", "_").lower() + ("/crlf" if nl == "\r\n" else "")


WORDS_PASS = ["sunflower", "Tiger", "winter", "dragon", "Falcon", "maple", "orange", "Berlin", "Paris",
              "sommer", "soleil", "Rosso", "monkey", "shadow", "Zebra", "pizza", "Blue", "river"]


def v_password():
    k = pick(["faker", "faker", "faker_nospecial", "word_digits", "passphrase", "pin_like", "name_year"])
    if k == "faker":
        return US.password(length=rint(8, 20)), k
    if k == "faker_nospecial":
        return US.password(length=rint(8, 14), special_chars=False), k
    if k == "word_digits":
        return pick(WORDS_PASS) + pick(["", "_", "."]) + str(rint(1, 9999)) + pick(["", "!", "?", "#"]), k
    if k == "passphrase":
        return "-".join(pick(["correct", "horse", "battery", "staple", "purple", "lamp", "ocean", "cloud",
                              "silent", "rocket", "coffee", "garden"]) for _ in range(rint(3, 4))), k
    if k == "pin_like":
        return pick(WORDS_PASS).lower() + str(rint(10, 99)), k
    loc = pick(LOCALES)
    return F[loc].first_name() + str(rint(1960, 2012)), k


MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"],
}


def v_dob(style=None):
    d = US.date_between_dates(date(1934, 1, 1), date(2007, 12, 31))
    style = style or pick(["iso", "iso", "us", "eu_dot", "eu_slash", "en_long", "en_short", "de_long",
                           "fr_long", "iso_slash"])
    y, m, dd = d.year, d.month, d.day
    v = {
        "iso": "%04d-%02d-%02d" % (y, m, dd),
        "iso_slash": "%04d/%02d/%02d" % (y, m, dd),
        "us": "%d/%d/%04d" % (m, dd, y) if chance(0.5) else "%02d/%02d/%04d" % (m, dd, y),
        "eu_dot": "%02d.%02d.%04d" % (dd, m, y),
        "eu_slash": "%02d/%02d/%04d" % (dd, m, y),
        "en_long": "%s %d, %04d" % (MONTHS["en"][m - 1], dd, y),
        "en_short": "%d %s %04d" % (dd, MONTHS["en"][m - 1][:3], y),
        "de_long": "%d. %s %04d" % (dd, MONTHS["de"][m - 1], y),
        "fr_long": "%d %s %04d" % (dd, MONTHS["fr"][m - 1], y),
    }[style]
    return v, style


def v_name(part="full", loc=None):
    loc = loc or pick(LOCALES)
    f = F[loc]
    if part == "first":
        return f.first_name(), loc + "/first"
    if part == "last":
        return f.last_name(), loc + "/last"
    if chance(0.25):
        return f.name(), loc + "/faker_name"  # may carry a title or suffix (Dr., MD, ...)
    return f.first_name() + " " + f.last_name(), loc + "/first_last"


def v_address(loc=None, full=None):
    loc = loc or pick(LOCALES)
    f = F[loc]
    full = chance(0.4) if full is None else full
    if full:
        a = "\n".join(l.strip() for l in f.address().split("\n"))
        return a, loc + "/full"
    return f.street_address().strip(), loc + "/street"


def v_email():
    loc = pick(LOCALES)
    f = F[loc]
    k = pick(["email", "free", "company", "safe", "name_dot", "plus", "upper", "umlaut"])
    if k == "email":
        return f.email(), k
    if k == "free":
        return f.free_email(), k
    if k == "company":
        return f.company_email(), k
    if k == "safe":
        return f.safe_email(), k
    if k == "name_dot":
        return "%s.%s@%s" % (US.first_name().lower(), US.last_name().lower().replace(" ", ""), f.domain_name()), k
    if k == "plus":
        u, d = f.free_email().split("@")
        return "%s+%s@%s" % (u, pick(["news", "shop", "2024", "spam", "work"]), d), k
    if k == "upper":
        u, d = US.email().split("@")
        return "%s@%s" % (u.capitalize(), d.upper() if chance(0.3) else d), k
    return pick(["jürgen.müller", "zoë.dupont", "søren", "josé.garcía", "françois"]) + str(rint(1, 99)) + "@" + \
        pick(["web.de", "gmx.net", "orange.fr", "gmail.com"]), k


GEN = {
    "email": v_email, "credit_card": v_credit_card, "iban": v_iban, "us_ssn": v_us_ssn,
    "phone": v_phone, "ip_address": v_ip, "jwt": v_jwt, "aws_access_key": v_aws_access_key,
    "aws_secret_key": v_aws_secret_key, "github_token": v_github_token, "slack_token": v_slack_token,
    "private_key": v_private_key, "password": v_password, "date_of_birth": v_dob,
    "person_name": v_name, "address": v_address,
}
TYPES = list(GEN)

# ---------------------------------------------------------------- text builder


class P:
    """A labelled value inside a structure to serialise."""

    def __init__(self, type_, value, variant):
        self.type, self.value, self.variant = type_, value, variant


def pv(t, **kw):
    v, variant = GEN[t](**kw)
    return P(t, v, variant)


class T:
    def __init__(self):
        self.parts, self.n, self.labels = [], 0, []

    def add(self, s):
        self.parts.append(s)
        self.n += len(s.encode())
        return self

    def pii(self, p, rendered=None):
        s = p.value if rendered is None else rendered
        start = self.n
        self.add(s)
        self.labels.append({"type": p.type, "start": start, "end": self.n, "variant": p.variant})
        return self

    def val(self, v, render=lambda s: s):
        """v is a P or a plain string; render is how it is written in this syntax."""
        if isinstance(v, P):
            return self.pii(v, render(v.value))
        return self.add(render(v))

    def text(self):
        return "".join(self.parts)


def sql_q(s):
    return s.replace("'", "''")


def json_q(s):
    return json.dumps(s, ensure_ascii=False)[1:-1]


def emit_json(t, o, indent=None, level=0):
    """Serialises o like json.dumps (ensure_ascii=False), labelling P values in place."""
    sep_item = "," if indent is None else ","
    nl = lambda lv: "" if indent is None else "\n" + " " * (indent * lv)
    colon = ": " if indent is not None or chance(0.5) else ":"
    if isinstance(o, P):
        t.add('"').pii(o, json_q(o.value)).add('"')
    elif isinstance(o, dict):
        t.add("{")
        for i, (k, v) in enumerate(o.items()):
            if i:
                t.add(sep_item + ("" if indent is not None else " " if chance(0.3) else ""))
            t.add(nl(level + 1)).add(json.dumps(k, ensure_ascii=False)).add(colon)
            emit_json(t, v, indent, level + 1)
        t.add(nl(level) if o else "").add("}")
    elif isinstance(o, list):
        t.add("[")
        for i, v in enumerate(o):
            if i:
                t.add(",")
            t.add(nl(level + 1))
            emit_json(t, v, indent, level + 1)
        t.add(nl(level) if o else "").add("]")
    else:
        t.add(json.dumps(o, ensure_ascii=False))
    return t


# ---------------------------------------------------------------- keys and fillers

KEYS = {
    "email": ["email", "emailAddress", "EMAIL_ADDR", "e_mail", "customer_email", "Email", "notify_email",
              "primaryEmail", "work_email", "mail"],
    "credit_card": ["card_number", "cardNumber", "pan", "CC_NUM", "credit_card_no", "payment_card_number",
                    "card_pan", "ccnumber"],
    "iban": ["iban", "IBAN", "bank_iban", "payout_iban", "iban_number", "refund_account_iban", "debtorIban"],
    "us_ssn": ["ssn", "SSN", "social_security_no", "ssn_number", "applicant_ssn", "socialSecurityNumber"],
    "phone": ["phone", "phoneNumber", "mobile_no", "tel", "telefon", "home_phone", "cell", "contactPhone",
              "telephone_number", "fax"],
    "ip_address": ["ip", "ipAddress", "client_ip", "remote_ip", "src_ip", "last_seen_ip", "origin_ip",
                   "x_forwarded_for"],
    "jwt": ["access_token", "id_token", "jwt", "token", "refresh_token", "bearer", "auth_token"],
    "aws_access_key": ["aws_access_key_id", "AccessKeyId", "accessKeyId", "AWS_ACCESS_KEY_ID", "aws_key_id"],
    "aws_secret_key": ["aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "SecretAccessKey", "secretAccessKey",
                       "aws_secret_key", "awsSecretKey", "AWS_SECRET_KEY"],
    "github_token": ["github_token", "GH_TOKEN", "githubToken", "gh_pat", "token", "ci_token"],
    "slack_token": ["slack_token", "SLACK_BOT_TOKEN", "slackWebhookUrl", "bot_token", "webhook", "slack_app_token"],
    "private_key": ["private_key", "privateKey", "ssh_private_key", "tls_key_pem", "key_pem", "id_rsa"],
    "password": ["password", "Password", "passwd", "user_pass", "pass", "pwd", "db_password", "newPassword",
                 "login_password", "PASSWORD", "admin_pass", "kennwort", "mot_de_passe", "contrasena"],
    "date_of_birth": ["dob", "dateOfBirth", "birth_date", "birthdate", "DOB", "date_of_birth", "birthday",
                      "geburtsdatum", "date_naissance", "fecha_nacimiento"],
    "person_name": ["full_name", "fullName", "customer_name", "patient_name", "holder_name", "contact_name",
                    "employee_name", "name", "recipient", "nombre_completo"],
    "address": ["address", "street_address", "addressLine1", "shipping_address", "billing_address",
                "home_address", "street", "address1", "mailing_address", "adresse", "direccion", "indirizzo"],
}
# person_name under "name" is only used in tables of people
PEOPLE_TABLES = ["customers", "patients", "employees", "contacts", "members", "subscribers"]
TABLES = ["users", "accounts", "customers", "orders", "billing_profiles", "signups", "audit_log", "kyc_checks",
          "leads", "tenants"]


def nid():
    return str(rint(1, 9_999_999))


def uuid4():
    return "%08x-%04x-4%03x-%x%03x-%012x" % (R.getrandbits(32), R.getrandbits(16), R.getrandbits(12),
                                            8 + R.randrange(4), R.getrandbits(12), R.getrandbits(48))


def iso_ts():
    d = datetime(2024, 1, 1) + timedelta(seconds=rint(0, 2 * 365 * 86400), microseconds=rint(0, 999999))
    return pick([d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", d.strftime("%Y-%m-%d %H:%M:%S"),
                 d.strftime("%Y-%m-%dT%H:%M:%S+02:00")])


def luhn_complete(prefix, n):
    d = prefix + rstr(string.digits, n - 1 - len(prefix))
    for c in string.digits:
        if luhn_sum_ok(d + c):
            return d + c


FILLERS = [
    ("id", nid), ("status", lambda: pick(["active", "pending", "closed", "verified", "blocked"])),
    ("created_at", iso_ts), ("updated_at", iso_ts), ("tenant_id", lambda: str(rint(1, 400))),
    ("plan", lambda: pick(["free", "pro", "enterprise", "team"])), ("locale", lambda: pick(LOCALES)),
    ("request_id", uuid4), ("country", lambda: pick(["US", "GB", "DE", "FR", "NL", "ES", "IT"])),
    ("amount", lambda: "%d.%02d" % (rint(1, 4999), rint(0, 99))), ("currency", lambda: pick(["EUR", "USD", "GBP"])),
    ("order_ref", lambda: luhn_complete(str(rint(1, 9)), 16)), ("version", lambda: "%d.%d.%d" % (rint(0, 9), rint(0, 40), rint(0, 200))),
    ("source", lambda: pick(["web", "ios", "android", "import", "api"])), ("retries", lambda: str(rint(0, 5))),
]


def fillers(n):
    out, seen = [], set()
    while len(out) < n:
        k, f = pick(FILLERS)
        if k not in seen:
            seen.add(k)
            out.append((k, f()))
    return out


def key_for(t):
    return pick(KEYS[t])


def value_for(t, key=None, ctx=None):
    """A P of type t suited to key (first/last names) and context (compact where spaces won't do)."""
    if t == "person_name":
        low = (key or "").lower()
        if "first" in low or low in ("vorname", "prenom", "given_name"):
            return pv(t, part="first")
        if "last" in low or low in ("surname", "nachname", "apellido"):
            return pv(t, part="last")
        return pv(t)
    if t == "us_ssn":
        return pv(t, bare_ok=ctx in ("sql", "cell"))
    return pv(t)


# ---------------------------------------------------------------- contexts, labelled

def ident(k, style):
    return {"plain": k, "dq": '"%s"' % k, "bt": "`%s`" % k}[style]


def c_sql_insert(t_):
    """Multi-row INSERTs with quoted identifiers, INSERT ... SET, upserts."""
    t = T()
    style = pick(["plain", "dq", "bt"])
    key = key_for(t_)
    tbl = pick(PEOPLE_TABLES) if key == "name" else pick(TABLES)
    shape = pick(["multi", "multi", "set", "upsert", "returning"])
    if t_ == "private_key" and shape == "set":
        shape = "multi"
    fl = fillers(rint(1, 3))
    if shape == "set":
        t.add("INSERT INTO %s SET " % ident(tbl, "bt" if style == "bt" else "plain"))
        items = [(k, v) for k, v in fl]
        pos = rint(0, len(items))
        items.insert(pos, (key, value_for(t_, key, "sql")))
        for i, (k, v) in enumerate(items):
            t.add(", " if i else "").add("%s = '" % ident(k, "bt" if style == "bt" else "plain"))
            t.val(v, sql_q).add("'")
        return "sql_insert", None, t
    cols = [k for k, _ in fl]
    pos = rint(0, len(cols))
    cols.insert(pos, key)
    schema = pick(["", "public.", "app."]) if style != "bt" else ""
    t.add("INSERT INTO %s%s (%s) VALUES" % (schema if style == "plain" else "", ident(tbl, style),
                                            ", ".join(ident(c, style) for c in cols)))
    rows = rint(1, 4) if shape == "multi" else 1
    for r in range(rows):
        t.add(",\n  (" if r else pick([" (", "\n  ("]))
        vals = [f() for k, f in [(k, dict(FILLERS)[k]) for k in cols if k != key]]
        vals.insert(pos, value_for(t_, key, "sql"))
        for i, v in enumerate(vals):
            t.add(", " if i else "")
            if not isinstance(v, P) and v.isdigit() and chance(0.6):
                t.add(v)
            else:
                t.add("'").val(v, sql_q).add("'")
        t.add(")")
    if shape == "upsert":
        t.add(" ON CONFLICT (%s) DO UPDATE SET %s = EXCLUDED.%s" % (ident("id", style), ident(key, style), ident(key, style)))
    elif shape == "returning":
        t.add(" RETURNING id")
    if chance(0.5):
        t.add(";")
    return "sql_insert", None, t


def c_sql_where(t_):
    """UPDATE ... SET, functions around columns, IN lists, JOINs, placeholders beside literals."""
    t = T()
    key = key_for(t_)
    style = pick(["plain", "plain", "dq", "bt"])
    k = ident(key, style)
    tbl = pick(PEOPLE_TABLES) if key == "name" else pick(TABLES)
    shape = pick(["update", "update", "update_multi", "lower", "in", "join", "and_or"])
    v = value_for(t_, key, "sql")
    if shape == "update":
        t.add("UPDATE %s SET %s = '" % (ident(tbl, style), k)).val(v, sql_q).add("', updated_at = %s WHERE id = %s" % (
            pick(["NOW()", "CURRENT_TIMESTAMP", "'%s'" % iso_ts()]), nid()))
    elif shape == "update_multi":
        t.add("UPDATE %s SET status = '%s', %s = '" % (ident(tbl, style), pick(["verified", "active"]), k))
        t.val(v, sql_q).add("' WHERE tenant_id = %d AND id = %s RETURNING id" % (rint(1, 90), nid()))
    elif shape == "lower":
        t.add("SELECT id, created_at FROM %s WHERE lower(%s) = lower('" % (ident(tbl, style), k)).val(v, sql_q)
        t.add("') AND deleted_at IS NULL")
    elif shape == "in":
        t.add("DELETE FROM %s WHERE %s IN ('" % (ident(tbl, style), k)).val(v, sql_q).add("', '")
        t.val(value_for(t_, key, "sql"), sql_q).add("')")
    elif shape == "join":
        t.add("SELECT u.id, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.%s = '" % k)
        t.val(v, sql_q).add("' AND o.created_at > '%s' ORDER BY o.created_at DESC" % iso_ts()[:10])
    else:
        t.add("SELECT * FROM %s WHERE (tenant_id = $1 OR tenant_id IS NULL) AND %s='" % (ident(tbl, style), k))
        t.val(v, sql_q).add("' LIMIT %d" % rint(1, 50))
    return "sql_where", None, t


def c_bind(t_):
    """A bind parameter alone, under its column (the engine's sql_* kinds with a column)."""
    t = T()
    key = key_for(t_)
    t.val(value_for(t_, key, "cell"))
    return pick(["sql_insert", "sql_where"]), key, t


def c_result_row(t_):
    t = T()
    key = key_for(t_)
    key = pick([key, key, key.upper(), "%s.%s" % (pick(["c", "u", "t0"]), key)])
    v = value_for(t_, key, "cell")
    t.val(v)
    return "result_row", key, t


def c_http_json(t_):
    """Nested objects, arrays of records, envelopes, pretty-printed bodies."""
    t = T()
    key = key_for(t_)
    shape = pick(["array", "nested", "envelope", "flat", "pretty", "graphql"])
    recs = []
    for i in range(rint(1, 3) if shape == "array" else 1):
        d = dict(fillers(rint(0, 2)))
        d[key] = value_for(t_, key, "json")
        recs.append(d)
    if shape == "array":
        body = {"data": {"items": recs, "page": rint(1, 9), "total": rint(10, 999)}}
    elif shape == "nested":
        body = {"id": nid(), "profile": {"contact": recs[0], "prefs": {"newsletter": chance(0.5)}}}
    elif shape == "envelope":
        body = {"event": pick(["user.updated", "checkout.completed", "kyc.submitted"]), "ts": rint(1700000000, 1790000000),
                "payload": {"after": recs[0], "changed": [key]}}
    elif shape == "graphql":
        body = {"operationName": "UpdateProfile", "variables": {"input": recs[0]},
                "query": "mutation UpdateProfile($input: ProfileInput!) { updateProfile(input: $input) { id } }"}
    else:
        body = recs[0]
    emit_json(t, body, indent=2 if shape == "pretty" else None)
    return "http_json", None, t


def url_enc(s):
    return urllib.parse.quote(s, safe=pick(["", "@"]) if "@" in s else "")


def c_http_query(t_):
    """Query strings and form bodies, percent-encoded the way browsers and clients send them."""
    t = T()
    key = key_for(t_)
    if t_ == "private_key":
        return c_http_json(t_)
    v = value_for(t_, key, "query")
    form = chance(0.3)
    if form:
        enc = lambda s: urllib.parse.quote_plus(s)
        t.add("%s=%s&" % (pick(["csrf", "_token", "utm_source"]), rstr(ALNUM, 12)))
    else:
        enc = url_enc
        t.add("/%s?" % pick(["v1/users/search", "account/update", "api/checkout", "signup", "admin/lookup"]))
        if chance(0.5):
            t.add("lang=%s&" % pick(["en", "de", "fr"]))
    t.add(urllib.parse.quote(key) + "=").val(v, enc)
    for k, fv in fillers(rint(0, 2)):
        t.add("&%s=%s" % (k, urllib.parse.quote(fv)))
    return "http_query", None, t


def c_http_header(t_):
    t = T()
    if t_ == "jwt":
        t.add(pick(["Bearer ", "bearer ", "JWT "])).val(value_for(t_))
        return "http_header", pick(["Authorization", "authorization"]), t
    if t_ == "ip_address":
        k = pick(["X-Forwarded-For", "X-Real-IP", "Forwarded", "True-Client-IP"])
        if k == "Forwarded":
            t.add("for=")
            v = value_for(t_)
            if ":" in v.value:
                t.add('"[').val(v).add(']"')
            else:
                t.val(v)
            t.add(";proto=https;by=10.0.0.%d" % rint(1, 254))
            t.labels[-1:] = t.labels[-1:]
            # by= is the proxy's own address: still an IP address a human would mark
            b = t.text().rsplit("by=", 1)[1]
            t.labels.append({"type": "ip_address", "start": t.n - len(b), "end": t.n, "variant": "ipv4_proxy"})
        elif k == "X-Forwarded-For":
            for i in range(rint(1, 3)):
                t.add(", " if i else "").val(value_for(t_))
        else:
            t.val(value_for(t_))
        return "http_header", k, t
    if t_ == "email":
        k = pick(["From", "X-User-Email", "Cookie"])
        if k == "Cookie":
            t.add("sid=%s; last_login_email=" % rstr(ALNUM, 20)).val(value_for(t_), url_enc).add("; theme=dark")
        elif k == "From":
            t.val(value_for(t_))
        else:
            t.val(value_for(t_))
        return "http_header", k, t
    if t_ == "github_token":
        t.add(pick(["token ", "Bearer "])).val(value_for(t_))
        return "http_header", "Authorization", t
    if t_ == "slack_token":
        v = value_for(t_)
        if v.variant == "hook":
            t.val(v)
            return "http_header", "Location", t
        t.add("Bearer ").val(v)
        return "http_header", "Authorization", t
    if t_ == "aws_access_key":
        t.add("AWS4-HMAC-SHA256 Credential=").val(value_for(t_)).add("/%s/%s/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=%s" % (
            iso_ts()[:10].replace("-", ""), pick(["eu-west-1", "us-east-1"]), rstr(HEX, 64)))
        return "http_header", "Authorization", t
    if t_ == "phone":
        t.val(value_for(t_))
        return "http_header", pick(["X-Caller-Phone", "X-Msisdn"]), t
    return c_result_row(t_)


def c_redis(t_):
    t = T()
    key = key_for(t_)
    shape = pick(["raw", "json", "pipe"])
    if shape == "raw":
        t.val(value_for(t_, key, "cell"))
        return "redis_value", "%s:%s:%s" % (pick(["user", "sess", "kyc", "cache"]), rstr(HEX, 8), key), t
    if shape == "json":
        d = dict(fillers(rint(1, 2)))
        d[key] = value_for(t_, key, "json")
        emit_json(t, d)
        return "redis_value", "%s:%s" % (pick(["session", "profile", "cart"]), uuid4()), t
    # a serialised PHP-session-ish "k|v;k|v" string
    fl = fillers(rint(1, 2))
    for k, fv in fl:
        t.add("%s|%s;" % (k, fv))
    t.add("%s|" % key).val(value_for(t_, key, "text")).add(";")
    return "redis_value", "PHPSESSID:%s" % rstr(HEX, 26), t


# free text: (template with {} for the value, language); new wordings
CUES = {
    "email": [("From: %s <{}>", "en"), ("please cc {} on the ticket", "en"), ("bounce: delivery to {} failed (550 5.1.1)", "en"),
              ("user %s; login: {}", "en"), ("Antwort bitte an {}", "de"), ("écrivez-nous à {}", "fr"),
              ("password reset requested for {}", "en"), ("{} unsubscribed from the weekly digest", "en")],
    "credit_card": [("Card ending in entered full PAN {} at checkout", "en"), ("Kreditkarte {} abgelehnt", "de"),
                    ("declined: {} exp 09/27", "en"), ("refund issued to card {}", "en"), ("PAN={} cvv=***", "en"),
                    ("Customer read out card number {} over the phone", "en")],
    "iban": [("Überweisung auf {} veranlasst", "de"), ("virement SEPA vers {}", "fr"), ("payout to IBAN: {}", "en"),
             ("Please update our bank details to {} from next month", "en"), ("bonifico su {}", "it"),
             ("direct debit mandate for {} signed", "en")],
    "us_ssn": [("SSN on W-9: {}", "en"), ("applicant SSN {} does not match records", "en"),
               ("social security # {} verified with SSA", "en"), ("tax form lists {} as the SSN", "en")],
    "phone": [("Tel.: {}", "de"), ("call back on {} before 6pm", "en"), ("SMS code sent to {}", "en"),
              ("appelez le {}", "fr"), ("Ph: {} / ext. desk", "en"), ("numero di telefono {}", "it"),
              ("WhatsApp {}", "en"), ("bel mij op {}", "nl")],
    "ip_address": [("sshd[%d]: Failed password for invalid user admin from {} port 51234 ssh2", "en"),
                   ("rate limit exceeded for {}", "en"), ("new sign-in from {} (Chrome on Windows)", "en"),
                   ("upstream {} timed out", "en"), ("banned {} after 5 attempts", "en")],
    "jwt": [("curl -H 'Authorization: Bearer {}' https://api.example.com/v1/me", "en"), ("jwt={}", "en"),
            ("invalid signature for token {}", "en"), ("export ID_TOKEN={}", "en")],
    "aws_access_key": [("[default]\naws_access_key_id = {}", "en"), ("AccessDenied for key {} on s3://backups", "en"),
                       ("export AWS_ACCESS_KEY_ID={}", "en"), ("rotating access key {} (age 412 days)", "en")],
    "aws_secret_key": [("[default]\naws_access_key_id = %s\naws_secret_access_key = {}", "en"),
                       ("export AWS_SECRET_ACCESS_KEY={}", "en"), ("AWS_SECRET_ACCESS_KEY: \"{}\"", "en"),
                       ("aws_secret_key={}", "en")],
    "github_token": [("git remote set-url origin https://{}@github.com/acme/infra.git", "en"),
                     ("echo {} | gh auth login --with-token", "en"), ("GH_TOKEN={} make release", "en"),
                     ("found token {} in .env", "en")],
    "slack_token": [("SLACK_TOKEN={}", "en"), ("curl -X POST -d @msg.json {}", "en"),
                    ("slack: invalid_auth using {}", "en"), ("app token {} revoked", "en")],
    "private_key": [("cat ~/.ssh/id_rsa\n{}", "en"), ("key.pem:\n{}\n", "en"), ("{}", "en")],
    "password": [("password: {}", "en"), ("user=admin password={}", "en"), ("Passwort: {}", "de"),
                 ("mot de passe : {}", "fr"), ("your temporary password is {}", "en"), ("pwd={} host=db1", "en"),
                 ("DB_PASSWORD={}", "en")],
    "date_of_birth": [("DOB {}", "en"), ("born on {}", "en"), ("Date of Birth: {}", "en"), ("geboren am {}", "de"),
                      ("né le {}", "fr"), ("birthday {}, age verified", "en"), ("fecha de nacimiento: {}", "es")],
    "person_name": [("Dear {},", "en"), ("Hi {}, thanks for your order", "en"), ("Sehr geehrte(r) {},", "de"),
                    ("Bonjour {},", "fr"), ("Account holder: {}", "en"), ("Regards,\n{}", "en"),
                    ("Patient name: {}", "en"), ("Full name = {}", "en")],
    "address": [("Ship to: {}", "en"), ("Lieferadresse: {}", "de"), ("adresse de livraison : {}", "fr"),
                ("moved to {} last spring", "en"), ("Address: {}", "en"), ("deliver to {} (leave at door)", "en"),
                ("indirizzo: {}", "it")],
}


def log_prefix():
    d = datetime(2025, 1, 1) + timedelta(seconds=rint(0, 300 * 86400))
    return pick([
        d.strftime("%b %e %H:%M:%S ") + "%s %s[%d]: " % (pick(["web-1", "ip-10-0-3-7", "worker3"]), pick(["app", "billing", "crm"]), rint(100, 32000)),
        "[%s] %s " % (d.strftime("%d/%b/%Y:%H:%M:%S +0000"), pick(["INFO", "WARN", "DEBUG"])),
        "%s level=%s msg=\"" % (d.strftime("ts=%Y-%m-%dT%H:%M:%SZ"), pick(["info", "warn", "error"])),
        d.strftime("%Y-%m-%d %H:%M:%S,%f")[:-3] + " %s [%s] " % (pick(["INFO", "ERROR"]), pick(["main", "http-nio-8080-exec-4"])),
        "",
        "",
    ])


def c_free_text(t_):
    t = T()
    tpl, lang = pick(CUES[t_])
    embedded = None
    if "%s" in tpl:
        if t_ == "email":
            embedded = pv("person_name")
        elif t_ == "aws_secret_key":
            embedded = pv("aws_access_key")
        else:
            tpl = tpl % {"ip_address": lambda: rint(1000, 60000)}.get(t_, lambda: rstr(HEX, 8))()
    loc = {"de": "de_DE", "fr": "fr_FR", "it": "it_IT", "es": "es_ES", "nl": "nl_NL"}.get(lang)
    if loc and t_ == "phone":
        v = pv(t_, loc=loc)
    elif loc and t_ in ("person_name", "address"):
        v = pv(t_, loc=loc)
    elif t_ == "date_of_birth":
        v = pv(t_, style={"de": pick(["de_long", "eu_dot", "iso"]), "fr": pick(["fr_long", "eu_slash", "iso"]),
                          "es": pick(["eu_slash", "iso"])}.get(lang))
    else:
        v = value_for(t_, None, "text")
    if t_ == "address" and "\n" in v.value:
        v.value = v.value.replace("\n", ", ")
    pre = log_prefix() if t_ != "private_key" else ""
    t.add(pre)
    a, b = tpl.split("{}")
    if embedded:
        x, y = a.split("%s")
        t.add(x).val(embedded).add(y)
    else:
        t.add(a)
    t.val(v).add(b)
    if pre.endswith('msg="'):
        t.add('"')
    elif chance(0.3):
        t.add(" " + US.sentence())
    return "free_text", None, t


def c_csv(t_):
    """A CSV export pasted into a ticket or log: the header names the column."""
    t = T()
    key = key_for(t_)
    if t_ == "private_key":
        return c_free_text(t_)
    cols = ["id", key] + [k for k, _ in fillers(1)]
    t.add(",".join(cols) + "\n")
    for r in range(rint(1, 3)):
        t.add(nid() + ",")
        v = value_for(t_, key, "text")
        if "," in v.value or '"' in v.value or "\n" in v.value:
            t.add('"').val(v, lambda s: s.replace('"', '""')).add('"')
        else:
            t.val(v)
        t.add("," + dict(FILLERS)[cols[2]]() + "\n")
    return "free_text", None, t


def c_email_msg(t_):
    """Mail-ish free text: names in angle-bracket addresses, signatures."""
    t = T()
    if t_ == "email":
        t.add("To: ").val(value_for("person_name")).add(" <").val(value_for("email")).add(">\nSubject: Your invoice %s\n\n%s" % (nid(), US.sentence()))
        return "free_text", None, t
    if t_ == "person_name":
        t.add('Reply-To: "').val(value_for("person_name")).add('" <').val(value_for("email")).add(">")
        return "free_text", None, t
    return c_free_text(t_)


BUILDERS = [(c_sql_insert, 3), (c_sql_where, 3), (c_bind, 1), (c_result_row, 2), (c_http_json, 3),
            (c_http_query, 1), (c_http_header, 1), (c_free_text, 4), (c_csv, 1), (c_email_msg, 1), (c_redis, 2)]

# ---------------------------------------------------------------- hard negatives


def isbn13():
    d = "978" + rstr(string.digits, 9)
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(d))
    d += str((10 - s % 10) % 10)
    return pick([d, "%s-%s-%s-%s-%s" % (d[:3], d[3], d[4:9], d[9:12], d[12])])


def bad_iban():
    v, _ = v_iban_compact()
    cd = int(v[2:4])
    v2 = v[:2] + "%02d" % ((cd + rint(1, 96)) % 97 or 98) + v[4:]
    if iban_valid(v2):
        return bad_iban()
    return pick([v2, " ".join(v2[i:i + 4] for i in range(0, len(v2), 4))])


def bad_ssn():
    return pick(["000-%02d-%04d" % (rint(1, 99), rint(1, 9999)), "666-%02d-%04d" % (rint(1, 99), rint(1, 9999)),
                 "9%02d-%02d-%04d" % (rint(0, 99), rint(1, 99), rint(1, 9999)),
                 "%03d-00-%04d" % (rint(1, 665), rint(1, 9999)), "%03d-%02d-0000" % (rint(1, 665), rint(1, 99))])


def b64_not_jwt():
    return pick([
        lambda: base64.b64encode(json.dumps({"page": rint(2, 90), "after": nid()}).encode()).decode(),
        lambda: b64u(json.dumps({"offset": rint(0, 5000)}).encode()),
        lambda: base64.b64encode(bytes(R.randrange(256) for _ in range(rint(16, 48)))).decode(),
        lambda: b64u(json.dumps({"typ": "cursor"}).encode()) + "." + b64u(b"42"),
    ])()


NEG = {
    "luhn_order_id": (lambda: luhn_complete(pick(["4", "5", "3", "6"]), pick([13, 15, 16, 16, 19])),
                      ["order_id", "orderNumber", "invoice_no", "transaction_id", "tracking_no", "reference", "shipment_id"]),
    "uuid": (uuid4, ["id", "request_id", "correlationId", "session_id", "device_id"]),
    "sha1_hex": (lambda: rstr(HEX, 40), ["commit", "head_sha", "revision", "etag", "checksum", "object_key"]),
    "sha256_hex": (lambda: rstr(HEX, 64), ["digest", "sha256", "content_hash", "image_digest"]),
    "timestamp": (lambda: pick([iso_ts(), str(rint(1600000000, 1790000000)), str(rint(1600000000000, 1790000000000)),
                                (datetime(2024, 1, 1) + timedelta(seconds=rint(0, 10 ** 8))).strftime("%a, %d %b %Y %H:%M:%S GMT"),
                                (datetime(2024, 1, 1) + timedelta(seconds=rint(0, 10 ** 8))).strftime("%d/%b/%Y:%H:%M:%S +0000")]),
                  ["created_at", "updated_at", "last_modified", "ts", "expires_at", "sent_at"]),
    "version4": (lambda: "%d.%d.%d.%d" % (rint(1, 20), rint(0, 20), rint(0, 30000), rint(0, 9999)),
                 ["version", "build", "os_version", "firmware", "app_version", "file_version"]),
    "semver": (lambda: "%d.%d.%d%s" % (rint(0, 20), rint(0, 40), rint(0, 99), pick(["", "-rc.%d" % rint(1, 5), "-beta.2+build.%d" % rint(1, 900)])),
               ["version", "chart_version", "sdk", "min_version"]),
    "bad_ssn": (bad_ssn, ["ssn", "social_security_no", "tax_id"]),
    "bad_iban": (bad_iban, ["iban", "bank_iban", "payout_iban"]),
    "b64_not_jwt": (b64_not_jwt, ["cursor", "next_page", "state", "payload", "blob", "continuation"]),
    "hex40_nonsecret": (lambda: rstr(HEX, 40), ["build_id", "fingerprint", "tree_sha", "blob_id"]),
    "b64_40_nonsecret": (lambda: rstr(string.ascii_letters + string.digits + "+/", 40), ["nonce", "etag", "cache_key", "upload_id"]),
    "price": (lambda: pick(["%d.%02d" % (rint(1, 99999), rint(0, 99)), "€%d,%02d" % (rint(1, 999), rint(0, 99)), "$%s" % format(rint(1000, 999999), ",")]),
              ["price", "total", "amount", "subtotal"]),
    "quantity": (lambda: str(rint(1, 100000)), ["quantity", "qty", "stock", "count"]),
    "isbn": (isbn13, ["isbn", "isbn13", "product_code"]),
    "tracking": (lambda: pick(["1Z%s%s" % (rstr(string.ascii_uppercase + string.digits, 6), rstr(string.digits, 10)),
                               "9400 1%s %s %s %s %s" % (rstr(string.digits, 3), rstr(string.digits, 4), rstr(string.digits, 4), rstr(string.digits, 4), rstr(string.digits, 2)),
                               rstr(string.digits, 12), "JD%s" % rstr(string.digits, 18)]),
                 ["tracking_number", "trackingNo", "parcel_id", "awb"]),
    "mac": (lambda: pick([":", "-"]).join("%02x" % R.randrange(256) for _ in range(6)).upper() if chance(0.5)
            else ":".join("%02x" % R.randrange(256) for _ in range(6)), ["mac", "mac_address", "hw_addr", "bssid"]),
    "password_hash": (lambda: pick(["$2y$10$" + rstr(ALNUM + "./", 53), "$argon2id$v=19$m=65536,t=3,p=4$%s$%s" % (rstr(ALNUM, 22), rstr(ALNUM, 43)),
                                    rstr(HEX, 64)]), ["password_hash", "hashed_password", "password_digest"]),
    "username": (lambda: US.user_name(), ["username", "login", "handle", "user_name"]),
    "product_name": (lambda: pick(["Ergonomic Chair", "USB-C Hub 7-in-1", "Organic Green Tea", "Trail Runner 3", "Pro Blender X200"]) + " " + pick(["", "Black", "XL", "(2-pack)"]),
                     ["name", "product_name", "title"]),
    "company": (lambda: F[pick(LOCALES)].company(), ["company", "company_name", "vendor", "employer"]),
    "not_dob_date": (lambda: iso_ts()[:10], ["ship_date", "due_date", "valid_from", "hired_on", "renewal_date"]),
    "invalid_email": (lambda: pick(["logo@2x.png", "%s@localhost" % US.user_name(), "root@%s.internal" % pick(["db", "cache"]),
                                    "user@", "@handle", "git@github"]), ["asset", "sender", "from", "image"]),
    "oid_ipish": (lambda: "1.3.6.1.%d.%d.%d" % (rint(1, 4), rint(1, 99), rint(1, 9999)), ["oid", "mib_oid"]),
    "phone_lookalike": (lambda: pick(["%d-%d-%d" % (rint(2020, 2026), rint(10, 12), rint(10, 28)), "SKU-%s-%s" % (rstr(string.digits, 4), rstr(string.digits, 6)),
                                      "part %s-%s-%s" % (rstr(string.digits, 3), rstr(string.digits, 3), rstr(string.digits, 4))]), ["sku", "part_no", "model"]),
}
NEG_NAMES = list(NEG)


def c_negative():
    n = pick(NEG_NAMES)
    f, keys = NEG[n]
    v, k = f(), pick(keys)
    t = T()
    shape = pick(["cell", "insert", "update", "json", "query", "log", "redis"])
    if shape == "cell":
        t.add(v)
        return n, ("result_row", k, t)
    if shape == "insert":
        t.add('INSERT INTO "%s" ("%s", "status") VALUES (\'%s\', \'%s\'), (\'%s\', \'new\')' % (pick(TABLES), k, sql_q(v), pick(["ok", "new"]), sql_q(f())))
        return n, ("sql_insert", None, t)
    if shape == "update":
        t.add("UPDATE %s SET %s = '%s' WHERE id = %s" % (pick(TABLES), k, sql_q(v), nid()))
        return n, ("sql_where", None, t)
    if shape == "json":
        emit_json(t, {"data": [{k: v, "status": "ok"}], "meta": {"request_id": uuid4()}})
        return n, ("http_json", None, t)
    if shape == "query":
        t.add("/api/v2/%s?%s=%s&page=%d" % (pick(["orders", "builds", "devices"]), k, urllib.parse.quote(v), rint(1, 9)))
        return n, ("http_query", None, t)
    if shape == "log":
        phr = {"luhn_order_id": "order %s dispatched" % v, "uuid": "request %s completed" % v,
               "sha1_hex": "deployed commit %s" % v, "version4": "agent updated to %s" % v, "mac": "DHCPACK for %s" % v,
               "isbn": "ISBN %s out of stock" % v, "tracking": "parcel %s handed to carrier" % v,
               "price": "charged %s" % v, "timestamp": "next run at %s" % v}.get(n, "%s=%s" % (k, v))
        t.add(log_prefix() + phr)
        return n, ("free_text", None, t)
    t.add(v)
    return n, ("redis_value", "%s:%s:%s" % (pick(["cache", "job"]), nid(), k), t)


# ---------------------------------------------------------------- clean traffic


def clean_rec():
    t = T()
    s = pick(range(12))
    if s == 0:
        t.add("SELECT p.sku, p.title, SUM(oi.qty) AS units FROM order_items oi JOIN products p ON p.id = oi.product_id "
              "WHERE oi.created_at >= '%s' AND p.category_id IN (%s) GROUP BY p.sku, p.title ORDER BY units DESC LIMIT %d"
              % (iso_ts()[:10], ", ".join(str(rint(1, 300)) for _ in range(rint(1, 5))), rint(5, 100)))
        return "sql_where", None, t
    if s == 1:
        rows = ",\n  ".join("(%s, '%s', %d, %s, '%s')" % (luhn_complete(str(rint(1, 9)), 16) if chance(0.3) else nid(),
                                                         "SKU-" + rstr(string.ascii_uppercase + string.digits, 8), rint(1, 9),
                                                         "%d.%02d" % (rint(1, 999), rint(0, 99)), iso_ts())
                            for _ in range(rint(1, 5)))
        t.add('INSERT INTO "order_items" ("order_id", "sku", "qty", "unit_price", "created_at") VALUES\n  %s;' % rows)
        return "sql_insert", None, t
    if s == 2:
        t.add("UPDATE jobs SET state = '%s', attempts = attempts + 1, locked_by = 'worker-%d', run_at = '%s' WHERE id = %s AND state = 'queued'"
              % (pick(["running", "done", "failed"]), rint(1, 40), iso_ts(), nid()))
        return "sql_where", None, t
    if s == 3:
        body = {"id": uuid4(), "sku": "SKU-" + rstr(string.ascii_uppercase, 6), "title": US.catch_phrase(),
                "price": {"amount": rint(100, 99999), "currency": pick(["EUR", "USD"])}, "stock": rint(0, 500),
                "tags": US.words(rint(1, 4)), "updated_at": iso_ts(), "etag": rstr(HEX, 40), "isbn": isbn13() if chance(0.2) else None}
        t.add(json.dumps(body, ensure_ascii=False))
        return "http_json", None, t
    if s == 4:
        body = {"data": [{"type": "metric", "name": pick(["http.requests", "db.latency", "queue.depth"]), "value": round(R.random() * 1000, 3),
                          "ts": rint(1700000000, 1790000000), "labels": {"service": pick(["api", "billing", "search"]), "region": pick(["eu-west-1", "us-east-2"]),
                                                                         "version": NEG["semver"][0]()}} for _ in range(rint(1, 4))],
                "next": b64_not_jwt() if chance(0.5) else None}
        t.add(json.dumps(body))
        return "http_json", None, t
    if s == 5:
        t.add("/api/v3/catalog/search?q=%s&category=%d&min_price=%d&max_price=%d&sort=%s&page=%d&per_page=%d"
              % (urllib.parse.quote_plus(" ".join(US.words(rint(1, 3)))), rint(1, 90), rint(0, 50), rint(60, 900), pick(["relevance", "-price", "newest"]), rint(1, 40), pick([20, 50, 100])))
        return "http_query", None, t
    if s == 6:
        t.add(log_prefix() + "%s %s %d %dms trace_id=%s span_id=%s" % (pick(["GET", "POST", "PUT"]), pick(["/healthz", "/api/v1/orders/%s" % nid(), "/static/app.%s.js" % rstr(HEX, 8), "/metrics"]),
                                                                      pick([200, 201, 204, 304, 404, 500]), rint(1, 3000), rstr(HEX, 32), rstr(HEX, 16)))
        return "free_text", None, t
    if s == 7:
        t.add(log_prefix() + pick(["GC pause %dms (heap %d MB -> %d MB)" % (rint(1, 400), rint(200, 4000), rint(100, 2000)),
                                    "Connection pool stats: active=%d idle=%d waiting=%d" % (rint(0, 50), rint(0, 50), rint(0, 9)),
                                    "Deployed build %s (%s) to %s" % (rstr(HEX, 7), NEG["version4"][0](), pick(["staging", "prod-eu"])),
                                    "java.lang.IllegalStateException: cache miss for key product:%s\n\tat com.acme.Cache.get(Cache.java:%d)" % (nid(), rint(10, 400)),
                                    "Shipped order %s with tracking %s" % (nid(), NEG["tracking"][0]()),
                                    "interface eth0 link up, hw %s" % NEG["mac"][0]()]))
        return "free_text", None, t
    if s == 8:
        t.add(" ".join(US.paragraphs(rint(1, 2))))
        return "free_text", None, t
    if s == 9:
        t.add("sku,title,qty,price\n" + "\n".join("SKU-%s,%s,%d,%d.%02d" % (rstr(string.digits, 6), US.word().title(), rint(1, 99), rint(1, 500), rint(0, 99))
                                                  for _ in range(rint(2, 6))))
        return "free_text", None, t
    if s == 10:
        t.add(json.dumps({"cart_id": uuid4(), "items": [[rint(1, 99999), rint(1, 5)] for _ in range(rint(1, 4))], "ttl": rint(60, 86400)}))
        return "redis_value", "cart:%s" % uuid4(), t
    k, v = pick([("User-Agent", US.user_agent()), ("Accept", "application/json, text/plain, */*"), ("ETag", 'W/"%s"' % rstr(HEX, 32)),
                 ("traceparent", "00-%s-%s-01" % (rstr(HEX, 32), rstr(HEX, 16))), ("Cache-Control", "public, max-age=%d" % rint(60, 86400)),
                 ("If-None-Match", '"%s"' % rstr(HEX, 40)), ("Content-Type", "application/vnd.api+json; charset=utf-8")])
    t.add(v)
    return "http_header", k, t


# ---------------------------------------------------------------- output


def line(id_, kind, column, t, labels=True):
    d = {"id": id_, "context": {"kind": kind, "column": column, "path": None}, "text": t.text()}
    if labels:
        d["labels"] = t.labels
    raw = t.text().encode()
    for l in t.labels:
        assert 0 <= l["start"] < l["end"] <= len(raw)
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def write(name, lines):
    os.makedirs(OUT, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    with open(os.path.join(OUT, name), "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as g:
            g.write(data)
    print("%s/%s: %d lines, %d bytes of JSON" % (os.path.basename(OUT), name, len(lines), len(data)))


def main():
    if not faker.VERSION.startswith("0.9."):
        sys.stderr.write("generate_faker_py: built against faker 0.9.3 (Debian 12's python3-fake-factory); "
                         "another version draws other values\n")
    labelled = []
    n = 0
    for t_ in TYPES:
        for b, w in BUILDERS:
            for _ in range(w * 8):
                kind, col, t = b(t_)
                labelled.append(line("q%d" % n, kind, col, t))
                n += 1
    for _ in range(2000):
        _, (kind, col, t) = c_negative()
        labelled.append(line("qn%d" % n, kind, col, t))
        n += 1
    R.shuffle(labelled)
    clean, size = [], 0
    while size < 1_500_000:  # bytes of text
        kind, col, t = clean_rec()
        l = line("qc%d" % n, kind, col, t)
        n += 1
        size += t.n
        clean.append(l)
    write("labelled.jsonl.gz", labelled)
    write("clean.jsonl.gz", clean)


if __name__ == "__main__":
    main()
