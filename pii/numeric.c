/*
 * The numeric windows of a text: the few places where a pattern marked `numeric: true`
 * (cards, SSNs, phone numbers, dotted quads, IPv6, IBANs, street addresses) can match, cut
 * out and copied into one buffer; each window is scanned by the numeric databases of the
 * kinds of trigger it holds (pii_windows_scan()).
 *
 * Why: those patterns start with a character class, so Hyperscan has no literal to skip
 * ahead on; on log text with digits everywhere they ran together at 250 MB/s, a fifth of
 * the speed of the rest of the rule set, and over only the digit-bearing stretches of the
 * text not much faster (digit-dense bytes are what they are slow on). This pass looks at
 * 64 bytes at a time for the digits that open a word and keeps a stretch only where one of the shapes
 * the numeric patterns describe starts, so a timestamp, a UUID, a version or a price costs
 * a few compares and is never handed to Hyperscan. The shapes (the triggers):
 *   - a run of 9 or more digits (cards, SSNs, national and NANP numbers written solid);
 *   - digit groups 4+4 or 4+6 joined by ' ', '-' or '+' (cards), 3+2 by '-' or ' ' (SSNs),
 *     3+3 by ' ', '.' or '-' (NANP numbers), 0X.. then 2+ digits by ' ', '-', '/' or '.'
 *     (national numbers), 00X.. (an international prefix), four groups of 1-3 joined by
 *     '.' (IPv4);
 *   - two capital letters and two digits opening a word (an IBAN's country and check);
 *   - a house number of 1-6 digits, a space, a capital or a digit (an address);
 *   - eight groups of 1-4 hex digits joined by ':' (IPv6 written whole).
 * A window runs from its trigger along the chain of number-like words around it (words
 * with a digit, or of four bytes at most, joined by one to three of " -+./()#"), at most
 * WINDOW_MARGIN bytes either way, or over the words of a street up to ADDRESS_REACH after
 * a house number. Windows start and end on word boundaries, so the '\n' put between them
 * makes the same \b as the text did, and windows that touch are merged.
 *
 * The contract for a numeric pattern, checked for the shipped rules over random and corpus
 * text by tests/unit/test_pii_numeric.c: every match holds one trigger, lies within its
 * chain (or street), and starts with a word character, a '+' or a '(' and ends with a
 * word character. Patterns that do not fit it are not marked numeric and go to the text database.
 */
#include <string.h>

#include "engine.h"

#define WINDOW_MARGIN 64   /* the longest numeric match but an address */
#define ADDRESS_REACH 160  /* house number, direction, four words, suffix */
#define WINDOW_MAX    8192 /* windows longer are cut; no trigger makes one longer */

static bool is_digit(uint8_t c)
{
	return (uint8_t)(c - '0') < 10;
}

static bool is_upper(uint8_t c)
{
	return (uint8_t)(c - 'A') < 26;
}

static bool is_hex(uint8_t c)
{
	return is_digit(c) || (uint8_t)((c | 0x20) - 'a') < 6;
}

/* Hyperscan's \b without UCP: ASCII letters, digits and '_' */
static bool is_word(uint8_t c)
{
	return is_digit(c) || (uint8_t)((c | 0x20) - 'a') < 26 || c == '_';
}

/*
 * Where in p[b, b + 64) the pass must look, bit k for b + k: the first digit of a run
 * that opens a word, a digit after two capitals (an IBAN's "DE89"), a ':' between two word
 * bytes. Everything else (digits inside words and runs, letters, punctuation) is passed
 * over a block at a time; on log text that is most of the digits.
 */
/* A block's stops, and what lets the pass reject most of them without reading bytes. */
struct block_stops {
	uint64_t stops;
	uint64_t opening; /* the stops that are digits opening a word */
	uint64_t digit, word, colon;
};

static void block_stops(const uint8_t *p, size_t b, size_t len, struct block_stops *st)
{
	struct pii_block_classes cls;
	uint64_t digit, word, upper, colon, word_before, upper_before, upper_before2, word_after;
	size_t n = len - b < 64 ? len - b : 64;

	pii_block_classes(p + b, n, &cls); /* the last block's tail reads as NULs */
	digit = cls.digit;
	word = cls.word;
	upper = cls.upper;
	colon = cls.colon;
	/* the bytes either side of the block */
	word_before = word << 1 | (uint64_t)(b > 0 && is_word(p[b - 1]));
	upper_before = upper << 1 | (uint64_t)(b > 0 && is_upper(p[b - 1]));
	upper_before2 = upper << 2 | (uint64_t)(b > 0 && is_upper(p[b - 1])) << 1 |
			(uint64_t)(b > 1 && is_upper(p[b - 2]));
	word_after = word >> 1 | (uint64_t)(n == 64 && b + 64 < len && is_word(p[b + 64])) << 63;
	st->opening = digit & ~word_before;
	st->stops = st->opening | (digit & upper_before & upper_before2) |
		    (colon & word_before & word_after);
	st->digit = digit;
	st->word = word;
	st->colon = colon;
}

/*
 * Can the stop at bit k of the block be no trigger, by the block's masks alone? Then *next
 * is where the pass goes on (as stop_trigger() would set it). Most stops on log text are
 * told this way, before a byte of theirs is read:
 *   - digits that run into a word ("24T10", "41ms", "123Z", "3f1c2a9e"; an 'x' or an 'e'
 *     after them may be an extension, and is left to stop_trigger());
 *   - one or two digits followed by neither a space (a house number) nor a '.' (a dotted
 *     quad), nor, for "0X" (X not 0), by the '-' or '/' of a national number: no other
 *     shape starts with so few ("11-24", "00:00");
 *   - a ':' with fewer than seven in the 31 bytes from it: no IPv6 written whole ("10:00").
 * Whatever the masks cannot see (a run or a span reaching past the block) goes on to
 * stop_trigger().
 */
static bool stop_hopeless(const uint8_t *p, size_t len, size_t b, const struct block_stops *st,
			  unsigned k, size_t *next)
{
	uint64_t rest = ~st->digit >> k; /* 0: the run goes on past the block */
	unsigned r;
	uint8_t after;

	if (st->colon >> k & 1) {
		if (k + 31 > 64 || __builtin_popcountll(st->colon >> k & ((1ull << 31) - 1)) >= 7)
			return false;
		*next = b + k + 1;
		return true;
	}
	if (!(st->opening >> k & 1) || !rest)
		return false;
	r = (unsigned)__builtin_ctzll(rest);
	if (b + k + r >= len)
		return false; /* the run ends the text (the block's tail reads as NULs) */
	after = p[b + k + r];
	if (st->word >> (k + r) & 1) {
		if (after == 'x' || after == 'e')
			return false;
	} else if (r > 2 || after == ' ' || after == '.' ||
		   (r == 2 && p[b + k] == '0' && p[b + k + 1] != '0' &&
		    (after == '-' || after == '/'))) {
		return false; /* a house number, a dotted quad, or a national number's "0X-" */
	}
	*next = b + k + r;
	return true;
}

static size_t digits_end(const uint8_t *p, size_t i, size_t len)
{
	while (i < len && is_digit(p[i]))
		i++;
	return i;
}

/* Four groups of 1-3 digits joined by '.', the first [a, a_end). */
static bool dotted_quad(const uint8_t *p, size_t len, size_t a, size_t a_end, size_t *end)
{
	size_t i = a_end;

	if (a_end - a > 3)
		return false;
	for (int g = 1; g < 4; g++) {
		size_t e;

		if (i + 1 >= len || p[i] != '.' || !is_digit(p[i + 1]))
			return false;
		e = digits_end(p, i + 1, len);
		if (e - (i + 1) > 3)
			return false;
		i = e;
	}
	*end = i;
	return true;
}

/* Eight or more groups of 1-4 hex digits joined by ':', the colon at c ending the first. */
static bool ipv6_whole(const uint8_t *p, size_t len, size_t c, size_t *start, size_t *end)
{
	size_t s = c, i = c;
	int groups = 1;

	while (s > 0 && c - s < 5 && is_hex(p[s - 1]))
		s--;
	if (s == c || c - s > 4 || (s > 0 && is_word(p[s - 1])))
		return false;
	/* past the eighth group too: a longer run may hold the address further on (all of it,
	 * up to a window's most) */
	while (i - s < WINDOW_MAX && i + 1 < len && p[i] == ':' && is_hex(p[i + 1])) {
		size_t g = i + 1;

		while (g < len && g - i <= 5 && is_hex(p[g]))
			g++;
		if (g - (i + 1) > 4 || (g < len && is_word(p[g])))
			break;
		i = g;
		groups++;
	}
	if (groups < 8)
		return false;
	*start = s;
	*end = i;
	return true;
}

/* After a house number: " [NSEW][.] Word ... Suffix": up to five words, each capitalised
 * or a number, the last capitalised (the street's suffix). */
static bool address_start(const uint8_t *p, size_t len, size_t i)
{
	if (i + 1 >= len || p[i] != ' ')
		return false;
	i++;
	if (i + 2 < len && (p[i] == 'N' || p[i] == 'S' || p[i] == 'E' || p[i] == 'W') &&
	    (p[i + 1] == ' ' || (p[i + 1] == '.' && p[i + 2] == ' ')))
		i += p[i + 1] == ' ' ? 2 : 3;
	for (int words = 0; words < 5 && i < len && (is_upper(p[i]) || is_digit(p[i])); words++) {
		size_t w = i + 1;

		if (words > 0 && is_upper(p[i]))
			return true;
		while (w < len && w - i <= 25 && (is_word(p[w]) || p[w] == '\'' || p[w] == '-'))
			w++;
		if (w + 1 >= len || p[w] != ' ')
			return false;
		i = w + 1;
	}
	return false;
}

/*
 * The shapes the all-digit word [a, a_end) starts, as a mask of kinds (0: none). *t_end
 * gets the end of the group shapes' second group (or of the dotted quad), *address
 * whether it is a house number (whose window reaches further right). Every shape is
 * looked at: "4111 1111 1111 1111 Main Street" is a house number and card groups, and the
 * card patterns are only scanned in windows that say card_groups.
 */
static unsigned digits_trigger(const uint8_t *p, size_t len, size_t a, size_t a_end, size_t *t_end,
			       bool *address)
{
	size_t n = a_end - a, b, b_end, m, q_end;
	unsigned kinds = 0;
	uint8_t c;

	*t_end = a_end;
	*address = n <= 6 && address_start(p, len, a_end);
	if (*address)
		kinds |= 1u << PII_NUM_HOUSE_NUMBER;
	if (n >= 9)
		kinds |= 1u << PII_NUM_RUN;
	/* an international call prefix: "0044 20 7946 0958" */
	if (n >= 3 && p[a] == '0' && p[a + 1] == '0' && p[a + 2] != '0')
		kinds |= 1u << PII_NUM_INTERNATIONAL;
	if (a_end + 1 >= len || !is_digit(p[a_end + 1]))
		return kinds;
	c = p[a_end];
	b = a_end + 1;
	b_end = digits_end(p, b, len);
	/* in every shape the second group ends at a separator or the match's end */
	if ((b_end < len && is_word(p[b_end])) || b_end - b > WINDOW_MAX)
		return kinds;
	m = b_end - b;
	if (n == 4 && (c == ' ' || c == '-' || c == '+') && (m == 4 || m == 6))
		kinds |= 1u << PII_NUM_CARD_GROUPS;
	if (n == 3 && (c == '-' || c == ' ') && m == 2)
		kinds |= 1u << PII_NUM_SSN_GROUPS;
	if (n == 3 && (c == ' ' || c == '.' || c == '-') && m == 3)
		kinds |= 1u << PII_NUM_NANP_GROUPS;
	if (p[a] == '0' && p[a + 1] != '0' && n >= 2 && n <= 5 &&
	    (c == ' ' || c == '-' || c == '/' || c == '.') && m >= 2)
		kinds |= 1u << PII_NUM_NATIONAL;
	if (kinds & PII_NUM_GROUP_KINDS)
		*t_end = b_end;
	if (c == '.' && dotted_quad(p, len, a, a_end, &q_end) &&
	    !(q_end < len && is_word(p[q_end]))) {
		kinds |= 1u << PII_NUM_DOTTED_QUAD;
		if (q_end > *t_end)
			*t_end = q_end;
	}
	return kinds;
}

static bool is_sep(uint8_t c)
{
	return c == ' ' || c == '-' || c == '+' || c == '.' || c == '/' || c == '(' || c == ')' ||
	       c == '#';
}

/* A word a numeric match can hold after its trigger: one with a digit, capitals and digits
 * of at most four bytes (an IBAN's "WEST"), or the "x" or "ext" of a phone extension.
 * Before its trigger a match holds only words with a digit ("1-" of "1-800-..."). */
static bool word_numeric(const uint8_t *p, size_t ws, size_t we, bool after)
{
	bool capitals = true;

	for (size_t i = ws; i < we; i++) {
		if (is_digit(p[i]))
			return true;
		capitals &= is_upper(p[i]);
	}
	return after && ((capitals && we - ws <= 4) || (we - ws == 1 && p[ws] == 'x') ||
			 (we - ws == 3 && !memcmp(p + ws, "ext", 3)));
}

/* Where the chain of such words joined by 1-3 separators runs back to from the word at
 * x, at most WINDOW_MARGIN before x; a '+' or '(' before it is kept (either may open a
 * match). */
static size_t chain_start(const uint8_t *p, size_t x)
{
	size_t from = x;

	for (;;) {
		size_t r = 0, ws, we;

		while (r < 3 && x > r && is_sep(p[x - r - 1]))
			r++;
		we = x - r;
		ws = we;
		while (ws > 0 && from - ws <= WINDOW_MARGIN && is_word(p[ws - 1]))
			ws--;
		if (r == 0 || ws == we || (ws > 0 && is_word(p[ws - 1])) ||
		    from - ws > WINDOW_MARGIN || !word_numeric(p, ws, we, false))
			break;
		x = ws;
	}
	/* "+1 ...", "(415) ...": a match may open with either */
	if (x > 0 && p[x - 1] == '(')
		x--;
	return x > 0 && p[x - 1] == '+' ? x - 1 : x;
}

/* Where that chain runs on to from x (the end of a word), at most reach after x. */
static size_t chain_end(const uint8_t *p, size_t len, size_t x, size_t reach)
{
	size_t from = x;

	for (;;) {
		size_t r = 0, ws, we;

		while (r < 3 && x + r < len && is_sep(p[x + r]))
			r++;
		ws = x + r;
		we = ws;
		while (we < len && we - from <= reach && is_word(p[we]))
			we++;
		if (r == 0 || ws == we || (we < len && is_word(p[we])) || we - from > reach ||
		    !word_numeric(p, ws, we, true))
			return x;
		x = we;
	}
}

/* After a house number: the words of the street, up to ADDRESS_REACH. */
static size_t address_end(const uint8_t *p, size_t len, size_t x)
{
	size_t e = x;

	while (e < len && e - x < ADDRESS_REACH &&
	       (is_word(p[e]) || p[e] == ' ' || p[e] == '.' || p[e] == '\'' || p[e] == '-'))
		e++;
	while (e > x && e < len && is_word(p[e])) /* not inside a word */
		e--;
	return e;
}

/* Copies the open window out and closes it. */
static void window_flush(struct pii_windows *ws)
{
	struct pii_window *w;

	if (ws->open_end <= ws->open_start)
		return;
	w = &ws->v[ws->n++];
	w->raw = (uint32_t)ws->open_start;
	w->out = (uint32_t)ws->out_len;
	w->len = (uint32_t)(ws->open_end - ws->open_start);
	w->kinds = (uint16_t)ws->open_kinds;
	ws->kinds |= ws->open_kinds;
	memcpy(ws->out + ws->out_len, ws->text + ws->open_start, w->len);
	ws->out_len += w->len;
	ws->out[ws->out_len++] = '\n';
	ws->open_start = ws->open_end = 0;
	ws->open_kinds = 0;
}

/* The window [s, e) of these kinds: merged into the open one when they touch. */
static void window_add(struct pii_windows *ws, size_t s, size_t e, unsigned kinds)
{
	if (ws->open_end > ws->open_start && s <= ws->open_end &&
	    e - ws->open_start <= WINDOW_MAX) {
		if (e > ws->open_end)
			ws->open_end = e;
		ws->open_kinds |= kinds;
		return;
	}
	window_flush(ws);
	ws->open_start = s;
	ws->open_end = e;
	ws->open_kinds = kinds;
}

void pii_windows_begin(struct pii_windows *ws, const uint8_t *text, size_t len)
{
	ws->text = text;
	ws->len = len;
	ws->pos = 0;
	ws->colons_done = 0;
	ws->n = 0;
	ws->out_len = 0;
	ws->open_start = ws->open_end = 0;
	ws->open_kinds = 0;
}

/* Looks at the stop at i (a digit or ':' that block_stops gave): the kinds of trigger
 * there (0: none), the window around it, and (*next) where the pass goes on.
 * [open_start, open_end) is the window still growing. */
static unsigned stop_trigger(const uint8_t *p, size_t len, size_t i, size_t open_start,
			     size_t open_end, size_t *w_start, size_t *w_end, size_t *next,
			     size_t *colons_done)
{
	size_t a_end, t_end, e;
	unsigned kinds;
	bool address;

	if (p[i] == ':') {
		/* the pass goes on inside the run, whose groups may open other shapes; its later
		 * colons start runs the window already holds (and would make the pass quadratic) */
		*next = i + 1;
		if (i < *colons_done || !ipv6_whole(p, len, i, w_start, w_end))
			return 0;
		*colons_done = *w_end;
		return 1u << PII_NUM_IPV6;
	}
	if (i > 0 && is_word(p[i - 1])) {
		*next = digits_end(p, i, len);
		/* digits inside a word: only an IBAN opens with letters ("DE89...") */
		if (i < 2 || !is_upper(p[i - 1]) || !is_upper(p[i - 2]) ||
		    (i > 2 && is_word(p[i - 3])) || i + 1 >= len || !is_digit(p[i + 1]))
			return 0;
		t_end = i;
		while (t_end < len && t_end - i < WINDOW_MAX && is_word(p[t_end]))
			t_end++;
		*next = t_end;
		if (t_end < len && is_word(p[t_end]))
			return 0; /* a word longer than a window: no IBAN, and no room */
		*w_start = i - 2;
		*w_end = chain_end(p, len, t_end, WINDOW_MARGIN);
		return 1u << PII_NUM_IBAN;
	}
	a_end = digits_end(p, i, len);
	*next = a_end;
	/* "41ms", "24T10": a word, not a number; but "0034ext. 12", "4567x89": an extension.
	 * A run longer than a window holds no match (each is bounded and ends on a \b) and
	 * would not fit one. */
	if ((a_end < len && is_word(p[a_end]) && p[a_end] != 'x' &&
	     !(len - a_end >= 3 && !memcmp(p + a_end, "ext", 3))) ||
	    a_end - i > WINDOW_MAX)
		return 0;
	kinds = digits_trigger(p, len, i, a_end, &t_end, &address);
	if (!kinds)
		return 0;
	e = address ? address_end(p, len, a_end) : 0;
	if (kinds & ~(1u << PII_NUM_HOUSE_NUMBER)) {
		while (t_end < len && t_end - i < WINDOW_MAX && is_word(p[t_end])) /* "0034ext" */
			t_end++;
		if (t_end < len && is_word(p[t_end])) {
			/* a word longer than a window: only a house number's street is left */
			kinds &= 1u << PII_NUM_HOUSE_NUMBER;
			if (!kinds)
				return 0;
		} else {
			size_t c = chain_end(p, len, t_end, WINDOW_MARGIN);

			e = c > e ? c : e;
		}
	}
	*w_end = e;
	/* inside the open window (text dense with numbers), which this one will widen: its
	 * start stands, no walk back */
	*w_start = i <= open_end && *w_end - open_start <= WINDOW_MAX ? i : chain_start(p, i);
	return kinds;
}

bool pii_windows_next(struct pii_windows *ws)
{
	size_t len = ws->len, done = ws->pos;

	ws->n = 0;
	ws->out_len = 0;
	ws->kinds = 0;
	if (done >= len && ws->open_end <= ws->open_start)
		return false;
	for (size_t b = done; b < len; b += 64) {
		struct block_stops st;

		block_stops(ws->text, b, len, &st);
		for (uint64_t stops = st.stops; stops; stops &= stops - 1) {
			unsigned k = (unsigned)__builtin_ctzll(stops);
			size_t i = b + k, w_start, w_end;
			unsigned kinds;

			if (i < done)
				continue; /* inside what a stop before took */
			if (stop_hopeless(ws->text, len, b, &st, k, &done))
				continue;
			kinds = stop_trigger(ws->text, len, i, ws->open_start, ws->open_end,
					     &w_start, &w_end, &done, &ws->colons_done);
			if (!kinds)
				continue;
			/* room for the open window and one more of the longest, or this batch
			 * ends here and the next takes the trigger again */
			if (ws->n + 2 >= PII_WINDOWS_MAX ||
			    ws->out_len + (ws->open_end - ws->open_start) + 2 * (WINDOW_MAX + 512) >
				    PII_WINDOWS_OUT) {
				ws->pos = i;
				return true;
			}
			window_add(ws, w_start, w_end, kinds);
		}
	}
	ws->pos = len;
	window_flush(ws);
	return ws->n > 0;
}

/* Where a database's matches over the windows go: moved from the vector's offsets to the
 * text's. */
struct kind_scan {
	struct pii_windows *ws;
	match_event_handler fn;
	void *ctx;
};

static int on_kind_match(unsigned int id, unsigned long long from, unsigned long long to,
			 unsigned int flags, void *ctx)
{
	struct kind_scan *k = ctx;
	struct pii_windows *ws = k->ws;
	uint32_t lo = ws->vec_hint, hi = ws->vec_n, raw;

	/* matches come about in the order of their windows: the last one's, or the next */
	for (uint32_t t = 0; t < 2 && lo < ws->vec_n; t++, lo++) {
		if (ws->vec_off[lo] <= from && (lo + 1 == ws->vec_n || ws->vec_off[lo + 1] > from))
			goto found;
	}
	for (lo = 0; hi - lo > 1;) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (ws->vec_off[mid] <= from)
			lo = mid;
		else
			hi = mid;
	}
found:
	ws->vec_hint = lo;
	raw = ws->v[ws->vec_win[lo]].raw + (uint32_t)(from - ws->vec_off[lo]);
	return k->fn(id, raw, raw + (to - from), flags, k->ctx);
}

/* Scans the windows whose kinds meet mask with db, as one vector. */
static int windows_scan_db(const hs_database_t *db, unsigned mask, hs_scratch_t *hs,
			   struct kind_scan *k)
{
	struct pii_windows *ws = k->ws;
	uint32_t off = 0;

	ws->vec_n = 0;
	ws->vec_hint = 0;
	for (uint32_t i = 0; i < ws->n; i++) {
		uint32_t j = ws->vec_n;

		if (!(ws->v[i].kinds & mask))
			continue;
		/* each window with its '\n': the same \b at both ends as in the text */
		ws->vec_ptr[j] = (const char *)ws->out + ws->v[i].out;
		ws->vec_len[j] = ws->v[i].len + 1;
		ws->vec_win[j] = i;
		ws->vec_off[j] = off;
		off += ws->vec_len[j];
		ws->vec_n++;
	}
	return hs_scan_vector(db, ws->vec_ptr, ws->vec_len, ws->vec_n, 0, hs, on_kind_match, k) ==
	       HS_SCAN_TERMINATED;
}

int pii_windows_scan(const struct pii_engine *e, hs_scratch_t *hs, struct pii_windows *ws,
		     match_event_handler fn, void *ctx)
{
	struct kind_scan k = {ws, fn, ctx};

	if (ws->n == 0)
		return 0;
	/* the patterns that name no kind: every window holds some kind */
	if (e->numeric_any_db && windows_scan_db(e->numeric_any_db, PII_NUM_ALL, hs, &k))
		return 1;
	for (int kind = 0; kind < PII_NUM_KINDS; kind++) {
		if ((ws->kinds >> kind & 1) && e->numeric_kind_db[kind] &&
		    windows_scan_db(e->numeric_kind_db[kind], 1u << kind, hs, &k))
			return 1;
	}
	return 0;
}
