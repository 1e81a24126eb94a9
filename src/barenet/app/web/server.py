"""``barenet serve [MODEL]``: start the local web app."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def choose_model(model_path, train: bool):
    """Return (model, a sentence saying where it comes from): the file's, the cached, a new or the shipped one."""
    from ...training.storage import load
    from .default_model import SHIPPED, cached_path, train_default_model

    if model_path:
        return load(model_path), f"the model in {model_path}"
    cache = cached_path()
    if train:
        print(f"training a model for the page (MNIST and synthetic drawings, with augmentation); it will be cached at "
              f"{cache}", flush=True)
        return train_default_model(cache), f"a model trained just now, cached at {cache}"
    if cache.is_file():
        return load(cache), f"the model trained earlier by 'barenet serve --train', cached at {cache}"
    return load(SHIPPED), "the model that ships with barenet (a small CNN trained on MNIST and drawings, with augmentation)"


def raise_open_file_limit(wanted: int = 65536) -> int:
    """Lift this process's soft limit on open files towards ``wanted`` (within the hard limit).

    So that a thousand idle or stalled clients hold sockets without starving the others (they are
    dropped after the body timeout). Returns the soft limit now in force (-1 where unknown).
    """
    try:
        import resource
    except ImportError:  # not on this platform
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def return_freed_memory_to_the_system(threshold: int = 1 << 20) -> bool:
    """Have glibc's malloc serve blocks of ``threshold`` bytes or more with their own mappings.

    So that the arrays of a large drawing go back to the system when the request ends. glibc raises
    this threshold by itself after big blocks are freed, and then keeps the freed memory in its
    heaps: a server that prepared a few 2000×2000 drawings at once would hold hundreds of MiB long
    after. Returns False where the C library is not glibc.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(-3, threshold))  # M_MMAP_THRESHOLD; fixing it stops the raising
    except (OSError, AttributeError):
        return False


def serve_config(app, host: str = "127.0.0.1", port: int = 8000, *, max_connections: int | None = None,
                 header_timeout: float | None = None, log_level: str = "warning"):
    """Return the uvicorn configuration ``barenet serve`` runs ``app`` with (tests start it the same way).

    The connection cap defaults to ``guard.MAX_CONNECTIONS`` within the open-file limit, less room
    for the files the server itself opens; the header deadline to ``guard.HEADER_TIMEOUT_S``.
    uvicorn's own logging configuration is left out: ``main`` sends the server's warnings through
    the throttled handler of ``guard.configure_logging``.
    """
    import uvicorn

    from . import guard

    if max_connections is None:
        files = raise_open_file_limit(wanted=0)  # reads the limit, changes nothing
        room = guard.MAX_CONNECTIONS if files < 0 else files - 64
        max_connections = max(16, min(guard.MAX_CONNECTIONS, room))
    protocol = guard.guarded_protocol(max_connections, header_timeout or guard.HEADER_TIMEOUT_S)
    return uvicorn.Config(app, host=host, port=port, http=protocol, log_config=None, log_level=log_level,
                          timeout_keep_alive=5)


def build_parser():
    """Return ``barenet serve``'s parser."""
    parser = argparse.ArgumentParser(prog="barenet serve", description="Draw digits for a model in your browser, "
                                     "and watch models learn. Serves on this machine only unless --host says otherwise.")
    parser.add_argument("model", nargs="?", help="a model file (default: a cached or the shipped MNIST model)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=_port, default=8000, help="port to listen on, 1 to 65535 (default 8000)")
    parser.add_argument("--train", action="store_true", help="train a fresh default model first (needs MNIST)")
    return parser


def main(argv=None) -> int:
    """Run ``barenet serve`` with the words ``argv``; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        import uvicorn

        from .app import create_app
    except ImportError as error:
        print(f"barenet serve needs the web extra: pip install 'barenet[web]' ({error})", file=sys.stderr)
        return 1
    if args.model and not Path(args.model).is_file():
        print(f"barenet serve: error: no model file at {args.model}", file=sys.stderr)
        return 2
    try:
        model, source = choose_model(args.model, args.train)
        app = create_app(model, source)
    except ValueError as error:
        print(f"barenet serve: error: {error}", file=sys.stderr)
        return 2
    try:
        listening = listen(args.host, args.port)
    except OSError as error:  # the port is taken, not ours to take, or the host is not an address here
        print(f"barenet serve: error: cannot listen on {args.host}:{args.port}: "
              f"{error.strerror or error}", file=sys.stderr)
        return 2
    accuracy = ((getattr(model, "metadata", None) or {}).get("test") or {}).get("accuracy")
    print(f"serving {source}" + (f", test accuracy {accuracy:.2%}" if accuracy else ""), flush=True)
    print(f"open http://{args.host}:{args.port}/ in a browser (Ctrl-C stops)", flush=True)
    raise_open_file_limit()
    return_freed_memory_to_the_system()
    from .guard import configure_logging
    configure_logging()
    uvicorn.Server(serve_config(app, args.host, args.port)).run(sockets=[listening])
    return 0


def _port(text):
    try:
        port = int(text)
    except ValueError:
        port = None
    if port is None or not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {text!r}")
    return port


def listen(host: str, port: int):
    """Return a socket bound to (host, port), listening: the server is only said to be up once it is."""
    import socket

    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listening = socket.socket(family, kind, proto)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        listening.listen(2048)
    except OSError:
        listening.close()
        raise
    listening.set_inheritable(True)
    return listening
