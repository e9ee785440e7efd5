from django.dispatch import Signal

# Sent (asynchronously, after the response is on its way) with `task`: a TaskOut.
task_created = Signal()
