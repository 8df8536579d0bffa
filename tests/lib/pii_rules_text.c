/* The engine loaded for a test from the shipped rules or from rule text (pii_rules_text.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pii/pii.h"
#include "tests/lib/pii_rules_text.h"

int pii_engine_load_text(struct pii_engine **e, const char *yaml, char *err, size_t err_len)
{
	char path[] = "/tmp/wirewatch_pii_rules_XXXXXX";
	size_t len = strlen(yaml);
	int fd = mkstemp(path), ret;

	*e = NULL;
	if (fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (write(fd, yaml, len) != (ssize_t)len) {
		ret = -EIO;
		snprintf(err, err_len, "%s: short write", path);
		close(fd);
		unlink(path);
		return ret;
	}
	close(fd);
	ret = pii_engine_load(e, path, err, err_len);
	unlink(path);
	return ret;
}

int pii_engine_load_shipped(struct pii_engine **e)
{
	char err[512];

	if (pii_engine_load(e, PII_RULES_DEFAULT, err, sizeof(err))) {
		fprintf(stderr, "# %s\n", err);
		return -1;
	}
	return 0;
}
