# Sourced by the test scripts: apt-get for a Debian suite this machine's own sources do not list,
# without touching the system's configuration.
#
#   . test/debian-apt.sh
#   suite_apt SUITE                 # SUITE empty: the system's own apt, as it is
#   "${APT[@]}" download NAME       # then apt-get with the private configuration
#   "${APT_CACHE[@]}" pkgnames linux-image-
#
# The private configuration lives in ${GPUFAS_CACHE:-$HOME/.cache/gpufas}/apt/SUITE: a
# sources.list of one line, `deb [signed-by=KEYRING] URL SUITE main`, with URL and KEYRING read
# at run time from the first entry of /etc/apt/sources.list.d/debian.sources (no archive host is
# written into the repository), and its own package lists and cache. Its lists are fetched on
# the first use; suite_update fetches them again (a package has left the archive).
# Sandbox::User=root: apt's _apt user may not be allowed to write to $HOME.

SOURCES=${SOURCES:-/etc/apt/sources.list.d/debian.sources}
# The suites the test kernels come from besides the machine's own (build-guest.sh's table).
SUITES=(bullseye trixie sid)

suite_apt() {
	local suite=$1 dir url key
	if [ -z "$suite" ]; then
		APT=(apt-get -q -o APT::Sandbox::User=root)
		APT_CACHE=(apt-cache)
		return
	fi
	dir=${GPUFAS_CACHE:-$HOME/.cache/gpufas}/apt/$suite
	url=$(awk '/^URIs:/ { print $2; exit }' "$SOURCES")
	key=$(awk '/^Signed-By:/ { print $2; exit }' "$SOURCES")
	[ -n "$url" ] || { echo "debian-apt.sh: no URIs: line in $SOURCES" >&2; return 1; }
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	echo "deb ${key:+[signed-by=$key] }$url $suite main" >"$dir/sources.list.new"
	mv "$dir/sources.list.new" "$dir/sources.list"
	local opts=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache")
	APT=(apt-get -q -o APT::Sandbox::User=root "${opts[@]}")
	APT_CACHE=(apt-cache "${opts[@]}")
	[ -n "$(find "$dir/lists" -maxdepth 1 -name '*_Packages' -print -quit)" ] || suite_update
}

# The package lists of the configuration suite_apt chose (the system's own: apt-get update).
suite_update() {
	"${APT[@]}" update -qq >&2
}

# Chooses, with suite_apt, the first configuration whose lists hold NAME=VERSION: the system's
# own (its lists fetched first on a system that has none yet), else one of SUITES. 1 if none.
suite_of() {
	local suite
	for suite in "" "${SUITES[@]}"; do
		suite_apt "$suite" || return 1
		if [ -z "$suite" ] && [ -z "$(find /var/lib/apt/lists -maxdepth 1 \
			-name '*_Packages' -print -quit 2>/dev/null)" ]; then
			suite_update || return 1
		fi
		if "${APT_CACHE[@]}" show "$1" >/dev/null 2>&1; then
			return 0
		fi
	done
	return 1
}
