# bash completion for glivectl: commands, each command's options, session names (asked of the
# running gliveD with `glivectl sessions`), files where an option takes one.
# Use: `source client/glivectl/completion/glivectl.bash`, or install it as
# /usr/share/bash-completion/completions/glivectl. tests/integration/test_ctl_ux.py checks that
# it offers every command and option the binary's --help lists.

_glivectl_sessions()
{
    # $1: the socket given on the command line, if any. Silent when gliveD is not running.
    glivectl ${1:+--socket "$1"} sessions 2>/dev/null | awk 'NR > 1 { print $1 }'
}

# ALSA's PCM names (--device), from aplay (alsa-utils) when it is there.
_glivectl_devices()
{
    echo default
    command -v aplay >/dev/null 2>&1 && aplay -L 2>/dev/null | grep -v '^[[:space:]]'
}

# COMPREPLY from compgen's lines: no word splitting or globbing of what it offers.
_glivectl_reply()
{
    mapfile -t COMPREPLY < <(compgen "$@")
}

_glivectl()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local cmds="ask chat open close watch sessions status tool talk help"
    local i=1 cmd="" cmd_at=0 sock=""
    # The command is the first word that is neither a global option nor its value (bash splits
    # --socket=PATH into three words: "--socket", "=", "PATH").
    while [ "$i" -lt "$COMP_CWORD" ]; do
        case ${COMP_WORDS[i]} in
            --socket | --timeout)
                [ "${COMP_WORDS[i+1]}" = "=" ] && i=$((i + 1))
                [ "${COMP_WORDS[i]}" = --socket ] || [ "${COMP_WORDS[i-1]}" = --socket ] &&
                    sock=${COMP_WORDS[i+1]}
                i=$((i + 2)); continue ;;
            --socket=*) sock=${COMP_WORDS[i]#--socket=} ;;
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; cmd_at=$i; break ;;
        esac
        i=$((i + 1))
    done

    if [ -z "$cmd" ]; then
        case $prev in
            --socket) _glivectl_reply -f -- "$cur"; return ;;
            --timeout) COMPREPLY=(); return ;;
        esac
        case $cur in
            -*) _glivectl_reply -W "--socket --timeout --help --version" -- "$cur" ;;
            *) _glivectl_reply -W "$cmds" -- "$cur" ;;
        esac
        return
    fi

    local session_opts="--session --model --audio --code-execution --google-search --function
                        --tools --system --keep-connected --no-keep-connected"
    local opts=""
    case $cmd in
        ask) opts="$session_opts --wav --image --play --device --tool-reply --json --quiet -q --help" ;;
        chat) opts="$session_opts --play --device --tool-reply --quiet -q --help" ;;
        open) opts="$session_opts --json --help" ;;
        close) opts="--session --json --help" ;;
        watch | sessions | status) opts="--json --help" ;;
        tool) opts="--session --name --description --parameters --timeout --scheduling --json --help" ;;
        talk) opts="--session --model --in --mic --seconds --out --play --device --rate --fast --function
                    --json --help" ;;
        help)
            [ "$COMP_CWORD" -eq $((cmd_at + 1)) ] && _glivectl_reply -W "$cmds" -- "$cur"
            return ;;
        *) return ;;
    esac

    case $prev in
        --session)
            _glivectl_reply -W "$(_glivectl_sessions "$sock")" -- "$cur"
            # tool serves every session with '*', escaped so that the shell does not glob it
            if [ "$cmd" = tool ] && [ -z "$cur" -o "$cur" = "\\" ]; then
                COMPREPLY+=("\\*")
            fi
            return ;;
        --wav | --image | --tools | --parameters | --in | --out) _glivectl_reply -f -- "$cur"; return ;;
        --device) _glivectl_reply -W "$(_glivectl_devices)" -- "$cur"; return ;;
        --scheduling) _glivectl_reply -W "INTERRUPT WHEN_IDLE SILENT" -- "$cur"; return ;;
        --model | --function | --system | --tool-reply | --name | --description | --timeout | --rate | --seconds)
            COMPREPLY=(); return ;;
    esac

    case $cur in
        -*) _glivectl_reply -W "$opts" -- "$cur" ;;
        *)
            # watch takes a session name; tool's COMMAND after -- is any program
            if [ "$cmd" = watch ]; then
                _glivectl_reply -W "$(_glivectl_sessions "$sock")" -- "$cur"
            elif [ "$cmd" = tool ]; then
                _glivectl_reply -c -- "$cur"
            fi ;;
    esac
}

complete -F _glivectl glivectl
