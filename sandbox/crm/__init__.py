"""CRM sandbox: the shared tenant's IAM users, its OAuth 2.0 server, login links, the
merchant API (catalog, campaigns, customers, orders, fulfillments) and signed webhooks."""

from sandbox.crm.app import create_crm_sandbox, crm_sandbox_of
from sandbox.crm.config import CrmSandboxConfig

__all__ = ["CrmSandboxConfig", "create_crm_sandbox", "crm_sandbox_of"]
