"""Template (funnel page) service sandbox: OAuth 2.0 server, merchant accounts, the
template catalogue, hosts, sites, publishing and the published pages themselves."""

from sandbox.templates_service.app import create_templates_sandbox, templates_sandbox_of
from sandbox.templates_service.config import TemplatesSandboxConfig

__all__ = ["TemplatesSandboxConfig", "create_templates_sandbox", "templates_sandbox_of"]
