/*
 * version.c - the build description behind `rrtcp -v` (version.h).
 *
 * Linking is read from the running binary itself: a dynamically linked
 * executable has a PT_INTERP program header naming its loader, a static
 * one (also static-pie) has none.  The C library comes from glibc's own
 * macros; musl deliberately has no macro, so a non-glibc Linux build says
 * "musl" and adds the version the build passed in RRTCP_MUSL_VERSION (the
 * static build takes it from the musl-dev package).  libyaml and cJSON are
 * asked for their versions at run time, so a shared library reports the
 * one actually loaded.  Main thread only (one static buffer).
 */
#include "version.h"

#include <link.h>
#include <stdio.h>
#include <sys/auxv.h>

#include <cJSON.h>
#include <yaml.h>

static int
linked_static(void)
{
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	unsigned long n = getauxval(AT_PHNUM);

	if (ph == NULL)
		return 0;	/* unknown: do not claim static */
	for (unsigned long i = 0; i < n; i++)
		if (ph[i].p_type == PT_INTERP)
			return 0;
	return 1;
}

static const char *
libc_name(char *buf, size_t len)
{
#if defined(__GLIBC__)
	snprintf(buf, len, "glibc %d.%d", __GLIBC__, __GLIBC_MINOR__);
#elif defined(__linux__) && defined(RRTCP_MUSL_VERSION)
	snprintf(buf, len, "musl %s", RRTCP_MUSL_VERSION);
#elif defined(__linux__)
	snprintf(buf, len, "musl");
#else
	snprintf(buf, len, "unknown libc");
#endif
	return buf;
}

const char *
version_build_info(void)
{
	static char info[160];
	char libc[32];

	snprintf(info, sizeof(info), "%s, %s, libyaml %s, cJSON %s",
	    linked_static() ? "static" : "dynamic", libc_name(libc,
	    sizeof(libc)), yaml_get_version_string(), cJSON_Version());
	return info;
}
