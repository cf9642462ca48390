"""Completion: kubectl's own plugin completion, the bash script, and the engine behind both.

kubectl (1.26+) completes ``kubectl canary <TAB>`` by running ``kubectl_complete-canary``
from PATH; the helper the plugin prints is installed into a temporary directory and
driven through the real kubectl's ``__complete``. Canary names come from the cluster.
"""

import os
import stat
import subprocess

import pytest

from routeshift.plugin import cli, completion


def _names(namespace, context, kubeconfig):
    return {"prod": ["checkout", "search"]}.get(namespace or "default", ["web", "api"])


@pytest.mark.parametrize("words, expected", [
    pytest.param([""], {"get", "list", "promote", "set-weight", "wait", "lint", "completion"}, id="commands"),
    pytest.param(["pro"], {"promote"}, id="command-prefix"),
    pytest.param(["get", ""], {"web", "api"}, id="names"),
    pytest.param(["-n", "prod", "abort", "s"], {"search"}, id="names-in-namespace"),
    pytest.param(["abort", "--namespace=prod", ""], {"checkout", "search"}, id="names-in-namespace-after"),
    pytest.param(["abort", "--namespace", "=", "prod", ""], {"checkout", "search"}, id="bash-split-equals"),
    pytest.param(["get", "web", "-o", ""], {"json", "yaml", "wide"}, id="output-formats"),
    pytest.param(["promote", "web", "--f"], {"--full"}, id="flags"),
    pytest.param(["completion", ""], {"bash", "zsh", "kubectl"}, id="shells"),
    pytest.param(["set-weight", "web", ""], set(), id="no-second-name"),
])
def test_candidates(words, expected):
    candidates, _ = completion.complete(cli.build_parser(), words, _names)
    values = {c.split("\t")[0] for c in candidates}
    assert expected <= values if words == [""] else values == expected


def test_file_flags_let_the_shell_complete_paths():
    assert completion.complete(cli.build_parser(), ["lint", "-f", ""], _names) == ([], completion.DIRECTIVE_DEFAULT)


def test_the_console_script_entry_point_speaks_cobras_protocol(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["kubectl_complete-canary", "wa"])
    assert cli.complete_main() == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["wait\t" + _help("wait"), ":4"]


def _help(command):
    return completion._command_help(cli.build_parser())[command]


def test_cluster_errors_mean_no_names():
    def broken(*_):
        raise RuntimeError("unreachable")
    assert completion.complete(cli.build_parser(), ["get", ""], broken) == ([], completion.DIRECTIVE_NO_FILES)


def test_kubectl_completes_the_plugin_through_the_helper(world, tmp_path):
    helper = tmp_path / "kubectl_complete-canary"
    helper.write_text(completion.script("kubectl"))
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    kubectl = world.kubectl.with_path(tmp_path)
    commands = kubectl("__complete", "canary", "sk")
    assert commands.stdout.splitlines()[0].split("\t")[0] == "skip-step", commands.stderr
    names = kubectl("__complete", "canary", "get", "w")
    assert names.stdout.splitlines()[:2] == ["web", ":4"], names.stderr


def test_bash_script_completes_canary_names(world):
    script = completion.script("bash")
    probe = script + 'COMP_WORDS=(kubectl-canary get ""); COMP_CWORD=2; _kubectl_canary; echo "${COMPREPLY[@]}"\n'
    env = {**world.kubectl.env, "KUBECONFIG": str(world.kubectl.kubeconfig)}
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env=env, timeout=30)
    assert result.stdout.split() == ["web"], result.stderr
    assert os.path.basename(script.splitlines()[-1].split()[-1]) == "kubectl-canary"
