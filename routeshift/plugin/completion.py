"""Shell completion for ``kubectl canary`` and ``kubectl-canary``: bash, zsh, and kubectl's own.

One engine answers every shell: the hidden ``__complete`` command speaks cobra's protocol
(one candidate per line, ``value<TAB>description``, then ``:<directive>``), which is what
kubectl (1.26+) calls for a plugin through an executable ``kubectl_complete-canary`` on
PATH. So ``kubectl canary pro<TAB>`` completes in a shell where kubectl's completion is
loaded, and the bash and zsh scripts below complete the ``kubectl-canary`` executable with
the same engine. Canary names come from the cluster (errors mean no names, never noise);
subcommands and flags come from the argparse parser, so they cannot drift from the CLI.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

# cobra ShellCompDirective values
DIRECTIVE_DEFAULT = 0  # the shell may fall back to file names
DIRECTIVE_NO_FILES = 4

OUTPUT_FORMATS = ("json", "yaml", "wide")
SHELLS = ("bash", "zsh", "kubectl")
_FILE_FLAGS = frozenset({"-f", "--filename", "--kubeconfig", "--crd"})

NamesProvider = Callable[[str | None, str | None, str | None], list[str]]  # (namespace, context, kubeconfig)


def complete(parser: argparse.ArgumentParser, words: Sequence[str], names: NamesProvider) -> tuple[list[str], int]:
    """Candidates for the last of ``words`` (the arguments after the program name)."""
    words = list(words) or [""]
    current, before = words[-1], words[:-1]
    commands = _subcommands(parser)
    command: str | None = None
    positionals = 0
    flags: dict[str, str | None] = {}
    expecting: str | None = None
    for word in before:
        if expecting is not None and word == "=":
            continue  # bash splits "--namespace=prod" at COMP_WORDBREAKS into three words
        if expecting is not None:
            flags[expecting] = word
            expecting = None
        elif word.startswith("-"):
            option, _, value = word.partition("=")
            if _takes_value(parser, commands.get(command), option) and not value:
                expecting = option
            else:
                flags[option] = value or None
        elif command is None:
            command = word
        else:
            positionals += 1
    sub = commands.get(command)
    if expecting is not None:
        return _flag_values(expecting, current, flags)
    if current.startswith("-"):
        options = sorted({o for action in _actions(parser, sub) for o in action.option_strings if o.startswith("--")}
                         | {o for action in _actions(parser, sub) for o in action.option_strings})
        return [o for o in options if o.startswith(current)], DIRECTIVE_NO_FILES
    if command is None:
        return [f"{name}\t{help_}" for name, help_ in _command_help(parser).items()
                if name.startswith(current) and not name.startswith("__")], DIRECTIVE_NO_FILES
    if command == "completion" and positionals == 0:
        return [shell for shell in SHELLS if shell.startswith(current)], DIRECTIVE_NO_FILES
    if sub is not None and positionals == 0 and _wants_name(sub):
        namespace = flags.get("-n") or flags.get("--namespace")
        try:
            found = names(namespace, flags.get("--context"), flags.get("--kubeconfig"))
        except Exception:  # completion must never print an error into the command line
            found = []
        return [name for name in found if name.startswith(current)], DIRECTIVE_NO_FILES
    return [], DIRECTIVE_NO_FILES


def _flag_values(flag: str, current: str, flags: dict[str, str | None]) -> tuple[list[str], int]:
    if flag in ("-o", "--output"):
        return [f for f in OUTPUT_FORMATS if f.startswith(current)], DIRECTIVE_NO_FILES
    if flag in _FILE_FLAGS:
        return [], DIRECTIVE_DEFAULT
    if flag == "--context":
        return [c for c in _contexts(flags.get("--kubeconfig")) if c.startswith(current)], DIRECTIVE_NO_FILES
    return [], DIRECTIVE_NO_FILES


def _contexts(kubeconfig: str | None) -> list[str]:
    try:
        from kubernetes import config

        contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig)
    except Exception:  # no kubeconfig: nothing to offer
        return []
    return [c["name"] for c in contexts or ()]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str | None, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _command_help(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {choice.dest: choice.help or "" for choice in action._choices_actions}
    return {}


def _actions(parser: argparse.ArgumentParser, sub: argparse.ArgumentParser | None) -> list[argparse.Action]:
    return [a for a in (sub or parser)._actions if a.option_strings and a.help != argparse.SUPPRESS]


def _takes_value(parser: argparse.ArgumentParser, sub: argparse.ArgumentParser | None, option: str) -> bool:
    for action in [*(sub._actions if sub else ()), *parser._actions]:
        if option in action.option_strings:
            return action.nargs != 0
    return False


def _wants_name(sub: argparse.ArgumentParser) -> bool:
    return any(a.dest == "name" and not a.option_strings for a in sub._actions)


def render(candidates: list[str], directive: int) -> str:
    """cobra's wire format."""
    return "".join(f"{c}\n" for c in candidates) + f":{directive}\n"


# ---------------------------------------------------------------------- scripts

BASH = r"""# bash completion for kubectl-canary; load with:  source <(kubectl-canary completion bash)
# For `kubectl canary <TAB>` install the helper kubectl looks for:
#   kubectl-canary completion kubectl > ~/bin/kubectl_complete-canary && chmod +x ~/bin/kubectl_complete-canary
_kubectl_canary() {
    local cur="${COMP_WORDS[COMP_CWORD]}" out directive line
    local -a candidates=()
    out=$(kubectl-canary __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
    directive=${out##*:}
    while IFS= read -r line; do
        [[ -z "$line" || "$line" == :* ]] && continue
        candidates+=("${line%%$'\t'*}")
    done <<< "$out"
    COMPREPLY=()
    if (( ${#candidates[@]} )); then
        COMPREPLY=($(compgen -W "${candidates[*]}" -- "$cur"))
    elif [[ "$directive" == 0 ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o default -F _kubectl_canary kubectl-canary
"""

ZSH = r"""#compdef kubectl-canary
# zsh completion for kubectl-canary; load with:  source <(kubectl-canary completion zsh)
# For `kubectl canary <TAB>` install the helper kubectl looks for:
#   kubectl-canary completion kubectl > ~/bin/kubectl_complete-canary && chmod +x ~/bin/kubectl_complete-canary
_kubectl_canary() {
    local -a lines described
    local out directive line value desc
    out=$(kubectl-canary __complete "${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
    lines=("${(@f)out}")
    directive=${${lines[-1]}#:}
    for line in "${(@)lines[1,-2]}"; do
        value=${line%%$'\t'*}
        desc=${line#*$'\t'}
        [[ "$desc" == "$line" ]] && desc=""
        described+=("${value//:/\\:}${desc:+:$desc}")
    done
    if (( ${#described} )); then
        _describe -t commands 'kubectl canary' described
    elif [[ "$directive" == 0 ]]; then
        _files
    fi
}
if [[ "$funcstack[1]" == "_kubectl_canary" ]]; then
    _kubectl_canary "$@"
else
    compdef _kubectl_canary kubectl-canary
fi
"""

KUBECTL_HELPER = """#!/bin/sh
# kubectl (1.26+) runs this for `kubectl canary <TAB>`; install it on PATH as kubectl_complete-canary.
exec kubectl-canary __complete "$@"
"""


def script(shell: str) -> str:
    return {"bash": BASH, "zsh": ZSH, "kubectl": KUBECTL_HELPER}[shell]
