from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.control.helpers import Served, serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One daemon for the module: the tests use distinct clients and addresses."""
    instance = serve(tmp_path_factory.mktemp("ctl"))
    yield instance
    instance.relay.close()
    instance.daemon.stop()
