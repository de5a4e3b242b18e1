"""`kodisc serve` (the local server in the foreground) and `kodisc keys create|set-webhook`.

`serve` prints exactly `KODISC_BASE_URL=...` and `KODISC_API_KEY=...` as its first two stdout
lines (so a script can `export` them), then one human line with the webhook secret and data dir.
As a JupyterHub service (`--jupyterhub`) it prints `KODISC_BASE_URL=...` (the URL students use)
and one human line: students sign in with their hub token, and no key is printed for the hub's log.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._argtypes import fraction, non_negative_int, non_negative_number, port, positive_int, positive_seconds, seconds_list, seconds_range
from .._paths import data_dir as default_data_dir
from .._redact import redact
from .exit_codes import EXIT_BAD_INPUT, EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="run a local Kodisc-compatible server (renders with Manim)",
                                  description="Run a local Kodisc-compatible server until Ctrl-C.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=port, default=None,
                       help="port (default 8765, or JUPYTERHUB_SERVICE_URL's with --jupyterhub; 0 = any free port)")
    _data_dir_option(serve)
    serve.add_argument("--credits", type=non_negative_int, default=None,
                       help="paid credits of the first user, when it is created (default 10000)")
    serve.add_argument("--free-credits", type=non_negative_int, default=None,
                       help="monthly free allowance of every user (default 1000)")
    serve.add_argument("--workers", type=positive_int, default=None, help="renders at once (default: CPU count)")
    serve.add_argument("--per-user", type=positive_int, default=None, metavar="N",
                       help="renders of one user at once (default: every worker while only the first user has "
                            "work, all but one (at least 1) once another user has)")
    serve.add_argument("--renderer", choices=("manim", "simulate", "kodisc"), default="manim",
                       help="manim (default), simulate (no Manim: for benchmarks and fast tests) or kodisc (a gateway: "
                            "forwards every job to Kodisc with your key, paying once per identical render)")
    serve.add_argument("--render-timeout", type=positive_seconds, default=None, help="seconds before a render is stopped")
    serve.add_argument("--warm", type=non_negative_int, default=None, metavar="N",
                       help="sandboxed workers kept waiting with Manim imported, one job each (default 2 when renders "
                            "split, else 1; 0 = off)")
    serve.add_argument("--no-split", action="store_true",
                       help="render each scene on one worker (default: a long scene also renders on the workers "
                            "no queued job can use; see docs/server.md)")
    serve.add_argument("--cache-size", type=non_negative_int, default=None, metavar="MB",
                       help="Manim's partial-movie cache across renders, per user and scene, LRU-capped at MB "
                            "megabytes (default 1024; 0 = off)")
    serve.add_argument("--max-job-mb", type=positive_int, default=None, metavar="N",
                       help="megabytes one render may write; past it the job fails (default 1024)")
    serve.add_argument("--no-sandbox", action="store_true",
                       help="render every user's scenes without bubblewrap (default: sandbox with bwrap; without "
                            "it, only the first user's scenes render)")
    serve.add_argument("--allow-http-webhooks", action="store_true",
                       help="also deliver webhooks to http://127.0.0.1 and http://localhost handlers")
    serve.add_argument("--webhook-retry-delays", type=seconds_list, default=None, metavar="S,S,S",
                       help="webhook retries, seconds after the first attempt (default 30,300,1800)")
    group = serve.add_argument_group("a class (docs/server.md, Running a class)")
    group.add_argument("--upstream-concurrency", type=positive_int, default=None, metavar="N",
                       help="--renderer kodisc: jobs sent to Kodisc at once (default 4)")
    group.add_argument("--exchange-rate", type=non_negative_number, default=None, metavar="RATE",
                       help="--renderer kodisc: the students' credits charged per Kodisc credit (default 1)")
    group.add_argument("--metadata-policy", choices=("exact", "ignore"), default=None,
                       help="--renderer kodisc: whether two renders with different metadata are different renders "
                            "(exact, the default) or the same (ignore: Kodisc only echoes metadata)")
    group.add_argument("--jupyterhub", action="store_true",
                       help="run as a JupyterHub-managed service: hub users sign in with their hub token")
    group.add_argument("--credits-per-user", type=non_negative_int, default=None, metavar="N",
                       help="--jupyterhub: paid credits a hub user gets on first use (default 0)")
    faults = serve.add_argument_group("faults (for testing clients; all off by default)")
    faults.add_argument("--fault-5xx-rate", type=fraction, default=0.0, help="fraction of API requests answered 5xx")
    faults.add_argument("--fault-drop-rate", type=fraction, default=0.0,
                        help="fraction of API requests whose connection is closed unanswered (no job created)")
    faults.add_argument("--fault-drop-after-create-rate", type=fraction, default=0.0,
                        help="fraction of POSTs closed unanswered after the job was created")
    faults.add_argument("--fault-latency", type=seconds_range, default=(0.0, 0.0), metavar="LOW,HIGH",
                        help="random extra latency in seconds per API request")
    faults.add_argument("--fault-seed", type=int, default=None, help="seed for reproducible faults")
    serve.set_defaults(run=run_serve)

    keys = subparsers.add_parser("keys", help="manage the local server's users and keys",
                                 description="Manage the local server's users and keys (works while it runs).")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    create = key_commands.add_parser("create", help="add a user with its own key; prints KODISC_API_KEY=...")
    _data_dir_option(create)
    create.add_argument("--credits", type=non_negative_int, default=0, help="the new user's paid credits (default 0)")
    create.set_defaults(run=run_keys_create)
    webhook = key_commands.add_parser("set-webhook", help="set a key's default webhook URL ('none' to clear)")
    webhook.add_argument("url", help="https:// URL used when a render has no webhookUrl, or 'none'")
    webhook.add_argument("--key", default=None, metavar="KEY",
                         help="the key's id (k_...), prefix (kdsc_live_xxxx) or whole value; "
                              "default: the first user's key")
    _data_dir_option(webhook)
    webhook.set_defaults(run=run_keys_set_webhook)


def _data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="the server's data (default: <kodisc data dir>/server; KODISC_HOME moves it)")


def run_serve(args: argparse.Namespace) -> int:
    from ..server._local import LocalServer
    from ..server._options import ServerOptions
    from ..server._tex import find_tex, no_tex_message

    given = {"credits": args.credits, "free_credits": args.free_credits, "workers": args.workers,
             "per_user": args.per_user,
             "render_timeout": args.render_timeout, "webhook_retry_delays": args.webhook_retry_delays,
             "job_bytes": None if args.max_job_mb is None else args.max_job_mb * 1024**2,
             "warm": args.warm, "cache_size": None if args.cache_size is None else args.cache_size * 1024**2,
             "upstream_concurrency": args.upstream_concurrency, "exchange_rate": args.exchange_rate,
             "metadata_policy": args.metadata_policy, "credits_per_user": args.credits_per_user}
    try:
        host, port_number = _address(args)
        options = ServerOptions.of(
            host=host, port=port_number, renderer=args.renderer, jupyterhub=args.jupyterhub, allow_http_webhooks=args.allow_http_webhooks,
            fault_5xx_rate=args.fault_5xx_rate, fault_drop_rate=args.fault_drop_rate,
            fault_drop_after_create_rate=args.fault_drop_after_create_rate, fault_latency=args.fault_latency,
            fault_seed=args.fault_seed, sandbox=False if args.no_sandbox else None, split=not args.no_split,
            **{name: value for name, value in given.items() if value is not None})
        server = LocalServer(args.data_dir, options)
    except (OSError, ValueError) as exc:
        print(f"kodisc serve: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    def announce() -> None:  # printed once it answers and Ctrl-C stops it cleanly
        print(f"KODISC_BASE_URL={server.base_url}", flush=True)
        renders = f"forwarding to Kodisc at {server.upstream_url}" if server.upstream_url else args.renderer
        if args.jupyterhub:
            print(f"Kodisc JupyterHub service ({renders}) serving; hub users sign in with their server's token and "
                  f"get {options.credits_per_user} credits on first use; data in {server.data_dir}.", flush=True)
        else:
            print(f"KODISC_API_KEY={server.api_key}", flush=True)
            print(f"Local Kodisc ({renders}) serving; webhook secret {server.webhook_secret}; "
                  f"data in {server.data_dir}. Ctrl-C stops it.", flush=True)
        if server.limits:
            print(server.limits, flush=True)
        if server.cleaned:
            print(server.cleaned, flush=True)
        tex = find_tex().missing if args.renderer == "manim" and not server.upstream_url else ()
        if tex:
            print(no_tex_message(tex), file=sys.stderr, flush=True)
        if server.sandbox_problem and not args.no_sandbox:
            print(f"Renders are not sandboxed ({server.sandbox_problem}): only the first user's scenes render; "
                  "--no-sandbox renders everyone's.", file=sys.stderr, flush=True)

    server.serve(on_ready=announce)
    return EXIT_OK


def _address(args: argparse.Namespace) -> tuple[str, int]:
    """--host/--port; as a hub service, where JUPYTERHUB_SERVICE_URL says the hub's proxy sends requests."""
    if args.jupyterhub:
        from ..server._hub import HubSettings

        listen = HubSettings.from_env().listen_address()
        if listen is not None:
            host = args.host if args.host != "127.0.0.1" else listen[0]
            return host, args.port if args.port is not None else listen[1]
    return args.host, 8765 if args.port is None else args.port


def run_keys_create(args: argparse.Namespace) -> int:
    store = _open_store(args.data_dir)
    try:
        creds = store.create_user(args.credits)
    finally:
        store.close()
    print(f"KODISC_API_KEY={creds.api_key}", flush=True)
    print(f"New user {creds.user_id} (key {creds.key_id}), webhook secret {creds.webhook_secret}.", flush=True)
    return 0


def run_keys_set_webhook(args: argparse.Namespace) -> int:
    from ..server._delivery import webhook_url_problem

    url = None if args.url.lower() == "none" else args.url
    problem = url and webhook_url_problem(url, allow_http=True)
    if problem:
        print(f"kodisc keys set-webhook: {redact(problem)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    store = _open_store(args.data_dir)
    try:
        key = store.find_key(args.key) if args.key else _owner_key(store, args.data_dir)
        store.set_default_webhook(key.key_id, url)
    except ValueError as exc:
        print(f"kodisc keys set-webhook: {redact(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        store.close()
    print(f"Default webhook of {key.prefix} ({key.key_id}): {url or 'none'}.")
    return 0


def server_dir(data_dir: str | None):
    return Path(data_dir).expanduser() if data_dir else default_data_dir() / "server"


def _open_store(data_dir: str | None):
    from ..server._pricing import DEFAULT_MONTHLY_FREE_CREDITS
    from ..server._store import Store

    folder = server_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Store(folder / "server.sqlite3", monthly_free_credits=DEFAULT_MONTHLY_FREE_CREDITS)


def _owner_key(store, data_dir: str | None):
    owner_file = server_dir(data_dir) / "owner.json"
    if not owner_file.is_file():
        raise ValueError(f"no server has started with data dir {owner_file.parent} yet; run `kodisc serve` first "
                         "or pass --key.")
    try:
        key_id = json.loads(owner_file.read_text(encoding="utf-8"))["key_id"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{owner_file} is unreadable ({type(exc).__name__}); pass --key, or restart "
                         "`kodisc serve` after restoring or deleting it.") from None
    return store.key_by_id(key_id)
