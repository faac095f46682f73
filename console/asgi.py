"""The one ASGI entry point.

Later the data plane (``/accelerate/v1/``, ``/pulse/v1/``) is mounted here beside
Django; everything else is the console.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
application = get_asgi_application()
