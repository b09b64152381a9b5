"""The data dir is 0700 and the SQLite database 0600, whatever the umask (#12 item 8)."""

import os
import stat

import pytest

from hub.core import Hub
from tests.conftest import make_settings


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """The loosest umask a careless shell could have; restored afterwards."""
    old = os.umask(0)
    yield
    os.umask(old)


async def test_data_dir_and_database_are_private_whatever_the_umask(tmp_path, open_umask):
    data = tmp_path / "var"
    hub = await Hub.open(make_settings(data))
    try:
        async with hub.db.session() as session:  # a write, so the WAL exists
            from hub import heartbeats
            await heartbeats.beat(session, "test", hub.now())
        assert mode(data) == 0o700
        files = sorted(p.name for p in data.iterdir() if p.name.startswith("gridcast.db"))
        assert "gridcast.db" in files and "gridcast.db-wal" in files
        for name in files:
            assert mode(data / name) == 0o600, name
    finally:
        await hub.close()


async def test_an_existing_loose_data_dir_is_tightened(tmp_path, open_umask):
    data = tmp_path / "var"
    data.mkdir(mode=0o777)
    (data / "gridcast.db").touch(mode=0o666)
    hub = await Hub.open(make_settings(data))
    await hub.close()
    assert mode(data) == 0o700
    assert mode(data / "gridcast.db") == 0o600
