# tests/lab/modules.sh — sourced by tests/lab/build.sh and tests/lab/host/build-guest.sh.
#
# stage_modules KROOT KVER STAGE LIST MODULE... — copy MODULE... and every module they depend on
# from the unpacked kernel package at KROOT into STAGE (same paths) and write their load order,
# as modprobe computes it from modules.dep, to LIST (paths inside the guest). Returns 1 (after a
# message) if a module is not in the package.
stage_modules() {
	local kroot=$1 kver=$2 stage=$3 list=$4 m
	shift 4
	: > "$list"
	for m in "$@"; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$m" > /dev/null 2>&1 ||
			{ echo "module $m not found under $kroot" >&2; return 1; }
	done
	for m in "$@"; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$m"
	done | awk '$1 == "insmod" {print $2}' | while read -r ko; do
		local rel=${ko#"$kroot"/}
		if ! grep -qxF "/$rel" "$list"; then
			mkdir -p "$stage/$(dirname "$rel")"
			cp "$ko" "$stage/$rel"
			echo "/$rel" >> "$list"
		fi
	done
}
