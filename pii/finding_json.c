/* pii-scan output lines, written with the project's JSON writer (see finding_json.h). */
#include "finding_json.h"
#include "json.h"

size_t pii_finding_json_max(const struct pii_line_id *id)
{
	return (id->str ? json_escaped_len(id->str, id->len) : 24) + 160;
}

size_t pii_finding_json(char *buf, size_t cap, const struct pii_line_id *id,
			const struct pii_finding *f)
{
	struct json_writer w;

	json_init(&w, buf, cap);
	json_object_begin(&w);
	json_key(&w, "id");
	if (id->str)
		json_string(&w, id->str, id->len);
	else
		json_i64(&w, id->num);
	json_key(&w, "type");
	json_cstring(&w, pii_type_name(f->type));
	json_key(&w, "start");
	json_u64(&w, f->start);
	json_key(&w, "end");
	json_u64(&w, f->end);
	json_key(&w, "confidence");
	json_double(&w, f->confidence, 3);
	json_object_end(&w);
	json_raw(&w, "\n", 1);
	return w.overflow ? 0 : w.len;
}
