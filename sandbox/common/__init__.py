"""Pieces shared by the OAuth-protected sandboxes (CRM, template service).

The OAuth 2.0 authorization server, bearer-token checks, per-client rate limits, fault
injection, write counters, persistence and the small member directory both sandboxes
use for their users/accounts. Nothing here imports the product.
"""
