"""The ``frontdesk`` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from config.settings import ConfigError, Settings, load_settings

# `frontdesk bench NAME` runs the module's `main(argv)`; each feature owns its benchmark.
BENCHMARKS: dict[str, str] = {
    "ami": "cti.bench",
    "cluster": "config.cluster_bench",
    "email": "channels.bench",
    "match": "knowledge.bench",
    "outage": "cti.outage_bench",
    "routing": "routing.bench",
    "search": "routing.search_bench",
    "sla": "alerts.bench",
    "ws": "agent_ui.bench",
}


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(args.config)
    except ConfigError as exc:
        print("configuration is invalid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        load_settings(args.path or args.config)
    except ConfigError as exc:
        print(f"configuration has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    print("configuration is valid")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from core.migrate import upgrade

    settings = _settings(args)
    _logging(settings)
    upgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from config.access_log import RedactingAccessLogger
    from config.app import build_app
    from config.startup_errors import listening

    settings = _settings(args)
    _logging(settings)
    host = args.host or settings.web.host
    port = args.port if args.port is not None else settings.web.port
    with listening(host, port, "frontdesk serve"):
        web.run_app(
            build_app(settings), host=host, port=port, print=lambda msg: print(msg, flush=True),
            access_log_class=RedactingAccessLogger,
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from config.demo import run_demo

    return run_demo(args)


def cmd_user_add(args: argparse.Namespace) -> int:
    from config.admin import add_user_command

    settings = _settings(args)
    return asyncio.run(add_user_command(settings, args))


def cmd_user(args: argparse.Namespace) -> int:
    from config.admin import user_command

    settings = _settings(args)
    return asyncio.run(user_command(settings, args))


def cmd_token(args: argparse.Namespace) -> int:
    from config.admin import token_command

    settings = _settings(args)
    return asyncio.run(token_command(settings, args))


def cmd_ami_sim(args: argparse.Namespace) -> int:
    module = importlib.import_module("cti.demo_pbx")
    result: int = module.main(args.rest)
    return result


def cmd_bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(BENCHMARKS[args.name])
    result: int = module.main(args.rest)
    return result


def cmd_rules(args: argparse.Namespace) -> int:
    module = importlib.import_module("routing.cli")
    result: int = module.rules_command(_settings(args), args.rules_command, args.rest)
    return result


def cmd_retention(args: argparse.Namespace) -> int:
    module = importlib.import_module("privacy.cli")
    result: int = module.retention_command(_settings(args).database_url, args.dry_run, args.json)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frontdesk", description="Frontdesk contact-center server")
    parser.add_argument("-c", "--config", help="YAML config file (default: $FRONTDESK_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    p = add("serve", cmd_serve, "run the server")
    p.add_argument("--host")
    p.add_argument("--port", type=int)

    p = add("demo", cmd_demo, "run the server on SQLite with the AMI simulator and sample data")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--database",
        help="database URL (default: the config file's, else sqlite+aiosqlite:///var/demo.db)",
    )

    p = add("migrate", cmd_migrate, "apply database migrations")
    p.add_argument("--revision", default="head")

    p = add("retention", cmd_retention, "purge closed tickets' contents and call records past the retention periods")
    p.add_argument("--dry-run", action="store_true", help="only count what would be purged")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = add("check-config", cmd_check_config, "validate a config file and report every problem")
    p.add_argument("path", nargs="?")

    user = sub.add_parser("user", help="manage users", description="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    p = user_sub.add_parser("add", help="add a user", description="add a user")
    p.set_defaults(func=cmd_user_add)
    p.add_argument("login")
    p.add_argument("--name", help="display name")
    p.add_argument("--role", action="append", choices=["agent", "supervisor", "ops", "admin"], help="repeatable")
    p.add_argument("--extension", help="phone extension, e.g. 1001")
    p.add_argument("--interface", help="PBX interface, e.g. PJSIP/1001 (default from the extension)")
    p.add_argument("--password", help="password (prompted when omitted)")
    p = user_sub.add_parser("list", help="list users", description="list users")
    p.set_defaults(func=cmd_user)
    p.add_argument("--all", action="store_true", help="disabled users too")
    p = user_sub.add_parser("edit", help="change a user's roles, skills, phone, language or contact",
                            description="change a user; an empty value clears a field, e.g. --extension ''")
    p.set_defaults(func=cmd_user)
    p.add_argument("login")
    p.add_argument("--name", help="display name")
    p.add_argument("--role", action="append", choices=["agent", "supervisor", "ops", "admin"], help="repeatable; replaces the roles")
    p.add_argument("--skill", action="append", help="repeatable, e.g. billing or billing:3; replaces the skills (--skill '' clears)")
    p.add_argument("--extension", help="phone extension, e.g. 1001 (sets the interface PJSIP/<extension> unless --interface)")
    p.add_argument("--interface", help="PBX interface, e.g. PJSIP/1001")
    p.add_argument("--language", help="console language: en, es or zh_CN")
    p.add_argument("--email", help="email address (SLA alerts)")
    p.add_argument("--mobile", help="mobile number, E.164 (SLA alerts by SMS)")
    p.add_argument("--working-hours", dest="working_hours", help="e.g. 'mon-fri 09:00-17:00, sat 10:00-14:00'")
    p.add_argument("--softphone", choices=["on", "off"],
                   help="on: takes calls in the console's browser phone (WebRTC); off: a desk phone")
    p = user_sub.add_parser("reset-link", help="print a one-time link to set a new password (valid a day)",
                            description="print a one-time link to set a new password; earlier unused links stop working")
    p.set_defaults(func=cmd_user)
    p.add_argument("login")
    for verb, help_ in (("disable", "disable a user: their sessions end and their tokens stop at once"),
                        ("enable", "enable a disabled user again")):
        p = user_sub.add_parser(verb, help=help_, description=help_)
        p.set_defaults(func=cmd_user)
        p.add_argument("login")

    token = sub.add_parser("token", help="API tokens", description="make, list and revoke API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    p = token_sub.add_parser("add", help="make a token for a person (printed once)", description="make a token")
    p.set_defaults(func=cmd_token)
    p.add_argument("login")
    p.add_argument("--name", required=True, help="what uses it, e.g. 'crm sync'")
    p.add_argument("--days", type=int, default=None, help="days until it expires (default 90, at most 366)")
    p = token_sub.add_parser("list", help="list tokens (never their values)", description="list tokens")
    p.set_defaults(func=cmd_token)
    p.add_argument("--login", help="only this person's")
    p = token_sub.add_parser("revoke", help="stop a token at once", description="revoke a token")
    p.set_defaults(func=cmd_token)
    p.add_argument("token_id", type=int)

    rules = sub.add_parser("rules", help="routing rules", description="routing rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    for name, help_ in (
        ("test", "show what the rules decide for sample contacts or recent ones"),
        ("replay", "replay a draft rule file over the last days' contacts (writes nothing)"),
        ("export", "print the rules as YAML"),
        ("import", "save a YAML rule file as the next version"),
        ("history", "list the saved versions with their diffs"),
        ("restore", "save an old version as the next version"),
    ):
        p = rules_sub.add_parser(name, help=help_, add_help=False)
        p.set_defaults(func=cmd_rules, delegates=True)

    p = sub.add_parser("ami-sim", help="run the AMI simulator (replay or generated load)", add_help=False)
    p.set_defaults(func=cmd_ami_sim, delegates=True)

    p = add("bench", cmd_bench, "run a benchmark; prints one JSON object on its last line")
    p.add_argument("name", choices=sorted(BENCHMARKS))
    p.set_defaults(delegates=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # Delegating commands (bench, ami-sim, rules ...) parse their own options.
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "delegates", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    try:
        result: int = args.func(args)
    except Exception as exc:
        from config.startup_errors import startup_problem

        problem = startup_problem(exc)
        if problem is None:
            raise
        print(f"frontdesk {args.command}: {problem}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
