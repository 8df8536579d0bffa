/* The one list of sources --source can name. */
#include <string.h>

#include "source.h"

extern const struct source_ops synth_source_ops;
extern const struct source_ops replay_source_ops;
extern const struct source_ops pcap_source_ops;
extern const struct source_ops bpf_source_ops;
extern const struct source_ops iface_source_ops;

static const struct source_ops *const sources[] = {
	&bpf_source_ops, &synth_source_ops, &replay_source_ops, &pcap_source_ops, &iface_source_ops,
};

const struct source_ops *source_find(const char *spec, const char **arg)
{
	const char *colon = strchr(spec, ':');
	size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);

	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		if (strlen(sources[i]->name) == name_len &&
		    strncmp(sources[i]->name, spec, name_len) == 0) {
			*arg = colon ? colon + 1 : "";
			return sources[i];
		}
	}
	return NULL;
}

/* Names for --help and error messages. */
const char *source_names(void)
{
	return "bpf, synth[:SPEC], replay:FILE, pcap:FILE, iface:NAME";
}
