"""Local stand-ins for the systems the app talks to (Shopify first; CRM, templates, Stripe later).

Each sandbox is a small Litestar app that imports nothing from the product. See
sandbox/README.md for what each one emulates and where it knowingly differs.
"""
