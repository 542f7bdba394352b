"""Template (funnel page) service sandbox: OAuth 2.0 server and merchant accounts.

Templates, hosts, sites and publishing come later; `TemplatesState` has room for them.
"""

from sandbox.templates_service.app import create_templates_sandbox, templates_sandbox_of
from sandbox.templates_service.config import TemplatesSandboxConfig

__all__ = ["TemplatesSandboxConfig", "create_templates_sandbox", "templates_sandbox_of"]
