#!/bin/sh
# static-deps.sh - what `make static` needs, from Debian's archive only.
#
#   tools/static-deps.sh SRCDIR
#
# 1. musl-gcc (package musl-tools, a wrapper around gcc) and dpkg-source
#    (package dpkg-dev);
# 2. deb-src entries for the Debian mirror apt already uses, so that
#    `apt-get source` works;
# 3. the Debian source packages of cJSON and libyaml, unpacked (with
#    Debian's patches applied) under SRCDIR.
#
# Each step is skipped when its result is already there, so a second run
# changes nothing and needs no network.  Steps 1 and 2 change the system
# and need root; as another user the script says what is missing and
# stops.  Nothing is fetched from anywhere but the configured apt sources.
set -eu

srcdir=${1:?usage: static-deps.sh SRCDIR}
mkdir -p "$srcdir"
srcdir=$(cd "$srcdir" && pwd)
srcs_file=/etc/apt/sources.list.d/rrtcp-deb-src.sources
list_file=/etc/apt/sources.list.d/rrtcp-deb-src.list

say() { printf 'static-deps: %s\n' "$*" >&2; }

need_root() {
	if [ "$(id -u)" != 0 ]; then
		say "missing: $1"
		say "run 'make static' as root once, or do it by hand: $2"
		exit 1
	fi
}

have_sources() {
	[ -n "$(ls -d "$srcdir"/cjson-*/ 2>/dev/null)" ] &&
	    [ -n "$(ls -d "$srcdir"/libyaml-*/ 2>/dev/null)" ]
}

have_src_index() {
	apt-cache showsrc cjson 2>/dev/null | grep -q '^Package: cjson' &&
	    apt-cache showsrc libyaml 2>/dev/null | grep -q '^Package: libyaml'
}

# deb822 stanzas (*.sources) of Debian's own archive, turned into deb-src.
deb822_src() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "$f" != "$srcs_file" ] || continue
		awk 'function flush() {
			if (st != "" && deb && debian && !off) {
				sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src", st)
				sub(/^\n/, "", st)
				print st "\n"
			}
			st = ""; deb = debian = off = 0
		}
		/^[ \t]*$/ { flush(); next }
		/^Types:/ && / deb( |$)/ { deb = 1 }
		/^URIs:/ && /\/debian(-security)?\/?( |$)/ { debian = 1 }
		/^Enabled:[ \t]*no/ { off = 1 }
		{ st = st (st == "" ? "" : "\n") $0 }
		END { flush() }' "$f"
	done
}

# One-line entries (sources.list, *.list) of Debian's archive, as deb-src.
oneline_src() {
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && [ "$f" != "$list_file" ] || continue
		sed -n 's/^deb\([ \t][^#]*\/debian\(-security\)\{0,1\}\/\{0,1\}[ \t]\)/deb-src\1/p' "$f"
	done
}

# --- 1. tools ---------------------------------------------------------------
missing=""
command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
command -v musl-gcc >/dev/null 2>&1 || missing="$missing musl-tools"
command -v dpkg-source >/dev/null 2>&1 || missing="$missing dpkg-dev"
if [ -n "$missing" ]; then
	need_root "packages$missing" "apt-get install -y$missing"
	say "installing$missing"
	apt-get update -q >&2
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >&2
fi

if have_sources; then
	exit 0
fi

# --- 2. deb-src ---------------------------------------------------------------
if ! have_src_index; then
	if [ ! -f "$srcs_file" ] && [ ! -f "$list_file" ]; then
		need_root "deb-src entries for the Debian archive" \
		    "add a deb-src line for your Debian mirror, then apt-get update"
		a=$(deb822_src)
		b=$(oneline_src)
		if [ -z "$a$b" ]; then
			say "no Debian archive found in /etc/apt/sources.list*;" \
			    "add a deb-src entry for your Debian mirror by hand"
			exit 1
		fi
		if [ -n "$a" ]; then
			printf '# Added by rrtcp tools/static-deps.sh for make static.\n%s\n' \
			    "$a" >"$srcs_file"
			say "wrote $srcs_file"
		fi
		if [ -n "$b" ]; then
			printf '# Added by rrtcp tools/static-deps.sh for make static.\n%s\n' \
			    "$b" >"$list_file"
			say "wrote $list_file"
		fi
	fi
	need_root "the deb-src package index" "apt-get update"
	apt-get update -q >&2
	if ! have_src_index; then
		say "apt-get update ran but apt-cache showsrc still finds no cjson" \
		    "or libyaml source; check the deb-src entries"
		exit 1
	fi
fi

# --- 3. sources -----------------------------------------------------------------
cd "$srcdir"
say "apt-get source cjson libyaml (into $srcdir)"
# The download runs unsandboxed (as the calling user) when _apt cannot
# write here; that is expected and harmless.
apt-get source -q cjson libyaml >&2
have_sources || { say "apt-get source did not unpack cjson and libyaml"; exit 1; }
