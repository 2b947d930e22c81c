from django_onestep import DatabaseQueue, app

orders = DatabaseQueue("firsthour.broken_orders")


@app.task(source=orders)
def accept_order(ctx, payload):
    return payload


@app.task(source=orders, concurrency=0)
def process_order(ctx, payload):
    return payload
