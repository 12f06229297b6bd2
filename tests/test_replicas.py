"""Three gateway replicas on one real Redis behind a loopback round-robin balancer act as one
gateway: a job submitted to one is polled on the others, each webhook attempt is made once, money
never overdraws, and an advance of the manual clock through one moves them all."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from .gateway_process import (
    Served,
    admin,
    call,
    eventually,
    round_robin,
    run_serve,
    start_gateway,
    submit,
    webhook_receiver,
    write_config,
)
from .redis_server import free_port, redis_server
from .support import KEY

MANUAL = '[clock]\nmode = "manual"\n'


@contextlib.contextmanager
def replicas(tmp_path: Path, config: str, count: int = 3) -> Iterator[tuple[list[Served], str]]:
    with redis_server() as redis:
        path = write_config(tmp_path / "gateway.toml", config)
        started: list[Served] = []
        try:
            for _ in range(count):
                started.append(start_gateway("--config", str(path), "--state", redis.url))
            with round_robin([s.url for s in started]) as balancer:
                yield started, balancer
        finally:
            for served in started:
                served.stop()


def test_a_job_submitted_to_one_replica_is_polled_on_every_other(tmp_path: Path) -> None:
    with replicas(tmp_path, MANUAL) as (served, balancer):
        status, accepted = submit(balancer)
        assert status == 202
        request_id = accepted["request_id"]
        bodies = [call(f"{s.url}/v2/requests/status/{request_id}") for s in served]
        assert {code for code, _ in bodies} == {200}
        assert all(body == bodies[0][1] for _, body in bodies)  # the same body everywhere
        moved = admin(balancer, "POST", "clock/advance", {"seconds": 5})["now"]  # through one
        eventually(lambda: {admin(s.url, "GET", "clock")["now"] for s in served} == {moved})
        eventually(
            lambda: all(
                call(f"{s.url}/v2/requests/status/{request_id}")[1]["status"] == "COMPLETED"
                for s in served
            )
        )
        health = admin(served[1].url, "GET", "health")
        assert health["state"] == {"backend": "redis", "shared": True}


def test_each_webhook_attempt_is_made_by_exactly_one_replica(tmp_path: Path) -> None:
    with webhook_receiver() as hook, replicas(tmp_path, MANUAL) as (served, balancer):
        ids = [
            submit(balancer, headers={"X-Webhook-URL": hook.url})[1]["request_id"] for _ in range(9)
        ]
        admin(balancer, "POST", "clock/advance", {"seconds": 5})
        eventually(lambda: set(hook.ended()) == set(ids))
        entries = admin(served[0].url, "GET", "journal?route=webhook")["entries"]
        attempts = Counter((e["request_id"], tuple(e["notes"])) for e in entries)
        assert attempts
        assert max(attempts.values()) == 1, attempts
        received = Counter(b["request_id"] for b in hook.bodies)
        assert received == Counter(dict.fromkeys(ids, 1))  # once each, whatever replica sent it
        generates = admin(served[2].url, "GET", "journal?route=generate")["entries"]
        assert {e["request_id"] for e in generates} == set(ids)  # every replica's traffic


def test_concurrent_submits_across_replicas_never_overdraw(tmp_path: Path) -> None:
    with replicas(tmp_path, MANUAL) as (served, balancer):
        admin(balancer, "PUT", f"wallets/{KEY}", {"balance": "1.00"})  # two jobs' worth
        accepted: list[str] = []
        lock = threading.Lock()

        def burst() -> None:
            for _ in range(4):
                status, body = submit(balancer)
                if status == 202:
                    with lock:
                        accepted.append(body["request_id"])

        threads = [threading.Thread(target=burst) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(accepted) >= 3  # each could cover one second when it was submitted
        admin(balancer, "POST", "clock/advance", {"seconds": 10})

        def ended() -> list[str] | None:
            states = [call(f"{balancer}/v2/requests/status/{r}")[1]["status"] for r in accepted]
            return states if all(s in ("COMPLETED", "FAILED") for s in states) else None

        states = eventually(ended)
        completed = states.count("COMPLETED")
        assert completed == 2  # 3 s of audio at 0.16/s is 0.48 a job: two fit in 1.00
        wallet = admin(served[0].url, "GET", f"wallets/{KEY}")
        assert Decimal(wallet["balance"]) == Decimal("1.00") - completed * Decimal("0.48")
        assert wallet["held"] == "0.00"
        assert all(Decimal(e["held_after"]) <= Decimal("1.00") for e in wallet["ledger"])


def test_nth_fault_rules_count_across_the_cluster(tmp_path: Path) -> None:
    config = MANUAL + (
        '[[faults]]\nroute = "status"\naction = "http_error"\nstatus = 503\nnth = [3, 6]\n'
    )
    with replicas(tmp_path, config) as (_served, balancer):
        request_id = submit(balancer)[1]["request_id"]
        codes = [call(f"{balancer}/v2/requests/status/{request_id}")[0] for _ in range(6)]
        assert codes == [200, 200, 503, 200, 200, 503]  # one count, whichever replica answered


def test_a_runtime_scenario_and_a_reset_apply_to_every_replica(tmp_path: Path) -> None:
    with replicas(tmp_path, MANUAL) as (served, balancer):
        request_id = submit(balancer)[1]["request_id"]
        scenario = {"faults": [{"route": "status", "action": "http_error", "status": 503}]}
        admin(served[0].url, "PUT", "scenario", scenario)
        eventually(
            lambda: all(call(f"{s.url}/v2/requests/status/{request_id}")[0] == 503 for s in served)
        )
        admin(served[1].url, "POST", "reset")
        eventually(lambda: all(admin(s.url, "GET", "jobs")["total"] == 0 for s in served))
        admin(served[2].url, "DELETE", "scenario")
        eventually(
            lambda: all(call(f"{s.url}/v2/requests/status/{request_id}")[0] == 404 for s in served)
        )


def test_redis_down_at_start_stops_serve_with_exit_2_naming_the_setting() -> None:
    refused = run_serve("--state", f"redis://127.0.0.1:{free_port()}/0")
    assert refused.returncode == 2
    assert "state.url" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_redis_lost_while_running_is_a_503_and_the_gateway_recovers(tmp_path: Path) -> None:
    """Redis stops answering (SIGSTOP): requests answer the documented 503 promptly; it answers
    again (SIGCONT): the gateway carries on by itself, with nothing it acknowledged lost."""
    with redis_server() as redis:
        config = write_config(tmp_path / "g.toml", MANUAL)
        gateway = start_gateway("--config", str(config), "--state", redis.url)
        try:
            request_id = submit(gateway.url)[1]["request_id"]
            redis.process.send_signal(signal.SIGSTOP)
            try:
                began = time.monotonic()
                code, body = call(f"{gateway.url}/v2/requests/status/{request_id}", timeout=30)
                assert code == 503
                assert body["error"] == "Service Unavailable"
                assert time.monotonic() - began < 10  # promptly, not after a long hang
                assert submit(gateway.url, key="another-key-0002")[0] == 503
            finally:
                redis.process.send_signal(signal.SIGCONT)
            eventually(lambda: call(f"{gateway.url}/v2/requests/status/{request_id}")[0] == 200)
            admin(gateway.url, "POST", "clock/advance", {"seconds": 5})
            eventually(
                lambda: (
                    call(f"{gateway.url}/v2/requests/status/{request_id}")[1]["status"]
                    == "COMPLETED"
                )
            )
            assert submit(gateway.url)[0] == 202
        finally:
            gateway.stop()
