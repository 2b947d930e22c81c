"""The webhook test app's secrets and limits, importable without registering its tasks."""

GITHUB_SECRET = "gh-secret"
STRIPE_SECRET = "whsec_acceptance"
TOKEN = "acceptance-token"
LIMIT = 4096
