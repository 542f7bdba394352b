"""CRM sandbox: the shared tenant's IAM users, its OAuth 2.0 server and login links."""

from sandbox.crm.app import create_crm_sandbox, crm_sandbox_of
from sandbox.crm.config import CrmSandboxConfig

__all__ = ["CrmSandboxConfig", "create_crm_sandbox", "crm_sandbox_of"]
