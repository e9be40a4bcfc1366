"""What sla tells the apps above it. sla imports none of them (the layers
contract in pyproject.toml): an app that must act on a breach connects here at
start-up, as leads does in leads/apps.py."""

from django.dispatch import Signal

# Sent by the sweep once a batch of timers is breached, inside the batch's
# transaction (a receiver's error rolls the batch back and retries it, as any
# failure in the batch would), with:
#   breaches — the Breach rows just written;
#   reassign — ids of the leads whose policy hands a breached lead to someone
#              else (SlaPolicy.reassign_on_breach) and that have an owner, in
#              the batch's order;
#   at       — the time of the breach.
# leads connects its reassignment (leads.assignment.reassign_after_breach).
breached = Signal()
