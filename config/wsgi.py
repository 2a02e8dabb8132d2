"""The WSGI application: Django, behind the check-in fast path and the admission gate.

Outermost first: ``common.admission.AdmissionGate`` refuses the excess of a surge before anything
else runs; ``venues.fastpath.CheckinFastPath`` answers an ordinary resident check-in and
``testing.fastpath.StationFastPath`` an ordinary sampler's scan without Django's full request cycle
(accounts.fastpath); everything else goes to Django.
"""

import os
import sys

from django.core.wsgi import get_wsgi_application

# Each server process's GIL switch interval (Python's 5 ms by default): how long a thread that holds
# the GIL may keep it while others wait, e.g. one that only has to answer a refusal. 1 ms was tried for
# the refusal latency and cost throughput (bench/README.md).
sys.setswitchinterval(float(os.environ.get("FANGYI_GIL_SWITCH_MS", "5")) / 1000)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from common.admission import AdmissionGate  # noqa: E402  (after Django is set up)
from testing.fastpath import StationFastPath  # noqa: E402
from venues.fastpath import CheckinFastPath  # noqa: E402

application = AdmissionGate.from_settings(CheckinFastPath(StationFastPath(django_application)))
