"""`POST /webhook`: verify, record the delivery, enqueue one job per matching route, answer 202.

The request path does no work beyond that. The delivery row and its jobs are committed before the
answer (deliveries arriving together share one transaction), so an acknowledged delivery is never lost,
and a delivery seen before (same delivery id and hook id: GitHub shares the delivery GUID between all
hooks of one event) is acknowledged without being processed again. A delivery passes through these
modules in order:

    router.py        the endpoint (ahead of the app's routing): bounded body, verification, the answer
    verification.py  the body read within its limit and the signed event checked (no database, no routes)
    intake.py        the delivery routed, then recorded with its event jobs in one transaction
    writer.py        group commit: one thread writes the deliveries that arrive together in one transaction
    deliveries.py    the `webhook_deliveries` table, what became of each delivery, and its pruning
    dispatch.py      in a worker: an event job's stored payload parsed and handed to the route it names
"""
