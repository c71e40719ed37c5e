"""Automation of the records: rules, state machines, scores, pools, follow-up plans and work items (issue 5)."""
