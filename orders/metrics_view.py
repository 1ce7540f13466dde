"""GET /metrics: the Prometheus exposition of every engine process on this
machine (multiprocess mode), plus the gauges read from the database and Redis."""

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from orders.metrics import EngineCollector


@never_cache
@require_GET
def metrics(request):
    # A fresh registry per scrape, as prometheus-client's multiprocess docs
    # ask: the collector reads the sample files of all processes each time.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(settings.PROMETHEUS_MULTIPROC_DIR))
    registry.register(EngineCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
