"""Client and AsyncClient mirror each other: the same public methods, with the same
parameters (names, kinds, defaults), so a script moves between them by adding `await`."""

from __future__ import annotations

import inspect

import tether

# Offered by the async client only, as asyncio.open_connection is.
ASYNC_ONLY = {"open_connection"}


def public(cls: type) -> dict[str, object]:
    return {n: m for n, m in vars(cls).items() if not n.startswith("_")}


def test_the_clients_have_the_same_public_methods():
    sync, aio = public(tether.Client), public(tether.AsyncClient)
    assert set(sync) == set(aio) - ASYNC_ONLY


def test_every_method_takes_the_same_parameters():
    aio = public(tether.AsyncClient)
    for name, method in public(tether.Client).items():
        if isinstance(method, property):
            assert isinstance(aio[name], property), name
            continue
        sync_params = inspect.signature(method).parameters  # type: ignore[arg-type]
        aio_params = inspect.signature(aio[name]).parameters  # type: ignore[arg-type]
        assert [(p.name, p.kind, p.default) for p in sync_params.values()] == [
            (p.name, p.kind, p.default) for p in aio_params.values()
        ], name


def test_the_streams_mirror_each_other_too():
    pairs = [
        (tether.DialStream, tether.AsyncDialStream),
        (tether.Process, tether.AsyncProcess),
        (tether.Attachment, tether.AsyncAttachment),
    ]
    for sync, aio in pairs:
        wanted = {n for n in public(sync) if n not in ("readable", "writable")}
        assert wanted <= set(public(aio)) | {"stdout", "stderr", "stdin"}, (sync, aio)
