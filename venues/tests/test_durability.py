"""Issue 4 item 11, for real: the server (granian, as `make run` starts it) serving the test database is
killed with SIGKILL (main process and workers at once) while check-ins are in flight; every check-in it
had answered is in the database, and a retry with the same client key after a restart is answered the
same way."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from accounts.services import api_token_create
from audit.services import Actor
from venues.models import CheckIn, CheckinRequest

ROOT = Path(__file__).resolve().parents[2]
ANSWERED_BEFORE_KILL = 40
CLIENTS = 4

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Server:
    """The server as ``make run`` starts it (``python -m config.serve``), on a free port, over the test
    database."""

    def __init__(self) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "FANGYI_ENV": "test",
            "DATABASE_URL": _database_url(),
            "SECRET_KEY": settings.SECRET_KEY,  # venue codes are signed with it
            "FANGYI_BIND": f"127.0.0.1:{self.port}",
            "FANGYI_WORKERS": "2",
            "FANGYI_THREADS": "4",
            "FANGYI_ADMISSION_MAX": "0",  # nothing refused: every request must be answered 200
            "FANGYI_RETENTION_HOUR": "off",
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        self.proc = subprocess.Popen(  # noqa: S603 (a fixed argument list)
            [str(ROOT / ".venv/bin/python"), "-m", "config.serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: one killpg reaches the server and its workers
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/v/ping/")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)  # polling for readiness, bounded by the deadline
        self.kill()
        raise RuntimeError("the server did not answer within 30 s")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no atexit, no flush the server could still do."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def checkin(self, bearer: str, code: str, key: str) -> tuple[int, Any]:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request(
                "POST",
                "/api/v1/venues/checkins",
                body=json.dumps({"code": code, "client_key": key}),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {bearer}"},
            )
            r = c.getresponse()
            return r.status, json.loads(r.read())
        finally:
            c.close()


@pytest.fixture
def bearer(resident: Any) -> str:
    return api_token_create(actor=Actor.system(), user=resident, name="durability")[1]


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.kill()


def test_killing_the_server_right_after_its_answers_loses_nothing(
    bearer: str, token: str, person_a: Any, servers: list[Server]
) -> None:
    server = Server()
    servers.append(server)
    answered: dict[str, Any] = {}
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            key = f"kill-{n}-{i:06d}"
            try:
                status, body = server.checkin(bearer, token, key)
            except (OSError, http.client.HTTPException, ValueError):
                return  # the server died under this request: it was never answered
            assert status == 200, body
            with lock:
                answered[key] = body
                if len(answered) >= ANSWERED_BEFORE_KILL:
                    enough.set()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    assert enough.wait(timeout=60), f"only {len(answered)} answers in 60 s"
    server.kill()  # requests of the other clients are still in flight
    stop.set()
    for t in threads:
        t.join(timeout=15)
    with lock:
        answers = dict(answered)

    assert len(answers) >= ANSWERED_BEFORE_KILL
    recorded = set(CheckinRequest.objects.filter(client_key__in=answers).values_list("client_key", flat=True))
    assert recorded == set(answers)  # every answered check-in survived the kill
    rows = CheckIn.objects.filter(scan_key__in=answers, person_id=person_a.pk)
    assert rows.count() == len(answers)

    restarted = Server()
    servers.append(restarted)
    for key, first in sorted(answers.items())[:10]:
        status, again = restarted.checkin(bearer, token, key)
        assert status == 200
        assert again["replayed"] is True
        assert again["scan_key"] == first["scan_key"] and again["entries"] == first["entries"]
    assert CheckIn.objects.filter(scan_key__in=answers).count() == len(answers)  # the retries wrote nothing
    restarted.kill()
