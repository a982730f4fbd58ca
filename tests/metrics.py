"""Reading /metrics as Prometheus does: an admin's personal token as a bearer token."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.accounts import Account

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(web: str, account: Account) -> Samples:
    """As Prometheus scrapes: the admin's personal token as a bearer token, no cookie."""
    answer = httpx.get(f"{web}/metrics", headers=account.bearer, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
