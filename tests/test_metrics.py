"""GET /_mock/metrics: Prometheus text, parsed by prometheus_client, with exact counts after a known
sequence of requests over loopback."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families

from mockgateway._metrics import (
    LATENCY_BUCKETS,
    Metrics,
    RouteMetrics,
    StateSnapshot,
    render,
    webhook_outcome,
)

from .support import KEY, Client, served

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[dict[str, str], Samples]:
    """Each family's type, and each sample's value by name and labels."""
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return types, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def scrape(client: Client) -> tuple[dict[str, str], Samples]:
    answer = await client.request("GET", "/_mock/metrics", key=None)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(answer.raw.decode())


async def test_counts_after_a_known_sequence_are_exact() -> None:
    async with served() as (gw, client):
        blocked_hook = {"X-Webhook-URL": "http://hooks.example.com/never"}  # never contacted
        first = (await client.generate(headers=blocked_hook)).body["request_id"]
        second = (await client.generate()).body["request_id"]
        assert (await client.generate(key=None)).status == 401
        for _ in range(3):
            assert (await client.status(first)).status == 200
        assert (await client.status("nope")).status == 404
        await client.admin("POST", f"jobs/{first}/complete")  # charged, webhook blocked
        await client.admin("POST", f"jobs/{second}/advance")  # PROCESSING: its cost is held
        jobs = {j["request_id"]: j for j in (await client.admin("GET", "jobs"))["jobs"]}

        types, samples = await scrape(client)

        assert types == {
            "mockgateway_requests": "counter",
            "mockgateway_request_duration_seconds": "histogram",
            "mockgateway_jobs": "gauge",
            "mockgateway_webhook_attempts": "counter",
            "mockgateway_money_held": "gauge",
            "mockgateway_money_charged": "counter",
        }
        requests = {
            (dict(labels)["route"], dict(labels)["status"]): v
            for (name, labels), v in samples.items()
            if name == "mockgateway_requests_total"
        }
        assert requests == {
            ("generate", "202"): 2,
            ("generate", "401"): 1,
            ("status", "200"): 3,
            ("status", "404"): 1,
            ("admin", "200"): 3,  # two commands and the jobs list; this scrape is not yet counted
        }
        for route, total in (("generate", 3), ("status", 4), ("admin", 3)):
            name = "mockgateway_request_duration_seconds"
            assert value(samples, f"{name}_count", route=route) == total
            assert value(samples, f"{name}_bucket", route=route, le="+Inf") == total
            cumulative = [
                value(samples, f"{name}_bucket", route=route, le=str(float(b)))
                for b in LATENCY_BUCKETS
            ]
            assert cumulative == sorted(cumulative)
            assert 0 < value(samples, f"{name}_sum", route=route) < 60
        assert value(samples, "mockgateway_jobs", status="COMPLETED") == 1
        assert value(samples, "mockgateway_jobs", status="PROCESSING") == 1
        assert value(samples, "mockgateway_jobs", status="QUEUED") == 0
        assert value(samples, "mockgateway_webhook_attempts_total", outcome="blocked") == 1
        assert value(samples, "mockgateway_webhook_attempts_total", outcome="delivered") == 0
        charged = Decimal(jobs[first]["cost"])
        assert charged > 0
        assert value(samples, "mockgateway_money_charged_total") == float(charged)
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert Decimal(wallet["held"]) > 0
        assert value(samples, "mockgateway_money_held") == float(Decimal(wallet["held"]))

        # The scrape and the wallet read are counted now; a reset forgets jobs, not requests.
        await client.admin("POST", "reset")
        _types, after = await scrape(client)
        assert value(after, "mockgateway_requests_total", route="admin", status="200") == 6
        assert value(after, "mockgateway_requests_total", route="generate", status="202") == 2
        assert value(after, "mockgateway_jobs", status="COMPLETED") == 0
        assert value(after, "mockgateway_money_held") == 0
    assert gw.url.startswith("http://")


async def test_a_webhook_answered_non_2xx_is_rejected_and_a_2xx_delivered() -> None:
    async with served() as (gw, client):
        # The gateway's own health route answers a POST with 405; the metrics route, too.
        rejected = await client.generate(headers={"X-Webhook-URL": f"{gw.url}/_mock/health"})
        await client.admin("POST", f"jobs/{rejected.body['request_id']}/fail")
        await gw.gateway.webhooks.drain()
        _types, samples = await scrape(client)
        assert value(samples, "mockgateway_webhook_attempts_total", outcome="rejected") == 1
        assert value(samples, "mockgateway_webhook_attempts_total", outcome="failed") == 0
        assert value(samples, "mockgateway_requests_total", route="other", status="405") == 1


def test_outcomes_are_classified_by_status_and_error() -> None:
    assert webhook_outcome(204, None) == "delivered"
    assert webhook_outcome(500, None) == "rejected"
    assert webhook_outcome(None, "blocked: host 'x' is not allowed") == "blocked"
    assert webhook_outcome(None, "timed out") == "failed"


def test_latency_lands_in_the_first_bucket_whose_bound_holds_it() -> None:
    metrics = Metrics()
    route = metrics.route("status")
    assert metrics.route("status") is route  # one per route, shared by its endpoints
    route.observe(200, 0.001)  # exactly on a bound: counted in it
    route.observe(200, 0.0011)
    route.observe(200, 99.0)  # beyond every bound: only +Inf
    route.observe(0, 0.0)  # no answer reached the client
    state = StateSnapshot(jobs={}, webhook_attempts={}, money_held="0.00", money_charged="1.50")
    _types, samples = parse(render(metrics, state))
    name = "mockgateway_request_duration_seconds_bucket"
    assert value(samples, name, route="status", le="0.0005") == 1
    assert value(samples, name, route="status", le="0.001") == 2
    assert value(samples, name, route="status", le="0.0025") == 3
    assert value(samples, name, route="status", le="5.0") == 3
    assert value(samples, name, route="status", le="+Inf") == 4
    assert value(samples, "mockgateway_requests_total", route="status", status="none") == 1
    assert value(samples, "mockgateway_money_charged_total") == 1.5
    assert isinstance(route, RouteMetrics)
