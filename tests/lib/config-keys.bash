# shellcheck shell=bash
#
# config-keys.bash: table-driven garbage for a program's configuration keys
# (load after harness).  The key table is read back from the program's own
# effective-config print, so keys added later are covered too.
#
#   cfgk_leaves          stdin: a printed configuration (YAML, "key: value
#                        # help" lines); stdout: "dotted.path<TAB>value" for
#                        every leaf, comments dropped
#   cfgk_garbage VALUE   the garbage values (one a line) for a key whose
#                        effective value prints as VALUE: the wrong YAML type
#                        always, plus words, overflows and negatives for
#                        numbers, durations and booleans
#   cfgk_yaml PATH VAL   stdin: leaves; stdout: the YAML with PATH set to VAL

cfgk_leaves()
{
	local line indent key rest depth
	local -a stack=()

	while IFS= read -r line; do
		[[ $line =~ ^( *)([a-z_][a-z0-9_]*):( (.*))?$ ]] || continue
		indent=${#BASH_REMATCH[1]}
		key=${BASH_REMATCH[2]}
		rest=${BASH_REMATCH[4]}
		rest=${rest%%  #*}
		depth=$((indent / 2))
		stack=("${stack[@]:0:$depth}")
		if [ -z "$rest" ]; then
			stack+=("$key")
		else
			printf '%s\t%s\n' "$(IFS=.; echo "${stack[*]}${stack[*]:+.}$key")" "$rest"
		fi
	done
}

cfgk_garbage()
{
	case $1 in
	\{*) printf '%s\n' 7 '[a]' ;;
	\[*) printf '%s\n' '{a: 1}' '[[1]]' '[{a: 1}]' ;;
	true | false) printf '%s\n' maybe 2 '{a: 1}' ;;
	-[0-9]* | [0-9]*[0-9]) printf '%s\n' many 1.5 99999999999999999999 -99999999 '{a: 1}' ;;
	[0-9]*[smhd]) printf '%s\n' soon -5s 5parsecs '{a: 1}' ;;
	*) printf '%s\n' '{a: 1}' '[a]' ;;
	esac
}

cfgk_yaml()
{
	local path=$1 val=$2 k v

	while IFS=$'\t' read -r k v; do
		[ "$k" = "$path" ] && v=$val
		printf '%s\t%s\n' "$k" "$v"
	done | LC_ALL=C sort -s -t "$(printf '\t')" -k1,1 | stack__yaml_emit
}
