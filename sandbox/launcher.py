"""Run any set of sandboxes in one process, each on its own port on 127.0.0.1.

    python -m sandbox.launcher --shopify 8101 --crm 8102 --templates 8103 --stripe 8104 \
        --mail 8105 --mail-smtp 8106 [--host 127.0.0.1] [--app-url URL] [--state-dir DIR]

Each sandbox registers a factory in SANDBOXES; the CLI grows a `--NAME PORT` flag for
each, so adding a sandbox is one entry here. `build_sandbox` gives test
fixtures the same apps the launcher serves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from litestar import Litestar

from sandbox.crm import CrmSandboxConfig, create_crm_sandbox
from sandbox.shopify.app import create_shopify_sandbox
from sandbox.shopify.config import ShopifySandboxConfig
from sandbox.templates_service import TemplatesSandboxConfig, create_templates_sandbox

DEFAULT_HOST = "127.0.0.1"
DEFAULT_APP_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class SandboxOptions:
    """What every sandbox factory gets: where it is served and where the app lives."""

    public_url: str
    app_url: str = DEFAULT_APP_URL
    state_dir: Path | None = None
    # The app's application URL (shopify.app.toml), which the Shopify sandbox's store admin
    # loads in its iframe; None: `{app_url}/`.
    shopify_application_url: str | None = None
    # Where the mail sandbox takes SMTP (0: any free port); its page is on its own port.
    smtp_port: int = 0
    # The topics of the app's app-specific subscriptions (shopify.app.toml), which the Shopify
    # sandbox delivers to every shop the app is installed on, beside the shops' own subscriptions.
    shopify_app_webhook_topics: tuple[str, ...] = ()

    def state_file(self, name: str) -> Path | None:
        return self.state_dir / f"{name}.json" if self.state_dir is not None else None

    @property
    def app_jwks_url(self) -> str:
        """Where the app publishes the keys that sign its JWT bearer assertions."""
        return f"{self.app_url.rstrip('/')}/.well-known/jwks.json"


SandboxFactory = Callable[[SandboxOptions], Litestar]


def _shopify(options: SandboxOptions) -> Litestar:
    return create_shopify_sandbox(
        ShopifySandboxConfig(
            app_url=options.app_url,
            application_url=options.shopify_application_url,
            public_url=options.public_url,
            state_file=options.state_file("shopify"),
            app_webhook_topics=options.shopify_app_webhook_topics,
        )
    )


def _crm(options: SandboxOptions) -> Litestar:
    return create_crm_sandbox(
        CrmSandboxConfig(
            public_url=options.public_url,
            app_jwks_url=options.app_jwks_url,
            state_file=options.state_file("crm"),
        )
    )


def _templates(options: SandboxOptions) -> Litestar:
    return create_templates_sandbox(
        TemplatesSandboxConfig(
            public_url=options.public_url,
            app_jwks_url=options.app_jwks_url,
            state_file=options.state_file("templates"),
        )
    )


def _stripe(options: SandboxOptions) -> Litestar:
    from sandbox.stripe import StripeSandboxConfig, WebhookEndpointConfig, create_stripe_sandbox

    return create_stripe_sandbox(
        StripeSandboxConfig(
            public_url=options.public_url,
            webhook_endpoints=(WebhookEndpointConfig(f"{options.app_url.rstrip('/')}/webhooks/stripe"),),
            state_file=options.state_file("stripe"),
        )
    )


def _mail(options: SandboxOptions) -> Litestar:
    from sandbox.mail import MailSandboxConfig, create_mail_sandbox

    host = options.public_url.split("//", 1)[1].rsplit(":", 1)[0].strip("[]")
    return create_mail_sandbox(MailSandboxConfig(host=host, smtp_port=options.smtp_port))


# The launcher starts them (and prints their lines) in this order.
SANDBOXES: dict[str, SandboxFactory] = {
    "shopify": _shopify,
    "crm": _crm,
    "templates": _templates,
    "stripe": _stripe,
    "mail": _mail,
}


def build_sandbox(name: str, options: SandboxOptions) -> Litestar:
    """The app of sandbox `name`, e.g. for an in-process test fixture."""
    try:
        factory = SANDBOXES[name]
    except KeyError:
        raise ValueError(f"unknown sandbox {name!r}; known: {sorted(SANDBOXES)}") from None
    return factory(options)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the launcher, which stops every server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    # Bound before the app is built so port 0 works: the app must know its own URL.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


async def serve(
    ports: dict[str, int],
    *,
    host: str = DEFAULT_HOST,
    app_url: str = DEFAULT_APP_URL,
    state_dir: Path | None = None,
    shopify_application_url: str | None = None,
    shopify_app_webhook_topics: tuple[str, ...] = (),
    smtp_port: int = 0,
) -> None:
    """Serve the named sandboxes until SIGINT/SIGTERM; prints one line per sandbox."""
    servers: list[tuple[_Server, socket.socket]] = []
    urls: list[tuple[str, str]] = []
    for name, port in ports.items():
        sock = _bind(host, port)
        actual_port = sock.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        public_url = f"http://{url_host}:{actual_port}"
        app = build_sandbox(
            name,
            SandboxOptions(
                public_url, app_url, state_dir, shopify_application_url, smtp_port, shopify_app_webhook_topics
            ),
        )
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        servers.append((_Server(config), sock))
        urls.append((name, public_url))

    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server, _sock in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
    try:
        while not all(server.started for server, _ in servers):
            if any(t.done() for t in tasks):
                break  # a server failed to start; gather below reports why
            await asyncio.sleep(0.05)
        else:
            for name, url in urls:
                print(f"{name} sandbox: {url}", flush=True)
        await asyncio.gather(*tasks)
    finally:
        stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        for _server, sock in servers:
            sock.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.launcher",
        description="Run local sandboxes of the systems the app talks to.",
    )
    for name in SANDBOXES:
        parser.add_argument(
            f"--{name}", type=int, metavar="PORT", help=f"serve the {name} sandbox on PORT (0: any)"
        )
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to bind (default %(default)s)")
    parser.add_argument("--app-url", default=DEFAULT_APP_URL, help="the app's base URL")
    parser.add_argument(
        "--shopify-application-url",
        default=None,
        help="the app's application URL, opened in the Shopify store admin's iframe (default: {app-url}/)",
    )
    parser.add_argument(
        "--shopify-app-webhook-topic",
        action="append",
        default=[],
        metavar="TOPIC",
        help="a topic of the app's app-specific subscriptions (shopify.app.toml); repeat for each",
    )
    parser.add_argument(
        "--mail-smtp", type=int, default=0, metavar="PORT", help="the mail sandbox's SMTP port (default: any)"
    )
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="keep sandbox state here across restarts"
    )
    args = parser.parse_args(argv)
    if not any(getattr(args, name) is not None for name in SANDBOXES):
        parser.error("choose at least one sandbox: " + " ".join(f"--{n} PORT" for n in SANDBOXES))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ports = {name: getattr(args, name) for name in SANDBOXES if getattr(args, name) is not None}
    try:
        asyncio.run(
            serve(
                ports,
                host=args.host,
                app_url=args.app_url,
                state_dir=args.state_dir,
                shopify_application_url=args.shopify_application_url,
                smtp_port=args.mail_smtp,
                shopify_app_webhook_topics=tuple(args.shopify_app_webhook_topic),
            )
        )
    except OSError as exc:  # typically: the port is taken
        print(f"sandbox launcher: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
