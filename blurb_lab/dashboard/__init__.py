"""A sweep's W&B workspace as code (`blurb-lab dashboard`): which runs a sweep left in W&B (sweep),
the saved view that shows them (workspace), and pushing it or writing its spec for later (command)."""
