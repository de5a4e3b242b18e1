"""`kodisc serve --renderer kodisc`: a class's gateway, against an upstream that is our own simulated server.

The upstream is reached as Kodisc would be (KODISC_BASE_URL, the teacher's KODISC_API_KEY); its
`job_count()` counts the gateway's POSTs.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from server_helpers import Serve, User

from kodisc_jupyter.client import InsufficientCreditsError, NotFoundError
from kodisc_jupyter.server import start_local_server
from kodisc_jupyter.server._store import Store

LESSON = "from manim import *\n\nclass Lesson(Scene):\n    def construct(self):\n        self.wait({n})\n"


def lesson(n: int = 1) -> str:
    return LESSON.format(n=n)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """The 'Kodisc' the gateway forwards to: its first user is the teacher."""
    with start_local_server(tmp_path_factory.mktemp("upstream"), renderer="simulate", workers=8) as server:
        yield server


def gateway_env(upstream, home: Path, base_url: str | None = None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("KODISC_", "JUPYTERHUB_"))}
    return {**env, "KODISC_HOME": str(home), "KODISC_API_KEY": upstream.api_key,
            "KODISC_BASE_URL": base_url or upstream.base_url}


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory):
    """`kodisc serve --renderer kodisc` in a subprocess, students without a monthly allowance."""
    folder = tmp_path_factory.mktemp("gateway")
    server = Serve(folder / "data", "--renderer", "kodisc", "--free-credits", "0", "--upstream-concurrency", "4",
                   env=gateway_env(upstream, folder / "home"))
    server.data_dir = folder / "data"
    yield server
    server.stop()


@pytest.fixture
def student(gateway):
    """`student(credits=100) -> User` on the gateway (what `kodisc keys create --credits N` makes)."""
    made: list[User] = []

    def make(credits: int = 100) -> User:
        store = Store(gateway.data_dir / "server.sqlite3", monthly_free_credits=0)
        try:
            made.append(User(gateway, store.create_user(credits).api_key))
        finally:
            store.close()
        return made[-1]

    yield make
    for user in made:
        user.close()


def test_a_job_goes_upstream_with_the_teachers_key_which_no_student_byte_holds(gateway, upstream, student):
    """Every byte a student sees, the gateway's files, and (test_the_gateways_output...) its output."""
    alice = student()
    before, teacher_before = upstream.job_count(), User(upstream).credits().total
    posted = alice.post({"code": lesson(101), "className": "Lesson", "quality": "low"})
    job_id = posted.json()["jobId"]
    done = alice.wait(job_id)
    assert done.status == "completed" and upstream.job_count() == before + 1
    assert User(upstream).credits().total < teacher_before  # the teacher's upstream account paid
    assert alice.credits().paid == 100 - done.credits_cost and done.credits_cost >= 1
    seen = [posted.content, alice.http.get(f"/render/{job_id}").content, alice.http.get("/me").content,
            alice.http.get("/render/cxxxxxxxxxxxxxxxxxxxxxxxx").content,
            alice.http.post("/render", json={"code": "", "className": "1"}).content]
    assert all(url.startswith(gateway.base_url.removesuffix("/api/v2") + "/r/")
               for url in (done.result.video, done.result.thumbnail, done.result.captions))  # the gateway's copies
    seen += [httpx.get(url).content for url in (done.result.video, done.result.thumbnail, done.result.captions)]
    gateway_files = [path.read_bytes() for path in gateway.data_dir.rglob("*") if path.is_file()]
    key = upstream.api_key.encode()
    assert seen[5][4:8] == b"ftyp" and not any(key in blob or key[10:] in blob for blob in seen + gateway_files)


def test_the_gateways_output_never_holds_the_teachers_key(upstream, tmp_path):
    served = Serve(tmp_path / "data", "--renderer", "kodisc", env=gateway_env(upstream, tmp_path / "home"))
    user = User(served, served.api_key)
    assert user.wait(user.submit(lesson(100), "Lesson")).status == "completed"
    user.close()
    assert served.stop() == 0
    everything = "".join(served.lines) + served.later_stdout + served.stderr
    assert upstream.base_url in everything and upstream.api_key not in everything
    assert upstream.api_key[10:30] not in everything and "Traceback" not in everything


def test_two_students_identical_renders_are_one_upstream_post(gateway, upstream, student):
    alice, bob = student(), student()
    before = upstream.job_count()
    first = alice.wait(alice.submit(lesson(102), "Lesson", metadata={"lesson": 1, "cell": 2}))
    second_id = bob.submit(lesson(102), "Lesson", metadata={"cell": 2, "lesson": 1})  # the same JSON object
    second = bob.wait(second_id)
    assert (first.status, second.status) == ("completed", "completed") and upstream.job_count() == before + 1
    assert second.job_id != first.job_id and second.credits_cost == 0 and bob.credits().paid == 100
    assert second.metadata == {"cell": 2, "lesson": 1}
    assert httpx.get(second.result.video).content == httpx.get(first.result.video).content
    with pytest.raises(NotFoundError):
        alice.job(second_id)
    with pytest.raises(NotFoundError):
        bob.job(first.job_id)
    other = bob.wait(bob.submit(lesson(102), "Lesson", metadata={"cell": 3, "lesson": 1}))
    assert other.status == "completed" and upstream.job_count() == before + 2  # other metadata: another render


def test_identical_requests_arriving_together_wait_for_one_upstream_render(gateway, upstream, student):
    students = [student() for _ in range(4)]
    before = upstream.job_count()
    slow = {"simulate": {"seconds": 1.0}}
    ids = [user.submit(lesson(103), "Lesson", metadata=slow) for user in students]
    jobs = [user.wait(job_id) for user, job_id in zip(students, ids, strict=True)]
    assert [job.status for job in jobs] == ["completed"] * 4 and upstream.job_count() == before + 1
    assert sorted(job.credits_cost for job in jobs)[:3] == [0, 0, 0]


def test_a_student_who_cannot_pay_gets_402_and_nothing_goes_upstream(gateway, upstream, student):
    broke = student(credits=0)
    before = upstream.job_count()
    with pytest.raises(InsufficientCreditsError):
        broke.submit(lesson(104), "Lesson")
    assert upstream.job_count() == before


def test_an_upstream_failure_is_the_students_failed_job_with_kodiscs_message(gateway, upstream, student):
    alice = student()
    failed = alice.wait(alice.submit(lesson(105), "Lesson", metadata={"simulate": {"fail": "division by zero"}}))
    assert failed.status == "failed" and "division by zero" in failed.error and failed.credits_cost == 0
    assert alice.credits().paid == 100
    before = upstream.job_count()  # a failure is not kept: the same request goes upstream again
    assert alice.wait(alice.submit(lesson(105), "Lesson", metadata={"simulate": {"fail": "x"}})).status == "failed"
    assert upstream.job_count() == before + 1


def test_the_teacher_sees_what_the_shared_renders_saved(gateway, student):
    students = [student() for _ in range(3)]
    for user in students:
        assert user.wait(user.submit(lesson(106), "Lesson")).status == "completed"
    result = subprocess.run([sys.executable, "-m", "kodisc_jupyter", "jobs", "--all-users", "--data-dir",
                             str(gateway.data_dir)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    head, spent = result.stdout.splitlines()[:2]
    assert "went to Kodisc" in head and spent.startswith("Kodisc credits spent: ")
    paid, alone = (int(part.split(";")[0].split(":")[-1].strip()) for part in spent.split("one by one")[0:2])
    assert alone > paid > 0
    for user in students:
        assert user.kodisc.me().user_id in result.stdout


def test_upstream_down_fails_the_job_quickly_and_says_so(upstream, tmp_path, monkeypatch):
    with socket_closed_port() as port:
        monkeypatch.setenv("KODISC_API_KEY", upstream.api_key)
        monkeypatch.setenv("KODISC_BASE_URL", f"http://127.0.0.1:{port}/api/v2")
        with start_local_server(tmp_path / "gw", renderer="kodisc") as gateway:
            monkeypatch.delenv("KODISC_API_KEY")
            user = User(gateway)
            started = time.monotonic()
            job = user.wait(user.submit(lesson(107), "Lesson"), timeout=30)
            user.close()
    assert job.status == "failed" and "Kodisc could not be reached" in job.error and time.monotonic() - started < 20
    assert upstream.api_key not in job.error


def test_an_exchange_rate_prices_the_students_credits(upstream, tmp_path, monkeypatch):
    monkeypatch.setenv("KODISC_API_KEY", upstream.api_key)
    monkeypatch.setenv("KODISC_BASE_URL", upstream.base_url)
    with start_local_server(tmp_path / "gw", renderer="kodisc", exchange_rate=3.0, free_credits=0) as gateway:
        monkeypatch.delenv("KODISC_API_KEY")
        rich, poor = User(gateway, gateway.create_user(50).api_key), User(gateway, gateway.create_user(2).api_key)
        before = upstream.job_count()
        with pytest.raises(InsufficientCreditsError):  # the reserve is one second at 3x
            poor.submit(lesson(108), "Lesson")
        job = rich.wait(rich.submit(lesson(108), "Lesson"))
        upstream_cost = User(upstream).kodisc.get_job(newest_upstream_job(upstream)).credits_cost
        assert upstream.job_count() == before + 1 and job.credits_cost == 3 * upstream_cost
        rich.close()
        poor.close()


def test_without_a_kodisc_key_the_gateway_refuses_to_start(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("KODISC_")}
    env["KODISC_HOME"] = str(tmp_path / "home")
    result = subprocess.run([sys.executable, "-m", "kodisc_jupyter", "serve", "--renderer", "kodisc", "--port", "0",
                             "--data-dir", str(tmp_path / "gw")], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode != 0 and "KODISC_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_thirty_students_three_renders_each_all_firsts_finish_before_any_third_starts(upstream, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.setenv("KODISC_API_KEY", upstream.api_key)
    monkeypatch.setenv("KODISC_BASE_URL", upstream.base_url)
    with start_local_server(tmp_path / "gw", renderer="kodisc", upstream_concurrency=4, free_credits=0) as gateway:
        monkeypatch.delenv("KODISC_API_KEY")
        keys = [gateway.create_user(100).api_key for _ in range(30)]
        teacher = User(gateway)  # holds every worker while the class submits: all 90 arrive "at once"
        busy = [teacher.submit(lesson(900 + n), "Lesson", metadata={"simulate": {"seconds": 1.5}}) for n in range(4)]
        while any(teacher.job(job_id).status == "queued" for job_id in busy):
            time.sleep(0.05)
        before = upstream.job_count()
        jobs: dict[int, list[str]] = {}

        def submit_three(n: int) -> None:  # each student's three cells at once, all students at once
            with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {keys[n]}"}) as http:
                jobs[n] = [http.post("/render", json={"code": lesson(1000 + 3 * n + cell), "className": "Lesson",
                                                      "quality": "low", "metadata": {"simulate": {"seconds": 0.05}}}
                                     ).json()["jobId"] for cell in range(3)]

        threads = [threading.Thread(target=submit_three, args=(n,)) for n in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert any(teacher.job(job_id).status == "running" for job_id in busy)  # it all queued behind them
        teacher.close()
        store = Store(gateway.data_dir / "server.sqlite3", monthly_free_credits=0)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and any(store.get_job(j).status not in ("completed", "failed")
                                                      for ids in jobs.values() for j in ids):
                time.sleep(0.2)
            rows = {n: [store.get_job(j) for j in ids] for n, ids in jobs.items()}
        finally:
            store.close()
    assert all(job.status == "completed" for row in rows.values() for job in row)
    assert upstream.job_count() >= before + 90
    last_first_done = max(row[0].completed_ms for row in rows.values())
    first_third_started = min(row[2].started_ms for row in rows.values())
    assert last_first_done <= first_third_started


def newest_upstream_job(upstream) -> str:
    store = Store(upstream.data_dir / "server.sqlite3", monthly_free_credits=0)
    try:
        with store._lock:
            return store._db.execute("SELECT id FROM jobs ORDER BY seq DESC LIMIT 1").fetchone()[0]
    finally:
        store.close()


class socket_closed_port:
    """A loopback port nothing listens on (bound, then closed)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        pass


def test_a_students_job_is_queued_while_kodisc_has_it_queued(tmp_path, monkeypatch):
    """The states mirror Kodisc's: the gateway forwarded the job (it runs a worker here) but Kodisc queued it."""
    with start_local_server(tmp_path / "kodisc", renderer="simulate", workers=1) as kodisc:
        teacher = User(kodisc)  # holds Kodisc's only worker, so what the gateway forwards waits there
        blocker = teacher.submit(lesson(1), "Lesson", metadata={"simulate": {"seconds": 2.0}})
        while teacher.job(blocker).status == "queued":
            time.sleep(0.02)
        monkeypatch.setenv("KODISC_API_KEY", kodisc.api_key)
        monkeypatch.setenv("KODISC_BASE_URL", kodisc.base_url)
        with start_local_server(tmp_path / "gw", renderer="kodisc", free_credits=0) as gateway:
            monkeypatch.delenv("KODISC_API_KEY")
            alice = User(gateway, gateway.create_user(100).api_key)
            before = kodisc.job_count()
            job_id = alice.submit(lesson(2), "Lesson", metadata={"simulate": {"seconds": 1.0}})
            seen: list[tuple[str, bool]] = []  # (the student's status, whether Kodisc has the job yet)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status = alice.job(job_id).status
                seen.append((status, kodisc.job_count() > before))
                if status in ("completed", "failed"):
                    break
                time.sleep(0.05)
            alice.close()
        teacher.close()
    states = [status for i, (status, _) in enumerate(seen) if i == 0 or seen[i - 1][0] != status]
    # never back to queued (the gateway's own polling of Kodisc may miss a short `running`)
    assert states in (["queued", "running", "completed"], ["queued", "completed"]), states
    assert any(status == "queued" and forwarded for status, forwarded in seen)  # queued on Kodisc, not here
