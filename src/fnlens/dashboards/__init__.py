"""Dashboards to import: CloudWatch bodies rendered for a service, Grafana JSON.

The files live in ``dashboards/`` (shipped in the wheel); this package fills in
their parameters (:mod:`.cloudwatch`, :mod:`.grafana`), checks CloudWatch bodies
against the documented structure (:mod:`.cloudwatch_check`) and puts them with
boto3 (:mod:`.apply`).
"""

from __future__ import annotations
