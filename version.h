/*
 * version.h - how this rrtcp binary was built, for `rrtcp -v`.
 */
#ifndef RRTCP_VERSION_H
#define RRTCP_VERSION_H

/*
 * "static, musl 1.2.3, libyaml 0.2.5, cJSON 1.7.15" or "dynamic, glibc
 * 2.36, ...": the linking, the C library and the two libraries' versions.
 * Formatted once into a static buffer; call it from the main thread.
 */
const char	*version_build_info(void);

#endif
