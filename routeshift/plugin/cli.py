"""The ``kubectl canary`` command line: parse arguments, run one command, map errors to exit codes.

kubectl runs ``kubectl-canary`` with everything after ``canary`` and no global flags, so
``-n``, ``--context`` and ``--kubeconfig`` are accepted before or after the subcommand,
like kubectl's own. Each command is a small function here; the work lives in the modules
named for it (``requesting``, ``waiting``, ``live``, ``linting``, ``rendering``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from routeshift import __version__
from routeshift.plugin import canaries, completion, errors, requesting
from routeshift.plugin.cluster import Cluster, Options

# rich and yaml are imported by the commands that print with them: operations and ``wait``
# run in pipelines, where every tenth of a second of start-up is paid on each call.

Operation = requesting.Operation
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


# ---------------------------------------------------------------------- helpers


def parse_duration(text: str) -> float:
    """``30m``, ``1h30m``, ``90s``, ``2.5s`` or plain seconds, like kubectl's ``--timeout``."""
    text = text.strip()
    pos, total = 0, 0.0
    while pos < len(text):
        match = _DURATION.match(text, pos)
        if match is None:
            raise errors.UsageError(f"invalid duration {text!r}: use e.g. 90s, 30m, 1h30m")
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not text:
        raise errors.UsageError("empty duration")
    return total


def _console(stream=None):
    from rich.console import Console

    stream = stream or sys.stdout
    terminal = stream.isatty()
    width = None if terminal else max(int(os.environ.get("COLUMNS", "0") or 0), 160)
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def _cluster(args: argparse.Namespace) -> Cluster:
    return Cluster.connect(Options(kubeconfig=getattr(args, "kubeconfig", None),
                                   context=getattr(args, "context", None),
                                   namespace=getattr(args, "namespace", None)))


def _dump(document: Any, output: str) -> None:
    if output == "json":
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(document, sort_keys=False, width=120))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


# ---------------------------------------------------------------------- commands


def cmd_get(args: argparse.Namespace) -> int:
    from routeshift.plugin import live, rendering

    cluster = _cluster(args)
    if args.watch:
        return live.watch_detail(cluster, args.name, _console())
    canary = canaries.Canary(cluster.get(args.name))
    if args.output in ("json", "yaml"):
        _dump(canary.raw, args.output)
        return 0
    rendering.emit(_console(), live.detail_view(cluster, canary))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from routeshift.plugin import live, rendering

    cluster = _cluster(args)
    if args.watch:
        return live.watch_list(cluster, _console(), all_namespaces=args.all_namespaces, wide=args.output == "wide")
    items = cluster.list(all_namespaces=args.all_namespaces)
    if args.output in ("json", "yaml"):
        _dump({"apiVersion": "v1", "kind": "List", "items": items}, args.output)
        return 0
    if not items:
        where = "any namespace" if args.all_namespaces else f"namespace {cluster.namespace}"
        print(f"No canaries found in {where}.", file=sys.stderr)
        return 0
    rendering.emit(_console(), rendering.table([canaries.Canary(o) for o in items], now=_now(),
                                               all_namespaces=args.all_namespaces, wide=args.output == "wide"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    canary = canaries.Canary(cluster.get(args.name))
    if args.output in ("json", "yaml"):
        _dump(canary.status, args.output)
        return 0
    print(canary.summary())
    for line in canary.workload_lines(canaries.live_replicas(canary, cluster.deployment)):
        print(f"  {line}")
    conditions = canary.status.get("conditions") or ()
    if conditions:
        print("  " + "; ".join(f"{c.get('type')}={c.get('status')} {c.get('reason', '')}".rstrip()
                               for c in conditions))
    for reason in canary.hold_reasons():
        if reason != canary.status.get("message"):
            print(f"  holding: {reason}")
    pending = canary.pending_operations()
    if pending:
        print(f"  pending operations: {', '.join(sorted(pending))}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from routeshift.plugin import rendering

    canary = canaries.Canary(_cluster(args).get(args.name))
    if args.output in ("json", "yaml"):
        _dump(canary.decisions, args.output)
        return 0
    rendering.emit(_console(), rendering.history(canary, now=_now()))
    return 0


def cmd_operation(args: argparse.Namespace) -> int:
    operation = Operation(args.operation)
    if operation == Operation.PROMOTE and args.full:
        operation = Operation.PROMOTE_FULL
    weight = getattr(args, "weight", None)
    if operation == Operation.SET_WEIGHT and not 0 <= weight <= 100:
        raise errors.UsageError(f"set-weight: weight must be 0..100, got {weight}")
    cluster = _cluster(args)
    change = requesting.request(cluster, args.name, operation, weight=weight)
    if args.output == "json":
        _dump({"name": args.name, "namespace": cluster.namespace, "operation": change.operation,
               "changed": change.patch is not None, "patch": change.patch,
               "fields": [{"path": p, "before": b, "after": a} for p, b, a in change.fields],
               "expectation": change.expectation}, "json")
    else:
        print("\n".join(requesting.describe(change, args.name)))
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    from routeshift.plugin import waiting

    timeout = parse_duration(args.timeout)
    cluster = _cluster(args)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    waited = waiting.wait(cluster, args.name, timeout=timeout, progress=progress)
    outcome = waited.outcome
    if args.output == "json":
        _dump(waiting.summary(waited, name=args.name, namespace=cluster.namespace), "json")
    else:
        release = waited.canary.release if waited.canary else None
        print(f"canary {cluster.namespace}/{args.name}"
              + (f" release {release}" if release else "")
              + f": {outcome.result} after {waited.seconds:.1f}s"
              + (f": {outcome.message}" if outcome.message else ""))
    return outcome.exit_code


def cmd_lint(args: argparse.Namespace) -> int:
    from routeshift.plugin import linting

    reports, source = linting.lint_paths(args.filename, crd=args.crd)
    canary_reports = [r for r in reports if not r.skipped]
    if args.output == "json":
        _dump({"schema": source, "valid": bool(canary_reports) and all(r.valid for r in reports),
               "documents": [r.as_dict() for r in reports]}, "json")
    else:
        for report in reports:
            stream = sys.stdout if report.valid else sys.stderr
            for line in linting.format_report(report):
                print(line, file=stream)
    if not canary_reports and all(r.valid for r in reports):
        raise errors.LintFailed(f"no {linting.API_VERSION} {linting.KIND} found in {', '.join(args.filename)}")
    invalid = [r for r in reports if not r.valid]
    if invalid:
        raise errors.LintFailed(f"{len(invalid)} of {len(reports)} document(s) invalid")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from routeshift.plugin.dashboard import server

    def announce(dashboard: server.Dashboard) -> None:
        scope = "all namespaces" if args.all_namespaces else f"namespace {dashboard.cluster.namespace}"
        mode = "operations allowed with the token in this URL" if args.allow_actions else "read-only"
        print(f"Routeshift dashboard for {scope} ({mode}): {dashboard.url}", flush=True)
        print("Press Ctrl-C to stop.", file=sys.stderr, flush=True)

    settings = server.Settings(port=server.DEFAULT_PORT if args.port is None else args.port,
                               all_namespaces=args.all_namespaces, allow_actions=args.allow_actions)
    return server.serve(_cluster(args), settings, announce=announce)


def cmd_version(args: argparse.Namespace) -> int:
    if args.output in ("json", "yaml"):
        _dump({"plugin": "kubectl-canary", "version": __version__, "api": "routeshift.dev/v1alpha1"}, args.output)
    else:
        print(f"kubectl-canary {__version__} (routeshift.dev/v1alpha1)")
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(completion.script(args.shell))
    return 0


def cmd_complete(args: argparse.Namespace) -> int:
    def names(namespace: str | None, context: str | None, kubeconfig: str | None) -> list[str]:
        cluster = Cluster.connect(Options(kubeconfig=kubeconfig, context=context, namespace=namespace))
        return [o["metadata"]["name"] for o in cluster.list()]

    candidates, directive = completion.complete(build_parser(), args.words, names)
    sys.stdout.write(completion.render(candidates, directive))
    return 0


# ---------------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a bad argument; here 2 means only "wait timed out", so usage errors exit 1."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(errors.EXIT_FAILURE, f"error: {message}\n")


def _connection_flags(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument("-n", "--namespace", default=default, help="namespace (default: the context's)")
    parser.add_argument("--context", default=default, help="kubeconfig context to use")
    parser.add_argument("--kubeconfig", default=default, help="kubeconfig file (default: KUBECONFIG, ~/.kube/config)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kubectl canary",
        description="Watch and steer Routeshift Canary rollouts (routeshift.dev/v1alpha1).",
        epilog="The cluster comes from --kubeconfig, KUBECONFIG or ~/.kube/config and the current context, "
               "or the in-cluster service account. Operations annotate or patch the Canary; the controller acts.")
    _connection_flags(parser, default=None)
    common = _Parser(add_help=False)
    # SUPPRESS: a flag given before the subcommand must not be reset by the subparser's default.
    _connection_flags(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, handler, *, name_arg: bool = True, output: Sequence[str] = ()):
        sub = commands.add_parser(name, help=help_, description=help_, parents=[common])
        if name_arg:
            sub.add_argument("name", metavar="NAME", help="name of the Canary")
        if output:
            sub.add_argument("-o", "--output", choices=list(output), help="output format")
        sub.set_defaults(handler=handler, output=None)
        return sub

    get = command("get", "show a Canary: phase, step, weights, metrics, holds, events", cmd_get,
                  output=("json", "yaml"))
    get.add_argument("-w", "--watch", action="store_true", help="redraw in place as the rollout moves")
    listing = command("list", "list Canaries", cmd_list, name_arg=False, output=("json", "yaml", "wide"))
    listing.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    listing.add_argument("-w", "--watch", action="store_true", help="redraw in place as Canaries change")
    command("status", "one-line status, conditions and hold reasons", cmd_status, output=("json", "yaml"))
    command("history", "the decision log: every step, verdict and metric value", cmd_history,
            output=("json", "yaml"))

    promote = command("promote", "finish the current step (or a set-weight hold) and continue", cmd_operation,
                      output=("json",))
    promote.add_argument("--full", action="store_true", help="skip all remaining steps and analysis: 100%% now")
    for name, help_ in (("abort", "stop the rollout and send all traffic back to stable"),
                        ("pause", "hold the rollout at its current weight"),
                        ("resume", "continue a paused or held rollout (also clears spec.paused)"),
                        ("retry", "restart a failed or aborted rollout of the same release"),
                        ("skip-step", "mark the current step done and move to the next"),
                        ("undo", "after a success, flip all traffic back to the previous backend")):
        command(name, help_, cmd_operation, output=("json",)).set_defaults(operation=name, full=False)
    set_weight = command("set-weight", "hold the canary at N percent until resume or promote", cmd_operation,
                         output=("json",))
    set_weight.add_argument("weight", metavar="N", type=int, help="canary weight, 0..100")
    promote.set_defaults(operation="promote")
    set_weight.set_defaults(operation="set-weight", full=False)

    wait = command("wait", "wait for the current release's rollout: exit 0 promoted, 1 rolled back/failed/"
                   "aborted, 2 timeout", cmd_wait, output=("json",))
    wait.add_argument("--timeout", default="30m", help="give up after this long (default 30m)")

    lint = command("lint", "validate Canary manifests offline (CRD schema and semantic rules)", cmd_lint,
                   name_arg=False, output=("json",))
    lint.add_argument("-f", "--filename", action="append", required=True,
                      help="file, directory or - for stdin (repeatable)")
    lint.add_argument("--crd", help="CRD YAML to validate against (default: crds/ of this installation)")
    dashboard = command("dashboard", "serve a live web dashboard of the Canaries on 127.0.0.1 (read-only unless "
                        "--allow-actions)", cmd_dashboard, name_arg=False)
    dashboard.add_argument("-p", "--port", type=int, default=None,
                           help="port on 127.0.0.1 (default 3100, as Argo Rollouts' dashboard; 0: any free port)")
    dashboard.add_argument("-A", "--all-namespaces", action="store_true", help="show Canaries of all namespaces")
    dashboard.add_argument("--allow-actions", action="store_true",
                           help="offer promote/pause/resume/abort/retry buttons (a per-run token in the printed URL "
                                "guards them)")
    command("version", "print the plugin version", cmd_version, name_arg=False, output=("json", "yaml"))
    shells = command("completion", "print a shell completion script (bash, zsh, or the kubectl helper)",
                     cmd_completion, name_arg=False)
    shells.add_argument("shell", choices=list(completion.SHELLS))
    complete = commands.add_parser("__complete", add_help=False)
    complete.add_argument("words", nargs=argparse.REMAINDER)
    complete.set_defaults(handler=cmd_complete, output=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["__complete"]:
        # Raw words: argparse would treat a half-typed "--na" as an option of __complete.
        args = argparse.Namespace(words=argv[1:])
        return _guard(cmd_complete, args)
    args = build_parser().parse_args(argv)
    return _guard(args.handler, args)


def complete_main() -> int:
    """Entry point for a ``kubectl_complete-canary`` console script: kubectl's plugin completion hook."""
    return main(["__complete", *sys.argv[1:]])


def _guard(handler, args: argparse.Namespace) -> int:
    try:
        return handler(args)
    except errors.PluginError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
