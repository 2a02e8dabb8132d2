"""The WSGI application: Django, behind the check-in fast path and the admission gate.

Outermost first: ``common.admission.AdmissionGate`` refuses the excess of a surge before anything
else runs; ``venues.fastpath.CheckinFastPath`` answers an ordinary resident check-in without
Django's full request cycle and hands everything else to Django.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from common.admission import AdmissionGate  # noqa: E402  (after Django is set up)
from venues.fastpath import CheckinFastPath  # noqa: E402

application = AdmissionGate.from_settings(CheckinFastPath(django_application))
