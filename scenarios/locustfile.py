"""Locust entry point for distributed harness load (see harness.bench.locust_user).

    locust -f scenarios/locustfile.py --master --headless -u 8 -r 8 -t 60s \
        --expect-workers 2 --harness-bench scenarios/bench-token-issues.yaml
    locust -f scenarios/locustfile.py --worker --master-host HOST \
        --harness-bench scenarios/bench-token-issues.yaml
"""

from harness.bench.locust_user import HarnessUser

__all__ = ["HarnessUser"]
