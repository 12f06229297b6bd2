"""A gateway on SQLite, as its own process: SIGKILL it in the middle of a load, start it again on
the same file, and everything it acknowledged is there and carries on."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

from .gateway_process import (
    admin,
    call,
    eventually,
    run_serve,
    start_gateway,
    submit,
    webhook_receiver,
    write_config,
)
from .support import KEY

# a scaled clock: the default 1 s queue and 2 s processing take 0.1 and 0.2 real seconds
CONFIG = """
[clock]
mode = "scaled"
speed = 10

[keys]
default_balance = "1000.00"
"""


def test_a_sigkilled_gateway_loses_nothing_it_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    config = write_config(tmp_path / "gateway.toml", CONFIG)
    acknowledged: list[str] = []
    polled: dict[str, dict[str, object]] = {}
    with webhook_receiver() as hook:
        first = start_gateway("--config", str(config), "--state", str(db))
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                try:
                    status, body = submit(first.url, headers={"X-Webhook-URL": hook.url})
                except OSError:
                    return  # the gateway is gone
                if status == 202:
                    acknowledged.append(body["request_id"])
                    try:
                        code, seen = call(f"{first.url}/v2/requests/status/{body['request_id']}")
                    except OSError:
                        return
                    if code == 200:
                        polled[body["request_id"]] = seen

        workers = [threading.Thread(target=load) for _ in range(3)]
        for worker in workers:
            worker.start()
        eventually(lambda: len(acknowledged) >= 40, timeout=30)
        admin(first.url, "PUT", "wallets/operator-set-0001", {"balance": "12.34"})
        first.kill()  # mid-load: jobs queued, processing, ending; webhooks on their way
        stop.set()
        for worker in workers:
            worker.join(15)
        ended_before = set(hook.ended())
        assert len(ended_before) < len(acknowledged)  # the kill caught work unfinished

        second = start_gateway("--config", str(config), "--state", str(db))
        try:
            for request_id in acknowledged:
                code, body = call(f"{second.url}/v2/requests/status/{request_id}")
                assert code == 200, (request_id, body)
                assert body["request_id"] == request_id
            eventually(
                lambda: all(
                    call(f"{second.url}/v2/requests/status/{r}")[1]["status"] == "COMPLETED"
                    for r in acknowledged
                ),
                timeout=60,
            )
            # every job's webhook arrives, those pending at the kill included
            eventually(lambda: set(hook.ended()) >= set(acknowledged), timeout=60)
            kept = admin(second.url, "GET", "jobs")
            stored = {j["request_id"] for j in kept["jobs"]}
            assert kept["next_cursor"] is None
            # a submit the kill cut off after its commit is a job too, though no client saw it
            assert stored >= set(acknowledged)
            assert len(stored) - len(acknowledged) <= 3  # at most one per client thread
            wallet = admin(second.url, "GET", f"wallets/{KEY}")
            charges = [e for e in wallet["ledger"] if e["movement"] == "charge"]
            assert sorted(e["request_id"] for e in charges) == sorted(stored)  # each once
            spent = sum((Decimal(e["amount"]) for e in charges), Decimal(0))
            assert Decimal(wallet["balance"]) == Decimal("1000.00") - spent
            assert wallet["held"] == "0.00"
            assert admin(second.url, "GET", "wallets/operator-set-0001")["balance"] == "12.34"
            entries = admin(second.url, "GET", "journal?route=generate")["entries"]
            journaled = {e["request_id"] for e in entries if e["status"] == 202}
            assert journaled >= set(acknowledged)  # the journal was kept too
            health = admin(second.url, "GET", "health")
            assert health["state"] == {"backend": "sqlite", "shared": False}
        finally:
            second.stop()


def test_a_second_gateway_on_the_same_file_refuses_to_start(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    first = start_gateway("--state", str(db))
    try:
        refused = run_serve("--state", str(db))
        assert refused.returncode == 2
        assert "state.path" in refused.stderr
        assert "in use" in refused.stderr or "another" in refused.stderr
    finally:
        first.stop()
    again = start_gateway("--state", str(db))  # free once the first has stopped
    again.stop()


def test_a_store_that_cannot_be_opened_stops_serve_with_exit_2_naming_the_setting(
    tmp_path: Path,
) -> None:
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("these are my notes, not a database\n" * 100)
    for where in (str(tmp_path / "missing" / "state.db"), str(not_a_db)):
        refused = run_serve("--state", where)
        assert refused.returncode == 2, refused.stderr
        assert "state.path" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert not_a_db.read_text().startswith("these are my notes")  # never overwritten
    config = write_config(
        tmp_path / "gateway.toml", '[state]\nbackend = "sqlite"\npath = "missing/x.db"\n'
    )
    refused = run_serve("--config", str(config))
    assert refused.returncode == 2
    assert "state.path" in refused.stderr


def test_a_restart_keeps_a_runtime_scenario_and_a_manual_clock(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    config = write_config(tmp_path / "gateway.toml", '[clock]\nmode = "manual"\n')
    first = start_gateway("--config", str(config), "--state", str(db))
    try:
        status, body = submit(first.url)
        assert status == 202
        admin(first.url, "POST", "clock/advance", {"seconds": 1})
        now = admin(first.url, "GET", "clock")["now"]
        scenario = {"faults": [{"route": "status", "action": "http_error", "status": 503}]}
        admin(first.url, "PUT", "scenario", scenario)
    finally:
        first.kill()
    second = start_gateway("--config", str(config), "--state", str(db))
    try:
        assert admin(second.url, "GET", "clock")["now"] == now
        code, _ = call(f"{second.url}/v2/requests/status/{body['request_id']}")
        assert code == 503  # the scenario set at runtime is still in force
        admin(second.url, "DELETE", "scenario")
        code, seen = call(f"{second.url}/v2/requests/status/{body['request_id']}")
        assert (code, seen["status"]) == (200, "PROCESSING")
        admin(second.url, "POST", "clock/advance", {"seconds": 2})
        code, seen = call(f"{second.url}/v2/requests/status/{body['request_id']}")
        assert seen["status"] == "COMPLETED"
    finally:
        second.stop()
