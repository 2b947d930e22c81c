"""A URLconf that meets an invalid setting the settings check does not see (it reads its
own), as a third-party module reading ONESTEP might."""

from django_onestep.conf import OneStepSettingsError

raise OneStepSettingsError("WEBHOOKS.BASE_PATH", "must be a string, got 3")
