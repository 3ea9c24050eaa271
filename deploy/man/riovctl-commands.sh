#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The COMMANDS section of riovctl(8) as a help2man include, from riovctl's own help: every
# object's verbs ('riovctl OBJECT --help') and every verb's options ('riovctl OBJECT VERB --help').
# usage: riovctl-commands.sh RIOVCTL > riovctl-commands.h2m
set -euo pipefail
ctl=$1

roff() { # text -> roff: backslashes, minus signs, a leading '.' or "'"
	sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"
}

echo "[COMMANDS]"
echo "Each command is an object and a verb. The same is printed by"
echo "\\fBriovctl\\fR \\fIOBJECT\\fR \\fB\\-\\-help\\fR and \\fBriovctl\\fR \\fIOBJECT VERB\\fR \\fB\\-\\-help\\fR."
objects=$("$ctl" --help | sed -n '/^objects:/,/^$/{/^  [^ ]/s/^  \([^ ]*\).*/\1/p}')
[ -n "$objects" ] || { echo "riovctl-commands.sh: no objects in '$ctl --help'" >&2; exit 1; }
for obj in $objects; do
	echo ".SS $obj"
	# verb lines ("  add        create a network") each followed by its synopsis line
	"$ctl" "$obj" --help | sed -n '/^verbs:/,/^$/p' | sed 1d | while IFS= read -r line; do
		[ -z "$line" ] && continue
		if [[ $line =~ ^\ \ ([^ ].{0,9})\ +(.*)$ ]]; then
			verb=${BASH_REMATCH[1]%"${BASH_REMATCH[1]##*[! ]}"}
			summary=${BASH_REMATCH[2]}
			continue
		fi
		synopsis=$(sed -e 's/^ *//' -e 's/ *$//' <<<"$line")
		printf '.TP\n\\fB%s\\fR\n%s\n' "$(roff <<<"$synopsis")" "$(roff <<<"$summary")"
		[ "$verb" = "(none)" ] && continue
		# shellcheck disable=SC2086 # two-word verbs are two arguments
		opts=$("$ctl" "$obj" $verb --help | sed -n '/^options:/,/^$/p' | sed -n 's/^  \(--.*\)/\1/p')
		[ -z "$opts" ] && continue
		echo ".RS"
		while IFS= read -r o; do
			left=${o%%  *}
			right=$(sed 's/^ *//' <<<"${o#"$left"}")
			printf '.TP\n.B %s\n%s\n' "$(roff <<<"$left")" "$(roff <<<"$right")"
		done <<<"$opts"
		echo ".RE"
	done
done
