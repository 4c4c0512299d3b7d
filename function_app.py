"""The Function app: wiring only. Triggers live in provisioning.triggers and
provisioning.sweeper_trigger."""

import logging

import azure.functions as func

from provisioning.api import api
from provisioning.settings import SettingsError, get_settings
from provisioning.sweeper_trigger import sweeper_blueprint
from provisioning.triggers import bp

app = func.FunctionApp()
app.register_functions(bp)
app.register_functions(api)

try:
    _settings = get_settings()
except SettingsError:
    # Fail at start-up, naming the setting, rather than on the first request.
    logging.getLogger("provisioning").exception("malformed app settings")
    raise
app.register_functions(sweeper_blueprint(_settings.sweeper_schedule))
if not _settings.allowed_subscriptions:
    logging.getLogger("provisioning").error(
        "ALLOWED_SUBSCRIPTIONS is empty: every request will fail with SubscriptionNotAllowed"
    )
