"""``parley serve``: load the example into an empty store, then serve the HTTP API."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args, get_origin

import httpx
from pydantic import ValidationError

from api.cli.common import Subcommands, console, errors
from api.cli.load import load_file
from api.settings import Settings
from api.tokens import admin_token
from api.version import version
from store.loader import slug_for
from store.log import ConflictLog


def _example_missing(log: ConflictLog, example: Path) -> bool:
    """Load the example into an empty store, or finish loading it: a load that a crash
    cut short left fewer events than the file has (loading is idempotent)."""
    if log.last_position() == 0:
        return True
    if not example.exists():
        return False
    with example.open("rb") as lines:
        expected = sum(1 for line in lines if line.strip())
    return 0 < log.version_of(slug_for(example)) < expected


SECRETS = frozenset({"admin_token", "read_token"})
"""Settings with no flag: a token on the command line is in every user's ``ps``."""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _variable(name: str) -> str:
    return f"PARLEY_{name.upper()}"


def _shown(default: object) -> str:
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return "off" if not default else "on"
    return str(default)


def add_setting_flags(serve: argparse.ArgumentParser) -> None:
    """One flag per ``Settings`` field (but the tokens), so that they cannot drift: its
    help gives the field's description, its default and its ``PARLEY_*`` variable."""
    flags = serve.add_argument_group(
        "settings",
        "each flag overrides its PARLEY_* variable; tokens come only from "
        "the environment (PARLEY_ADMIN_TOKEN, PARLEY_READ_TOKEN)",
    )
    for name, field in Settings.model_fields.items():
        if name in SECRETS:
            continue
        about = field.description or name.replace("_", " ")
        text = f"{about} (default: {_shown(field.default)}; {_variable(name)})"
        text = text.replace("%", "%%")
        if field.annotation is bool:
            flags.add_argument(_flag(name), dest=name, action="store_true", default=None, help=text)
            continue
        choices = get_args(field.annotation) if get_origin(field.annotation) is Literal else None
        flags.add_argument(_flag(name), dest=name, metavar=name.upper(), choices=choices, help=text)


def settings_from(args: argparse.Namespace) -> Settings | None:
    """The settings, each flag given written over its variable (the workers, which
    read the environment, see it too); ``None`` once each invalid value is printed."""
    for name in Settings.model_fields:
        value = getattr(args, name, None)
        if value is not None:
            os.environ[_variable(name)] = "1" if value is True else str(value)
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "?"
            given = _flag(name) if getattr(args, name, None) is not None else _variable(name)
            errors.print(f"{given}: {problem['msg']}", soft_wrap=True, highlight=False)
        return None


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts (``OSError`` if it cannot be)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's backlog: clients wait here while the app starts
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)  # the workers serve it
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def announce_when_answering(host: str, port: int, banner: Callable[[], None]) -> None:
    """Print ``banner`` once this server answers ``/health`` with its store open: the
    socket is bound and listening, and the app (every worker's, or the first) started."""
    local = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    health = f"{_url(local, port)}/health"

    def wait() -> None:
        while True:
            try:
                answer = httpx.get(health, timeout=5)
                if answer.status_code == 200 and answer.json().get("backend") != "starting":
                    banner()
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)

    threading.Thread(target=wait, name="parley-banner", daemon=True).start()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from api.signing import signing_key

    settings = settings_from(args)
    if settings is None:
        return 2
    try:
        listening = bind(settings.host, settings.port)
    except OSError as error:
        reason = error.strerror or str(error)
        if error.errno == errno.EADDRINUSE:
            line = f"port {settings.port} on {settings.host} is in use: {reason}"
        else:
            line = f"cannot listen on {settings.host} port {settings.port}: {reason}"
        errors.print(line, soft_wrap=True, highlight=False, markup=False)
        return 1
    config = settings.store_config()
    signing_key(settings.signing_key_file, new_key=settings.new_signing_key)  # before workers
    with ConflictLog(config) as log:
        if settings.example and _example_missing(log, settings.example):
            if settings.example.exists():
                load_file(log, settings.example, None)
            else:
                errors.print(f"example {settings.example} not found; starting empty")
    token = admin_token(settings)
    base = _url(settings.host, settings.port)

    def banner() -> None:
        console.print(f"\n[bold]Parley[/bold] {version()} is serving {config.describe()}")
        console.print(f"  URL:    {base}")
        console.print(f"  docs:   {base}/docs")
        console.print(f"  token:  {token}")
        console.print(f"  try:    curl {base}/negotiations\n")

    if settings.workers > 1:  # every worker's figures, added up at /metrics
        from api.multiprocess import prepare_multiprocess

        prepare_multiprocess(settings.data_dir, settings.port)
    server_config = uvicorn.Config(
        "api.http.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        access_log=False,
        # No "server: uvicorn": the EventSourcingDB-compatible routes (/api/v1) name
        # their own server, and EventSourcingDB's SDKs read the first such header.
        server_header=False,
        # Live streams never end by themselves: give them 5 s, then close them.
        timeout_graceful_shutdown=5,
        # A bounded request head: httptools has no limit of its own (api/http/protocol.py).
        http="api.http.protocol:BoundedHttpToolsProtocol",
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
    server = uvicorn.Server(server_config)
    announce_when_answering(settings.host, settings.port, banner)
    try:
        if server_config.workers > 1:
            Multiprocess(server_config, sockets=[listening]).run()
        else:
            server.run(sockets=[listening])
    except KeyboardInterrupt:
        pass
    finally:
        listening.close()
    if server_config.workers == 1 and not server.started:
        return 1  # the app failed to start; uvicorn logged why
    return 0


def add_serve(commands: Subcommands) -> None:
    serve = commands.add_parser(
        "serve",
        help="start the HTTP API (flags or PARLEY_* variables)",
        description="Start the HTTP API. Each setting is a flag or a PARLEY_* variable; "
        "the flag wins. The banner prints once the server answers.",
    )
    add_setting_flags(serve)
    serve.set_defaults(run=cmd_serve)
