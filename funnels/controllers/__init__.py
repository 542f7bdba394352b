"""The funnel pages, one module per controller: the wizard's first steps (wizard), its last steps
and publishing (publishing), archiving and deleting (lifecycle), the funnel settings (settings)
and sync health (sync_health)."""
