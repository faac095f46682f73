"""The WSGI entry point, for servers that speak only WSGI: the console without the data plane
(the Accelerate gateway and the Pulse stream need ``config/asgi.py``)."""

import os

from django.core.wsgi import get_wsgi_application

from devtools import bootstrap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
bootstrap.prepare()  # the embedded mode's database and secrets, when DATABASE_URL is unset
application = get_wsgi_application()
