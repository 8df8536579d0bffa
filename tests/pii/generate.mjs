// Generates the labelled PII corpus of tests/pii/corpus/ with a fixed seed, so the same
// faker version (pinned in package.json and package-lock.json) gives the same bytes:
//
//   cd tests/pii && npm ci && node generate.mjs
//
// corpus/labelled.jsonl.gz  every PII type in SQL statements, bind values, result rows, JSON
//                           bodies, query strings, headers, Redis values and free text, mixed
//                           with hard negatives (order ids that pass Luhn, UUIDs, hashes,
//                           timestamps, version strings, invalid SSNs and IBANs, base64 that
//                           is not a JWT, password hashes, dates that are not birth dates)
// corpus/clean.jsonl.gz     PII-free traffic of the same shapes, for false positives per MB
//
// Each line is a pii-scan input line plus "labels": [{"type","start","end"}], byte offsets
// into the decoded text. Values a type's definition rules out are generated as negatives,
// never labelled: phone numbers follow national numbering plans, card numbers pass Luhn in
// their issuer's range, SSNs avoid the never-issued areas.
import { faker } from '@faker-js/faker';
import { gzipSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';

const SEED = 20261124;
faker.seed(SEED);
// dates relative to a fixed day, not to the day the generator runs
faker.setDefaultRefDate('2026-01-01T00:00:00.000Z');
const R = faker.helpers;
const int = (min, max) => faker.number.int({ min, max });
const pick = (a) => R.arrayElement(a);
const chance = (p) => faker.number.float({ min: 0, max: 1 }) < p;

// ---------- value generators (one per type) ----------

function luhnOk(d) {
  let s = 0;
  for (let i = 0; i < d.length; i++) {
    let x = +d[d.length - 1 - i];
    if (i & 1) { x *= 2; if (x > 9) x -= 9; }
    s += x;
  }
  return s % 10 === 0;
}

function luhnComplete(prefix, len) {
  let d = prefix;
  while (d.length < len - 1) d += String(int(0, 9));
  for (let c = 0; c <= 9; c++) if (luhnOk(d + c)) return d + c;
  return null;
}

function groupDigits(d, groups, sep) {
  const out = [];
  let i = 0;
  for (const g of groups) { out.push(d.slice(i, i + g)); i += g; }
  if (i < d.length) out.push(d.slice(i));
  return out.filter((x) => x).join(sep);
}

const gen = {
  email() {
    const f = faker.person.firstName().replace(/[^A-Za-z]/g, '');
    const l = faker.person.lastName().replace(/[^A-Za-z]/g, '');
    return pick([
      () => faker.internet.email(),
      () => faker.internet.email({ firstName: f, lastName: l }).toLowerCase(),
      () => faker.internet.exampleEmail(),
      () => `${f.toLowerCase()}.${l.toLowerCase()}+${faker.word.noun()}@${faker.internet.domainName()}`,
      () => `${f[0].toLowerCase()}${l.toLowerCase()}@mail.${faker.internet.domainName()}`,
      () => `${l.toLowerCase()}${int(1, 99)}@${pick(['gmail.com', 'outlook.com', 'yahoo.co.uk', 'web.de', 'orange.fr', 'icloud.com'])}`,
    ])();
  },
  credit_card() {
    const d = pick([
      () => luhnComplete('4' + String(int(10000, 99999)), pick([16, 16, 16, 13])),
      () => luhnComplete(String(int(51, 55)) + String(int(1000, 9999)), 16),
      () => luhnComplete(String(int(2221, 2720)) + String(int(10, 99)), 16),
      () => luhnComplete(pick(['34', '37']) + String(int(1000, 9999)), 15),
      () => luhnComplete('6011' + String(int(10, 99)), 16),
      () => luhnComplete(String(int(3528, 3589)) + String(int(10, 99)), 16),
      () => luhnComplete(pick(['36', '38', '300', '305']) + String(int(1000, 9999)), 14),
      () => faker.finance.creditCardNumber(pick(['visa', 'mastercard', 'discover', 'jcb'])).replace(/\D/g, ''),
    ])();
    if (!luhnOk(d)) return gen.credit_card();
    const amex = d.length === 15 || d.length === 14;
    return pick([
      () => d,
      () => groupDigits(d, amex ? [4, 6, 5] : [4, 4, 4, 4], ' '),
      () => groupDigits(d, amex ? [4, 6, 5] : [4, 4, 4, 4], '-'),
    ])();
  },
  iban() {
    return chance(0.5) ? faker.finance.iban() : faker.finance.iban({ formatted: true });
  },
  us_ssn(bare = false) {
    let area;
    do area = int(1, 899); while (area === 666);
    const s = [String(area).padStart(3, '0'), String(int(1, 99)).padStart(2, '0'),
      String(int(1, 9999)).padStart(4, '0')];
    return bare ? s.join('') : s.join('-');
  },
  nanp() {
    const N = () => String(int(2, 9));
    const d = (n) => faker.string.numeric({ length: n, allowLeadingZeros: true });
    let area;
    do area = N() + d(2); while (area[1] === '1' && area[2] === '1');
    let exch;
    do exch = N() + d(2); while (exch[1] === '1' && exch[2] === '1');
    return [area, exch, d(4)];
  },
  phone() {
    const d = (n) => faker.string.numeric({ length: n, allowLeadingZeros: true });
    const [area, exch, line] = gen.nanp();
    return pick([
      () => `(${area}) ${exch}-${line}`,
      () => `${area}-${exch}-${line}`,
      () => `${area}.${exch}.${line}`,
      () => `+1 ${area} ${exch} ${line}`,
      () => `+1-${area}-${exch}-${line}`,
      () => `1-${area}-${exch}-${line}`,
      () => `+1${area}${exch}${line}`,
      () => `(${area}) ${exch}-${line} x${d(3)}`,
      () => `+44 20 ${d(4)} ${d(4)}`,
      () => `+44 7${d(3)} ${d(6)}`,
      () => `07${d(3)} ${d(6)}`,
      () => `020 ${d(4)} ${d(4)}`,
      () => `+49 30 ${d(8)}`,
      () => `+49 15${int(1, 9)} ${d(8)}`,
      () => `030 ${d(8)}`,
      () => `+33 ${int(1, 7)} ${d(2)} ${d(2)} ${d(2)} ${d(2)}`,
      () => `0${int(1, 7)} ${d(2)} ${d(2)} ${d(2)} ${d(2)}`,
      () => `+61 4${d(2)} ${d(3)} ${d(3)}`,
      () => `+91 ${int(7, 9)}${d(4)} ${d(5)}`,
    ])();
  },
  ip_address() {
    return chance(0.7) ? faker.internet.ipv4() : faker.internet.ipv6();
  },
  jwt() {
    const b64u = (s) => Buffer.from(s).toString('base64url');
    const alg = pick(['HS256', 'RS256', 'ES256', 'HS512']);
    const hdr = JSON.stringify(chance(0.8) ? { alg, typ: 'JWT' } : { typ: 'JWT', alg, kid: faker.string.alphanumeric(8) });
    const iat = int(1600000000, 1800000000);
    const body = JSON.stringify({ sub: faker.string.uuid(), name: faker.person.fullName(), iat, exp: iat + 3600, scope: pick(['read', 'read write', 'admin']) });
    const sigLen = alg.startsWith('RS') ? 342 : alg === 'HS512' ? 86 : 43;
    return `${b64u(hdr)}.${b64u(body)}.${faker.string.fromCharacters('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', sigLen)}`;
  },
  aws_access_key() {
    return pick(['AKIA', 'AKIA', 'ASIA', 'AIDA', 'AROA']) + faker.string.fromCharacters('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16);
  },
  aws_secret_key() {
    let s;
    do s = faker.string.fromCharacters('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+', 40);
    while (!(/[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s)));
    return s;
  },
  github_token() {
    if (chance(0.15))
      return `github_pat_${faker.string.alphanumeric(22)}_${faker.string.alphanumeric(59)}`;
    const body = faker.string.alphanumeric(30);
    const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    let c = crc32(Buffer.from(body)), s = '';
    for (let i = 0; i < 6; i++) { s = B62[c % 62] + s; c = Math.floor(c / 62); }
    return `gh${pick(['p', 'p', 'o', 'u', 's', 'r'])}_${body}${s}`;
  },
  slack_token() {
    const d = (n) => faker.string.numeric({ length: n, allowLeadingZeros: false });
    return pick([
      () => `xoxb-${d(int(10, 12))}-${d(int(12, 13))}-${faker.string.alphanumeric(24)}`,
      () => `xoxp-${d(11)}-${d(11)}-${d(13)}-${faker.string.hexadecimal({ length: 32, casing: 'lower', prefix: '' })}`,
      () => `https://hooks.slack.com/services/T${faker.string.alphanumeric({ length: 8, casing: 'upper' })}/B${faker.string.alphanumeric({ length: 10, casing: 'upper' })}/${faker.string.alphanumeric(24)}`,
    ])();
  },
  private_key() {
    const label = pick(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY']);
    const b = Buffer.from(faker.string.alphanumeric(int(120, 600))).toString('base64');
    const lines = b.match(/.{1,64}/g).join('\n');
    return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----`;
  },
  password() {
    return pick([
      () => faker.internet.password({ length: int(8, 16) }),
      () => faker.internet.password({ length: int(10, 14), memorable: true }),
      () => `${faker.word.adjective()}${faker.word.noun()}${int(1, 99)}!`,
      () => `${faker.person.firstName()}${int(1950, 2010)}`,
    ])();
  },
  date_of_birth() {
    const dt = faker.date.birthdate({ min: 18, max: 90, mode: 'age' });
    const y = dt.getUTCFullYear(), m = dt.getUTCMonth() + 1, d = dt.getUTCDate();
    const p2 = (x) => String(x).padStart(2, '0');
    const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
    return pick([
      () => `${y}-${p2(m)}-${p2(d)}`,
      () => `${y}-${p2(m)}-${p2(d)}`,
      () => `${p2(m)}/${p2(d)}/${y}`,
      () => `${p2(d)}.${p2(m)}.${y}`,
      () => `${months[m - 1]} ${d}, ${y}`,
      () => `${d} ${months[m - 1]} ${y}`,
    ])();
  },
  person_name() {
    return pick([
      () => `${faker.person.firstName()} ${faker.person.lastName()}`,
      () => `${faker.person.firstName()} ${faker.person.lastName()}`,
      () => `${faker.person.firstName()} ${faker.person.middleName()} ${faker.person.lastName()}`,
    ])();
  },
  address() {
    let a = faker.location.streetAddress(chance(0.3));
    if (chance(0.4)) a += `, ${faker.location.city()}, ${faker.location.state({ abbreviated: true })} ${faker.location.zipCode('#####')}`;
    return a;
  },
};

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// Column / JSON key names people give each type.
const keys = {
  email: ['email', 'email_address', 'contact_email', 'userEmail', 'billing_email'],
  credit_card: ['card_number', 'cc_number', 'pan', 'creditCard', 'payment_card'],
  iban: ['iban', 'bank_account', 'payout_iban', 'account_iban'],
  us_ssn: ['ssn', 'social_security_number', 'tax_id', 'customer_ssn'],
  phone: ['phone', 'phone_number', 'mobile', 'contact_phone', 'telephone'],
  ip_address: ['ip', 'client_ip', 'last_login_ip', 'remote_addr', 'source_ip'],
  jwt: ['token', 'access_token', 'id_token', 'jwt', 'session_token'],
  aws_access_key: ['aws_access_key_id', 'access_key_id', 'aws_key'],
  aws_secret_key: ['aws_secret_access_key', 'secret_access_key', 'aws_secret'],
  github_token: ['github_token', 'gh_token', 'token', 'deploy_token'],
  slack_token: ['slack_token', 'slack_bot_token', 'webhook_url', 'slack_webhook'],
  private_key: ['private_key', 'ssh_key', 'tls_key', 'signing_key'],
  password: ['password', 'passwd', 'pwd', 'user_password', 'new_password'],
  date_of_birth: ['dob', 'date_of_birth', 'birthdate', 'birth_date', 'birthday'],
  person_name: ['full_name', 'customer_name', 'first_name', 'last_name', 'contact_name', 'cardholder_name'],
  address: ['address', 'street_address', 'shipping_address', 'billing_address', 'address_line1'],
};

// Cue phrases for free text: how each type is mentioned in prose and logs.
const cues = {
  email: ['Contact {} for details.', 'User {} logged in', 'Sent the invoice to {} this morning', 'reply-to: {}', 'Please email {} with questions'],
  credit_card: ['Payment with card {} was declined', 'charged card {} for $49.99', 'customer paid with visa {}', 'cc: {}'],
  iban: ['Please wire the amount to IBAN {} by Friday', 'refund sent to {} (SEPA)', 'bank account: {}'],
  us_ssn: ['SSN {} verified', 'applicant social security number {} on file', 'ssn: {}'],
  phone: ['Call me at {} tomorrow', 'Customer phone: {}', 'left a voicemail on {}', 'mobile {} (after 5pm)', 'Reach support at {}'],
  ip_address: ['Failed login from {} (3 attempts)', 'client {} connected', 'GET /index.html from {} 200', 'blocked address {}'],
  jwt: ['Authorization: Bearer {}', 'token={} expired', 'refresh with {}'],
  aws_access_key: ['aws_access_key_id = {}', 'using key {} for s3 upload', 'AWS_ACCESS_KEY_ID={}'],
  aws_secret_key: ['aws_secret_access_key = {}', 'AWS_SECRET_ACCESS_KEY={}', 'aws secret: {}'],
  github_token: ['GITHUB_TOKEN={}', 'git clone https://x-access-token:{}@github.com/org/repo', 'token {} leaked in build log'],
  slack_token: ['SLACK_BOT_TOKEN={}', 'posting to {}', 'slack token: {}'],
  private_key: ['key file:\n{}\n', 'deploy key\n{}'],
  password: ['password: {}', 'login failed for admin with password={}', 'PWD={}', 'the password is {}'],
  date_of_birth: ['DOB: {}', 'born on {}', 'date of birth: {}', 'patient (born {}) admitted'],
  person_name: ['Dear {},', 'Name: {}', 'Mr. {} called about his order', 'Hello {}, your order shipped', 'customer name: {}', 'Signed by {} yesterday'],
  address: ['Ship to {} please', 'lives at {}', 'address: {}', 'Delivered to {} at noon'],
};

// ---------- builders that keep byte offsets ----------

class Text {
  constructor() { this.s = ''; this.bytes = 0; this.labels = []; }
  add(str) { this.s += str; this.bytes += Buffer.byteLength(str); return this; }
  pii(type, str) {
    const start = this.bytes;
    this.add(str);
    this.labels.push({ type, start, end: this.bytes });
    return this;
  }
  // a JSON string literal whose content is (or contains, at a known place) a value
  jstr(v, type) {
    const q = JSON.stringify(v);
    if (!type) return this.add(q);
    this.add('"');
    return this.pii(type, q.slice(1, -1)).add('"');
  }
  sqlstr(v, type) {
    const q = v.replace(/'/g, "''");
    this.add("'");
    if (type) this.pii(type, q); else this.add(q);
    return this.add("'");
  }
}

// Non-PII values that share shapes with PII (the hard negatives) and plain filler.
const neg = {
  order_id() { return pick([() => luhnComplete(String(int(1, 9)), 16), () => faker.string.numeric(16), () => faker.string.numeric(int(13, 19)), () => String(int(100000, 99999999))])(); },
  uuid() { return faker.string.uuid(); },
  sha1() { return faker.string.hexadecimal({ length: 40, casing: 'lower', prefix: '' }); },
  sha256() { return faker.string.hexadecimal({ length: 64, casing: 'lower', prefix: '' }); },
  ts() { return faker.date.recent({ days: 400 }).toISOString(); },
  epoch() { return String(int(1600000000000, 1800000000000)); },
  version() { return pick([() => `${int(0, 12)}.${int(0, 30)}.${int(0, 99)}`, () => `${int(1, 9)}.${int(0, 9)}.${int(0, 9)}.${int(0, 9)}`, () => faker.system.semver()])(); },
  bad_ssn() { return pick([() => `000-${int(10, 99)}-${int(1000, 9999)}`, () => `666-${int(10, 99)}-${int(1000, 9999)}`, () => `9${int(10, 99)}-${int(10, 99)}-${int(1000, 9999)}`, () => `${int(100, 665)}-00-${int(1000, 9999)}`, () => `${int(100, 665)}-${int(10, 99)}-0000`])(); },
  bad_iban() { const i = faker.finance.iban(); const d = (+i[3] + 1) % 10; return i.slice(0, 3) + d + i.slice(4); },
  b64_not_jwt() { return pick([() => Buffer.from(JSON.stringify({ id: int(1, 9999), ok: true })).toString('base64'), () => faker.string.alphanumeric(int(24, 60)), () => Buffer.from(faker.lorem.words(6)).toString('base64')])(); },
  pw_hash() { return pick([() => `$2b$12$${faker.string.alphanumeric(53)}`, () => `pbkdf2_sha256$600000$${faker.string.alphanumeric(22)}$${faker.string.alphanumeric(43)}`, () => faker.string.hexadecimal({ length: 64, casing: 'lower', prefix: '' })])(); },
  bad_email() { return pick([() => `${faker.internet.username()}@localhost`, () => `icon@2x.png`, () => `${faker.word.noun()}@${faker.word.noun()}.internal`, () => `build@ci.local`])(); },
  price() { return faker.commerce.price(); },
  qty() { return String(int(1, 500)); },
  date() { return faker.date.recent({ days: 900 }).toISOString().slice(0, 10); },
  product() { return faker.commerce.productName(); },
  company() { return faker.company.name(); },
  sku() { return `SKU-${faker.string.alphanumeric({ length: 8, casing: 'upper' })}`; },
  status() { return pick(['active', 'pending', 'shipped', 'cancelled', 'refunded', 'ok']); },
  sentence() { return faker.lorem.sentence(); },
  latency() { return `${int(1, 2500)}ms`; },
};

const negKeys = {
  order_id: ['order_id', 'tracking_number', 'transaction_id', 'invoice_id', 'reference'],
  uuid: ['id', 'request_id', 'uuid', 'trace_id'],
  sha1: ['commit', 'etag', 'checksum', 'api_secret'],
  sha256: ['digest', 'sha256', 'hash'],
  ts: ['created_at', 'updated_at', 'timestamp'],
  epoch: ['ts', 'created', 'epoch_ms'],
  version: ['version', 'app_version', 'sdk_version'],
  bad_ssn: ['ssn', 'tax_id'],
  bad_iban: ['iban', 'bank_account'],
  b64_not_jwt: ['payload', 'cursor', 'blob', 'token'],
  pw_hash: ['password_hash', 'password_digest', 'encrypted_password'],
  bad_email: ['email', 'contact'],
  price: ['price', 'amount', 'total'],
  qty: ['quantity', 'count', 'stock'],
  date: ['created_on', 'ship_date', 'due_date'],
  product: ['product_name', 'name', 'title'],
  company: ['company_name', 'vendor', 'company'],
  sku: ['sku', 'item_code'],
  status: ['status', 'state'],
  sentence: ['description', 'comment', 'notes'],
  latency: ['duration', 'latency'],
};
const negNames = Object.keys(neg);

function fillerPair() {
  const n = pick(negNames);
  return [pick(negKeys[n]), neg[n](), n];
}

// ---------- one record per context kind ----------

const TYPES = Object.keys(gen).filter((t) => t !== 'nanp');
const tables = ['users', 'customers', 'accounts', 'orders', 'profiles', 'payments', 'employees', 'credentials'];

function valueFor(type, ctx) {
  if (type === 'us_ssn' && ctx.bareOk && chance(0.3)) return gen.us_ssn(true);
  return gen[type]();
}

function recSqlInsert(type) {
  const t = new Text();
  const k = pick(keys[type]);
  const extra = R.multiple(fillerPair, { count: int(1, 4) });
  const pos = int(0, extra.length);
  const cols = extra.map((e) => e[0]);
  cols.splice(pos, 0, k);
  t.add(`INSERT INTO ${pick(tables)} (${cols.join(', ')}) VALUES `);
  const rows = int(1, 3);
  for (let r = 0; r < rows; r++) {
    t.add(r ? ', (' : '(');
    const vals = extra.map((e) => (r ? neg[e[2]]() : e[1]));
    for (let i = 0; i <= vals.length; i++) {
      if (i) t.add(', ');
      if (i === pos) t.sqlstr(valueFor(type, { bareOk: true }), type);
      else {
        const v = vals[i < pos ? i : i - 1];
        if (/^\d+$/.test(v) && chance(0.5)) t.add(v); else t.sqlstr(v);
      }
    }
    t.add(')');
  }
  return { kind: 'sql_insert', column: null, t };
}

function recSqlWhere(type) {
  const t = new Text();
  const k = pick(keys[type]);
  const v = valueFor(type, { bareOk: true });
  pick([
    () => { t.add(`SELECT id, ${k}, created_at FROM ${pick(tables)} WHERE ${k} = `).sqlstr(v, type).add(' LIMIT 1'); },
    () => { t.add(`UPDATE ${pick(tables)} SET ${k} = `).sqlstr(v, type).add(`, updated_at = now() WHERE id = ${int(1, 99999)}`); },
    () => { const [fk, fv] = fillerPair(); t.add(`SELECT * FROM ${pick(tables)} t WHERE t.${fk} = `).sqlstr(fv).add(` AND t.${k} = `).sqlstr(v, type); },
    () => { const v2 = valueFor(type, {}); t.add(`DELETE FROM ${pick(tables)} WHERE ${k} IN (`).sqlstr(v, type).add(', ').sqlstr(v2, type).add(')'); },
  ])();
  return { kind: 'sql_where', column: null, t };
}

function recBind(type) {
  const t = new Text();
  const k = pick(keys[type]);
  t.pii(type, valueFor(type, { bareOk: true }));
  return { kind: pick(['sql_insert', 'sql_where']), column: k, t };
}

function recResultRow(type) {
  const t = new Text();
  const k = pick(keys[type]);
  t.pii(type, valueFor(type, { bareOk: true }));
  return { kind: 'result_row', column: k, t };
}

function recJson(type) {
  const t = new Text();
  const k = pick(keys[type]);
  const v = valueFor(type, {});
  const fill = R.multiple(fillerPair, { count: int(1, 4) });
  t.add('{');
  t.jstr(fill[0][0]).add(': ').jstr(fill[0][1]).add(', ');
  if (chance(0.5)) {
    t.jstr(pick(['user', 'customer', 'data', 'payload'])).add(': {');
    t.jstr(k).add(': ').jstr(v, type);
    for (const [fk, fv] of fill.slice(1)) t.add(', ').jstr(fk).add(': ').jstr(fv);
    t.add('}');
  } else {
    t.jstr(k).add(':').jstr(v, type);
    for (const [fk, fv] of fill.slice(1)) t.add(',').jstr(fk).add(':').jstr(fv);
  }
  t.add('}');
  return { kind: 'http_json', column: null, t };
}

function recFreeText(type) {
  const t = new Text();
  const v = gen[type]();
  const cue = pick(cues[type]);
  const [a, b] = cue.split('{}');
  if (chance(0.5)) t.add(`${faker.date.recent({ days: 30 }).toISOString()} INFO ${pick(['api', 'auth', 'billing', 'worker'])}: `);
  else if (chance(0.5)) t.add(faker.lorem.sentence() + ' ');
  t.add(a).pii(type, v).add(b);
  if (chance(0.5)) t.add(' ' + faker.lorem.sentence());
  return { kind: pick(['free_text', 'free_text', 'free_text', 'redis_value']), column: null, t };
}

function recQuery(type) {
  // values as browsers send them: percent-encoded; types that carry spaces travel elsewhere
  const compact = {
    phone: () => `+1${gen.nanp().join('')}`,
    iban: () => faker.finance.iban(),
    credit_card: () => gen.credit_card().replace(/\D/g, ''),
    date_of_birth: () => faker.date.birthdate().toISOString().slice(0, 10),
    slack_token: () => gen.slack_token().replace(/^https.*/, () => `xoxb-${faker.string.numeric(11)}-${faker.string.numeric(12)}-${faker.string.alphanumeric(24)}`),
  };
  if (['private_key', 'person_name', 'address'].includes(type)) return recResultRow(type);
  const t = new Text();
  const k = pick(keys[type]);
  const v = (compact[type] || gen[type])();
  const value = type === 'email' && chance(0.5) ? v : encodeURIComponent(v);
  t.add(`/api/v${int(1, 3)}/${pick(['users', 'search', 'lookup', 'accounts'])}?page=${int(1, 20)}&`);
  t.add(`${k}=`).pii(type, value).add(`&sort=${pick(['asc', 'desc'])}`);
  return { kind: 'http_query', column: null, t };
}

function recHeader(type) {
  const t = new Text();
  if (type === 'jwt') { t.add('Bearer ').pii(type, gen.jwt()); return { kind: 'http_header', column: 'Authorization', t }; }
  if (type === 'ip_address') { t.pii(type, faker.internet.ipv4()).add(', ').pii(type, faker.internet.ipv4()); return { kind: 'http_header', column: 'X-Forwarded-For', t }; }
  if (type === 'email') { t.add(`session=${faker.string.alphanumeric(24)}; email=`).pii(type, gen.email()); return { kind: 'http_header', column: 'Cookie', t }; }
  if (type === 'github_token') { t.add('token ').pii(type, gen.github_token()); return { kind: 'http_header', column: 'Authorization', t }; }
  return recResultRow(type);
}

function recRedis(type) {
  const t = new Text();
  const k = pick(keys[type]);
  if (chance(0.5)) {
    t.pii(type, gen[type]());
    return { kind: 'redis_value', column: `${pick(['user', 'session', 'cache'])}:${int(1, 99999)}:${k}`, t };
  }
  const r = recJson(type);
  return { kind: 'redis_value', column: `cache:${pick(['user', 'profile'])}:${int(1, 99999)}`, t: r.t };
}

// Hard negatives: the shapes above with values that are not PII.
function recNegative() {
  const n = pick(negNames);
  const k = pick(negKeys[n]);
  const v = neg[n]();
  const t = new Text();
  return pick([
    () => { t.add(v); return { kind: 'result_row', column: k, t }; },
    () => { t.add(`INSERT INTO ${pick(tables)} (${k}, status) VALUES (`).sqlstr(v).add(`, '${neg.status()}')`); return { kind: 'sql_insert', column: null, t }; },
    () => { t.add(`SELECT * FROM ${pick(tables)} WHERE ${k} = `).sqlstr(v); return { kind: 'sql_where', column: null, t }; },
    () => { t.add('{').jstr(k).add(': ').jstr(v).add(', "status": ').jstr(neg.status()).add('}'); return { kind: 'http_json', column: null, t }; },
    () => {
      const phr = { order_id: `Order ${v} shipped`, version: `upgraded to version ${v}`, uuid: `request ${v} done`, sha1: `commit ${v}`, ts: `at ${v}` }[n] || `${k}: ${v}`;
      t.add(`${neg.ts()} INFO ${phr} in ${neg.latency()}`); return { kind: 'free_text', column: null, t };
    },
  ])();
}

// PII-free traffic: realistic requests and responses without personal data or secrets.
function recClean() {
  const t = new Text();
  return pick([
    () => { t.add(`SELECT p.id, p.name, p.price FROM products p JOIN inventory i ON i.product_id = p.id WHERE p.category = '${faker.commerce.department()}' AND i.stock > ${int(0, 50)} ORDER BY p.price DESC LIMIT ${int(10, 100)}`); return { kind: 'sql_where', column: null, t }; },
    () => { t.add(`INSERT INTO orders (order_id, sku, quantity, price, status, created_at) VALUES (${neg.order_id()}, '${neg.sku()}', ${neg.qty()}, ${neg.price()}, '${neg.status()}', '${neg.ts()}')`); return { kind: 'sql_insert', column: null, t }; },
    () => { t.add(`UPDATE inventory SET stock = stock - ${neg.qty()}, updated_at = '${neg.ts()}' WHERE sku = '${neg.sku()}' AND warehouse_id = ${int(1, 40)}`); return { kind: 'sql_where', column: null, t }; },
    () => { const [k, v] = fillerPair(); t.add(v); return { kind: 'result_row', column: k, t }; },
    () => {
      const o = { id: neg.uuid(), name: neg.product(), description: faker.commerce.productDescription(), price: +neg.price(), currency: 'USD', sku: neg.sku(), tags: [faker.commerce.productAdjective(), faker.commerce.productMaterial()], stock: int(0, 900), updated_at: neg.ts(), etag: neg.sha1(), vendor: neg.company() };
      t.add(JSON.stringify(o)); return { kind: 'http_json', column: null, t };
    },
    () => {
      const o = { request_id: neg.uuid(), status: neg.status(), latency_ms: int(1, 900), version: neg.version(), build: neg.sha1().slice(0, 12), items: R.multiple(() => ({ order_id: neg.order_id(), qty: int(1, 9), total: +neg.price() }), { count: int(1, 4) }), cursor: neg.b64_not_jwt() };
      t.add(JSON.stringify(o)); return { kind: 'http_json', column: null, t };
    },
    () => { t.add(`/api/v2/products?category=${encodeURIComponent(faker.commerce.department())}&page=${int(1, 50)}&per_page=${int(10, 100)}&sort=price&since=${neg.date()}`); return { kind: 'http_query', column: null, t }; },
    () => { t.add(`${neg.ts()} INFO ${pick(['api', 'worker', 'scheduler', 'cache'])}: ${pick(['processed', 'queued', 'flushed', 'retried'])} ${int(1, 5000)} ${pick(['jobs', 'events', 'rows', 'messages'])} in ${neg.latency()} (request_id=${neg.uuid()}, version ${neg.version()}, commit ${neg.sha1().slice(0, 7)})`); return { kind: 'free_text', column: null, t }; },
    () => { t.add(faker.lorem.paragraph()); return { kind: 'free_text', column: null, t }; },
    () => { t.add(`Order ${neg.order_id()} for ${neg.qty()} x ${neg.product()} shipped on ${neg.date()}, total $${neg.price()}. Tracking ${faker.string.alphanumeric({ length: 18, casing: 'upper' })}.`); return { kind: 'free_text', column: null, t }; },
    () => { t.add(JSON.stringify({ hits: int(0, 99999), ttl: int(1, 86400), value: faker.commerce.productDescription() })); return { kind: 'redis_value', column: `cache:product:${int(1, 99999)}`, t }; },
    () => { t.add(pick([`W/"${neg.sha1()}"`, `${faker.internet.userAgent()}`, 'application/json; charset=utf-8', `max-age=${int(60, 86400)}`, neg.uuid()])); return { kind: 'http_header', column: pick(['ETag', 'User-Agent', 'Content-Type', 'Cache-Control', 'X-Request-Id']), t }; },
  ])();
}

function line(id, r) {
  return JSON.stringify({ id, context: { kind: r.kind, column: r.column, path: null }, text: r.t.s, labels: r.t.labels });
}

const builders = [
  [recSqlInsert, 14], [recSqlWhere, 12], [recBind, 6], [recResultRow, 14], [recJson, 14],
  [recFreeText, 22], [recQuery, 5], [recHeader, 4], [recRedis, 5],
];

const labelled = [];
let id = 0;
for (const type of TYPES) {
  for (const [b, n] of builders) {
    for (let i = 0; i < n * 2; i++) labelled.push(line(`p${id++}`, b(type)));
  }
}
for (let i = 0; i < 3000; i++) labelled.push(line(`n${id++}`, recNegative()));

const clean = [];
let bytes = 0;
while (bytes < 4 * 1024 * 1024) {
  const l = line(`c${id++}`, recClean());
  bytes += Buffer.byteLength(l);
  clean.push(l);
}

mkdirSync(new URL('./corpus/', import.meta.url), { recursive: true });
for (const [name, lines] of [['labelled', faker.helpers.shuffle(labelled)], ['clean', clean]]) {
  const data = gzipSync(Buffer.from(lines.join('\n') + '\n'), { level: 9 });
  writeFileSync(new URL(`./corpus/${name}.jsonl.gz`, import.meta.url), data);
  console.log(`corpus/${name}.jsonl.gz: ${lines.length} lines, ${data.length} bytes gzipped`);
}
